"""What an episode plays: the instance, what is derived from it once, and the season's reward.

:class:`InstanceSource` decides the instance of each episode: a fixed one, a fresh draw from a
family (``resample_instance=True``: an instance seed in [0, instance_pool) from the
environment's generator, optionally with knobs drawn per seed from ``family_ranges``), or the
instance passed to ``reset(options={"instance": ...})``. Each instance is prepared once
(:class:`PreparedInstance`: fluid LP, demand caps, features and the catalog observation, reward
divisor, anchor and baseline stock of the references) and cached.

The reward of an episode that commits stock x (:meth:`PreparedInstance.play`):

    reward = (1/K) sum_{k < K} (profit_k(x) - profit_k(b)) / D

over the K = ``seasons`` seasons of the episode's scenario seed, with b the baseline stock
(0 without a baseline) and D the reward divisor. The baseline's profit is taken on the *same
customers* (common random numbers): it does not depend on the action, so the best policy is
unchanged, but most of the customers' noise cancels; averaging K seasons cuts the rest by
sqrt(K). Both are variance reduction that keeps the optimum.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.actions import anchored_stock, scale_action
from envs.families import FAMILIES, KNOB_RULES, family_parameters, make_family_instance
from envs.features import auto_reward_scale, catalog_features, demand_cap, product_features
from envs.fluid_lp import FluidSolution, fluid_lp
from envs.instance import Instance
from envs.observation import DEFAULT_NEIGHBOURS, catalog_observation, neighbours_iv
from envs.references import NONE, reference_iv, reference_stock, round_half_up
from envs.rendering import stock_image
from envs.simulate import SeasonResults, simulate
from envs.validation import (
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    flag_iv,
    integer_iv,
    real_iv,
    seed_iv,
)

REWARD_SCALES = ("none", "auto")
MIN_REWARD_SCALE = 1e-9
MAX_REWARD_SCALE = 1e15
MAX_EPISODE_SEASONS = 256
OPTION_KEYS = ("instance",)
HELD_OUT_SEED_START = 1_000_000
"""Instance seeds drawn for training (``resample_instance=True``) lie in [0, instance_pool) with
``instance_pool <= HELD_OUT_SEED_START``; seeds from HELD_OUT_SEED_START on are never trained on
and serve as held-out evaluation instances."""
PREPARED_CACHE_SIZE = 4096
"""Prepared family instances kept per environment (least recently used are dropped)."""
RANGE_STREAM = 0x5EED
"""Spawn key of the generator that draws an instance seed's knobs from ``family_ranges``."""


class IncompatibleInstanceError(InputError):
    """An environment (or a policy built for one) got an instance it cannot play: another
    number of products than its spaces are built for."""


def reward_scale_iv(reward_scale: Any) -> str | float:
    """``"none"``, ``"auto"`` or a number in [``MIN_REWARD_SCALE``, ``MAX_REWARD_SCALE``] (the
    profit divisor; the limits keep every reward a finite float, whatever the instance)."""
    if isinstance(reward_scale, str) and reward_scale not in REWARD_SCALES:
        raise InputError(
            f"`reward_scale` must be 'none', 'auto' or a number in [{MIN_REWARD_SCALE:g}, "
            f"{MAX_REWARD_SCALE:g}]; got {reward_scale!r}"
        )
    if isinstance(reward_scale, str):
        return reward_scale
    return real_iv("reward_scale", reward_scale, low=MIN_REWARD_SCALE, high=MAX_REWARD_SCALE)


