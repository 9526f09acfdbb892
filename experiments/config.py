"""Experiment configs: plain YAML loaded into typed, frozen dataclasses.

An experiment file names the environment, the learned agents (algorithm, stable-baselines3
hyperparameters, timesteps, training seeds), the training settings and the leaderboard's
benchmark suite::

    name: quickstart
    env: {id: Assort/OneShotSmallFamily-v0, kwargs: {reward_scale: auto}}
    agents:
      - {algo: ppo, total_timesteps: 20_000, n_envs: 4, seeds: [0, 1],
         hyperparams: {n_steps: 64}, policy_kwargs: {net_arch: [64, 64]}}
    train: {checkpoint_every: 5_000, runs_dir: runs}
    evaluation: {families: [small], instance_seeds: [1_000_000], seasons: 2_000, seed: 1,
                 heuristics: [fluid]}

:func:`load_config` reads such a file, applies ``key=value`` overrides with dotted paths
(``agents.0.total_timesteps=500``, ``agents.*.n_envs=2``; values are YAML scalars), then
validates: unknown keys fail with their dotted path and a did-you-mean, wrong types with the
path, the expected type and the value, algorithm names against :data:`agents.ALGORITHMS`,
hyperparameters against the algorithm's constructor signature (names, and types against the
constructor's defaults), the policy against the algorithm's ``policy_aliases``, ``policy_kwargs``
against the policy class's signature, the env id against the Gymnasium registry (after
``import envs``), env kwargs against the entry point's signature and by building the
environment once, evaluation families against ``envs.families.FAMILIES``, held-out instance
seeds against ``envs.one_shot.HELD_OUT_SEED_START`` and heuristics against
``baselines.registry.POLICIES``. Every error names the dotted path of the offending key.
``ExperimentConfig.from_dict(c.to_dict()) == c`` and the same through
:meth:`ExperimentConfig.to_yaml`.

PyYAML follows YAML 1.1, which reads ``1e6`` (no dot) as a *string*. Such strings are accepted
for float fields, and for integer fields only when they denote an exact integer
(``"1e6"`` -> 1_000_000; ``"1e-3"`` is rejected with a hint to write integers like 1_000_000).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_NUMBER = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Constructor arguments the trainer sets itself (or that need Python objects, not YAML).
_RESERVED_HYPERPARAMS = {
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
}
# String values SB3 accepts for hyperparameters whose default is a string: (pattern, wording).
_STRING_HYPERPARAMS = {
    "ent_coef": (r"auto(_\d+(\.\d*)?([eE][-+]?\d+)?)?", "'auto' or 'auto_<initial value>'"),
    "target_entropy": (r"auto", "'auto'"),
}


@dataclass(frozen=True)
class EnvConfig:
    """The Gymnasium environment every agent of the experiment trains on."""

    id: str
    """A registered environment id, e.g. ``Assort/OneShotSmallFamily-v0`` (``import envs``
    registers them)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make`` (e.g. ``reward_scale``, ``instance_seed``)."""


@dataclass(frozen=True)
class NormalizeConfig:
    """Running normalization of observations and rewards (stable-baselines3 ``VecNormalize``)."""

    observation: bool = False
    """Normalize observations by running mean and standard deviation."""
    reward: bool = False
    """Scale rewards by the running standard deviation of the discounted return."""


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """One learned agent: an algorithm, its hyperparameters and the seeds to train it with."""

    algo: str
    """Algorithm name, a key of :data:`agents.ALGORITHMS` (``ppo``, ``sac``, ``td3``, ``a2c``)."""
    label: str = ""
    """Run-folder stem and leaderboard name (``<label>-seed<S>``); empty means ``algo``. Needed
    only when two agents share an algorithm (e.g. one per environment)."""
    env: EnvConfig | None = None
    """This agent's environment, when it differs from the experiment's ``env``."""
    total_timesteps: int
    """Environment steps per training run (summed over the ``n_envs`` copies)."""
    n_envs: int = 1
    """Parallel copies of the environment (a ``DummyVecEnv``: stepped in turn, one process)."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds; one run per seed, in ``<runs_dir>/<name>/<algo>-seed<S>/``."""
    policy: str = "MlpPolicy"
    """The stable-baselines3 policy class name (``MlpPolicy`` or ``MultiInputPolicy``)."""
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    """``VecNormalize`` settings; statistics are saved with the model and frozen at test time."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the algorithm's constructor (checked against its signature)."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """The constructor's ``policy_kwargs`` (e.g. ``net_arch: [64, 64]``)."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings shared by every training run of the experiment."""

    checkpoint_every: int = 10_000
    """Save model, normalization statistics and replay buffer at rollout boundaries at most this
    many timesteps apart, so a killed run loses at most this much work; must be at least every
    agent's rollout (:func:`rollout_size`)."""
    keep_checkpoints: int = 2
    """How many of the most recent checkpoints to keep on disk."""
    runs_dir: str = "runs"
    """Folder that receives ``<name>/<algo>-seed<S>/`` run folders."""


