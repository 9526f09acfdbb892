"""Training callbacks: progress (timesteps and episode profit), and a checkpoint schedule.

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

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import TrainFrequencyUnit

PROFIT_KEY = "profit"
"""Key of the season's profit in the final step's ``info`` (the environments' KPIs)."""


class ProgressCallback(BaseCallback):
    """Report training progress to ``tick(units, note)``: the timesteps done since the last
    call (counted up to ``total_timesteps``) and, as the note, ``label`` with the mean profit
    of the last ``window`` finished episodes, read from ``info["profit"]`` (falling back to
    the Monitor's episode return ``info["episode"]["r"]`` for environments without that KPI).
    The caller owns the display (a progress bar, log lines, or a Ray driver's)."""

    def __init__(
        self,
        tick: Callable[..., None],
        total_timesteps: int,
        *,
        label: str = "",
        window: int = 100,
    ) -> None:
        super().__init__()
        self.tick = tick
        self.total_timesteps = total_timesteps
        self.label = label
        self.profits: deque[float] = deque(maxlen=window)
        self.reported = 0

    def _on_training_start(self) -> None:
        self.reported = min(self.model.num_timesteps, self.total_timesteps)

    def _on_step(self) -> bool:
        finished = False
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done:
                continue
            finished = True
            if PROFIT_KEY in info:
                self.profits.append(float(info[PROFIT_KEY]))
            elif "episode" in info:
                self.profits.append(float(info["episode"]["r"]))
        now = min(self.model.num_timesteps, self.total_timesteps)
        note = None
        if finished and self.profits:
            note = f"{self.label} profit {np.mean(self.profits):.4g}".strip()
        if now > self.reported or note:
            self.tick(now - self.reported, note)
            self.reported = now
        return True


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