def season_kpis(instance: Instance, stock: np.ndarray, results: SeasonResults) -> dict[str, Any]:
    """The KPIs of the seasons in ``results`` (of stock ``stock``), as a fresh dict: means over
    the seasons (for one season, the season's own integers).

    revenue = r . sales, cost = c . x, salvage_value = s . (x - sales),
    profit = revenue + salvage_value - cost, units_sold = sum(sales), leftover_units =
    sum(x) - units_sold, products_offered = #{i: x_i > 0}; customers, lost_customers and
    substitutions as in :mod:`envs.simulate`; ``stock`` int64[N], ``sales`` int64[N] (float64
    means over several seasons).
    """
    one = results.seasons == 1
    sales = results.sales[0].astype(np.int64) if one else results.sales.mean(axis=0)
    x = np.array(stock, dtype=np.int64)
    units_sold = sales.sum()

    def number(values: np.ndarray) -> int | float:
        return int(values[0]) if one else float(values.mean())

    return {
        "profit": float(results.profit.mean()),
        "revenue": float(sales @ instance.prices),
        "cost": float(x @ instance.costs),
        "salvage_value": float((x - sales) @ instance.salvage),
        "units_sold": int(units_sold) if one else float(units_sold),
        "customers": number(results.customers),
        "lost_customers": number(results.lost),
        "substitutions": number(results.substitutions),
        "leftover_units": (int(x.sum()) - int(units_sold)) if one else float(x.sum() - units_sold),
        "products_offered": int(np.count_nonzero(x)),
        "stock": x,
        "sales": sales,
    }


@dataclass(frozen=True)
class EpisodeSettings:
    """How an environment turns an instance into episodes (validated once)."""

    reward_scale: str | float = "auto"
    action_anchor: str = NONE
    reward_baseline: str = NONE
    seasons: int = 1
    neighbours: int = DEFAULT_NEIGHBOURS

    @classmethod
    def checked(
        cls,
        *,
        reward_scale: Any = "auto",
        action_anchor: Any = NONE,
        reward_baseline: Any = NONE,
        seasons: Any = 1,
        neighbours: Any = DEFAULT_NEIGHBOURS,
    ) -> EpisodeSettings:
        return cls(
            reward_scale=reward_scale_iv(reward_scale),
            action_anchor=reference_iv("action_anchor", action_anchor),
            reward_baseline=reference_iv("reward_baseline", reward_baseline),
            seasons=integer_iv("seasons_per_episode", seasons, low=1, high=MAX_EPISODE_SEASONS),
            neighbours=neighbours_iv(neighbours),
        )


@dataclass(frozen=True, eq=False)
class PreparedInstance:
    """An instance with what an episode needs of it, computed once: its fluid LP ``solution``,
    demand ``cap``, base ``features`` and ``catalog`` features (:mod:`envs.features`), the
    ``observation`` (:func:`envs.observation.catalog_observation`), the reward ``divisor``,
    the ``anchor`` of a residual action (None on the absolute scale) and the ``baseline_stock``
    (None without a reward baseline)."""

    instance: Instance
    solution: FluidSolution
    cap: np.ndarray
    features: np.ndarray
    catalog: np.ndarray
    observation: np.ndarray
    divisor: float
    seasons: int
    anchor: np.ndarray | None
    baseline_stock: np.ndarray | None

    @classmethod
    def build(cls, instance: Instance, settings: EpisodeSettings) -> PreparedInstance:
        if settings.reward_scale == "none":
            divisor = 1.0
        elif settings.reward_scale == "auto":
            divisor = auto_reward_scale(instance)
        else:
            divisor = float(settings.reward_scale)
        solution = fluid_lp(instance)
        cap = demand_cap(instance)
        anchor = baseline = None
        if settings.action_anchor != NONE:
            anchor = reference_stock(settings.action_anchor, instance, solution)
        if settings.reward_baseline != NONE:
            baseline = round_half_up(reference_stock(settings.reward_baseline, instance, solution))
        return cls(
            instance=instance,
            solution=solution,
            cap=cap,
            features=product_features(instance, cap=cap),
            catalog=catalog_features(instance),
            observation=catalog_observation(instance, solution, cap, settings.neighbours),
            divisor=divisor,
            seasons=settings.seasons,
            anchor=anchor,
            baseline_stock=baseline,
        )

    def image(self, stock: np.ndarray) -> np.ndarray:
        """:func:`envs.rendering.stock_image` of ``stock`` against the mean first-choice demand."""
        return stock_image(stock, self.cap, self.instance.customers * self.instance.arrival)

    def stock_for(self, action: np.ndarray) -> np.ndarray:
        """The stock an action commits: absolute scale, or residual around the anchor
        (:mod:`envs.actions`)."""
        if self.anchor is None:
            return scale_action(action, self.cap)
        return anchored_stock(action, self.anchor)

    def play(self, stock: np.ndarray, scenario_seed: int) -> tuple[float, dict[str, Any]]:
        """Simulate the episode's seasons of ``stock`` with customers ``scenario_seed``:
        (reward of the module docstring, KPIs of :func:`season_kpis` with ``baseline_profit``
        when there is a baseline)."""
        results = simulate(self.instance, stock, self.seasons, scenario_seed)
        kpis = season_kpis(self.instance, stock, results)
        reward = kpis["profit"]
        if self.baseline_stock is not None:
            baseline = simulate(self.instance, self.baseline_stock, self.seasons, scenario_seed)
            kpis["baseline_profit"] = float(baseline.profit.mean())
            reward -= kpis["baseline_profit"]
        return reward / self.divisor, kpis