@dataclass(frozen=True)
class EvaluationConfig:
    """The leaderboard's benchmark suite: held-out instances and common customers."""

    families: tuple[str, ...] = ("small",)
    """Instance families (``envs.families.FAMILIES``) to evaluate on."""
    instance_seeds: tuple[int, ...] = (1_000_000, 1_000_001, 1_000_002)
    """Held-out instance seeds; training instances come from seeds below 1_000_000."""
    seasons: int = 2_000
    """Simulated seasons per (policy, instance), identical customers for every policy."""
    seed: int = 20261124
    """Seed of the customer streams (common random numbers)."""
    heuristics: tuple[str, ...] = ()
    """Heuristics to compare with (names in ``baselines.registry.POLICIES``)."""


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """A whole experiment: environment, learned agents, training and evaluation settings."""

    name: str
    """Experiment name; also the run folder under ``train.runs_dir``."""
    description: str = ""
    """Free text shown in reports."""
    env: EnvConfig
    """The training environment."""
    agents: tuple[AgentConfig, ...] = ()
    """The learned agents to train (may be empty for a heuristics-only leaderboard)."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training settings."""
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    """The leaderboard's benchmark suite."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """Validate a plain dict (as read from YAML) into a config; see :func:`parse_config`."""
        return parse_config(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists and scalars; ``from_dict(to_dict())`` gives back ``self``."""
        return _plain(self)

    def to_yaml(self) -> str:
        """The config as YAML text, loadable by :func:`load_config`."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def agent(self, algo: str) -> AgentConfig:
        """The agent with algorithm ``algo``."""
        for agent in self.agents:
            if agent.algo == algo:
                return agent
        raise KeyError(
            f"no agent with algo {algo!r}; the config has {[a.algo for a in self.agents]}"
        )

    def agent_env(self, agent: AgentConfig) -> EnvConfig:
        """The environment ``agent`` trains on: its own ``env`` or the experiment's."""
        return agent.env if agent.env is not None else self.env


def run_name(agent: AgentConfig, seed: int) -> str:
    """The run folder's name ``<label or algo>-seed<seed>``."""
    return f"{agent.label or agent.algo}-seed{seed}"


def rollout_size(agent: AgentConfig) -> int | None:
    """Timesteps collected between two training phases: ``n_steps * n_envs`` for on-policy
    algorithms (PPO, A2C), ``train_freq * n_envs`` for off-policy ones (SAC, TD3) when
    ``train_freq`` counts steps; None when it counts episodes (variable length)."""
    from agents import ALGORITHMS

    parameters = inspect.signature(ALGORITHMS[agent.algo].__init__).parameters
    name = "train_freq" if "train_freq" in parameters else "n_steps"
    value = agent.hyperparams.get(name, parameters[name].default)
    if isinstance(value, list | tuple):
        if value[1] != "step":
            return None
        value = value[0]
    return int(value) * agent.n_envs


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read the YAML file ``path``, apply ``overrides`` (``dotted.key=value``) and validate."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise TypeError(f"config file {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return parse_config(apply_overrides(data, overrides))


def parse_config(data: Mapping[str, Any]) -> ExperimentConfig:
    """Validate a plain dict into an :class:`ExperimentConfig` (see the module docstring)."""
    config = _build(ExperimentConfig, data, "")
    agents = tuple(_check_agent(a, f"agents.{i}") for i, a in enumerate(config.agents))
    config = dataclasses.replace(config, agents=agents)
    _check_experiment(config)
    return config


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``dotted.path=value`` set; ``value`` is parsed as a YAML
    scalar or flow collection (``3.0e-4``, ``true``, ``[64, 64]``). A list is indexed by position
    (``agents.0``) or ``*`` for every element. Unknown keys are caught later by validation."""
    result = _deep_copy(data)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise ValueError(f"override {override!r} must look like dotted.key=value")
        _set_path(result, key.split("."), yaml.safe_load(text), key)
    return result


def _set_path(node: Any, parts: list[str], value: Any, key: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            indices = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indices = range(int(head), int(head) + 1)
        else:
            raise ValueError(f"override {key!r}: {head!r} is not an index of a list of {len(node)}")
        for index in indices:
            if rest:
                _set_path(node[index], rest, value, key)
            else:
                node[index] = value
    elif isinstance(node, dict):
        if not rest:
            node[head] = value
            return
        if node.get(head) is None:
            node[head] = {}
        _set_path(node[head], rest, value, key)
    else:
        raise ValueError(f"override {key!r}: cannot set {head!r} inside the scalar {node!r}")


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    """Construct dataclass ``cls`` from mapping ``data``; ``path`` is its dotted location."""
    where = path or "config"
    if not isinstance(data, Mapping):
        raise TypeError(f"`{where}` must be a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ValueError(
                f"unknown key `{_join(path, str(key))}`{_did_you_mean(str(key), fields)}"
            )
    missing = [
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"`{where}` is missing the required key `{_join(path, missing[0])}`")
    values = {key: _convert(hints[key], value, _join(path, key)) for key, value in data.items()}
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    """Check ``value`` against the type hint ``hint``, coercing YAML 1.1 number strings."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if typing.get_origin(hint) is types.UnionType:  # ``X | None``: null or an X
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return None if value is None else _convert(inner, value, path)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"`{path}` must be a list, got {type(value).__name__} {value!r}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_convert(item, v, f"{path}.{i}") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise TypeError(
                f"`{path}` must be a mapping with string keys, got {type(value).__name__} {value!r}"
            )
        return {k: _numeric_strings(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"`{path}` must be true or false, got {type(value).__name__} {value!r}")
        return value
    if hint is int:
        return _to_int(value, path)
    if hint is float:
        return _to_float(value, path)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"`{path}` must be a string, got {type(value).__name__} {value!r}")
        return value
    raise AssertionError(f"unsupported config type {hint!r} at {path}")


