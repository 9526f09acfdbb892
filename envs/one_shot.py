"""One-shot stocking: commit the whole stock vector in one step, then the season is played."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.actions import action_iv
from envs.episodes import (
    HELD_OUT_SEED_START,
    EpisodeSettings,
    InstanceSource,
    PreparedInstance,
)
from envs.instance import Instance
from envs.observation import DEFAULT_NEIGHBOURS, observation_bounds
from envs.references import NONE
from envs.rendering import RENDER_MODES, render_mode_iv


class OneShotStockingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Commit a stock vector for a whole catalog before a selling season with dynamic substitution.

    ## Description

    A retailer stocks N substitutable products once, before a season of T customers who each buy
    at most one unit of the first product in stock along their preference walk (Markov chain
    choice model, or another customer process of the instance; DESIGN.md 1 to 3). One step: the
    agent sees the catalog, commits the stock vector, the season is simulated and the episode
    ends. With a fixed instance this is black-box optimization of the expected profit; with
    ``resample_instance=True`` a policy must generalize across a family (or, with
    ``family_ranges``, across a family whose knobs vary from instance to instance).

    ## Action Space

    ``Box(-1, 1, (N,), float32)``, on the scales of :mod:`envs.actions`. Absolute
    (``action_anchor="none"``): x_i = round((a_i + 1) / 2 * cap_i), cap_i the demand cap of
    :mod:`envs.features` (99.9 % quantile of the customers who could ask for i, at least 1);
    a_i = -1 drops the product. Residual (``action_anchor`` a reference of
    :mod:`envs.references`: ``"fluid"``, or any registered heuristic once :mod:`baselines` is
    imported): x_i = max(0, round(y_i + a_i (2 + 2 sqrt(y_i)))) around the reference's stock y,
    so a = 0 is that reference and the agent learns where to deviate. Out-of-range entries are
    clipped; strings, bools, complex numbers and non-finite entries are refused.

    ## Observation Space

    ``Box(low, high, (N * C + G,), float32)``: the catalog observation of
    :mod:`envs.observation`, a per-product block of N rows of C = 19 + 2k columns (the 13 base
    features of :mod:`envs.features`, 6 columns of the fluid LP solution, the indices and
    weights of the k largest substitutes of each product) followed by a catalog block of G = 6
    columns. Entry ``i * C + c`` is column c of product i:

    | index           | meaning                                              | min  | max   |
    |-----------------|------------------------------------------------------|------|-------|
    | i*C + 0 .. 12   | base features (price, cost, salvage, margin, critical| -1   | 1     |
    |                 | ratio, lambda_i, popularity, demand, substitution     |      |       |
    |                 | out-mass, leave, in-mass, inflow, demand cap)         |      |       |
    | i*C + 13        | log(1 + T lambda_i) / log(1 + 10^6)                  | 0    | 1     |
    | i*C + 14        | log(1 + z_i) / log(1 + 10^6), z = fluid LP sales     | 0    | 1     |
    | i*C + 15        | 1 / sqrt(1 + z_i)                                    | 0    | 1     |
    | i*C + 16        | 1 if the fluid LP sells i                            | 0    | 1     |
    | i*C + 17        | log(1 + w_i) / log(1 + 10^6), w = fluid visits       | 0    | 1     |
    | i*C + 18        | fluid dual g_i / max price                           | 0    | 1     |
    | i*C + 19 + m    | index of the m-th largest substitute of i (-1: none) | -1   | N - 1 |
    | i*C + 19 + k + m| its weight rho_ij                                    | 0    | 1     |
    | N*C + 0 .. 3    | log(1 + T)/(1 + log(1 + T)), lambda_0, Poisson flag,  | 0    | 1     |
    |                 | long-tail share (:data:`envs.features.CATALOG_FEATURES`) |   |       |
    | N*C + 4         | log(1 + T) / log(1 + 10^6)                           | 0    | 1     |
    | N*C + 5         | log(1 + N) / log(1 + 10^6)                           | 0    | 1     |

    Per-product block and catalog block are what a per-product network reads
    (:mod:`agents.catalog_policy` recovers N from the length); a flat MLP reads the whole
    vector. The observation after the last step repeats the first.

    ## Rewards

    (1/K) sum_{k < K} (profit_k(x) - profit_k(b)) / D over the K = ``seasons_per_episode``
    seasons of the episode's customers (:mod:`envs.episodes`): profit = r.sales + s.(x - sales)
    - c.x; b is the stock of the ``reward_baseline`` reference (``"none"``: 0; ``"fluid"``: the
    rounded fluid LP sales; any registered heuristic's stock), whose profit is taken on the
    *same customers* (``info["baseline_profit"]``): the optimum is unchanged and most of the
    customers' noise cancels. D is ``reward_scale``: ``"none"`` (1), a number, or ``"auto"``
    (:func:`envs.features.auto_reward_scale`, about the profit of serving every first choice,
    so that rewards are about 1 on every family).

    ## Starting State

    The instance (fixed, drawn from the family with a seed from the environment's generator
    when ``resample_instance=True``, or ``options["instance"]``) and a scenario seed drawn from
    the environment's generator: the episode's customers are ``simulate(instance, x, K,
    scenario_seed)``, so two stock vectors in the same seeded episode meet the same customers.

    ## Episode End

    After the single step (``terminated=True``). The final ``info`` holds the KPIs of
    :func:`envs.episodes.season_kpis` (means over the K seasons: profit, revenue, cost,
    salvage_value, units_sold, customers, lost_customers, substitutions, leftover_units,
    products_offered, ``stock`` and ``sales``), ``baseline_profit`` with a baseline, and the
    ``instance_seed`` (None when not drawn from a family) and ``scenario_seed``; the ``info``
    of ``reset`` holds the two seeds.

    ## Arguments

    ```python
    gym.make("Assort/OneShotSmallFamily-v1")
    OneShotStockingEnv(family="small", instance_seed=0, instance=None, resample_instance=False,
                       instance_pool=1_000_000, family_ranges=None, action_anchor="none",
                       reward_baseline="none", seasons_per_episode=1, neighbours=5,
                       family_kwargs=None, reward_scale="auto")
    ```

    * ``family``, ``instance_seed``, ``family_kwargs``: the instance
      ``envs.families.make_family_instance(family, instance_seed, **family_kwargs)``;
    * ``instance``: play this instance instead (family arguments are then unused);
    * ``resample_instance``: a fresh family instance at every reset (N stays that of the family);
    * ``instance_pool``: with ``resample_instance``, instance seeds are drawn from
      [0, instance_pool); at most ``HELD_OUT_SEED_START`` = 1,000,000, so seeds from there on
      are held out for evaluation;
    * ``family_ranges``: knob -> [low, high], knobs drawn per instance seed
      (:func:`envs.episodes.draw_knobs`; T log-uniform), for training across T, alpha, ...;
    * ``action_anchor``, ``reward_baseline``: ``"none"``, ``"fluid"`` or a registered heuristic;
    * ``seasons_per_episode``: K seasons per episode, reward averaged (1 to 256);
    * ``neighbours``: k, the substitutes per product in the observation (1 to 64);
    * ``reward_scale``: ``"none"``, ``"auto"`` or a number in [1e-9, 1e15];
    * ``render_mode``: None or ``"rgb_array"`` (:func:`envs.rendering.stock_image` of the
      committed stock; stable-baselines3's ``make_vec_env`` asks for it by default).

    ## Version History

    * v1: the catalog observation (fluid LP columns, substitution graph, N-free catalog block);
      residual anchor and reward baseline of any registered reference; several seasons per
      episode; knob ranges. v0 ids are retired.
    * v0: 13 features per product, 4 catalog features; fluid anchor and baseline only.
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
        family_ranges: dict[str, Any] | None = None,
        action_anchor: str = NONE,
        reward_baseline: str = NONE,
        seasons_per_episode: int = 1,
        neighbours: int = DEFAULT_NEIGHBOURS,
        family_kwargs: dict[str, Any] | None = None,
        reward_scale: str | float = "auto",
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = render_mode_iv(render_mode)
        settings = EpisodeSettings.checked(
            reward_scale=reward_scale,
            action_anchor=action_anchor,
            reward_baseline=reward_baseline,
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
        n = self.source.n_products
        low, high = observation_bounds(n, settings.neighbours)
        self.observation_space = spaces.Box(low=low, high=high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self._prepared: PreparedInstance | None = None
        self._seeds: dict[str, int | None] = {}
        self._stock = np.zeros(n, dtype=np.int64)
        self._done = True

    @property
    def instance(self) -> Instance:
        """The instance of the current episode (the fixed one before the first reset)."""
        return (self._prepared or self.source.fixed).instance

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._prepared, instance_seed = self.source.episode(self.np_random, options)
        scenario_seed = int(self.np_random.integers(2**63, dtype=np.int64))
        self._seeds = {"instance_seed": instance_seed, "scenario_seed": scenario_seed}
        self._stock = np.zeros(self.source.n_products, dtype=np.int64)
        self._done = False
        return self._prepared.observation.copy(), dict(self._seeds)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done or self._prepared is None:
            raise RuntimeError("the episode is over; call reset() before step()")
        prepared = self._prepared
        self._stock = prepared.stock_for(action_iv(action, self.source.n_products))
        reward, info = prepared.play(self._stock, self._seeds["scenario_seed"])
        self._done = True
        return prepared.observation.copy(), reward, True, False, {**info, **self._seeds}

    def render(self) -> np.ndarray | None:
        """The committed stock against demand, or None without a render mode."""
        if self.render_mode is None:
            return None
        return (self._prepared or self.source.fixed).image(self._stock)
