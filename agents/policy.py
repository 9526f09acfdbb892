"""A trained model as a :class:`baselines.policy.StockingPolicy`.

:class:`LearnedPolicy` takes the model file, its algorithm, the environment it was trained on
(id and kwargs) and, when normalization was on, the saved ``VecNormalize`` statistics. It
decides the stock of an instance by playing one episode of that environment on it with
deterministic actions (observations normalized with the *frozen* training statistics) and
returns the committed stock ``info["stock"]``. This works for the one-shot environments (one
step) and the sequential ones (one step per vendor). An environment class may name keyword
arguments for playing a given instance in evaluation (``EVALUATION_KWARGS``: the sequential
environments play the instance's own vendor order, the order every policy is evaluated in);
they override the training kwargs.

Catalog size. A model with a per-product network (:class:`agents.catalog_policy.CatalogPolicy`)
plays an instance of *any* size: the environment is built for that instance (its observation
and action spaces have the instance's N, its anchor and reward settings are the training
ones) and the network reads the observation whatever its length. Any other model plays only
instances of its training size; another size raises
:class:`envs.episodes.IncompatibleInstanceError`. Reading a run folder (and checking that this
project wrote it) is :mod:`experiments.runs`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium.envs.registration import load_env_creator
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.catalog_policy import CatalogPolicy
from agents.factory import load_model
from envs.instance import Instance

MAX_EPISODE_STEPS = 10_000
"""Safety limit on the steps of one decision episode."""


class LearnedPolicy:
    """The deterministic policy of a trained model.

    Attributes: ``name``, ``algo``, ``seed`` and ``timesteps`` (as given, for reports),
    ``any_size`` (whether it plays any N), and the inference time of the decisions made so far:
    ``decisions`` and ``inference_seconds`` (total wall-clock seconds, environment steps
    included) and ``last_inference_seconds``.
    """

    def __init__(
        self,
        *,
        name: str,
        algo: str,
        model_path: str | Path,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        vecnormalize_path: str | Path | None = None,
        seed: int | None = None,
        timesteps: int | None = None,
    ) -> None:
        self.name = name
        self.algo = algo
        self.seed = seed
        self.timesteps = timesteps
        self.env_id = env_id
        creator = load_env_creator(gymnasium.spec(env_id).entry_point)
        self.env_kwargs = {**dict(env_kwargs), **getattr(creator, "EVALUATION_KWARGS", {})}
        self.model = load_model(algo, model_path)
        self.any_size = isinstance(self.model.policy, CatalogPolicy)
        # No passive env checker: it checks only the first reset, and a first reset refused for an
        # instance of the wrong size would leave it unable to check the next episode's step.
        self.env = gymnasium.make(env_id, disable_env_checker=True, **self.env_kwargs)
        self.normalizer: VecNormalize | None = None
        if vecnormalize_path is not None:
            holder = DummyVecEnv(
                [lambda: gymnasium.make(env_id, disable_env_checker=True, **self.env_kwargs)]
            )
            self.normalizer = VecNormalize.load(str(vecnormalize_path), holder)
            self.normalizer.training = False
            self.normalizer.norm_reward = False
        self.decisions = 0
        self.inference_seconds = 0.0
        self.last_inference_seconds = 0.0

    def stock_for(self, instance: Instance) -> np.ndarray:
        """The stock vector int64[N] the agent commits for ``instance``."""
        start = time.perf_counter()
        if self.any_size:
            env = gymnasium.make(
                self.env_id,
                disable_env_checker=True,
                **{**self.env_kwargs, "instance": instance, "resample_instance": False},
            )
            observation, _ = env.reset(seed=0)
        else:
            env = self.env
            observation, _ = env.reset(seed=0, options={"instance": instance})
        for _ in range(MAX_EPISODE_STEPS):
            observation, _, terminated, truncated, info = env.step(self._act(observation))
            if terminated or truncated:
                break
        else:
            raise RuntimeError(f"episode did not end within {MAX_EPISODE_STEPS} steps")
        self.last_inference_seconds = time.perf_counter() - start
        self.inference_seconds += self.last_inference_seconds
        self.decisions += 1
        return np.asarray(info["stock"], dtype=np.int64).copy()

    def _act(self, observation: Any) -> np.ndarray:
        if self.any_size:
            return self.model.policy.deterministic_action(observation)
        if self.normalizer is not None:
            observation = self.normalizer.normalize_obs(observation)
        action, _ = self.model.predict(observation, deterministic=True)
        return action

    def __repr__(self) -> str:
        return f"LearnedPolicy({self.name!r}, algo={self.algo!r})"