def _is_number(text: str) -> bool:
    """Whether ``text`` is a decimal number literal such as ``1e6``, ``-2.5E-3`` or ``20_000``."""
    return bool(_NUMBER.match(text.strip())) and any(c.isdigit() for c in text)


def _to_float(value: Any, path: str) -> float:
    if isinstance(value, str) and _is_number(value):
        value = float(value.replace("_", ""))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"`{path}` must be a finite number, got {type(value).__name__} {value!r}")
    return float(value)


def _to_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) or (isinstance(value, str) and _is_number(value)):
        number = _to_float(value, path)
        if number.is_integer():
            return int(number)
        raise TypeError(
            f"`{path}` must be an integer, got {value!r}; write integers like 1_000_000 "
            "(YAML reads 1e6 as a string)"
        )
    raise TypeError(f"`{path}` must be an integer, got {type(value).__name__} {value!r}")


def _numeric_strings(value: Any) -> Any:
    """Free-form values (hyperparameters, kwargs): turn YAML 1.1 number strings such as
    ``"3e-4"`` into floats, recursively; everything else stays as written."""
    if isinstance(value, str) and _is_number(value):
        return float(value.replace("_", ""))
    if isinstance(value, Mapping):
        return {k: _numeric_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numeric_strings(v) for v in value]
    return value


def _check_experiment(config: ExperimentConfig) -> None:
    if not _NAME.match(config.name):
        raise ValueError(
            "`name` must be a folder name of letters, digits, '_', '-' and '.', "
            f"got {config.name!r}"
        )
    _check_env(config.env, "env")
    runs: set[str] = set()
    for index, agent in enumerate(config.agents):
        if agent.env is not None:
            _check_env(agent.env, f"agents.{index}.env")
        if agent.label and not _NAME.match(agent.label):
            raise ValueError(
                f"`agents.{index}.label` must be a folder name of letters, digits, '_', '-' "
                f"and '.', got {agent.label!r}"
            )
        for seed in agent.seeds:
            run = run_name(agent, seed)
            if run in runs:
                raise ValueError(
                    f"`agents.{index}` repeats the run {run}; each (label, seed) pair names "
                    "one run folder (give agents that share an algorithm different labels)"
                )
            runs.add(run)
    if config.train.checkpoint_every < 1:
        raise ValueError(
            f"`train.checkpoint_every` must be at least 1, got {config.train.checkpoint_every}"
        )
    for index, agent in enumerate(config.agents):
        rollout = rollout_size(agent)
        if rollout is not None and rollout > config.train.checkpoint_every:
            raise ValueError(
                f"`train.checkpoint_every` {config.train.checkpoint_every} is smaller than the "
                f"rollout of `agents.{index}` ({rollout} timesteps); checkpoints are taken "
                f"between rollouts, so a killed run could lose more than checkpoint_every: set "
                f"it to at least {rollout}"
            )
    if config.train.keep_checkpoints < 1:
        raise ValueError(
            f"`train.keep_checkpoints` must be at least 1, got {config.train.keep_checkpoints}"
        )
    _check_evaluation(config.evaluation)


