"""What a stable-baselines3 agent may be configured with, checked before anything trains.

:func:`check_agent_settings` validates an algorithm name, a policy, its ``policy_kwargs`` and
the constructor hyperparameters against the SB3 classes themselves (names from the
constructor signatures, types from their defaults) and against the ranges in
:data:`HYPERPARAMETER_RULES` (``gamma`` in [0, 1], ``n_steps`` >= 1, PPO's ``batch_size`` >= 2,
...). :func:`dry_build` then constructs the model once on a real environment, with the replay
buffer shrunk so that nothing large is allocated, so that whatever SB3 itself rejects
(``net_arch: [-1]``, an ``n_steps * n_envs`` of 1) is caught at load time too. Every error is
an :class:`~envs.validation.InputError` naming the dotted ``path`` the caller gives (the
settings' place in an experiment file), so a run never fails after training starts for a bad
setting.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from agents.catalog_policy import COLUMN_SETS, LAYOUTS
from agents.factory import (
    ACTIVATIONS,
    ALGORITHMS,
    POLICY_ALGORITHMS,
    POLICY_CLASSES,
    TORCH_THREADS,
    policy_kwargs_for,
    sb3_hyperparams,
)
from envs.observation import MAX_NEIGHBOURS
from envs.validation import (
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    did_you_mean,
    integer_iv,
    real_iv,
)

MAX_TIMESTEPS = 10**10
MAX_ENVS = 256
MAX_LAYER_WIDTH = 65_536
MAX_LAYERS = 64
MAX_ROUNDS = 8
SEED_LIMIT = 2**32
"""Training seeds lie in [0, 2**32): SB3 seeds numpy's legacy generator, which takes 32 bits."""

RESERVED_HYPERPARAMETERS = {
    "policy": "it is the agent's `policy` field",
    "env": "the trainer builds the environment from `env`",
    "seed": "seeds come from the agent's `seeds` list",
    "tensorboard_log": "the trainer writes TensorBoard logs into the run folder",
    "policy_kwargs": "use the agent's `policy_kwargs` field",
    "verbose": "the trainer shows a progress bar instead",
    "device": "training runs on the CPU",
    "_init_setup_model": "it is internal to stable-baselines3",
    "action_noise": "it needs a Python object",
    "replay_buffer_class": "it needs a Python class",
    "rollout_buffer_class": "it needs a Python class",
    "replay_buffer_kwargs": "it configures a Python class",
    "rollout_buffer_kwargs": "it configures a Python class",
}
"""Constructor arguments the trainer sets itself (or that need Python objects, not YAML)."""

STRING_HYPERPARAMETERS = {
    "ent_coef": (r"auto(_\d+(\.\d*)?([eE][-+]?\d+)?)?", "'auto' or 'auto_<initial value>'"),
    "target_entropy": (r"auto", "'auto'"),
}
"""String values SB3 accepts for hyperparameters whose default is a string: (pattern, wording)."""

Rule = Callable[[str, Any], Any]


def _integer(low: int, high: int | None = None) -> Rule:
    return lambda label, value: integer_iv(label, value, low=low, high=high)


def _real(low: float, high: float, *, low_open: bool = False) -> Rule:
    return lambda label, value: real_iv(label, value, low=low, high=high, low_open=low_open)


def _optional(rule: Rule) -> Rule:
    return lambda label, value: None if value is None else rule(label, value)


def _string_or(rule: Rule) -> Rule:
    return lambda label, value: value if isinstance(value, str) else rule(label, value)


def _train_frequency(label: str, value: Any) -> Any:
    if isinstance(value, list):
        integer_iv(f"{label}.0", value[0], low=1, high=10**9)
        return value
    return integer_iv(label, value, low=1, high=10**9)


