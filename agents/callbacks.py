"""Training callbacks: a progress bar with episode profit, and a checkpoint schedule.

:class:`CheckpointCallback` decides *when* to checkpoint and calls a ``save(model)`` function
given by the caller (the run folder's layout is :mod:`experiments.runs`'s business).
Checkpoints are taken at rollout starts, where the model, the normalization statistics and the
replay buffer agree with ``num_timesteps``. A checkpoint is taken at rollout start ``t`` when
the next one, ``t + rollout`` (``n_steps * n_envs`` for PPO/A2C, ``train_freq * n_envs`` for
SAC/TD3), would lie more than ``every`` timesteps after the previous checkpoint; consecutive
checkpoints are therefore at most ``every`` apart, and a killed run loses at most ``every``
timesteps (given ``rollout <= every``, which the config enforces).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from tqdm.auto import tqdm

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
    """Call ``save(model)`` at rollout starts at most ``every`` timesteps apart (module
    docstring). The rollout size is read from the model and, for variable rollouts
    (``train_freq`` in episodes), is the largest rollout seen so far."""

    def __init__(self, every: int, save: Callable[[BaseAlgorithm], None]) -> None:
        super().__init__()
        self.every = every
        self.save = save
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
            self.save(self.model)
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
