"""Sequential stocking, vendor by vendor: commit the catalog's stock one batch at a time.

DESIGN.md 6: the catalog arrives in batches (vendors) of B products; at each step the agent
sees the new batch and what it has committed so far, decides that batch's stock and cannot
revisit it. The season is simulated once everything is committed.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.actions import action_iv, scale_action
from envs.episodes import (
    HELD_OUT_SEED_START,
    EpisodeSettings,
    InstanceSource,
    PreparedInstance,
)
from envs.features import (
    CATALOG_FEATURES,
    FEATURES,
    N_FEATURES,
    feature_bounds,
    substitution_inflow,
)
from envs.instance import MAX_PRODUCTS, Instance
from envs.rendering import RENDER_MODES, render_mode_iv
from envs.validation import integer_iv

BATCH_FEATURES: tuple[tuple[str, float, float], ...] = (
    ("present", 0.0, 1.0),
    ("substitution_to_stocked", 0.0, 1.0),
    ("inflow_from_dropped", 0.0, 1.0),
)
"""(name, low, high) of the per-row features that depend on the commitments so far."""

PROGRESS_FEATURES: tuple[tuple[str, float, float], ...] = (
    ("committed_share", 0.0, 1.0),
    ("offered_share", 0.0, 1.0),
    ("covered_first_choice", 0.0, 1.0),
    ("stock_share", 0.0, 1.0),
    ("cost_share", 0.0, 1.0),
)
"""(name, low, high) of the summary of the commitments so far."""


def _batch_size_iv(batch_size: Any) -> int:
    return integer_iv("batch_size", batch_size, low=1, high=MAX_PRODUCTS)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator clipped to [0, 1]; 0 when the denominator is 0."""
    return min(1.0, max(0.0, numerator / denominator)) if denominator > 0 else 0.0


class SequentialStockingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Stock a catalog that arrives vendor by vendor, B products per step, then play the season.

    ## Description

    The one-shot problem of :class:`envs.one_shot.OneShotStockingEnv` (N substitutable
    products, one season of T customers with dynamic stock-out substitution), decided
    sequentially: step k shows products kB, ..., kB + B - 1 (catalog order) with what has
    been committed so far, and commits their stock for good. After ceil(N / B) steps the season
    is simulated. When B does not divide N the last batch is padded with absent rows (all
    features 0, ``present`` = 0) whose actions are ignored.

    ## Action Space

    ``Box(-1, 1, (B,), float32)``: row b of the batch (product kB + b) is stocked
    round((a_b + 1) / 2 * cap) units, the scale of :func:`envs.actions.action_to_stock`.

    ## Observation Space

    ``Box(low, high, (B * (F + 3) + 5 + G,), float32)`` with F = 13, G = 4. Row b of the batch
    occupies entries ``b * (F + 3)`` to ``b * (F + 3) + F + 2``; the commitment summary and the
    catalog features follow. With R = B * (F + 3) and S the products already committed, of
    which S+ stocked and S0 dropped:

    | index              | meaning                                              | min | max |
    |--------------------|------------------------------------------------------|-----|-----|
    | b*(F+3) + f, f < F | product feature f (:mod:`envs.features`) of row b    | -1  | 1   |
    | b*(F+3) + F        | 1 if row b is a product, 0 if padding                | 0   | 1   |
    | b*(F+3) + F + 1    | sum_{j in S+} rho_ij: stock-outs caught by S+        | 0   | 1   |
    | b*(F+3) + F + 2    | log(1 + T sum_{j in S0} lambda_j rho_ji) / log(1+T)  | 0   | 1   |
    | R + 0              | |S| / N, share of the catalog committed              | 0   | 1   |
    | R + 1              | |S+| / N, share of the catalog stocked               | 0   | 1   |
    | R + 2              | sum_{S+} lambda / sum lambda, first choices covered  | 0   | 1   |
    | R + 3              | sum_S x / sum cap, stock committed                   | 0   | 1   |
    | R + 4              | sum_S c x / sum c cap, cost committed                | 0   | 1   |
    | R + 5 + g          | catalog feature g (:mod:`envs.features`)             | 0   | 1   |

    Per-feature bounds of the product columns are those of ``envs.features.FEATURES`` (margin
    and critical ratio lie in [-1, 1], the others in [0, 1]). After the last step the batch is
    all padding. The product features are normalized with catalog-wide scales (the largest
    price, the largest lambda, T), which the agent therefore knows from the start: what arrives
    in batches is the decision, not the price list. The clip of column F + 1 absorbs the
    instance tolerance (rows of rho may sum to 1 + 1e-9).

    ## Rewards

    0 at every step but the last, whose reward is the season's profit divided by the reward
    scale (``"none"``, a positive number or ``"auto"``, as in the one-shot environment).

    ## Starting State

    The instance (fixed, a fresh family draw with ``resample_instance=True``, or
    ``options["instance"]``) and the season's scenario seed are drawn at reset from the
    environment's generator; nothing is committed.

    ## Episode End

    After ceil(N / B) steps (``terminated=True``). The final ``info`` holds the KPIs of
    :func:`envs.episodes.season_kpis` (with ``stock`` int64[N]) and the seeds; earlier
    ``info`` dicts hold the seeds only.

    ## Arguments

    ```python
    gym.make("Assort/SequentialSmall-v0")
    SequentialStockingEnv(family="small", instance_seed=0, batch_size=5, instance=None,
                          resample_instance=False, instance_pool=1_000_000, family_kwargs=None,
                          reward_scale="auto")
    ```

    ``batch_size`` is B (a positive integer; B >= N is the one-shot problem in one step); the
    other arguments are those of :class:`envs.one_shot.OneShotStockingEnv` (``"rgb_array"``
    renders the stock committed so far).

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        family: str = "small",
        instance_seed: int = 0,
        *,
        batch_size: int = 5,
        instance: Instance | None = None,
        resample_instance: bool = False,
        instance_pool: int = HELD_OUT_SEED_START,
        family_kwargs: dict[str, Any] | None = None,
        reward_scale: str | float = "auto",
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = render_mode_iv(render_mode)
        self.batch_size = _batch_size_iv(batch_size)
        self.source = InstanceSource(
            family=family,
            instance_seed=instance_seed,
            family_kwargs=family_kwargs,
            instance=instance,
            resample_instance=resample_instance,
            settings=EpisodeSettings.checked(reward_scale=reward_scale),
            instance_pool=instance_pool,
        )
        n = self.source.n_products
        self.n_steps = math.ceil(n / self.batch_size)
        row_low, row_high = (
            np.concatenate(pair)
            for pair in zip(feature_bounds(FEATURES), feature_bounds(BATCH_FEATURES))
        )
        progress_low, progress_high = feature_bounds(PROGRESS_FEATURES)
        catalog_low, catalog_high = feature_bounds(CATALOG_FEATURES)
        self.observation_space = spaces.Box(
            low=np.concatenate([np.tile(row_low, self.batch_size), progress_low, catalog_low]),
            high=np.concatenate([np.tile(row_high, self.batch_size), progress_high, catalog_high]),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.batch_size,), dtype=np.float32)
        self._prepared: PreparedInstance | None = None
        self._seeds: dict[str, int | None] = {}
        self._stock = np.zeros(n, dtype=np.int64)
        self._step = self.n_steps

    @property
    def instance(self) -> Instance:
        """The instance of the current episode (the fixed one before the first reset)."""
        return (self._prepared or self.source.fixed).instance

    def _observation(self) -> np.ndarray:
        prepared = self._prepared
        assert prepared is not None
        instance = prepared.instance
        n = instance.n_products
        committed = min(n, self._step * self.batch_size)
        lo, hi = committed, min(n, committed + self.batch_size)
        stocked = np.zeros(n)
        stocked[:committed] = self._stock[:committed] > 0
        dropped = np.zeros(n)
        dropped[:committed] = 1.0 - stocked[:committed]
        rows = np.zeros((self.batch_size, N_FEATURES + len(BATCH_FEATURES)), dtype=np.float32)
        if hi > lo:
            t = float(instance.customers)
            inflow = substitution_inflow(instance, instance.arrival * dropped)[lo:hi]
            rows[: hi - lo, :N_FEATURES] = prepared.features[lo:hi]
            rows[: hi - lo, N_FEATURES] = 1.0
            rows[: hi - lo, N_FEATURES + 1] = np.clip(
                instance.substitution_csr[lo:hi] @ stocked, 0.0, 1.0
            )
            rows[: hi - lo, N_FEATURES + 2] = np.log1p(t * np.minimum(inflow, 1.0)) / math.log1p(t)
        x = self._stock[:committed]
        cap = prepared.cap
        lam = instance.arrival
        progress = np.array(
            [
                committed / n,
                float(np.count_nonzero(x)) / n,
                _ratio(float(lam[:committed] @ stocked[:committed]), float(lam.sum())),
                _ratio(float(x.sum()), float(cap.sum())),
                _ratio(float(x @ instance.costs[:committed]), float(cap @ instance.costs)),
            ],
            dtype=np.float32,
        )
        return np.concatenate([rows.ravel(), progress, prepared.catalog])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._prepared, instance_seed = self.source.episode(self.np_random, options)
        scenario_seed = int(self.np_random.integers(2**63, dtype=np.int64))
        self._seeds = {"instance_seed": instance_seed, "scenario_seed": scenario_seed}
        self._stock = np.zeros(self.source.n_products, dtype=np.int64)
        self._step = 0
        return self._observation(), dict(self._seeds)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._step >= self.n_steps or self._prepared is None:
            raise RuntimeError("the episode is over; call reset() before step()")
        prepared = self._prepared
        n = self.source.n_products
        lo = self._step * self.batch_size
        hi = min(n, lo + self.batch_size)
        batch = action_iv(action, self.batch_size)[: hi - lo]
        self._stock[lo:hi] = scale_action(batch, prepared.cap[lo:hi])
        self._step += 1
        if self._step < self.n_steps:
            return self._observation(), 0.0, False, False, dict(self._seeds)
        reward, info = prepared.play(self._stock, self._seeds["scenario_seed"])
        return self._observation(), reward, True, False, {**info, **self._seeds}

    def render(self) -> np.ndarray | None:
        """The stock committed so far against demand (:func:`envs.rendering.stock_image`)."""
        if self.render_mode is None:
            return None
        return (self._prepared or self.source.fixed).image(self._stock)
