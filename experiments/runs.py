"""The run folder: its layout, its manifest, and everything that reads or writes it.

A training run of one (agent, seed) of an experiment lives in
``<runs_dir>/<experiment>/<label or algo>-seed<S>/`` (rl-baselines3-zoo's layout)::

    config.yaml        the resolved experiment config of this run alone (one agent, one seed)
    command.txt        the command line(s) that produced it (one line per start or resume)
    versions.json      python, platform, package versions, git commit (null without git)
    model.zip          the final model
    vecnormalize.pkl   the final VecNormalize statistics (only when normalization is on)
    MANIFEST.json      SHA-256 of model.zip and vecnormalize.pkl, written with them
    monitor/           Monitor CSVs, one per environment copy; monitor/resume-<t>/ after a resume
    tb/                SB3 logs: progress.csv and TensorBoard events; tb/resume-<t>/ after a resume
    checkpoints/       step-<timesteps>/ {model.zip, vecnormalize.pkl, replay_buffer.pkl,
                       meta.json, MANIFEST.json}
    DONE               JSON {timesteps, wall_seconds}; written last, only when training finished

**What loading executes.** ``model.zip`` (stable-baselines3 / torch), ``vecnormalize.pkl`` and
``replay_buffer.pkl`` are unpickled when a run is evaluated or resumed, and unpickling can run
arbitrary code. So this module loads them only from folders that training wrote: every such
file is hashed into the ``MANIFEST.json`` of its folder when it is saved, and
:func:`verify_manifest` checks the hashes *before* anything is unpickled. A file that is not
listed, or whose bytes changed, is refused with a message naming the file and the flag that
overrides the check (``--trust-runs``, ``trust=True``). The manifest is a record of what
training wrote, not a signature: anyone who can write into a run folder can also write a
manifest, so load run folders only from places you trust.

Checkpoints are written into a temporary folder and renamed into place with
:func:`os.replace`, so a kill at any moment leaves either the complete new checkpoint or none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents.factory import TORCH_THREADS
from agents.policy import LearnedPolicy
from envs.validation import InputError, read_file_bytes
from experiments.config import (
    AgentConfig,
    ExperimentConfig,
    load_config,
    parse_config,
    read_yaml_file,
    run_name,
)
from experiments.store import fingerprint

CONFIG_FILE = "config.yaml"
COMMAND_FILE = "command.txt"
VERSIONS_FILE = "versions.json"
MODEL_FILE = "model.zip"
VECNORMALIZE_FILE = "vecnormalize.pkl"
REPLAY_BUFFER_FILE = "replay_buffer.pkl"
MANIFEST_FILE = "MANIFEST.json"
META_FILE = "meta.json"
DONE_FILE = "DONE"
MONITOR_DIR = "monitor"
TB_DIR = "tb"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_PREFIX = "step-"
PICKLED_FILES = (MODEL_FILE, VECNORMALIZE_FILE, REPLAY_BUFFER_FILE)
"""Files whose loading unpickles data: only loaded when the manifest vouches for them."""
TRUST_FLAG = "--trust-runs"
MAX_SMALL_FILE_BYTES = 1 << 20
"""config.yaml, DONE, meta.json and MANIFEST.json are read up to this size."""

PACKAGES = (
    "assort-testbed",
    "numpy",
    "scipy",
    "numba",
    "gymnasium",
    "stable-baselines3",
    "torch",
    "pyyaml",
    "tensorboard",
)
"""Packages whose versions go into ``versions.json``."""


# ------------------------------------------------------------------------------- layout


def run_dir(config: ExperimentConfig, agent: AgentConfig | str, seed: int) -> Path:
    """``<train.runs_dir>/<name>/<label or algo>-seed<seed>``; ``agent`` is the agent or its
    run-folder stem (``label or algo``)."""
    name = f"{agent}-seed{seed}" if isinstance(agent, str) else run_name(agent, seed)
    return Path(config.train.runs_dir) / config.name / name


def run_config(config: ExperimentConfig, agent: AgentConfig, seed: int) -> ExperimentConfig:
    """``config`` reduced to the single run: ``agent`` with ``seeds: [seed]``, its environment
    as the experiment's ``env``."""
    single = dataclasses.replace(agent, seeds=(seed,), env=None)
    return dataclasses.replace(config, env=config.agent_env(agent), agents=(single,))