def _check_evaluation(evaluation: EvaluationConfig) -> None:
    """A non-empty suite of known families and held-out instance seeds, at least two seasons
    (a standard error needs two), a non-negative customer seed and known heuristics."""
    from envs.one_shot import HELD_OUT_SEED_START

    for name in ("families", "instance_seeds"):
        if not getattr(evaluation, name):
            raise ValueError(f"`evaluation.{name}` must name at least one entry, got []")
    _check_names(evaluation.families, "evaluation.families", "envs.families", "FAMILIES")
    for index, seed in enumerate(evaluation.instance_seeds):
        if seed < HELD_OUT_SEED_START:
            raise ValueError(
                f"`evaluation.instance_seeds.{index}` is {seed}, but instance seeds must be at "
                f"least {HELD_OUT_SEED_START:_} (envs.one_shot.HELD_OUT_SEED_START): training "
                f"instances come from the seeds below, so {seed} may have been trained on"
            )
    _check_names(evaluation.heuristics, "evaluation.heuristics", "baselines.registry", "POLICIES")
    if evaluation.seasons < 2:
        raise ValueError(f"`evaluation.seasons` must be at least 2, got {evaluation.seasons}")
    if evaluation.seed < 0:
        raise ValueError(f"`evaluation.seed` must be non-negative, got {evaluation.seed}")


def _check_names(names: tuple[str, ...], path: str, module: str, catalogue: str) -> None:
    """Every entry of ``names`` must be a key of ``<module>.<catalogue>``."""
    known = getattr(importlib.import_module(module), catalogue)
    for index, name in enumerate(names):
        if name not in known:
            raise ValueError(
                f"`{path}.{index}` {name!r} is not in {module}.{catalogue}"
                f"{_did_you_mean(name, known)}"
            )


