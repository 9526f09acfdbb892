"""The one place where settings become a stable-baselines3 model.

:data:`ALGORITHMS` maps the names an experiment file may use to the SB3 classes;
:func:`make_model` builds a fresh model from explicit settings (algorithm, policy,
hyperparameters, ``policy_kwargs``), :func:`load_model` loads a saved one. Both run torch
single-threaded (:data:`TORCH_THREADS`). Nothing here subclasses an algorithm: what a config can
say is what the SB3 constructor takes (checked beforehand by :mod:`agents.settings`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numba
import torch
from stable_baselines3 import A2C, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv

from agents.catalog_policy import CatalogPolicy

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "td3": TD3, "a2c": A2C}
"""Algorithm name (as written in experiment files) -> stable-baselines3 class."""

POLICY_CLASSES: dict[str, type[BasePolicy]] = {"CatalogPolicy": CatalogPolicy}
"""This project's policy classes, by the name an experiment file uses; the algorithms they
work with are in :data:`POLICY_ALGORITHMS`."""
POLICY_ALGORITHMS: dict[str, tuple[str, ...]] = {"CatalogPolicy": ("ppo", "a2c")}

ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
}
"""Names accepted for ``policy_kwargs.activation_fn`` (YAML cannot hold a class)."""

TORCH_THREADS = 1
"""Intra-op threads for torch. The default (one per core) made PPO 3-30x slower on the
2-core machines this project targets, where small MLPs gain nothing from threading."""
NUMBA_TRAINING_THREADS = 1
"""Threads of the batched simulator (:func:`envs.simulate.play_batch`) while an agent trains.
Its parallel loop gains little at one episode's size, and with the machine shared its threads
wait for each other at every step: measured 10 PPO steps per second with 2 threads on a loaded
machine against 140 with one."""


@contextmanager
def training_threads() -> Iterator[None]:
    """Torch on ``TORCH_THREADS`` and numba on ``NUMBA_TRAINING_THREADS`` threads for the
    duration (numba's previous count is restored afterwards, for evaluation). Wrap the whole
    run, environment and model construction included: numba and torch share one OpenMP
    runtime, and a numba kernel launched on 2 threads sets torch's OpenMP threads back to 2, so
    a model built after such a kernel would train with 2 threads in one process and 1 in
    another (a Ray worker), and its floating-point sums would differ. Numba is set first, torch
    last, for the same reason."""
    previous = numba.get_num_threads()
    numba.set_num_threads(min(NUMBA_TRAINING_THREADS, previous))
    torch.set_num_threads(TORCH_THREADS)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def make_model(
    algo: str,
    env: VecEnv,
    *,
    seed: int,
    total_timesteps: int,
    policy: str = "MlpPolicy",
    hyperparams: Mapping[str, Any] | None = None,
    policy_kwargs: Mapping[str, Any] | None = None,
    tensorboard_log: str | None = None,
) -> BaseAlgorithm:
    """A fresh ``ALGORITHMS[algo]`` on ``env`` with ``hyperparams`` and ``policy_kwargs``,
    seeded with ``seed``, on the CPU.

    Off-policy algorithms (SAC, TD3) whose hyperparameters do not set ``buffer_size`` get
    ``min(1_000_000, total_timesteps)`` instead of SB3's 1_000_000: the buffer never holds more
    than ``total_timesteps`` transitions, and checkpoints pickle it whole (1e6 slots made them
    about 1.1 GB)."""
    torch.set_num_threads(TORCH_THREADS)
    cls = ALGORITHMS[algo]
    settings = sb3_hyperparams(hyperparams or {})
    if issubclass(cls, OffPolicyAlgorithm) and "buffer_size" not in settings:
        settings["buffer_size"] = min(1_000_000, total_timesteps)
    return cls(
        POLICY_CLASSES.get(policy, policy),
        env,
        seed=seed,
        tensorboard_log=tensorboard_log,
        policy_kwargs=policy_kwargs_for(policy_kwargs or {}),
        verbose=0,
        device="cpu",
        **settings,
    )


def load_model(algo: str, path: str | Path, env: VecEnv | None = None) -> BaseAlgorithm:
    """The ``ALGORITHMS[algo]`` model saved at ``path``, attached to ``env``, on the CPU.

    Loading unpickles parts of the file: load only files this project wrote (the run-folder
    manifest of :mod:`experiments.runs` checks that before calling this)."""
    torch.set_num_threads(TORCH_THREADS)
    return ALGORITHMS[algo].load(path, env=env, device="cpu")


def sb3_hyperparams(hyperparams: Mapping[str, Any]) -> dict[str, Any]:
    """``hyperparams`` as SB3's constructors take them: ``train_freq`` written as a YAML list
    ``[n, unit]`` becomes the tuple SB3 expects."""
    settings = dict(hyperparams)
    if isinstance(settings.get("train_freq"), list):
        settings["train_freq"] = tuple(settings["train_freq"])
    return settings


def policy_kwargs_for(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``activation_fn`` given by name (``"relu"``) replaced by its class
    (names are checked by :func:`agents.settings.check_policy_kwargs`)."""
    result = dict(kwargs)
    name = result.get("activation_fn")
    if name is not None:
        result["activation_fn"] = ACTIVATIONS[name]
    return result
