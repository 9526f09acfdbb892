"""Experiment configs: plain YAML loaded into typed, frozen dataclasses.

An experiment file names the environment, the learned agents (algorithm, stable-baselines3
hyperparameters, timesteps, training seeds), the training settings and the leaderboard's
benchmark suite::

    name: quickstart
    env: {id: Assort/OneShotSmallFamily-v1, kwargs: {reward_scale: auto}}
    agents:
      - {algo: ppo, total_timesteps: 20_000, n_envs: 4, seeds: [0, 1],
         hyperparams: {n_steps: 64}, policy_kwargs: {net_arch: [64, 64]}}
    train: {checkpoint_every: 5_000, runs_dir: runs}
    evaluation: {families: [small], instance_seeds: [1_000_000], seasons: 2_000, seed: 1,
                 heuristics: [fluid]}

A suite family is a family name or ``{family: NAME, label: SHOWN, overrides: {knob: value}}``
(for example a family at another strength of its effect). A config without agents (a
heuristics-only leaderboard) needs no ``env``.

:func:`load_config` reads such a file, applies ``key=value`` overrides with dotted paths
(``agents.0.total_timesteps=500``, ``agents.*.n_envs=2``; values are YAML scalars or flow
collections), then validates everything a run or a leaderboard will use, so that nothing fails
after training starts for a bad setting: unknown keys fail with their dotted path and a
did-you-mean, wrong types with the path, the expected type and the value; every size has an
upper limit; algorithm, policy, ``policy_kwargs`` and hyperparameters (names, types and ranges)
are checked by :mod:`agents.settings`, which also builds each agent's model once on its
environment (a dry build); the env id must be one of this project's (``Assort/...``) and its
kwargs build the environment; evaluation families, held-out instance seeds (no duplicates)
and heuristics must exist. Every error is an :class:`~envs.validation.InputError` that names
the dotted path of the offending key. ``ExperimentConfig.from_dict(c.to_dict()) == c``, and the
same through :meth:`ExperimentConfig.to_yaml`.

YAML is read defensively (:func:`parse_yaml`): one document of at most ``MAX_CONFIG_BYTES``,
PyYAML's safe loader (no Python tags), at most ``MAX_YAML_NODES`` nodes *after* aliases are
expanded (a "billion laughs" alias bomb is refused before it is expanded) and at most
``MAX_YAML_DEPTH`` levels of nesting. PyYAML follows YAML 1.1, which reads ``1e6`` (no dot) as
a *string*; such strings are accepted for float fields, and for integer fields only when they
denote an exact integer (``"1e6"`` -> 1_000_000; ``"1e-3"`` is rejected).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import yaml
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

import envs  # noqa: F401  (registers the Assort/* ids)
from agents.settings import (
    check_agent_settings,
    check_seed,
    check_size,
    dry_build,
    rollout_size,
)
from agents.vec_env import CatalogVecEnv
from baselines.registry import POLICIES
from envs.episodes import HELD_OUT_SEED_START
from envs.families import FAMILIES, family_parameters
from envs.observation import DEFAULT_NEIGHBOURS
from envs.simulate import MAX_SEASONS, MAX_SIMULATED_CUSTOMERS
from envs.validation import (
    SEED_LIMIT,
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    did_you_mean,
    integer_iv,
    read_file_bytes,
)

MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
MAX_OVERRIDE_CHARACTERS = 10_000
MAX_NAME_LENGTH = 100
MAX_CHECKPOINTS = 1_000
ENV_NAMESPACE = "Assort/"
"""Configs train on this project's environments only."""
_NUMBER = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class EnvConfig:
    """The Gymnasium environment an agent trains on."""

    id: str
    """A registered environment id of this project, e.g. ``Assort/OneShotSmallFamily-v1``
    (``import envs`` registers them)."""
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
    """Training seeds in [0, 2**32); one run per seed, in ``<runs_dir>/<name>/<algo>-seed<S>/``."""
    policy: str = "MlpPolicy"
    """The stable-baselines3 policy class name (``MlpPolicy`` or ``MultiInputPolicy``)."""
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    """``VecNormalize`` settings; statistics are saved with the model and frozen at test time."""
    vec_env: str = "dummy"
    """How the ``n_envs`` copies are stepped: ``dummy`` (SB3's ``DummyVecEnv``, one Python
    environment per copy, any environment) or ``catalog`` (:class:`agents.vec_env.CatalogVecEnv`:
    every copy in one numba call; one-shot environments; the episodes of ground-truth customer
    processes are simulated copy by copy)."""
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
    agent's rollout (:func:`agents.settings.rollout_size`)."""
    keep_checkpoints: int = 2
    """How many of the most recent checkpoints to keep on disk."""
    runs_dir: str = "runs"
    """Folder that receives ``<name>/<algo>-seed<S>/`` run folders."""


