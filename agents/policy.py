"""A trained run as a :class:`baselines.policy.StockingPolicy`.

:class:`LearnedPolicy` loads a run folder written by :mod:`experiments.train` (``config.yaml``,
``model.zip``, ``vecnormalize.pkl`` if normalization was on) and decides the stock of an
instance by playing one episode of the run's environment on it: ``reset(options={"instance":
instance})``, deterministic actions (observations normalized with the *frozen* training
statistics) until the episode ends, then the committed stock ``info["stock"]``. This works for
the one-shot environments (one step) and the sequential ones (one step per vendor batch).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.factory import load_model
from envs.instance import Instance
from experiments.config import load_config

MAX_EPISODE_STEPS = 10_000
"""Safety limit on the steps of one decision episode."""


class LearnedPolicy:
    """The deterministic policy of the trained run in ``run_dir``.

    Attributes: ``name`` (the run folder's name, ``<algo>-seed<S>``), ``algo``, ``seed``,
    ``timesteps`` (from DONE), ``config`` (the run's :class:`ExperimentConfig`), and the
    inference time of the decisions made so far: ``decisions`` and ``inference_seconds``
    (total wall-clock seconds, environment steps included) and ``last_inference_seconds``.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        done = self.run_dir / "DONE"
        if not done.is_file():
            raise FileNotFoundError(
                f"run folder {str(self.run_dir)!r} has no DONE marker: training did not finish "
                f"(resume it with `assort train --resume {self.run_dir}`)"
            )
        self.config = load_config(self.run_dir / "config.yaml")
        agent = self.config.agents[0]
        self.algo = agent.algo
        self.seed = agent.seeds[0]
        self.timesteps = int(json.loads(done.read_text())["timesteps"])
        self.name = self.run_dir.name
        # No passive env checker: it checks only the first reset, and a first reset refused for an
        # instance of the wrong size would leave it unable to check the next episode's step.
        self.env = gymnasium.make(
            self.config.env.id, disable_env_checker=True, **self.config.env.kwargs
        )
        self.normalizer: VecNormalize | None = None
        stats = self.run_dir / "vecnormalize.pkl"
        if stats.is_file():
            env_id, kwargs = self.config.env.id, self.config.env.kwargs
            holder = DummyVecEnv(
                [lambda: gymnasium.make(env_id, disable_env_checker=True, **kwargs)]
            )
            self.normalizer = VecNormalize.load(str(stats), holder)
            self.normalizer.training = False
            self.normalizer.norm_reward = False
        self.model = load_model(self.algo, self.run_dir / "model.zip")
        self.decisions = 0
        self.inference_seconds = 0.0
        self.last_inference_seconds = 0.0

    @classmethod
    def from_run(cls, run_dir: str | Path) -> LearnedPolicy:
        """The policy of the finished run in ``run_dir``."""
        return cls(run_dir)

    def stock_for(self, instance: Instance) -> np.ndarray:
        """The stock vector int64[N] the agent commits for ``instance`` (ValueError when the
        run's environment cannot play an instance of this size)."""
        start = time.perf_counter()
        observation, _ = self.env.reset(seed=0, options={"instance": instance})
        for _ in range(MAX_EPISODE_STEPS):
            action, _ = self.model.predict(self._normalize(observation), deterministic=True)
            observation, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                break
        else:
            raise RuntimeError(f"episode did not end within {MAX_EPISODE_STEPS} steps")
        self.last_inference_seconds = time.perf_counter() - start
        self.inference_seconds += self.last_inference_seconds
        self.decisions += 1
        return np.asarray(info["stock"], dtype=np.int64).copy()

    def _normalize(self, observation: Any) -> Any:
        if self.normalizer is None:
            return observation
        return self.normalizer.normalize_obs(observation)

    def __repr__(self) -> str:
        return f"LearnedPolicy({str(self.run_dir)!r})"
