"""Training callbacks: a progress bar with episode profit, and crash-safe checkpoints.

A checkpoint is a folder ``checkpoints/step-<timesteps>/`` holding ``model.zip``, and when they
exist ``vecnormalize.pkl`` (normalization statistics) and ``replay_buffer.pkl`` (off-policy
algorithms). Checkpoints are taken at rollout starts, where the model, the normalization
statistics and the replay buffer agree with ``num_timesteps``. A checkpoint is taken at rollout
start ``t`` when the next one, ``t + rollout`` (``n_steps * n_envs`` for PPO/A2C,
``train_freq * n_envs`` for SAC/TD3), would lie more than ``every`` timesteps after the previous
checkpoint; consecutive checkpoints are therefore at most ``every`` apart, and a killed run loses
at most ``every`` timesteps (given ``rollout <= every``, which the config enforces). A
checkpoint is written into a temporary folder and renamed into place with :func:`os.replace`,
so a kill at any moment leaves either the complete new checkpoint or none.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from stable_baselines3.common.vec_env import VecNormalize
from tqdm.auto import tqdm

CHECKPOINT_PREFIX = "step-"
PROFIT_KEY = "profit"
"""Key of the season's profit in the final step's ``info`` (the environments' KPIs)."""


class ProgressBarCallback(BaseCallback):
    """A tqdm bar over timesteps (with ETA) showing the mean profit of the last ``window``
    finished episodes, read from ``info["profit"]`` (falling back to the Monitor's episode
    return ``info["episode"]["r"]`` for environments without that KPI)."""

    def __init__(self, total_timesteps: int, window: int = 100, description: str = "") -> None:
        super().__init__()
        self.total_timesteps = total_timesteps
        self.description = description
        self.profits: deque[float] = deque(maxlen=window)
        self.bar: Any = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(
            total=self.total_timesteps,
            initial=self.model.num_timesteps,
            desc=self.description,
            unit="step",
            dynamic_ncols=True,
        )

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done:
                continue
            if PROFIT_KEY in info:
                self.profits.append(float(info[PROFIT_KEY]))
            elif "episode" in info:
                self.profits.append(float(info["episode"]["r"]))
        self.bar.update(self.model.num_timesteps - self.bar.n)
        if self.profits:
            self.bar.set_postfix(profit=f"{np.mean(self.profits):.4g}", refresh=False)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class CheckpointCallback(BaseCallback):
    """Save checkpoints into ``directory`` at most ``every`` timesteps apart (see the module
    docstring) and delete all but the ``keep`` most recent ones. ``wall_seconds()`` gives the
    run's training time so far, recorded with the timesteps in the checkpoint's meta.json. The
    rollout size is read from the model and, for variable rollouts (``train_freq`` in
    episodes), is the largest rollout seen so far."""

    def __init__(
        self,
        directory: str | Path,
        every: int,
        keep: int = 2,
        wall_seconds: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.every = every
        self.keep = keep
        self.wall_seconds = wall_seconds
        self.last_save = 0
        self.last_start: int | None = None
        self.rollout = 1

    def _on_training_start(self) -> None:
        self.last_save = self.model.num_timesteps
        self.last_start = None
        self.rollout = rollout_size(self.model)

    def _on_rollout_start(self) -> None:
        # At the start of a rollout, the model has been trained on every transition counted in
        # num_timesteps and (off-policy) every such transition is in the replay buffer, so a
        # resumed run continues exactly where the checkpoint stands.
        now = self.model.num_timesteps
        if self.last_start is not None:
            self.rollout = max(self.rollout, now - self.last_start)
        self.last_start = now
        if now > self.last_save and now + self.rollout > self.last_save + self.every:
            save_checkpoint(self.model, self.directory, wall_seconds=self.wall_seconds())
            prune_checkpoints(self.directory, self.keep)
            self.last_save = now

    def _on_step(self) -> bool:
        return True


def rollout_size(model: BaseAlgorithm) -> int:
    """Timesteps per rollout: ``n_steps * n_envs`` on-policy, ``train_freq * n_envs``
    off-policy when ``train_freq`` counts steps, else 1 (learned from observed rollouts)."""
    if isinstance(model, OffPolicyAlgorithm):
        frequency = model.train_freq
        steps = frequency.frequency if frequency.unit == TrainFrequencyUnit.STEP else 1
        return steps * model.n_envs
    return int(model.n_steps) * model.n_envs


def save_checkpoint(model: BaseAlgorithm, directory: str | Path, wall_seconds: float = 0.0) -> Path:
    """Atomically write ``directory/step-<num_timesteps>/`` for ``model`` with a meta.json
    ``{timesteps, wall_seconds}``; returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{CHECKPOINT_PREFIX}{model.num_timesteps:012d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory))
    try:
        save_artifacts(model, tmp)
        meta = {"timesteps": int(model.num_timesteps), "wall_seconds": round(wall_seconds, 3)}
        (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final


def save_artifacts(model: BaseAlgorithm, folder: Path, replay_buffer: bool = True) -> None:
    """``model.zip``, ``vecnormalize.pkl`` (if the env is a VecNormalize) and, for off-policy
    algorithms when ``replay_buffer``, ``replay_buffer.pkl`` into ``folder``."""
    model.save(folder / "model.zip")
    env = model.get_env()
    if isinstance(env, VecNormalize):
        env.save(str(folder / "vecnormalize.pkl"))
    if replay_buffer and isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
        model.save_replay_buffer(folder / "replay_buffer.pkl")


def checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(CHECKPOINT_PREFIX))


def prune_checkpoints(directory: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` most recent checkpoints in ``directory``."""
    for old in checkpoints(directory)[:-keep]:
        shutil.rmtree(old)