def is_finished(folder: str | Path) -> bool:
    """Whether the run folder holds a ``DONE`` marker."""
    return (Path(folder) / DONE_FILE).is_file()


def find_runs(folder: str | Path) -> list[Path]:
    """Finished run folders (holding a ``DONE`` marker) at ``folder`` or up to two levels below
    it (a run, ``<runs_dir>/<name>`` or ``<runs_dir>``), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"runs folder {str(root)!r} does not exist or is not a folder")
    found = [p.parent for pattern in ("DONE", "*/DONE", "*/*/DONE") for p in root.glob(pattern)]
    return sorted(set(found))


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """What a run folder's name and DONE marker say: ``label`` (the agent's label or
    algorithm), training ``seed`` and ``timesteps`` (None when unreadable) and the
    ``experiment`` (the parent folder's name)."""

    label: str
    seed: int | None
    timesteps: int | None
    experiment: str


def run_facts(folder: str | Path) -> RunFacts:
    """The :class:`RunFacts` of ``<experiment>/<label>-seed<S>``."""
    folder = Path(folder)
    label, _, seed_text = folder.name.rpartition("-seed")
    seed = int(seed_text) if label and seed_text.isdigit() else None
    done = read_done(folder)
    timesteps = done.get("timesteps") if done else None
    steps = int(timesteps) if isinstance(timesteps, int | float) else None
    return RunFacts(label or folder.name, seed, steps, folder.parent.name)


def read_done(folder: str | Path) -> dict[str, Any] | None:
    """The ``DONE`` marker's JSON, or None when it is missing or unreadable."""
    data = _read_small_json(Path(folder) / DONE_FILE)
    return data if isinstance(data, dict) else None


def file_hashes(folder: str | Path) -> dict[str, str]:
    """SHA-256 of the run's ``model.zip``, ``vecnormalize.pkl`` and ``config.yaml``: the
    identity of the trained policy."""
    hashes = {}
    for name in (MODEL_FILE, VECNORMALIZE_FILE, CONFIG_FILE):
        path = Path(folder) / name
        if path.is_file():
            hashes[name] = _sha256(path)
    return hashes


# ------------------------------------------------------------------------------- manifest


def write_manifest(folder: Path) -> None:
    """Record the SHA-256 of every pickled file present in ``folder`` in its manifest."""
    entries = {name: _sha256(folder / name) for name in PICKLED_FILES if (folder / name).is_file()}
    atomic_write_text(folder / MANIFEST_FILE, json.dumps({"sha256": entries}, indent=1) + "\n")


def verify_manifest(folder: str | Path, names: Sequence[str], *, trust: bool = False) -> None:
    """Raise :class:`~envs.validation.InputError` unless every file of ``names`` that exists in
    ``folder`` is listed in its manifest with the hash of its current bytes (``trust=True``
    skips the check). Call it before unpickling anything from the folder."""
    if trust:
        return
    folder = Path(folder)
    manifest = _read_small_json(folder / MANIFEST_FILE)
    listed = manifest.get("sha256") if isinstance(manifest, dict) else None
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        if not isinstance(listed, dict) or name not in listed:
            problem = "is not listed in" if isinstance(listed, dict) else "has no valid"
            raise InputError(
                f"{str(path)!r} {problem} {MANIFEST_FILE}: this project loads pickled files only "
                f"from run folders its training wrote (loading unpickles, which can run code); "
                f"pass {TRUST_FLAG} to load it anyway"
            )
        if listed[name] != _sha256(path):
            raise InputError(
                f"{str(path)!r} changed since training wrote it (its SHA-256 differs from "
                f"{MANIFEST_FILE}); refusing to unpickle it; pass {TRUST_FLAG} to load it anyway"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------- artifacts


def save_artifacts(model: BaseAlgorithm, folder: Path, replay_buffer: bool = True) -> None:
    """``model.zip``, ``vecnormalize.pkl`` (if the env is a VecNormalize) and, for off-policy
    algorithms when ``replay_buffer``, ``replay_buffer.pkl`` into ``folder``, with their
    manifest."""
    model.save(folder / MODEL_FILE)
    env = model.get_env()
    if isinstance(env, VecNormalize):
        env.save(str(folder / VECNORMALIZE_FILE))
    if replay_buffer and isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
        model.save_replay_buffer(folder / REPLAY_BUFFER_FILE)
    write_manifest(folder)


def save_checkpoint(model: BaseAlgorithm, directory: Path, wall_seconds: float = 0.0) -> Path:
    """Atomically write ``directory/step-<num_timesteps>/`` for ``model`` with a meta.json
    ``{timesteps, wall_seconds}``; returns the folder."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{CHECKPOINT_PREFIX}{model.num_timesteps:012d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory))
    try:
        save_artifacts(model, tmp)
        meta = {"timesteps": int(model.num_timesteps), "wall_seconds": round(wall_seconds, 3)}
        (tmp / META_FILE).write_text(json.dumps(meta) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final


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


def checkpoint_meta(checkpoint: Path) -> dict[str, Any]:
    """A checkpoint's meta.json (``timesteps``, ``wall_seconds``)."""
    meta = _read_small_json(checkpoint / META_FILE)
    if not isinstance(meta, dict) or not isinstance(meta.get("timesteps"), int):
        raise InputError(f"checkpoint {str(checkpoint)!r} has no valid {META_FILE}")
    return meta


# ------------------------------------------------------------------------------- loading


def load_run_config(folder: str | Path) -> ExperimentConfig:
    """The run's saved ``config.yaml``, validated (:func:`experiments.config.load_config`)."""
    return load_config(Path(folder) / CONFIG_FILE)


def learned_policy(folder: str | Path, *, trust: bool = False) -> LearnedPolicy:
    """The deterministic policy of the finished run in ``folder``, after
    :func:`verify_manifest` vouched for its pickled files."""
    folder = Path(folder)
    if not is_finished(folder):
        raise InputError(
            f"run folder {str(folder)!r} has no DONE marker: training did not finish "
            f"(resume it with `assort train --resume {folder}`)"
        )
    verify_manifest(folder, (MODEL_FILE, VECNORMALIZE_FILE), trust=trust)
    config = load_run_config(folder)
    agent = config.agents[0]
    stats = folder / VECNORMALIZE_FILE
    facts = run_facts(folder)
    return LearnedPolicy(
        name=folder.name,
        algo=agent.algo,
        model_path=folder / MODEL_FILE,
        env_id=config.env.id,
        env_kwargs=config.env.kwargs,
        vecnormalize_path=stats if stats.is_file() else None,
        seed=agent.seeds[0],
        timesteps=facts.timesteps,
    )


# ------------------------------------------------------------------------------- provenance


def versions() -> dict[str, Any]:
    """Python, platform, package versions and the git commit of this checkout (null when git
    or the repository is missing; ``git_dirty`` says whether tracked files were modified)."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    root = Path(__file__).resolve().parents[1]
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": TORCH_THREADS,
        "packages": packages,
        "git_commit": _git(root, "rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
    }


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def command_line() -> str:
    """This process's command line, as ``assort ...`` when run through the console script and
    as ``python -m experiments ...`` when run as a module (not the path of ``__main__.py``)."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "assort":
        argv[0] = "assort"
    elif (
        argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "experiments"
    ):
        argv[0:1] = ["python", "-m", "experiments"]
    return shlex.join(argv)


def append_command(folder: Path, command: str) -> None:
    """Add one line to the run's ``command.txt``."""
    with open(folder / COMMAND_FILE, "a") as handle:
        handle.write(command + "\n")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and :func:`os.replace`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _read_small_json(path: Path) -> Any:
    try:
        return json.loads(read_file_bytes(path, "run file", MAX_SMALL_FILE_BYTES))
    except (InputError, OSError, ValueError):
        return None


# ------------------------------------------------------------------------------- config drift

IGNORED_CONFIG_KEYS = ("description", "evaluation", "train.runs_dir", "train.keep_checkpoints")
"""Dotted keys (and their subtrees) of a run's config that do not change the trained model:
free text, the leaderboard's suite, where runs live and how many checkpoints are kept."""
PATH_SUFFIXES = ("_dir", "_path", "_file", "_folder")
"""Keys whose last component ends with one of these name a location and are ignored too."""


class RunConfigMismatchError(InputError):
    """A run folder holds a run trained with another config than the one asked for."""


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; mappings and lists of mappings are walked (``agents.0.algo``)."""
    if isinstance(data, Mapping) and data:
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list | tuple) and data and all(isinstance(v, Mapping) for v in data):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


def training_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened config (dotted path -> value) without :data:`IGNORED_CONFIG_KEYS` and
    path-like keys (:data:`PATH_SUFFIXES`): everything the trained model depends on."""

    def kept(key: str) -> bool:
        ignored = any(key == k or key.startswith(k + ".") for k in IGNORED_CONFIG_KEYS)
        return not ignored and not key.rpartition(".")[2].endswith(PATH_SUFFIXES)

    return {key: value for key, value in _flatten(config).items() if kept(key)}


def saved_run_config(folder: str | Path) -> dict[str, Any] | None:
    """A run folder's ``config.yaml`` as plain data, normalized through
    :func:`experiments.config.parse_config` when it still parses (so fields added later read
    as their defaults); ``None`` when the file is missing or unreadable."""
    try:
        data = read_yaml_file(Path(folder) / CONFIG_FILE, "run config")
    except (InputError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return parse_config(data).to_dict()
    except InputError:
        return data


def config_differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """``"dotted.key: old -> new"`` for every training setting that differs (absent keys read
    ``<absent>``); ``old=None`` (no saved config) is one difference."""
    if old is None:
        return [f"{CONFIG_FILE}: <absent> -> the config's run"]
    before, after = training_settings(old), training_settings(new)
    return [
        f"{key}: {before.get(key, '<absent>')!r} -> {after.get(key, '<absent>')!r}"
        for key in sorted(set(before) | set(after))
        if before.get(key, "<absent>") != after.get(key, "<absent>")
    ]


def check_run_config(folder: str | Path, config: ExperimentConfig, agent: Any, seed: int) -> None:
    """Raise :class:`RunConfigMismatchError` when the run folder's saved config differs from
    what :func:`run_config` would write for (``agent``, ``seed``), naming the keys."""
    expected = run_config(config, agent, seed).to_dict()
    differences = config_differences(saved_run_config(folder), expected)
    if differences:
        raise RunConfigMismatchError(
            f"run folder {str(folder)!r} was trained with another config than agent "
            f"{agent.label or agent.algo!r} seed {seed} of {config.name!r} asks for "
            f"({'; '.join(differences)}); retrain it with `assort train CONFIG --seed {seed} "
            "--force` or use a new runs dir (--runs-dir or train.runs_dir)"
        )


def config_fingerprint(config: Mapping[str, Any] | None) -> str:
    """Fingerprint of a run's training settings without its seed (``agents.<i>.seeds``):
    runs of one agent trained with one config share it."""
    if config is None:
        return fingerprint(None)
    settings = training_settings(config)
    return fingerprint({k: v for k, v in settings.items() if not k.endswith(".seeds")})
