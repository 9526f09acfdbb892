"""A vectorized training environment: E copies of a one-shot environment stepped in one call.

:class:`CatalogVecEnv` is a stable-baselines3 ``VecEnv`` that plays E copies of a registered
one-shot environment id (:class:`envs.one_shot.OneShotStockingEnv`, with the same kwargs)
without E Python environments: the instances are prepared once and packed as arrays
(:class:`envs.pool.InstancePool`), and one numba call simulates every copy's episode and its
baseline's. Every step ends every copy's one-step episode; the returned observation is the
next episode's, the finished one is in ``infos[e]["terminal_observation"]`` (SB3's auto-reset
convention), with ``profit`` (mean over the episode's seasons), ``baseline_profit`` (with a
reward baseline), ``instance_seed`` and ``scenario_seed``.

Same seeds, same episodes: copy e draws from the generator of ``seed + e`` exactly what a
single environment reset with ``seed + e`` draws (the instance seed, then the scenario seed,
episode after episode), so copy e plays the episodes of ``make_vec_env(id, seed=seed)``'s copy
e, with bit-identical rewards for the same actions (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils.seeding import np_random
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from envs.actions import anchored_stock, scale_action
from envs.one_shot import OneShotStockingEnv
from envs.pool import InstancePool
from envs.validation import InputError, InputTypeError, describe, integer_iv, number_array_iv

MAX_COPIES = 65_536


class CatalogVecEnv(VecEnv):
    """``n_envs`` copies of one-shot environment ``env_id`` (module docstring)."""

    def __init__(
        self, env_id: str, n_envs: int, env_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        n_envs = integer_iv("n_envs", n_envs, low=1, high=MAX_COPIES)
        kwargs = {**gymnasium.spec(env_id).kwargs, **dict(env_kwargs or {})}
        kwargs.pop("render_mode", None)
        template = gymnasium.spec(env_id).make(**kwargs, disable_env_checker=True).unwrapped
        if not isinstance(template, OneShotStockingEnv):
            raise InputTypeError(
                f"`env_id` {env_id!r} is not a one-shot environment; the vectorized env plays "
                f"one-shot stocking only; got {describe(template)}"
            )
        self.env_id = env_id
        self.template = template
        self.source = template.source
        self.pool = InstancePool(self.source)
        super().__init__(n_envs, template.observation_space, template.action_space)
        self._generators = [np_random(None)[0] for _ in range(n_envs)]
        self._index = np.zeros(n_envs, dtype=np.int64)
        self._instance_seeds: list[int | None] = [None] * n_envs
        self._scenario_seeds = np.zeros(n_envs, dtype=np.uint64)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------------- episodes

    def _draw(self, copies: Sequence[int]) -> None:
        """The next episode of each copy: instance seed (resampling sources), scenario seed."""
        for e in copies:
            generator = self._generators[e]
            if self.source.resample:
                seed = self.source.draw_seed(generator)
                self._index[e] = self.pool.slot(seed)
                self._instance_seeds[e] = seed
            else:
                self._index[e] = 0
                self._instance_seeds[e] = self.source.instance_seed
            self._scenario_seeds[e] = int(generator.integers(2**63, dtype=np.int64))

    def reset(self) -> np.ndarray:
        for e, seed in enumerate(self._seeds):
            if seed is not None:
                self._generators[e] = np_random(seed)[0]
        self._reset_seeds()
        self._draw(range(self.num_envs))
        self.reset_infos = [
            {
                "instance_seed": self._instance_seeds[e],
                "scenario_seed": int(self._scenario_seeds[e]),
            }
            for e in range(self.num_envs)
        ]
        return self.pool.observation[self._index].copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = number_array_iv("actions", actions, ndim=2)
        if self._actions.shape != (self.num_envs, self.pool.n_products):
            raise InputError(
                f"`actions` must have shape ({self.num_envs}, {self.pool.n_products}); "
                f"got {self._actions.shape}"
            )

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None, "step_async() comes first"
        index = self._index.copy()
        if self.pool.has_anchor:
            stocks = anchored_stock(self._actions, self.pool.anchor[index])
        else:
            stocks = scale_action(self._actions, self.pool.cap[index])
        profit, baseline = self.pool.play(index, stocks, self._scenario_seeds)
        gain = profit if baseline is None else profit - baseline
        rewards = (gain / self.pool.divisor[index]).astype(np.float32)
        finished = self.pool.observation[index]
        infos: list[dict[str, Any]] = []
        for e in range(self.num_envs):
            info: dict[str, Any] = {
                "terminal_observation": finished[e],
                "profit": float(profit[e]),
                "instance_seed": self._instance_seeds[e],
                "scenario_seed": int(self._scenario_seeds[e]),
            }
            if baseline is not None:
                info["baseline_profit"] = float(baseline[e])
            infos.append(info)
        self._draw(range(self.num_envs))
        self._actions = None
        observations = self.pool.observation[self._index].copy()
        return observations, rewards, np.ones(self.num_envs, dtype=bool), infos

    # ------------------------------------------------------------------------- VecEnv API

    def close(self) -> None:
        self.template.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.template, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"the copies of {self.env_id} share their settings; cannot set one")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any):
        method = getattr(self.template, method_name)
        return [method(*args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