HYPERPARAMETER_RULES: Mapping[str, Rule] = {
    "learning_rate": _real(0.0, 10.0, low_open=True),
    "n_steps": _integer(1, 10**7),
    "batch_size": _integer(1, 10**7),
    "n_epochs": _integer(1, 10_000),
    "gamma": _real(0.0, 1.0),
    "gae_lambda": _real(0.0, 1.0),
    "clip_range": _real(0.0, 10.0, low_open=True),
    "clip_range_vf": _optional(_real(0.0, 10.0, low_open=True)),
    "ent_coef": _string_or(_real(0.0, 100.0)),
    "vf_coef": _real(0.0, 100.0),
    "max_grad_norm": _real(0.0, 1e6, low_open=True),
    "sde_sample_freq": _integer(-1, 10**9),
    "target_kl": _optional(_real(0.0, 100.0, low_open=True)),
    "stats_window_size": _integer(1, 10**6),
    "buffer_size": _integer(1, 10**8),
    "learning_starts": _integer(0, 10**10),
    "tau": _real(0.0, 1.0),
    "train_freq": _train_frequency,
    "gradient_steps": _integer(-1, 10**6),
    "target_update_interval": _integer(1, 10**9),
    "target_entropy": _string_or(_real(-1e6, 1e6)),
    "policy_delay": _integer(1, 10**6),
    "target_policy_noise": _real(0.0, 100.0),
    "target_noise_clip": _real(0.0, 100.0),
    "rms_prop_eps": _real(0.0, 1.0, low_open=True),
}
"""Ranges of the hyperparameters that SB3 would reject (or that make no sense) only once a
model is built or trained; hyperparameters not listed are checked by type only."""


def check_algorithm(algo: Any, path: str) -> type[BaseAlgorithm]:
    """The SB3 class named ``algo`` (a key of :data:`agents.factory.ALGORITHMS`)."""
    if not isinstance(algo, str) or algo not in ALGORITHMS:
        raise InputError(
            f"`{path}` {algo!r} is not one of {sorted(ALGORITHMS)}{did_you_mean(algo, ALGORITHMS)}"
        )
    return ALGORITHMS[algo]


def check_agent_settings(
    algo: str,
    policy: str,
    hyperparams: Mapping[str, Any],
    policy_kwargs: Mapping[str, Any],
    *,
    n_envs: int,
    path: str,
) -> dict[str, Any]:
    """Check an agent's settings (module docstring) and return its hyperparameters with
    integral floats turned into ints where the constructor's default is an int
    (``buffer_size: 1.0e+6`` -> 1_000_000). ``path`` is the agent's dotted place in the
    experiment file (``agents.0``); messages name ``<path>.hyperparams.<key>`` and so on."""
    cls = check_algorithm(algo, f"{path}.algo")
    known = [*cls.policy_aliases, *(p for p, a in POLICY_ALGORITHMS.items() if algo in a)]
    if policy not in known:
        raise InputError(
            f"`{path}.policy` {policy!r} is not a policy of {cls.__name__} (one of "
            f"{sorted(known)}){did_you_mean(policy, known)}"
        )
    check_policy_kwargs(algo, policy, policy_kwargs, f"{path}.policy_kwargs")
    parameters = inspect.signature(cls.__init__).parameters
    allowed = [p for p in parameters if p != "self" and p not in RESERVED_HYPERPARAMETERS]
    for key in hyperparams:
        if key in RESERVED_HYPERPARAMETERS:
            raise InputError(
                f"`{path}.hyperparams.{key}` cannot be set here: {RESERVED_HYPERPARAMETERS[key]}"
            )
        if key not in parameters:
            raise InputError(
                f"`{path}.hyperparams.{key}` is not an argument of "
                f"{cls.__name__}{did_you_mean(key, allowed)}"
            )
    normalized = {
        key: _integral(value, parameters[key].default) for key, value in hyperparams.items()
    }
    for key, value in normalized.items():
        label = f"{path}.hyperparams.{key}"
        _check_type(value, parameters[key].default, label, cls.__name__)
        if key in HYPERPARAMETER_RULES:
            HYPERPARAMETER_RULES[key](label, value)
    if issubclass(cls, OnPolicyAlgorithm):
        n_steps = normalized.get("n_steps", parameters["n_steps"].default)
        if n_steps * n_envs < 2:
            raise InputError(
                f"`{path}.hyperparams.n_steps` times `{path}.n_envs` is {n_steps * n_envs}; "
                f"{cls.__name__} needs rollouts of at least 2 steps (advantages are normalized)"
            )
        if "batch_size" in parameters and normalized.get("batch_size", 2) < 2:
            raise InputError(
                f"`{path}.hyperparams.batch_size` is {normalized['batch_size']}; "
                f"{cls.__name__} needs minibatches of at least 2 (advantages are normalized)"
            )
        batch = normalized.get(
            "batch_size", parameters.get("batch_size") and parameters["batch_size"].default
        )
        if isinstance(batch, int) and batch > n_steps * n_envs:
            raise InputError(
                f"`{path}.hyperparams.batch_size` {batch} is larger than a rollout "
                f"(n_steps {n_steps} x n_envs {n_envs} = {n_steps * n_envs}); every minibatch "
                "would be the whole rollout: lower it or collect longer rollouts"
            )
    return normalized