@dataclass(frozen=True)
class SuiteFamily:
    """A family of the benchmark suite, possibly with knob overrides (written in YAML as a
    plain family name, or as a mapping with these keys)."""

    family: str
    """A family of ``envs.families.FAMILIES``."""
    label: str = ""
    """The name shown in tables (default: the family's name)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Family knobs, as for ``assort generate --set``."""

    @property
    def name(self) -> str:
        return self.label or self.family


@dataclass(frozen=True)
class InformationGapConfig:
    """The gap a sequential leaderboard measures every policy in (DESIGN.md 6): from myopic
    re-planning to full information."""

    ceiling: str
    """The full-information reference: a one-shot heuristic on the whole catalog (``saa``)."""
    myopic: str
    """The myopic re-planning reference (``myopic-saa``)."""


@dataclass(frozen=True)
class EvaluationConfig:
    """The leaderboard's benchmark suite: held-out instances and common customers."""

    families: tuple[SuiteFamily, ...] = (SuiteFamily("small"),)
    """Instance families to evaluate on."""
    instance_seeds: tuple[int, ...] = (1_000_000, 1_000_001, 1_000_002)
    """Held-out instance seeds; training instances come from seeds below 1_000_000."""
    seasons: int = 2_000
    """Simulated seasons per (policy, instance), identical customers for every policy."""
    seed: int = 20261124
    """Seed of the customer streams (common random numbers)."""
    heuristics: tuple[str, ...] = ()
    """Heuristics to compare with (names in ``baselines.registry.POLICIES``)."""
    scenario_bound: bool = True
    """Scale every score by the tightest valid bound per instance: the smaller of the fluid LP
    bound and the scenario (MMW) bound's 95% upper confidence limit (``baselines.scenario_bound``,
    budget by catalog size, scenarios seeded from the instance, cached in the result store);
    false: the fluid LP bound only."""
    information_gap: InformationGapConfig | None = None
    """Sequential suites: report the value of information (ceiling minus myopic, paired) per
    family and every policy's share of that gap closed; both must be listed in
    ``heuristics``."""


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """A whole experiment: environment, learned agents, training and evaluation settings."""

    name: str
    """Experiment name; also the run folder under ``train.runs_dir``."""
    description: str = ""
    """Free text shown in reports."""
    env: EnvConfig | None = None
    """The training environment of the agents that do not name their own (required then)."""
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

    def agent_env(self, agent: AgentConfig) -> EnvConfig:
        """The environment ``agent`` trains on: its own ``env`` or the experiment's."""
        env = agent.env if agent.env is not None else self.env
        assert env is not None, "parse_config requires an env for every agent"
        return env


def run_name(agent: AgentConfig, seed: int) -> str:
    """The run folder's name ``<label or algo>-seed<seed>``."""
    return f"{agent.label or agent.algo}-seed{seed}"


# ------------------------------------------------------------------------------- reading


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read the YAML file ``path``, apply ``overrides`` (``dotted.key=value``) and validate."""
    data = read_yaml_file(path, "config file")
    if not isinstance(data, dict):
        raise InputTypeError(f"config file {str(path)!r} must hold a mapping; got {describe(data)}")
    return parse_config(apply_overrides(data, overrides))


def read_yaml_file(path: str | Path, label: str) -> Any:
    """The data of one YAML document in a regular file of at most ``MAX_CONFIG_BYTES``
    (:func:`parse_yaml`)."""
    raw = read_file_bytes(path, label, MAX_CONFIG_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label} {str(path)!r} is not UTF-8 text: {exc}") from exc
    return parse_yaml(text, f"{label} {str(path)!r}")


def parse_yaml(text: str, what: str) -> Any:
    """One YAML document read with PyYAML's safe loader, refusing (with an
    :class:`~envs.validation.InputError` naming ``what``) syntax errors, unknown tags, several
    documents, unhashable keys, nesting deeper than ``MAX_YAML_DEPTH`` and more than
    ``MAX_YAML_NODES`` nodes once aliases are expanded."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _count_nodes(node, what)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()
        reason = " ".join(line.strip() for line in first[:3])
        raise InputError(f"{what} is not valid YAML: {reason}") from exc
    except RecursionError as exc:
        raise InputError(f"{what} is nested too deeply to be a config") from exc
    finally:
        if loader is not None:
            loader.dispose()