def family_ranges_iv(family: str, ranges: Any) -> dict[str, tuple[float, float]]:
    """``family_ranges``: family knob -> [low, high], each end valid for the knob, low <= high;
    ``n_products`` cannot vary (an environment's spaces fix N), nor ``arrivals``."""
    if ranges is None:
        return {}
    if not isinstance(ranges, Mapping):
        raise InputTypeError(
            f"`family_ranges` must map family knobs to [low, high]; got {describe(ranges)}"
        )
    known = FAMILIES[family].defaults
    checked: dict[str, tuple[float, float]] = {}
    for knob, pair in ranges.items():
        label = f"family_ranges.{knob}"
        if knob not in known or knob in ("n_products", "arrivals"):
            allowed = sorted(k for k in known if k not in ("n_products", "arrivals"))
            raise InputError(f"`{label}` is not a knob that can vary; knobs: {allowed}")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise InputTypeError(f"`{label}` must be [low, high]; got {describe(pair)}")
        low, high = (KNOB_RULES[knob](label, value) for value in pair)
        if low > high:
            raise InputError(f"`{label}` is [{low}, {high}]; low must be at most high")
        checked[str(knob)] = (low, high)
    return checked


def draw_knobs(ranges: Mapping[str, tuple[float, float]], seed: int) -> dict[str, Any]:
    """The knobs of instance seed ``seed``: for each knob (in name order) an integer uniformly
    in [low, high] for integer knobs, log-uniform and rounded for ``customers``, uniform for the
    others; from a generator keyed by (seed, ``RANGE_STREAM``), so deterministic in the seed."""
    rng = np.random.default_rng([seed, RANGE_STREAM])
    knobs: dict[str, Any] = {}
    for knob in sorted(ranges):
        low, high = ranges[knob]
        if knob == "customers":
            knobs[knob] = int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
        elif isinstance(low, int):
            knobs[knob] = int(rng.integers(low, high + 1))
        else:
            knobs[knob] = float(rng.uniform(low, high))
    return knobs