def check_policy_kwargs(algo: str, policy: str, kwargs: Mapping[str, Any], path: str) -> None:
    """Keys of ``kwargs`` must be arguments of the algorithm's policy class (other than the
    spaces and the learning-rate schedule, which SB3 passes itself); ``activation_fn`` must name
    one of :data:`agents.factory.ACTIVATIONS`; ``net_arch`` must be a list of layer widths (or
    a mapping of such lists for the actor and critic)."""
    policy_class = POLICY_CLASSES.get(policy) or ALGORITHMS[algo].policy_aliases[policy]
    parameters = inspect.signature(policy_class.__init__).parameters
    allowed = [
        p
        for p in parameters
        if p not in ("self", "observation_space", "action_space", "lr_schedule")
        and parameters[p].kind
        not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    for key in kwargs:
        if key not in allowed:
            raise InputError(
                f"`{path}.{key}` is not an argument of {policy_class.__name__} "
                f"({algo} {policy}){did_you_mean(key, allowed)}"
            )
    name = kwargs.get("activation_fn")
    if name is not None and name not in ACTIVATIONS:
        raise InputError(
            f"`{path}.activation_fn` must be one of {sorted(ACTIVATIONS)}; got {describe(name)}"
            f"{did_you_mean(str(name), ACTIVATIONS)}"
        )
    if "net_arch" in kwargs:
        _check_net_arch(kwargs["net_arch"], f"{path}.net_arch")
    if policy in POLICY_CLASSES:
        _check_catalog_kwargs(kwargs, path)


def _check_catalog_kwargs(kwargs: Mapping[str, Any], path: str) -> None:
    """Ranges of :class:`agents.catalog_policy.CatalogPolicy`'s arguments."""
    rules = {
        "hidden": lambda label, v: integer_iv(label, v, low=1, high=MAX_LAYER_WIDTH),
        "critic_hidden": lambda label, v: integer_iv(label, v, low=1, high=MAX_LAYER_WIDTH),
        "rounds": lambda label, v: integer_iv(label, v, low=0, high=MAX_ROUNDS),
        "neighbours": lambda label, v: integer_iv(label, v, low=1, high=MAX_NEIGHBOURS),
        "log_std_init": lambda label, v: real_iv(label, v, low=-20.0, high=2.0),
        "columns": lambda label, v: choice_iv(label, v, tuple(COLUMN_SETS)),
        "layout": lambda label, v: choice_iv(label, v, LAYOUTS),
        "use_sde": lambda label, v: v is False or _refuse(label, v, "gSDE is not supported"),
    }
    for key, value in kwargs.items():
        if key in rules:
            rules[key](f"{path}.{key}", value)


def _refuse(label: str, value: Any, reason: str) -> None:
    raise InputError(f"`{label}` cannot be {value!r}: {reason}")


def _check_net_arch(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, layers in value.items():
            if key not in ("pi", "vf", "qf"):
                raise InputError(
                    f"`{path}` may map only 'pi', 'vf' and 'qf' to layer widths; got key {key!r}"
                )
            _check_net_arch(layers, f"{path}.{key}")
        return
    if not isinstance(value, list) or len(value) > MAX_LAYERS:
        raise InputTypeError(
            f"`{path}` must be a list of at most {MAX_LAYERS} layer widths (or a mapping of "
            f"'pi'/'vf'/'qf' to such lists); got {describe(value)}"
        )
    for index, width in enumerate(value):
        integer_iv(f"{path}.{index}", width, low=1, high=MAX_LAYER_WIDTH)


def _integral(value: Any, default: Any) -> Any:
    """An integral float where the constructor's default is an int becomes that int."""
    if (
        isinstance(default, int)
        and not isinstance(default, bool)
        and isinstance(value, float)
        and value.is_integer()
    ):
        return int(value)
    return value


def _check_type(value: Any, default: Any, path: str, algo: str) -> None:
    """``value`` must fit the type of the constructor's ``default``: an int default needs an
    integer (``train_freq`` also takes ``[n, step|episode]``), a float default a number (YAML
    cannot hold a schedule), a bool default true or false; a string default (SAC's
    ``ent_coef``, ``target_entropy``) takes a number or the strings SB3 accepts. Arguments
    whose default is None take None or a number (they are all optional thresholds in SB3)."""
    name = path.rsplit(".", 1)[-1]
    got = f"got {describe(value)}"
    if default is inspect.Parameter.empty:
        return
    if default is None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputTypeError(f"`{path}` must be a number or null ({algo}'s default); {got}")
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputTypeError(
                f"`{path}` must be true or false ({algo}'s default is {default}); {got}"
            )
    elif isinstance(default, int):
        if name == "train_freq" and _is_train_freq_pair(value):
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputTypeError(
                f"`{path}` must be an integer ({algo}'s default is {default}); {got}"
            )
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputTypeError(
                f"`{path}` must be a number ({algo}'s default is {default}; schedules cannot be "
                f"written in YAML); {got}"
            )
    elif isinstance(default, str):
        pattern, wording = STRING_HYPERPARAMETERS.get(name, (re.escape(default), repr(default)))
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric and not (isinstance(value, str) and re.fullmatch(pattern, value)):
            raise InputTypeError(
                f"`{path}` must be a number or {wording} ({algo}'s default is {default!r}); {got}"
            )


def _is_train_freq_pair(value: Any) -> bool:
    """Whether ``value`` is SB3's ``(frequency, unit)`` form, e.g. ``[1, episode]``."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and value[1] in ("step", "episode")
    )


def rollout_size(algo: str, hyperparams: Mapping[str, Any], n_envs: int) -> int | None:
    """Timesteps collected between two training phases: ``n_steps * n_envs`` for on-policy
    algorithms (PPO, A2C), ``train_freq * n_envs`` for off-policy ones (SAC, TD3) when
    ``train_freq`` counts steps; None when it counts episodes (variable length)."""
    parameters = inspect.signature(ALGORITHMS[algo].__init__).parameters
    name = "train_freq" if "train_freq" in parameters else "n_steps"
    value = hyperparams.get(name, parameters[name].default)
    if isinstance(value, list | tuple):
        if value[1] != "step":
            return None
        value = value[0]
    return int(value) * n_envs


def dry_build(
    algo: str,
    policy: str,
    env: VecEnv,
    hyperparams: Mapping[str, Any],
    policy_kwargs: Mapping[str, Any],
    path: str,
) -> None:
    """Construct the model once on ``env`` (replay buffer of 2 transitions, so nothing large
    is allocated) and turn whatever SB3 or torch rejects into an
    :class:`~envs.validation.InputError` naming ``path``; the model is thrown away."""
    torch.set_num_threads(TORCH_THREADS)
    cls = ALGORITHMS[algo]
    settings = sb3_hyperparams(hyperparams)
    if issubclass(cls, OffPolicyAlgorithm):
        settings["buffer_size"] = 2
    try:
        cls(
            POLICY_CLASSES.get(policy, policy),
            env,
            policy_kwargs=policy_kwargs_for(policy_kwargs),
            device="cpu",
            **settings,
        )
    except (ValueError, TypeError, AssertionError, RuntimeError, KeyError) as exc:
        raise InputError(
            f"`{path}` is rejected by stable-baselines3 {cls.__name__}: {type(exc).__name__}: {exc}"
        ) from exc


def check_seed(seed: Any, path: str) -> int:
    """A training seed in [0, 2**32)."""
    return integer_iv(path, seed, low=0, high=SEED_LIMIT - 1)


def check_size(name: str, value: Any, path: str) -> int:
    """``total_timesteps`` in [1, 1e10] or ``n_envs`` in [1, 256]."""
    high = {"total_timesteps": MAX_TIMESTEPS, "n_envs": MAX_ENVS}[name]
    return integer_iv(path, value, low=1, high=high)