def _check_env(env: EnvConfig, path: str) -> None:
    """``env.id`` must be registered, every key of ``env.kwargs`` an argument of the id's entry
    point, and the environment must build: it is made once with ``gymnasium.make(id,
    **kwargs)`` and its ValueError/TypeError becomes a config error naming ``<path>.kwargs``.
    Successful checks are cached per (id, kwargs)."""
    import gymnasium

    import envs  # noqa: F401  (registers the Assort/* ids)

    if env.id not in gymnasium.registry:
        raise ValueError(
            f"`{path}.id` {env.id!r} is not a registered Gymnasium id"
            f"{_did_you_mean(env.id, gymnasium.registry)}"
        )
    key = (env.id, yaml.safe_dump(env.kwargs, sort_keys=True))
    if key in _CHECKED_ENVS:
        return
    spec = gymnasium.spec(env.id)
    creator = (
        gymnasium.envs.registration.load_env_creator(spec.entry_point)
        if isinstance(spec.entry_point, str)
        else spec.entry_point
    )
    parameters = inspect.signature(creator).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        allowed = [p for p in parameters if p != "self"]
        for name in env.kwargs:
            if name not in parameters:
                raise ValueError(
                    f"`{path}.kwargs.{name}` is not an argument of {env.id} "
                    f"({getattr(creator, '__name__', creator)}){_did_you_mean(name, allowed)}"
                )
    try:
        gymnasium.make(env.id, **env.kwargs).close()
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{path}.kwargs` {env.kwargs!r} are rejected by {env.id}: {error}"
        ) from error
    _CHECKED_ENVS.add(key)


_CHECKED_ENVS: set[tuple[str, str]] = set()
"""(id, kwargs as YAML) pairs that :func:`_check_env` has built successfully."""


def _check_agent(agent: AgentConfig, path: str) -> AgentConfig:
    """Check ``agent`` and return it with integral float hyperparameters turned into ints where
    the constructor's default is an int (``buffer_size: 1.0e+6`` -> 1_000_000)."""
    from agents import ALGORITHMS

    if agent.algo not in ALGORITHMS:
        raise ValueError(
            f"`{path}.algo` {agent.algo!r} is not one of {sorted(ALGORITHMS)}"
            f"{_did_you_mean(agent.algo, ALGORITHMS)}"
        )
    for name, value in (("total_timesteps", agent.total_timesteps), ("n_envs", agent.n_envs)):
        if value < 1:
            raise ValueError(f"`{path}.{name}` must be at least 1, got {value}")
    if not agent.seeds:
        raise ValueError(f"`{path}.seeds` must name at least one seed, got []")
    for i, seed in enumerate(agent.seeds):
        if seed < 0:
            raise ValueError(f"`{path}.seeds.{i}` must be a non-negative integer, got {seed}")
    cls = ALGORITHMS[agent.algo]
    if agent.policy not in cls.policy_aliases:
        raise ValueError(
            f"`{path}.policy` {agent.policy!r} is not a policy of {cls.__name__} (one of "
            f"{sorted(cls.policy_aliases)}){_did_you_mean(agent.policy, cls.policy_aliases)}"
        )
    _check_policy_kwargs(agent, f"{path}.policy_kwargs")
    parameters = inspect.signature(cls.__init__).parameters
    allowed = [p for p in parameters if p != "self" and p not in _RESERVED_HYPERPARAMS]
    for key in agent.hyperparams:
        if key in _RESERVED_HYPERPARAMS:
            raise ValueError(
                f"`{path}.hyperparams.{key}` cannot be set here: {_RESERVED_HYPERPARAMS[key]}"
            )
        if key not in parameters:
            raise ValueError(
                f"`{path}.hyperparams.{key}` is not an argument of "
                f"{cls.__name__}{_did_you_mean(key, allowed)}"
            )
    hyperparams = {
        key: int(value)
        if isinstance(parameters[key].default, int)
        and not isinstance(parameters[key].default, bool)
        and isinstance(value, float)
        and value.is_integer()
        else value
        for key, value in agent.hyperparams.items()
    }
    for key, value in hyperparams.items():
        _check_hyperparam_type(
            value, parameters[key].default, f"{path}.hyperparams.{key}", cls.__name__
        )
    return dataclasses.replace(agent, hyperparams=hyperparams)


def _check_policy_kwargs(agent: AgentConfig, path: str) -> None:
    """Keys of ``policy_kwargs`` must be arguments of the algorithm's policy class (other than
    the spaces and the learning-rate schedule, which SB3 passes itself); ``activation_fn`` must
    name one of :data:`agents.factory.ACTIVATIONS`."""
    from agents.factory import ACTIVATIONS, ALGORITHMS

    policy = ALGORITHMS[agent.algo].policy_aliases[agent.policy]
    parameters = inspect.signature(policy.__init__).parameters
    allowed = [
        p
        for p in parameters
        if p not in ("self", "observation_space", "action_space", "lr_schedule")
        and parameters[p].kind
        not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    for key in agent.policy_kwargs:
        if key not in allowed:
            raise ValueError(
                f"`{path}.{key}` is not an argument of {policy.__name__} "
                f"({agent.algo} {agent.policy}){_did_you_mean(key, allowed)}"
            )
    name = agent.policy_kwargs.get("activation_fn")
    if name is not None and name not in ACTIVATIONS:
        raise ValueError(
            f"`{path}.activation_fn` must be one of {sorted(ACTIVATIONS)}, got {name!r}"
            f"{_did_you_mean(str(name), ACTIVATIONS)}"
        )


def _check_hyperparam_type(value: Any, default: Any, path: str, algo: str) -> None:
    """``value`` must fit the type of the constructor's ``default``: an int default needs an
    integer (``train_freq`` also takes ``[n, step|episode]``), a float default a number (YAML
    cannot hold a schedule), a bool default true or false; a string default (SAC's
    ``ent_coef``, ``target_entropy``) takes a number or the strings SB3 accepts. Arguments
    whose default is None are passed through unchecked."""
    if default is None or default is inspect.Parameter.empty:
        return
    name = path.rsplit(".", 1)[-1]
    got = f"got {type(value).__name__} {value!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(
                f"`{path}` must be true or false ({algo}'s default is {default}), {got}"
            )
    elif isinstance(default, int):
        if name == "train_freq" and _is_train_freq_pair(value):
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"`{path}` must be an integer ({algo}'s default is {default}), {got}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"`{path}` must be a number ({algo}'s default is {default}; schedules cannot be "
                f"written in YAML), {got}"
            )
    elif isinstance(default, str):
        pattern, wording = _STRING_HYPERPARAMS.get(name, (re.escape(default), repr(default)))
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric and not (isinstance(value, str) and re.fullmatch(pattern, value)):
            raise TypeError(
                f"`{path}` must be a number or {wording} ({algo}'s default is {default!r}), {got}"
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


def _did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; known keys: {', '.join(sorted(known))}" if len(known) <= 12 else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