class InstanceSource:
    """The instance each episode plays (module docstring), with its derived data cached.

    Fixed: ``instance`` if given, else ``make_family_instance(family, instance_seed,
    **family_kwargs)``. With ``resample_instance=True`` every reset draws an instance seed s in
    [0, instance_pool) from the environment's generator and plays ``make_family_instance(family,
    s, **family_kwargs, **draw_knobs(family_ranges, s))``. ``reset(options={"instance": inst})``
    plays ``inst`` for that episode (it must have the same number of products).
    """

    def __init__(
        self,
        *,
        family: str,
        instance_seed: int,
        family_kwargs: dict[str, Any] | None,
        instance: Instance | None,
        resample_instance: bool,
        settings: EpisodeSettings,
        instance_pool: int = HELD_OUT_SEED_START,
        family_ranges: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        # Seeds from HELD_OUT_SEED_START on are held out for evaluation.
        self.instance_pool = integer_iv(
            "instance_pool", instance_pool, low=1, high=HELD_OUT_SEED_START
        )
        self._cache: OrderedDict[int, PreparedInstance] = OrderedDict()
        self.resample = flag_iv("resample_instance", resample_instance)
        self.family = family
        if family_kwargs is not None and not isinstance(family_kwargs, dict):
            raise InputTypeError(
                f"`family_kwargs` must be a dict of family overrides; got {describe(family_kwargs)}"
            )
        self.family_kwargs = dict(family_kwargs or {})
        self.instance_seed: int | None = None
        self.family_ranges: dict[str, tuple[float, float]] = {}
        if instance is not None:
            if not isinstance(instance, Instance):
                raise InputTypeError(
                    f"`instance` must be an envs.instance.Instance; got {describe(instance)}"
                )
            if self.resample:
                raise InputError(
                    "`resample_instance=True` draws every instance from `family`; it cannot be "
                    "combined with a fixed `instance`"
                )
        else:
            choice_iv("family", family, tuple(FAMILIES))
            family_parameters(family, **self.family_kwargs)
            self.family_ranges = family_ranges_iv(family, family_ranges)
            if self.family_ranges and not self.resample:
                raise InputError("`family_ranges` needs `resample_instance=True`")
            instance_seed = seed_iv("instance_seed", instance_seed)
            instance = self.family_instance(instance_seed)
            if not self.resample:
                self.instance_seed = instance_seed
        self.fixed = PreparedInstance.build(instance, settings)
        self.n_products = instance.n_products
        self._last = self.fixed

    def family_instance(self, seed: int) -> Instance:
        """The family instance of seed ``seed`` (with its knobs drawn from the ranges)."""
        knobs = {**self.family_kwargs, **draw_knobs(self.family_ranges, seed)}
        return make_family_instance(self.family, seed, **knobs)

    def prepared(self, seed: int) -> PreparedInstance:
        """The prepared family instance of seed ``seed`` (cached, least recently used dropped)."""
        prepared = self._cache.get(seed)
        if prepared is None:
            prepared = PreparedInstance.build(self.family_instance(seed), self.settings)
            self._cache[seed] = prepared
            if len(self._cache) > PREPARED_CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(seed)
        return prepared

    def draw_seed(self, np_random: np.random.Generator) -> int:
        """The next episode's instance seed, from the environment's generator."""
        return int(np_random.integers(self.instance_pool))

    def episode(
        self, np_random: np.random.Generator, options: dict[str, Any] | None
    ) -> tuple[PreparedInstance, int | None]:
        """The prepared instance of a new episode and its family seed (None if not from a
        family)."""
        options = dict(options or {})
        unknown = [key for key in options if key not in OPTION_KEYS]
        if unknown:
            raise InputError(
                f"unknown reset option {unknown[0]!r}; known options are {list(OPTION_KEYS)}"
            )
        given = options.get("instance")
        if given is not None:
            return self.prepare(given), None
        if not self.resample:
            return self.fixed, self.instance_seed
        seed = self.draw_seed(np_random)
        self._last = self.prepared(seed)
        return self._last, seed

    def prepare(self, instance: Any) -> PreparedInstance:
        """The prepared ``instance`` passed by the caller (same N as the environment's)."""
        if not isinstance(instance, Instance):
            raise InputTypeError(
                f"options['instance'] must be an envs.instance.Instance; got {describe(instance)}"
            )
        if instance.n_products != self.n_products:
            raise IncompatibleInstanceError(
                f"options['instance'] has {instance.n_products} products; this environment's "
                f"spaces are built for {self.n_products}, so it cannot play it"
            )
        if instance is not self._last.instance:
            self._last = PreparedInstance.build(instance, self.settings)
        return self._last
