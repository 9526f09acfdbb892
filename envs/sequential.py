"""Sequential stocking, vendor by vendor, with partial information (DESIGN.md 6).

The vendors of a catalog arrive one after another; at each step the agent sees only what has
been revealed and commits the new vendor's stock for good. The season is simulated on the whole
catalog once every vendor is committed. The observation is built by :func:`step_observation`
from the revealed sub-catalog only (:mod:`envs.vendors`), so nothing about vendors still to come
can reach the agent (tested by changing their data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.actions import action_iv, proportional_stock, scale_action
from envs.episodes import (
    HELD_OUT_SEED_START,
    EpisodeSettings,
    InstanceSource,
    PreparedInstance,
    season_kpis,
)
from envs.features import demand_cap
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from envs.observation import (
    DEFAULT_NEIGHBOURS,
    LOG_SCALE,
    catalog_observation,
    observation_bounds,
    product_columns,
)
from envs.references import (
    NONE,
    commitment_reference,
    commitment_reference_names,
    reference_names,
    round_half_up,
)
from envs.rendering import RENDER_MODES, render_mode_iv
from envs.simulate import simulate
from envs.validation import InputError, choice_iv
from envs.vendors import (
    draw_vendor_order,
    relabel_vendors,
    revealed_products,
    sub_catalog,
    vendors_of,
)

SEQUENTIAL_COLUMNS: tuple[tuple[str, float, float], ...] = (
    ("present", 0.0, 1.0),
    ("new", 0.0, 1.0),
    ("committed", 0.0, 1.0),
    ("committed_stock", 0.0, 1.0),
    ("anchor_stock", 0.0, 1.0),
)
"""(name, low, high) of the per-row columns after the catalog observation's C columns."""
SEQUENTIAL_CATALOG_COLUMNS: tuple[tuple[str, float, float], ...] = (
    ("vendors_left", 0.0, 1.0),
    ("revealed_products", 0.0, 1.0),
    ("vendor_count", 0.0, 1.0),
)
"""(name, low, high) of the catalog columns after the catalog observation's G columns."""
VENDOR_ORDERS = ("drawn", "labels")


def sequential_columns(k: int = DEFAULT_NEIGHBOURS) -> int:
    """C': columns of one row of the sequential observation (C + 5)."""
    return product_columns(k) + len(SEQUENTIAL_COLUMNS)


@dataclass(frozen=True)
class Step:
    """What step k reveals: the revealed products (row order), their sub-catalog and its demand
    cap, which rows are the new vendor's, and the anchor stock of every row (None without an
    anchor; committed rows hold their commitment)."""

    products: np.ndarray
    sub: Instance
    cap: np.ndarray
    new: np.ndarray
    anchor: np.ndarray | None


def reveal(instance: Instance, step: int, committed: np.ndarray, anchor_name: str = NONE) -> Step:
    """Step ``step`` of ``instance`` (vendors in label order) given the stock ``committed`` to
    earlier vendors: the revealed sub-catalog and, with an anchor, its plan for the new vendor
    (a commitment reference of :mod:`envs.references`, planned on the sub-catalog with the
    earlier vendors' stock fixed)."""
    products = revealed_products(instance, step)
    sub = sub_catalog(instance, products)
    new = instance.vendors[products] == step
    anchor = None
    if anchor_name != NONE:
        fixed = np.where(new, -1, committed[products])
        anchor = np.where(new, commitment_reference(anchor_name)(sub, fixed), fixed)
    return Step(products, sub, demand_cap(sub), new, anchor)


def step_observation(
    step: Step | None,
    instance: Instance,
    committed: np.ndarray,
    vendors_left: int,
    k: int,
) -> np.ndarray:
    """float32[N C' + G']: the observation of the class docstring; ``step`` None is the
    terminal observation (every vendor revealed and committed)."""
    n = instance.n_products
    c = product_columns(k)
    width = c + len(SEQUENTIAL_COLUMNS)
    table = np.zeros((n, width), dtype=np.float32)
    table[:, product_columns(0) : c - k] = -1.0  # padding rows: no neighbours
    if step is None:
        products = np.argsort(instance.vendors, kind="stable")
        sub = sub_catalog(instance, products)
        new = np.zeros(n, dtype=bool)
        anchor = None
    else:
        products, sub, new, anchor = step.products, step.sub, step.new, step.anchor
    r = products.size
    cap = demand_cap(sub) if step is None else step.cap
    base = catalog_observation(sub, fluid_lp(sub), cap, k)
    table[:r, :c] = base[: r * c].reshape(r, c)
    stock = committed[products].astype(np.float64)
    table[:r, c] = 1.0
    table[:r, c + 1] = new
    table[:r, c + 2] = ~new
    table[:r, c + 3] = np.where(new, 0.0, np.log1p(stock) / LOG_SCALE)
    if anchor is not None:
        table[:r, c + 4] = np.where(new, np.log1p(np.maximum(anchor, 0.0)) / LOG_SCALE, 0.0)
    v = instance.n_vendors
    extra = np.array([vendors_left / v, r / n, math.log1p(v) / LOG_SCALE], dtype=np.float32)
    return np.concatenate([table.ravel(), base[r * c :], extra]).astype(np.float32)


class SequentialStockingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Stock a catalog vendor by vendor, seeing only the vendors revealed so far, then play the
    season on the whole catalog.

    ## Description

    A catalog of N substitutable products offered by V vendors (an instance with vendor labels,
    e.g. the ``vendors-small`` and ``vendors-medium`` families) is stocked for one season of T
    customers with dynamic stock-out substitution (DESIGN.md 1 and 6). The vendors arrive one
    per step, in an order drawn at every reset. At step k (k = 0..V-1) the agent knows only the
    *revealed sub-catalog* R_k, the products of the first k + 1 vendors (their prices, costs,
    salvage, first-choice probabilities lambda_i and the substitution rho among revealed
    products; :mod:`envs.vendors`), T, how many vendors are left and what it has committed; it
    decides the stock of vendor k's products for good. Where a revealed product's customers go
    among products not yet revealed is **not** shown and not renormalized away: in R_k that
    mass looks like leaving (the rows of rho_RR sum to less than the true rows; the leave
    column says 1 - sum_{j in R_k} rho_ij), exactly what a planner on R_k sees. Every feature of
    step k is a function of R_k and the commitments only, so changing the data of later vendors
    (their prices, costs, lambda, rows, and the substitution into them) changes nothing the agent
    sees before they arrive (tested). The number of rows N is known (it is the observation's
    length); what the rows of later vendors hold is not. After the last vendor the season is
    simulated on the whole catalog with the committed stock.

    ## Action Space

    ``Box(-1, 1, (N,), float32)``, one entry per observation row; only the rows of the new
    vendor are used (the others are ignored). With ``action_anchor="none"`` the absolute scale
    x = round((a + 1)/2 cap) with cap the demand cap of the row on R_k
    (:func:`envs.features.demand_cap`); with an anchor (a commitment reference of
    :mod:`envs.references`, such as ``"myopic-saa"``: myopic re-planning on R_k with the
    earlier vendors fixed) the proportional scale around the anchor's stock y
    (:func:`envs.actions.proportional_stock`): a = 0 is the anchor, a = -1 drops the product,
    a = 1 doubles it plus 2 + 2 sqrt(y) units.

    ## Observation Space

    ``Box(low, high, (N C' + G',), float32)`` with C' = C + 5 = 24 + 2k and G' = G + 3 = 9.
    Row r < |R_k| is revealed product r (earlier vendors first, the new vendor last); rows from
    |R_k| on are padding (zeros, neighbour indices -1). Entry ``r * C' + c`` is column c of row
    r; the first C columns and the first G catalog columns are the one-shot catalog observation
    (:mod:`envs.observation`) **computed on R_k** (features, fluid LP of R_k, the k largest
    substitutes of each row as row indices):

    | index              | meaning                                                 | min | max   |
    |--------------------|---------------------------------------------------------|-----|-------|
    | r*C' + 0 .. 18     | base features and fluid LP columns of row r on R_k      | -1  | 1     |
    | r*C' + 19 + m      | row of the m-th largest substitute in R_k (-1: none)    | -1  | N - 1 |
    | r*C' + 19 + k + m  | its weight rho                                          | 0   | 1     |
    | r*C' + C + 0       | 1 if row r is a revealed product, 0 if padding          | 0   | 1     |
    | r*C' + C + 1       | 1 if row r belongs to the vendor to decide now          | 0   | 1     |
    | r*C' + C + 2       | 1 if row r was committed at an earlier step             | 0   | 1     |
    | r*C' + C + 3       | log(1 + x_r) / log(1 + 10^6), its committed stock       | 0   | 1     |
    | r*C' + C + 4       | log(1 + y_r) / log(1 + 10^6), the anchor (new rows)     | 0   | 1     |
    | N*C' + 0 .. 5      | catalog block of R_k (:mod:`envs.observation`; its N    | 0   | 1     |
    |                    | column is log(1 + |R_k|) / log(1 + 10^6))                |     |       |
    | N*C' + 6           | vendors left after this one / V                         | 0   | 1     |
    | N*C' + 7           | |R_k| / N, share of the rows revealed                   | 0   | 1     |
    | N*C' + 8           | log(1 + V) / log(1 + 10^6)                              | 0   | 1     |

    After the last step the observation shows the whole catalog, every row committed, no new
    row and 0 vendors left. A per-product network with ``layout="sequential"``
    (:class:`agents.catalog_policy.CatalogPolicy`) reads it for any N and V.

    ## Rewards

    0 before the last step. The last step's reward is (1/K) sum_k (profit_k(x) - profit_k(b)) / D
    over the K = ``seasons_per_episode`` seasons of the episode's customers, as in the one-shot
    environment: b is the stock of the ``reward_baseline`` (``"none"``: 0; a one-shot reference
    such as ``"fluid"`` or ``"saa"``: that planner with full information, on the whole catalog;
    a commitment reference such as ``"myopic-saa"``: that planner played vendor by vendor in the
    episode's order), its profit taken on the same customers, so the optimum is unchanged.
    D = ``reward_scale``.

    ## Starting State

    The instance (fixed, a family draw per reset with ``resample_instance=True``, or
    ``options["instance"]``), the vendor order (``vendor_order="drawn"``: a uniformly random
    order from the environment's generator at every reset; ``"labels"``: the instance's labels,
    vendor 0 first) and the scenario seed; nothing is committed.

    ## Episode End

    After V steps (``terminated=True``). The final ``info`` holds the KPIs of
    :func:`envs.episodes.season_kpis` (``stock`` int64[N] in the instance's product order),
    ``baseline_profit`` with a baseline, the seeds and ``vendor_order`` (the original labels in
    arrival order); earlier ``info`` dicts hold the seeds and the order.

    ## Arguments

    ```python
    gym.make("Assort/SequentialSmallFamily-v1")
    SequentialStockingEnv(family="vendors-small", instance_seed=0, instance=None,
                          resample_instance=False, instance_pool=1_000_000, family_ranges=None,
                          vendor_order="drawn", action_anchor="none", reward_baseline="none",
                          seasons_per_episode=1, neighbours=5, family_kwargs=None,
                          reward_scale="auto")
    ```

    ``vendor_order``: ``"drawn"`` or ``"labels"`` (evaluation plays a given instance in its
    label order: ``EVALUATION_KWARGS``); ``action_anchor``: ``"none"`` or a commitment
    reference (``"myopic-fluid"``, ``"myopic-saa"`` once :mod:`baselines` is imported);
    ``reward_baseline``: ``"none"``, a one-shot reference or a commitment reference; the other
    arguments are those of :class:`envs.one_shot.OneShotStockingEnv`. The instance must have
    vendor labels.

    ## Version History

    * v1: vendors of a vendor family in an order drawn per episode; partial information (every
      feature computed on the revealed sub-catalog); the catalog observation per row, a
      proportional action around a myopic anchor, reward baselines.
    * v0 (retired): batches of B products in index order, features computed on the *whole*
      catalog (the substitution and inflow columns summed over products not yet revealed, so
      the agent knew the future).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    EVALUATION_KWARGS = {"vendor_order": "labels"}
    """Keyword arguments with which a trained policy plays a given instance in evaluation: the
    instance's own vendor order, the one every other policy is evaluated with."""

    def __init__(
        self,
        family: str = "vendors-small",
        instance_seed: int = 0,
        *,
        instance: Instance | None = None,
        resample_instance: bool = False,
        instance_pool: int = HELD_OUT_SEED_START,
        family_ranges: dict[str, Any] | None = None,
        vendor_order: str = "drawn",
        action_anchor: str = NONE,
        reward_baseline: str = NONE,
        seasons_per_episode: int = 1,
        neighbours: int = DEFAULT_NEIGHBOURS,
        family_kwargs: dict[str, Any] | None = None,
        reward_scale: str | float = "auto",
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = render_mode_iv(render_mode)
        self.vendor_order = choice_iv("vendor_order", vendor_order, VENDOR_ORDERS)
        commitments = commitment_reference_names()
        self.action_anchor = choice_iv("action_anchor", action_anchor, [NONE, *commitments])
        allowed = [*reference_names(), *commitments]
        self.reward_baseline = choice_iv("reward_baseline", reward_baseline, allowed)
        chained = self.reward_baseline in commitments
        settings = EpisodeSettings.checked(
            reward_scale=reward_scale,
            reward_baseline=NONE if chained else self.reward_baseline,
            seasons=seasons_per_episode,
            neighbours=neighbours,
        )
        self.source = InstanceSource(
            family=family,
            instance_seed=instance_seed,
            family_kwargs=family_kwargs,
            instance=instance,
            resample_instance=resample_instance,
            settings=settings,
            instance_pool=instance_pool,
            family_ranges=family_ranges,
        )
        vendors_of(self.source.fixed.instance)
        self.neighbours = settings.neighbours
        self.seasons = settings.seasons
        n = self.source.n_products
        low, high = observation_bounds(n, self.neighbours)
        g = len(low) - n * product_columns(self.neighbours)
        rows = (
            np.concatenate([low[: product_columns(self.neighbours)], np.zeros(5)]),
            np.concatenate([high[: product_columns(self.neighbours)], np.ones(5)]),
        )
        self.observation_space = spaces.Box(
            low=np.concatenate([np.tile(rows[0], n), low[-g:], np.zeros(3)]).astype(np.float32),
            high=np.concatenate([np.tile(rows[1], n), high[-g:], np.ones(3)]).astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self._prepared: PreparedInstance | None = None
        self._instance: Instance | None = None
        self._order: list[int] = []
        self._seeds: dict[str, int | None] = {}
        self._stock = np.zeros(n, dtype=np.int64)
        self._step = 0
        self._current: Step | None = None

    @property
    def instance(self) -> Instance:
        """The instance of the current episode, vendors relabelled in arrival order (before the
        first reset: the fixed instance as given)."""
        return self._instance or self.source.fixed.instance

    @property
    def n_vendors(self) -> int:
        return self.instance.n_vendors

    def _observation(self) -> np.ndarray:
        instance = self.instance
        left = max(0, instance.n_vendors - self._step - 1)
        return step_observation(self._current, instance, self._stock, left, self.neighbours)

    def _reveal(self) -> None:
        instance = self.instance
        if self._step < instance.n_vendors:
            self._current = reveal(instance, self._step, self._stock, self.action_anchor)
        else:
            self._current = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._prepared, instance_seed = self.source.episode(self.np_random, options)
        instance = self._prepared.instance
        vendors_of(instance)
        order = np.arange(instance.n_vendors)
        if self.vendor_order == "drawn":
            order = draw_vendor_order(self.np_random, instance.n_vendors)
        scenario_seed = int(self.np_random.integers(2**63, dtype=np.int64))
        self._instance = relabel_vendors(instance, order)
        self._order = [int(v) for v in order]
        self._seeds = {"instance_seed": instance_seed, "scenario_seed": scenario_seed}
        self._stock = np.zeros(self.source.n_products, dtype=np.int64)
        self._step = 0
        self._reveal()
        return self._observation(), self._info()

    def _info(self) -> dict[str, Any]:
        return {**self._seeds, "vendor_order": list(self._order)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._current is None or self._prepared is None:
            raise RuntimeError("the episode is over; call reset() before step()")
        current = self._current
        a = action_iv(action, self.source.n_products)[: current.products.size][current.new]
        if current.anchor is None:
            decided = scale_action(a, current.cap[current.new])
        else:
            decided = proportional_stock(a, current.anchor[current.new])
        self._stock[current.products[current.new]] = decided
        self._step += 1
        self._reveal()
        if self._current is not None:
            return self._observation(), 0.0, False, False, self._info()
        reward, info = self._play()
        return self._observation(), reward, True, False, {**info, **self._info()}

    def _play(self) -> tuple[float, dict[str, Any]]:
        prepared = self._prepared
        assert prepared is not None
        instance = prepared.instance
        seed = self._seeds["scenario_seed"]
        if self.reward_baseline in commitment_reference_names():
            baseline = chained_stock(self.instance, self.reward_baseline)
            results = simulate(instance, self._stock, self.seasons, seed)
            kpis = season_kpis(instance, self._stock, results)
            base = simulate(instance, baseline, self.seasons, seed)
            kpis["baseline_profit"] = float(base.profit.mean())
            return (kpis["profit"] - kpis["baseline_profit"]) / prepared.divisor, kpis
        return prepared.play(self._stock, seed)

    def render(self) -> np.ndarray | None:
        """The stock committed so far against demand (:func:`envs.rendering.stock_image`)."""
        if self.render_mode is None:
            return None
        return (self._prepared or self.source.fixed).image(self._stock)


def chained_stock(instance: Instance, name: str) -> np.ndarray:
    """The stock int64[N] of commitment reference ``name`` played vendor by vendor in label
    order on ``instance`` (each step on the revealed sub-catalog, earlier vendors fixed)."""
    if name not in commitment_reference_names():
        raise InputError(f"`name` must be one of {commitment_reference_names()}; got {name!r}")
    stock = np.zeros(instance.n_products, dtype=np.int64)
    for k in range(instance.n_vendors):
        step = reveal(instance, k, stock, name)
        assert step.anchor is not None
        stock[step.products[step.new]] = round_half_up(step.anchor[step.new])
    return stock