def _count_nodes(root: yaml.Node, what: str) -> None:
    """Walk the node graph as construction will expand it (aliases point at shared nodes, so
    a small file can stand for an exponential number of nodes) and stop at the limits."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise InputError(
                f"{what} expands to more than {MAX_YAML_NODES:,} YAML nodes (aliases included); "
                "a config is far smaller"
            )
        if depth > MAX_YAML_DEPTH:
            raise InputError(f"{what} nests deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``dotted.path=value`` set; ``value`` is parsed as a YAML
    scalar or flow collection (``3.0e-4``, ``true``, ``[64, 64]``) by :func:`parse_yaml`. A list
    is indexed by position (``agents.0``) or ``*`` for every element. Unknown keys are caught
    later by validation."""
    result = _deep_copy(data)
    for override in overrides:
        if not isinstance(override, str) or len(override) > MAX_OVERRIDE_CHARACTERS:
            raise InputError(
                f"an override must be a dotted.key=value string of at most "
                f"{MAX_OVERRIDE_CHARACTERS:,} characters; got {describe(override)}"
            )
        key, sep, text = override.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise InputError(f"override {override!r} must look like dotted.key=value")
        value = parse_yaml(text, f"the value of override {key!r}")
        _set_path(result, key.split("."), value, key)
    return result


