"""One-shot stocking: commit the whole stock vector in one step, then the season is played.

The environment (DESIGN.md 6) and the pure helpers it is built from, shared with
:mod:`envs.sequential`:

* :func:`action_to_stock` / :func:`stock_to_action`: the action scale
  x_i = round((a_i + 1) / 2 * cap_i) with cap_i the demand cap of :mod:`envs.features`;
* :func:`season_kpis`: the KPIs of one simulated season, as reported in the final ``info``;
* :func:`stock_image`: the ``"rgb_array"`` rendering (committed stock against demand);
* :class:`InstanceSource`: which instance an episode plays (a fixed one, a fresh draw from a
  family, or the one passed to ``reset(options={"instance": ...})``) and its cached derived
  data (:class:`PreparedInstance`: features, caps, reward divisor; the simulator caches the
  instance's sampling tables itself).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.families import FAMILIES, make_family_instance
from envs.features import (
    CATALOG_FEATURES,
    FEATURES,
    auto_reward_scale,
    catalog_features,
    demand_cap,
    feature_bounds,
    product_features,
)
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from envs.simulate import SeasonResults, simulate
from envs.validation import (
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    flag_iv,
    integer_iv,
    number_array_iv,
    real_iv,
    seed_iv,
)

__all__ = [
    "InstanceSource",
    "OneShotStockingEnv",
    "PreparedInstance",
    "action_iv",
    "action_to_stock",
    "product_features",
    "reward_scale_iv",
    "scale_action",
    "season_kpis",
    "stock_image",
    "stock_to_action",
]

REWARD_SCALES = ("none", "auto")
MIN_REWARD_SCALE = 1e-9
MAX_REWARD_SCALE = 1e15
ACTION_ANCHORS = ("none", "fluid")
REWARD_BASELINES = ("none", "fluid")
OPTION_KEYS = ("instance",)
HELD_OUT_SEED_START = 1_000_000
"""Instance seeds drawn for training (``resample_instance=True``) lie in [0, instance_pool) with
``instance_pool <= HELD_OUT_SEED_START``; seeds from HELD_OUT_SEED_START on are never trained on
and serve as held-out evaluation instances."""
PREPARED_CACHE_SIZE = 4096
"""Prepared family instances kept per environment (least recently used are dropped)."""
RENDER_MODES = ("rgb_array",)
IMAGE_HEIGHT = 64
IMAGE_MAX_WIDTH = 256


# ------------------------------------------------------------------------ action scale


def action_iv(action: Any, n: int, label: str = "action") -> np.ndarray:
    """``action`` as float64[n] of finite real numbers (strings, bools and complex numbers are
    refused, not converted), one entry per product."""
    arr = number_array_iv(label, action)
    if arr.shape != (n,):
        raise InputError(
            f"`{label}` must have shape ({n},), one entry per product; got shape {arr.shape}"
        )
    return arr


def scale_action(action: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """int64 x_i = round((clip(a_i, -1, 1) + 1) / 2 * cap_i) (round half to even)."""
    fraction = (np.clip(action, -1.0, 1.0) + 1.0) / 2.0
    return np.rint(fraction * cap).astype(np.int64)


def action_to_stock(instance: Instance, action: Any) -> np.ndarray:
    """The stock vector int64[N] an action in [-1, 1]^N commits on ``instance``.

    x_i = round((a_i + 1) / 2 * cap_i), cap_i = :func:`envs.features.demand_cap`: a = -1 stocks
    nothing, a = 1 stocks the cap. Entries outside [-1, 1] are clipped first (the action space
    is [-1, 1]^N; an unclipped policy output means the bound).
    """
    return scale_action(action_iv(action, instance.n_products), demand_cap(instance))


def anchored_stock(action: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """int64 x_i = max(0, round(z_i + clip(a_i, -1, 1) * (2 + 2 sqrt(z_i)))) around an anchor z.

    The residual action scale of ``action_anchor="fluid"``: z is the fluid LP's sales
    (:func:`envs.fluid_lp.fluid_lp`), a = 0 stocks the rounded fluid solution (the fluid
    policy) and a = +-1 moves about two Poisson standard deviations plus two units from it.
    """
    spread = 2.0 + 2.0 * np.sqrt(anchor)
    return np.maximum(0, np.rint(anchor + np.clip(action, -1.0, 1.0) * spread)).astype(np.int64)


def stock_to_action(instance: Instance, stock: Any) -> np.ndarray:
    """float32[N] action a_i = 2 min(x_i, cap_i) / cap_i - 1, the inverse of
    :func:`action_to_stock`.

    ``action_to_stock(instance, stock_to_action(instance, x)) == min(x, cap)`` exactly (for caps
    below 2**22, where float32 resolves a unit); stock above the cap is stocked at the cap.
    """
    x = action_iv(stock, instance.n_products, "stock")
    if np.any(x < 0):
        i = int(np.flatnonzero(x < 0)[0])
        raise InputError(f"`stock` entry {i} is {float(x[i])!r}; stock must be non-negative")
    cap = demand_cap(instance)
    return (2.0 * np.minimum(x, cap) / cap - 1.0).astype(np.float32)


# ------------------------------------------------------------------------------- KPIs


def season_kpis(instance: Instance, stock: np.ndarray, results: SeasonResults) -> dict[str, Any]:
    """The KPIs of the first season in ``results`` (of stock ``stock``), as a fresh dict.

    revenue = r . sales, cost = c . x, salvage_value = s . (x - sales),
    profit = revenue + salvage_value - cost, units_sold = sum(sales), leftover_units =
    sum(x) - units_sold, products_offered = #{i: x_i > 0}; customers, lost_customers and
    substitutions as in :mod:`envs.simulate`; ``stock`` and ``sales`` are int64[N] copies.
    """
    sales = np.array(results.sales[0], dtype=np.int64)
    x = np.array(stock, dtype=np.int64)
    units_sold = int(sales.sum())
    return {
        "profit": float(results.profit[0]),
        "revenue": float(sales @ instance.prices),
        "cost": float(x @ instance.costs),
        "salvage_value": float((x - sales) @ instance.salvage),
        "units_sold": units_sold,
        "customers": int(results.customers[0]),
        "lost_customers": int(results.lost[0]),
        "substitutions": int(results.substitutions[0]),
        "leftover_units": int(x.sum()) - units_sold,
        "products_offered": int(np.count_nonzero(x)),
        "stock": x,
        "sales": sales,
    }


# -------------------------------------------------------------------------- rendering


def stock_image(stock: np.ndarray, cap: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """uint8[64, W, 3] picture of a stock vector, W = min(N, 256) columns of products.

    Products are averaged into W equal bins in catalog order. In each column a blue bar rises
    to the mean of min(x_i / cap_i, 1) and a red pixel marks the mean of min(d_i / cap_i, 1),
    with d the mean first-choice demand T lambda; the background is white.
    """
    n = cap.shape[0]
    width = min(n, IMAGE_MAX_WIDTH)
    bins = np.arange(n) * width // n
    count = np.bincount(bins, minlength=width)
    fill = np.bincount(bins, np.minimum(stock / cap, 1.0), minlength=width) / count
    level = np.bincount(bins, np.minimum(demand / cap, 1.0), minlength=width) / count
    height_from_bottom = np.arange(IMAGE_HEIGHT)[::-1, None]
    image = np.full((IMAGE_HEIGHT, width, 3), 255, dtype=np.uint8)
    image[height_from_bottom < np.rint(fill * IMAGE_HEIGHT)] = (40, 90, 200)
    image[height_from_bottom == np.rint(level * (IMAGE_HEIGHT - 1))] = (220, 30, 30)
    return image


def render_mode_iv(render_mode: Any) -> str | None:
    """``None`` or one of ``RENDER_MODES``."""
    return None if render_mode is None else choice_iv("render_mode", render_mode, RENDER_MODES)


# ------------------------------------------------------------------- instance handling


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


@dataclass(frozen=True, eq=False)
class PreparedInstance:
    """An instance with what an episode needs of it, computed once."""

    instance: Instance
    features: np.ndarray
    catalog: np.ndarray
    cap: np.ndarray
    reward_divisor: float
    anchor: np.ndarray | None = None
    baseline_stock: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        instance: Instance,
        reward_scale: str | float,
        action_anchor: str = "none",
        reward_baseline: str = "none",
    ) -> PreparedInstance:
        if reward_scale == "none":
            divisor = 1.0
        elif reward_scale == "auto":
            divisor = auto_reward_scale(instance)
        else:
            divisor = float(reward_scale)
        cap = demand_cap(instance)
        sales = fluid_lp(instance).sales if "fluid" in (action_anchor, reward_baseline) else None
        return cls(
            instance=instance,
            features=product_features(instance, cap=cap),
            catalog=catalog_features(instance),
            cap=cap,
            reward_divisor=divisor,
            anchor=sales if action_anchor == "fluid" else None,
            baseline_stock=np.rint(sales).astype(np.int64) if reward_baseline == "fluid" else None,
        )

    def image(self, stock: np.ndarray) -> np.ndarray:
        """:func:`stock_image` of ``stock`` against the mean first-choice demand T lambda."""
        return stock_image(stock, self.cap, self.instance.customers * self.instance.arrival)

    def stock_for(self, action: np.ndarray) -> np.ndarray:
        """The stock an action commits: :func:`scale_action`, or :func:`anchored_stock`."""
        if self.anchor is None:
            return scale_action(action, self.cap)
        return anchored_stock(action, self.anchor)

    def play(self, stock: np.ndarray, scenario_seed: int) -> tuple[float, dict[str, Any]]:
        """Simulate one season of ``stock`` with customers ``scenario_seed``: (reward, KPIs).

        With a baseline stock the reward is the profit *minus the baseline's profit on the same
        customers* (``baseline_profit`` in the KPIs), divided by the reward scale.
        """
        results = simulate(self.instance, stock, 1, scenario_seed)
        kpis = season_kpis(self.instance, stock, results)
        reward = kpis["profit"]
        if self.baseline_stock is not None:
            kpis["baseline_profit"] = float(
                simulate(self.instance, self.baseline_stock, 1, scenario_seed).profit[0]
            )
            reward -= kpis["baseline_profit"]
        return reward / self.reward_divisor, kpis


class IncompatibleInstanceError(InputError):
    """``reset(options={"instance": ...})`` got an instance this environment cannot play (another
    number of products than its spaces are built for)."""


class InstanceSource:
    """The instance each episode plays, with its derived data cached.

    Fixed: ``instance`` if given, else ``make_family_instance(family, instance_seed,
    **family_kwargs)``. With ``resample_instance=True`` every reset draws an instance seed in
    [0, instance_pool) from the environment's generator instead (prepared instances are cached,
    so a small pool trains fast; seeds from ``HELD_OUT_SEED_START`` on are never drawn).
    ``reset(options={"instance": inst})`` plays ``inst`` for that episode (it must have the same
    number of products).
    """

    def __init__(
        self,
        *,
        family: str,
        instance_seed: int,
        family_kwargs: dict[str, Any] | None,
        instance: Instance | None,
        resample_instance: bool,
        reward_scale: Any,
        instance_pool: int = HELD_OUT_SEED_START,
        action_anchor: str = "none",
        reward_baseline: str = "none",
    ) -> None:
        self.action_anchor = choice_iv("action_anchor", action_anchor, ACTION_ANCHORS)
        self.reward_baseline = choice_iv("reward_baseline", reward_baseline, REWARD_BASELINES)
        # Seeds from HELD_OUT_SEED_START on are held out for evaluation.
        self.instance_pool = integer_iv(
            "instance_pool", instance_pool, low=1, high=HELD_OUT_SEED_START
        )
        self._cache: OrderedDict[int, PreparedInstance] = OrderedDict()
        self.resample = flag_iv("resample_instance", resample_instance)
        self.reward_scale = reward_scale_iv(reward_scale)
        self.family = family
        if family_kwargs is not None and not isinstance(family_kwargs, dict):
            raise InputTypeError(
                f"`family_kwargs` must be a dict of family overrides; got {describe(family_kwargs)}"
            )
        self.family_kwargs = dict(family_kwargs or {})
        self.instance_seed: int | None = None
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
            instance_seed = seed_iv("instance_seed", instance_seed)
            instance = make_family_instance(family, instance_seed, **self.family_kwargs)
            if not self.resample:
                self.instance_seed = instance_seed
        self.fixed = self._build(instance)
        self.n_products = instance.n_products
        self._last = self.fixed

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
            if not isinstance(given, Instance):
                raise InputTypeError(
                    f"options['instance'] must be an envs.instance.Instance; got {describe(given)}"
                )
            if given.n_products != self.n_products:
                raise IncompatibleInstanceError(
                    f"options['instance'] has {given.n_products} products; this environment's "
                    f"spaces are built for {self.n_products}, so it cannot play it"
                )
            return self._prepare(given), None
        if not self.resample:
            return self.fixed, self.instance_seed
        seed = int(np_random.integers(self.instance_pool))
        prepared = self._cache.get(seed)
        if prepared is None:
            instance = make_family_instance(self.family, seed, **self.family_kwargs)
            prepared = self._build(instance)
            self._cache[seed] = prepared
            if len(self._cache) > PREPARED_CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(seed)
        self._last = prepared
        return prepared, seed

    def _build(self, instance: Instance) -> PreparedInstance:
        return PreparedInstance.build(
            instance, self.reward_scale, self.action_anchor, self.reward_baseline
        )

    def _prepare(self, instance: Instance) -> PreparedInstance:
        if instance is not self._last.instance:
            self._last = self._build(instance)
        return self._last


# --------------------------------------------------------------------------- the env


class OneShotStockingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Commit a stock vector for a whole catalog before a selling season with dynamic substitution.

    ## Description

    A retailer stocks N substitutable products once, before a season of T customers who each buy
    at most one unit of the first product in stock along their preference walk (Markov chain
    choice model, or the multi-step shopper of the ``multistep`` family; DESIGN.md 1 to 3).
    One step: the agent sees the catalog, commits the stock vector, the season is simulated and
    the episode ends. With a fixed instance this is black-box optimization of the expected
    profit; with ``resample_instance=True`` a policy must generalize across a family.

    ## Action Space

    ``Box(-1, 1, (N,), float32)``. Product i is stocked x_i = round((a_i + 1) / 2 * cap_i)
    units (:func:`action_to_stock`; inverse :func:`stock_to_action`), with cap_i the demand
    cap of :mod:`envs.features` (99.9 % quantile of the customers who could ask for i, at least
    1). a_i = -1 drops the product from the assortment. Out-of-range entries are clipped.
    With ``action_anchor="fluid"`` the action is a residual around the fluid LP's sales z
    instead: x_i = max(0, round(z_i + a_i (2 + 2 sqrt(z_i)))) (:func:`anchored_stock`), so
    a = 0 is the fluid policy and the agent learns where to hedge.

    ## Observation Space

    ``Box(low, high, (N * F + G,), float32)``: the per-product feature table
    (:func:`envs.features.product_features`, F = 13) flattened row by row, then the G = 4
    catalog features. Entry ``i * F + f`` is feature f of product i:

    | index         | meaning                                   | min | max |
    |---------------|-------------------------------------------|-----|-----|
    | i*F + 0       | price r_i / P                             | 0   | 1   |
    | i*F + 1       | cost c_i / P                              | 0   | 1   |
    | i*F + 2       | salvage s_i / P                           | 0   | 1   |
    | i*F + 3       | margin (r_i - c_i) / P                    | -1  | 1   |
    | i*F + 4       | critical ratio (r - c) / (r - s), clipped | -1  | 1   |
    | i*F + 5       | first-choice probability lambda_i         | 0   | 1   |
    | i*F + 6       | lambda_i / max_j lambda_j                 | 0   | 1   |
    | i*F + 7       | log(1 + T lambda_i) / log(1 + T)          | 0   | 1   |
    | i*F + 8       | substitution out-mass sum_j rho_ij        | 0   | 1   |
    | i*F + 9       | leave probability 1 - sum_j rho_ij        | 0   | 1   |
    | i*F + 10      | in-mass m / (1 + m), m = sum_j rho_ji     | 0   | 1   |
    | i*F + 11      | log(1 + T (lambda rho)_i) / log(1 + T)    | 0   | 1   |
    | i*F + 12      | log(1 + cap_i) / log(1 + cap at p = 1)    | 0   | 1   |
    | N*F + 0       | log(1 + T) / (1 + log(1 + T))             | 0   | 1   |
    | N*F + 1       | no-purchase probability lambda_0          | 0   | 1   |
    | N*F + 2       | 1 if T is Poisson, else 0                 | 0   | 1   |
    | N*F + 3       | first-choice share of products T lambda<1 | 0   | 1   |

    P = max_i max(r_i, c_i). The observation after the last step repeats the first.

    ## Rewards

    The season's profit sum_i r_i sales_i + s_i (x_i - sales_i) - c_i x_i divided by the
    reward scale: ``"none"`` (1), a positive number, or ``"auto"``
    (:func:`envs.features.auto_reward_scale`, T sum_i lambda_i max(r_i - c_i, 0), the
    profit of serving every first choice, so that rewards are about 1 on every family). With
    ``reward_baseline="fluid"`` the profit of the rounded fluid solution on the same customers
    is subtracted first (``info["baseline_profit"]``).

    ## Starting State

    The instance (fixed, drawn from the family with a seed from the environment's generator when
    ``resample_instance=True``, or ``options["instance"]``) and a scenario seed drawn from the
    environment's generator: the season's customers are ``simulate(instance, x, 1,
    scenario_seed)``, so two stock vectors in the same seeded episode meet the same customers.

    ## Episode End

    After the single step (``terminated=True``). The final ``info`` holds the KPIs of
    :func:`season_kpis` (profit, revenue, cost, salvage_value, units_sold, customers,
    lost_customers, substitutions, leftover_units, products_offered, ``stock`` and ``sales``
    int64[N]) and the ``instance_seed`` (None when not drawn from a family) and
    ``scenario_seed``; the ``info`` of ``reset`` holds the two seeds.

    ## Arguments

    ```python
    gym.make("Assort/OneShotSmall-v0")
    OneShotStockingEnv(family="small", instance_seed=0, instance=None, resample_instance=False,
                       instance_pool=1_000_000, action_anchor="none", reward_baseline="none",
                       family_kwargs=None, reward_scale="auto")
    ```

    * ``family``, ``instance_seed``, ``family_kwargs``: the instance
      ``envs.families.make_family_instance(family, instance_seed, **family_kwargs)``;
    * ``instance``: play this instance instead (family arguments are then unused);
    * ``resample_instance``: a fresh family instance at every reset (N stays that of the family);
    * ``instance_pool``: with ``resample_instance``, instance seeds are drawn from
      [0, instance_pool); at most ``HELD_OUT_SEED_START`` = 1,000,000, so seeds from there on
      are held out for evaluation;
    * ``action_anchor``: ``"none"`` (the absolute scale above) or ``"fluid"`` (residual around
      the fluid LP sales; the ``...Residual-v0`` ids);
    * ``reward_baseline``: ``"none"`` or ``"fluid"``: subtract the profit that the rounded fluid
      solution earns from the *same customers* (common random numbers inside the episode). The
      subtracted term does not depend on the action, so the best policy is unchanged, but the
      reward's noise from the customers largely cancels (the ``...Residual-v0`` ids);
    * ``reward_scale``: ``"none"``, ``"auto"`` or a positive number;
    * ``render_mode``: None or ``"rgb_array"`` (:func:`stock_image` of the committed stock;
      stable-baselines3's ``make_vec_env`` asks for it by default).

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        family: str = "small",
        instance_seed: int = 0,
        *,
        instance: Instance | None = None,
        resample_instance: bool = False,
        instance_pool: int = HELD_OUT_SEED_START,
        action_anchor: str = "none",
        reward_baseline: str = "none",
        family_kwargs: dict[str, Any] | None = None,
        reward_scale: str | float = "auto",
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = render_mode_iv(render_mode)
        self.source = InstanceSource(
            family=family,
            instance_seed=instance_seed,
            family_kwargs=family_kwargs,
            instance=instance,
            resample_instance=resample_instance,
            reward_scale=reward_scale,
            instance_pool=instance_pool,
            action_anchor=action_anchor,
            reward_baseline=reward_baseline,
        )
        n = self.source.n_products
        low, high = feature_bounds(FEATURES)
        catalog_low, catalog_high = feature_bounds(CATALOG_FEATURES)
        self.observation_space = spaces.Box(
            low=np.concatenate([np.tile(low, n), catalog_low]),
            high=np.concatenate([np.tile(high, n), catalog_high]),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self._prepared: PreparedInstance | None = None
        self._seeds: dict[str, int | None] = {}
        self._stock = np.zeros(n, dtype=np.int64)
        self._done = True

    @property
    def instance(self) -> Instance:
        """The instance of the current episode (the fixed one before the first reset)."""
        return (self._prepared or self.source.fixed).instance

    def _observation(self) -> np.ndarray:
        prepared = self._prepared
        assert prepared is not None
        return np.concatenate([prepared.features.ravel(), prepared.catalog])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._prepared, instance_seed = self.source.episode(self.np_random, options)
        scenario_seed = int(self.np_random.integers(2**63, dtype=np.int64))
        self._seeds = {"instance_seed": instance_seed, "scenario_seed": scenario_seed}
        self._stock = np.zeros(self.source.n_products, dtype=np.int64)
        self._done = False
        return self._observation(), dict(self._seeds)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done or self._prepared is None:
            raise RuntimeError("the episode is over; call reset() before step()")
        prepared = self._prepared
        self._stock = prepared.stock_for(action_iv(action, self.source.n_products))
        reward, info = prepared.play(self._stock, self._seeds["scenario_seed"])
        self._done = True
        return self._observation(), reward, True, False, {**info, **self._seeds}

    def render(self) -> np.ndarray | None:
        """The committed stock against demand (:func:`stock_image`), or None without a render
        mode."""
        if self.render_mode is None:
            return None
        return (self._prepared or self.source.fixed).image(self._stock)