def _set_path(node: Any, parts: list[str], value: Any, key: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            indices = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indices = range(int(head), int(head) + 1)
        else:
            raise InputError(f"override {key!r}: {head!r} is not an index of a list of {len(node)}")
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
        raise InputError(
            f"override {key!r}: cannot set {head!r} inside the scalar {describe(node)}"
        )


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


# ------------------------------------------------------------------------------- structure


def parse_config(data: Mapping[str, Any]) -> ExperimentConfig:
    """Validate a plain dict into an :class:`ExperimentConfig` (see the module docstring)."""
    config = _build(ExperimentConfig, data, "")
    _check_names(config)
    agents = tuple(_check_agent(config, a, f"agents.{i}") for i, a in enumerate(config.agents))
    config = dataclasses.replace(config, agents=agents)
    _check_train(config)
    _check_evaluation(config.evaluation)
    return config


def _build(cls: type, data: Any, path: str) -> Any:
    """Construct dataclass ``cls`` from mapping ``data``; ``path`` is its dotted location."""
    where = path or "config"
    if not isinstance(data, Mapping):
        raise InputTypeError(f"`{where}` must be a mapping; got {describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise InputError(
                f"unknown key `{_join(path, str(key))}`{did_you_mean(str(key), fields)}"
            )
    missing = [
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InputError(f"`{where}` is missing the required key `{_join(path, missing[0])}`")
    values = {key: _convert(hints[key], value, _join(path, key)) for key, value in data.items()}
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    """Check ``value`` against the type hint ``hint``, coercing YAML 1.1 number strings."""
    if hint is SuiteFamily and isinstance(value, str):
        return SuiteFamily(family=value)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if typing.get_origin(hint) is types.UnionType:  # ``X | None``: null or an X
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return None if value is None else _convert(inner, value, path)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise InputTypeError(f"`{path}` must be a list; got {describe(value)}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_convert(item, v, f"{path}.{i}") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise InputTypeError(
                f"`{path}` must be a mapping with string keys; got {describe(value)}"
            )
        return {k: _numeric_strings(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise InputTypeError(f"`{path}` must be true or false; got {describe(value)}")
        return value
    if hint is int:
        return _to_int(value, path)
    if hint is float:
        return _to_float(value, path)
    if hint is str:
        if not isinstance(value, str):
            raise InputTypeError(f"`{path}` must be a string; got {describe(value)}")
        return value
    raise AssertionError(f"unsupported config type {hint!r} at {path}")


def _is_number(text: str) -> bool:
    """Whether ``text`` is a decimal number literal such as ``1e6``, ``-2.5E-3`` or ``20_000``."""
    return bool(_NUMBER.match(text.strip())) and any(c.isdigit() for c in text)


def _to_float(value: Any, path: str) -> float:
    if isinstance(value, str) and _is_number(value):
        value = float(value.replace("_", ""))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputTypeError(f"`{path}` must be a finite number; got {describe(value)}")
    return float(value)


def _to_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) or (isinstance(value, str) and _is_number(value)):
        number = _to_float(value, path)
        if number.is_integer():
            return int(number)
        raise InputTypeError(
            f"`{path}` must be an integer; got {value!r}; write integers like 1_000_000 "
            "(YAML reads 1e6 as a string)"
        )
    raise InputTypeError(f"`{path}` must be an integer; got {describe(value)}")


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


def _join(path: str, key: str) -> str:
    """The dotted path of ``key`` under ``path``; a key that is not a plain name is quoted, so
    that a message stays one line whatever the file holds."""
    shown = key if re.fullmatch(r"[\w*-]+", key) else repr(key)
    return f"{path}.{shown}" if path else shown


# ------------------------------------------------------------------------------- values


def _folder_name_iv(value: str, path: str) -> None:
    if not _NAME.match(value) or len(value) > MAX_NAME_LENGTH:
        raise InputError(
            f"`{path}` must be a folder name of at most {MAX_NAME_LENGTH} letters, digits, '_', "
            f"'-' and '.', starting with a letter or digit; got {value!r}"
        )


def _check_names(config: ExperimentConfig) -> None:
    _folder_name_iv(config.name, "name")
    runs: set[str] = set()
    for index, agent in enumerate(config.agents):
        if agent.label:
            _folder_name_iv(agent.label, f"agents.{index}.label")
        for seed in agent.seeds:
            run = run_name(agent, seed)
            if run in runs:
                raise InputError(
                    f"`agents.{index}` repeats the run {run}; each (label, seed) pair names "
                    "one run folder (give agents that share an algorithm different labels)"
                )
            runs.add(run)


def _check_agent(config: ExperimentConfig, agent: AgentConfig, path: str) -> AgentConfig:
    """Check ``agent`` and its environment, dry-build its model, and return it with its
    hyperparameters normalized (:func:`agents.settings.check_agent_settings`)."""
    check_size("total_timesteps", agent.total_timesteps, f"{path}.total_timesteps")
    check_size("n_envs", agent.n_envs, f"{path}.n_envs")
    if not agent.seeds:
        raise InputError(f"`{path}.seeds` must name at least one seed; got []")
    for i, seed in enumerate(agent.seeds):
        check_seed(seed, f"{path}.seeds.{i}")
    if agent.env is None and config.env is None:
        raise InputError(
            f"`{path}` has no `env` and the config has none: name the training environment"
        )
    env_path = f"{path}.env" if agent.env is not None else "env"
    env = config.agent_env(agent)
    _check_env(env, env_path)
    hyperparams = check_agent_settings(
        agent.algo,
        agent.policy,
        agent.hyperparams,
        agent.policy_kwargs,
        n_envs=agent.n_envs,
        path=path,
    )
    key = yaml.safe_dump(
        [
            agent.algo,
            agent.policy,
            env.id,
            env.kwargs,
            hyperparams,
            agent.policy_kwargs,
            agent.n_envs,
            agent.vec_env,
        ],
        sort_keys=True,
    )
    _check_policy_fits(agent, env, path)
    if key not in _BUILT_MODELS:
        venv = _vector_env(env, agent)
        try:
            dry_build(agent.algo, agent.policy, venv, hyperparams, agent.policy_kwargs, path)
        finally:
            venv.close()
        _BUILT_MODELS.add(key)
    return dataclasses.replace(agent, hyperparams=hyperparams)


VEC_ENVS = ("dummy", "catalog")
ONE_SHOT_ENTRY_POINT = "envs.one_shot:OneShotStockingEnv"
SEQUENTIAL_ENTRY_POINT = "envs.sequential:SequentialStockingEnv"


def _vector_env(env: EnvConfig, agent: AgentConfig) -> VecEnv:
    """The agent's ``n_envs`` copies of ``env``, stepped as its ``vec_env`` says."""
    if agent.vec_env == "catalog":
        return CatalogVecEnv(env.id, agent.n_envs, env.kwargs)
    return DummyVecEnv([lambda: gymnasium.make(env.id, **env.kwargs)] * agent.n_envs)


def _check_policy_fits(agent: AgentConfig, env: EnvConfig, path: str) -> None:
    """``vec_env: catalog`` needs a one-shot environment; ``CatalogPolicy`` a one-shot
    environment (the catalog observation, ``layout: one-shot``, the default) or a sequential
    one (``layout: sequential``); it reads raw observations (no ``normalize.observation``: the
    neighbour columns are product indices) with the environment's ``neighbours``."""
    choice_iv(f"{path}.vec_env", agent.vec_env, VEC_ENVS)
    entry_point = gymnasium.spec(env.id).entry_point
    one_shot = entry_point == ONE_SHOT_ENTRY_POINT
    if agent.vec_env == "catalog" and not one_shot:
        raise InputError(
            f"`{path}.vec_env` 'catalog' steps one-shot environments only; {env.id} is not one"
        )
    if agent.policy != "CatalogPolicy":
        return
    layout = agent.policy_kwargs.get("layout", "one-shot")
    wanted_layout = (
        "one-shot" if one_shot else "sequential" if entry_point == SEQUENTIAL_ENTRY_POINT else None
    )
    if wanted_layout is None:
        raise InputError(
            f"`{path}.policy` CatalogPolicy reads the catalog observation of the one-shot and "
            f"sequential environments; {env.id} has neither"
        )
    if layout != wanted_layout:
        raise InputError(
            f"`{path}.policy_kwargs.layout` is {layout!r} but {env.id} needs "
            f"{wanted_layout!r}; they must agree"
        )
    if agent.normalize.observation:
        raise InputError(
            f"`{path}.normalize.observation` must be false for CatalogPolicy: its observation "
            "holds product indices of the substitution graph, which normalization would destroy"
        )
    wanted = env.kwargs.get("neighbours", DEFAULT_NEIGHBOURS)
    given = agent.policy_kwargs.get("neighbours", DEFAULT_NEIGHBOURS)
    if wanted != given:
        raise InputError(
            f"`{path}.policy_kwargs.neighbours` is {given} but the environment's `neighbours` is "
            f"{wanted}; they must agree"
        )


_BUILT_MODELS: set[str] = set()
"""Agent settings (as YAML) that :func:`_check_agent` has dry-built successfully."""


def _check_env(env: EnvConfig, path: str) -> None:
    """``env.id`` must be one of this project's registered ids, every key of ``env.kwargs`` an
    argument of the id's entry point, and the environment must build: it is made once with
    ``gymnasium.make(id, **kwargs)`` and its input error becomes a config error naming
    ``<path>.kwargs``. Successful checks are cached per (id, kwargs)."""
    if not env.id.startswith(ENV_NAMESPACE) or env.id not in gymnasium.registry:
        ours = [name for name in gymnasium.registry if name.startswith(ENV_NAMESPACE)]
        raise InputError(
            f"`{path}.id` {env.id!r} is not one of this project's environments"
            f"{did_you_mean(env.id, ours)}"
        )
    key = (env.id, yaml.safe_dump(env.kwargs, sort_keys=True))
    if key in _CHECKED_ENVS:
        return
    spec = gymnasium.spec(env.id)
    creator = gymnasium.envs.registration.load_env_creator(spec.entry_point)
    parameters = inspect.signature(creator).parameters
    allowed = [p for p in parameters if p != "self"]
    for name in env.kwargs:
        if name not in parameters:
            raise InputError(
                f"`{path}.kwargs.{name}` is not an argument of {env.id} "
                f"({creator.__name__}){did_you_mean(name, allowed)}"
            )
    try:
        gymnasium.make(env.id, **env.kwargs).close()
    except InputError as error:
        raise InputError(
            f"`{path}.kwargs` {env.kwargs!r} are rejected by {env.id}: {error}"
        ) from error
    _CHECKED_ENVS.add(key)


_CHECKED_ENVS: set[tuple[str, str]] = set()
"""(id, kwargs as YAML) pairs that :func:`_check_env` has built successfully."""


def _check_train(config: ExperimentConfig) -> None:
    train = config.train
    integer_iv("train.checkpoint_every", train.checkpoint_every, low=1, high=10**10)
    integer_iv("train.keep_checkpoints", train.keep_checkpoints, low=1, high=MAX_CHECKPOINTS)
    if not train.runs_dir:
        raise InputError("`train.runs_dir` must name a folder; got ''")
    for index, agent in enumerate(config.agents):
        rollout = rollout_size(agent.algo, agent.hyperparams, agent.n_envs)
        if rollout is not None and rollout > train.checkpoint_every:
            raise InputError(
                f"`train.checkpoint_every` {train.checkpoint_every} is smaller than the "
                f"rollout of `agents.{index}` ({rollout} timesteps); checkpoints are taken "
                f"between rollouts, so a killed run could lose more than checkpoint_every: set "
                f"it to at least {rollout}"
            )


def _check_evaluation(evaluation: EvaluationConfig) -> None:
    """A non-empty suite of known families with valid knobs (shown names unique) and distinct
    held-out instance seeds, between 2 seasons (a standard error needs two) and the
    simulator's limits, a customer seed in [0, 2**63) and known, distinct heuristics."""
    for name in ("families", "instance_seeds"):
        if not getattr(evaluation, name):
            raise InputError(f"`evaluation.{name}` must name at least one entry; got []")
    shown: set[str] = set()
    largest_season = 1
    for index, entry in enumerate(evaluation.families):
        path = f"evaluation.families.{index}"
        if entry.family not in FAMILIES:
            raise InputError(
                f"`{path}` {entry.family!r} is not a family of envs.families.FAMILIES"
                f"{did_you_mean(entry.family, FAMILIES)}"
            )
        if entry.label:
            _folder_name_iv(entry.label, f"{path}.label")
        if entry.name in shown:
            raise InputError(
                f"`{path}` repeats {entry.name!r}; each suite family needs its own name "
                "(give families with overrides a `label`)"
            )
        shown.add(entry.name)
        try:
            parameters = family_parameters(entry.family, **entry.overrides)
        except InputError as error:
            raise InputError(f"`{path}.overrides`: {error}") from error
        largest_season = max(largest_season, int(parameters["customers"]))
    for index, seed in enumerate(evaluation.instance_seeds):
        if not HELD_OUT_SEED_START <= seed < SEED_LIMIT:
            raise InputError(
                f"`evaluation.instance_seeds.{index}` is {seed}, but instance seeds must lie in "
                f"[{HELD_OUT_SEED_START:_}, 2**63) (envs.one_shot.HELD_OUT_SEED_START): training "
                f"instances come from the seeds below, so {seed} may have been trained on"
            )
    if len(set(evaluation.instance_seeds)) != len(evaluation.instance_seeds):
        raise InputError(
            f"`evaluation.instance_seeds` lists a seed twice: {list(evaluation.instance_seeds)}"
        )
    integer_iv("evaluation.seasons", evaluation.seasons, low=2, high=MAX_SEASONS)
    if evaluation.seasons * largest_season > MAX_SIMULATED_CUSTOMERS:
        raise InputError(
            f"`evaluation.seasons` {evaluation.seasons:,} of up to {largest_season:,} customers "
            f"is more than the {MAX_SIMULATED_CUSTOMERS:,} customers one evaluation may simulate"
        )
    integer_iv("evaluation.seed", evaluation.seed, low=0, high=SEED_LIMIT - 1)
    for index, name in enumerate(evaluation.heuristics):
        if name not in POLICIES:
            raise InputError(
                f"`evaluation.heuristics.{index}` {name!r} is not in baselines.registry.POLICIES"
                f"{did_you_mean(name, POLICIES)}"
            )
    if len(set(evaluation.heuristics)) != len(evaluation.heuristics):
        raise InputError(
            f"`evaluation.heuristics` lists a heuristic twice: {list(evaluation.heuristics)}"
        )
    gap = evaluation.information_gap
    if gap is not None:
        for role in ("ceiling", "myopic"):
            name = getattr(gap, role)
            if name not in evaluation.heuristics:
                raise InputError(
                    f"`evaluation.information_gap.{role}` {name!r} must be one of "
                    f"`evaluation.heuristics` {list(evaluation.heuristics)}"
                )
        if gap.ceiling == gap.myopic:
            raise InputError(
                f"`evaluation.information_gap` names {gap.ceiling!r} as both ceiling and myopic; "
                "the gap between a policy and itself is empty"
            )
