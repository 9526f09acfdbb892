"""Training runs: one stable-baselines3 model per (agent, seed) of an experiment config.

A run folder ``<runs_dir>/<name>/<label>-seed<S>/`` (the label defaults to the algorithm name;
rl-baselines3-zoo's layout) holds::

    config.yaml        the resolved experiment config of this run alone (one agent, one seed);
                       ``assort train config.yaml`` would redo the run
    command.txt        the command line(s) that produced it (one line per start or resume)
    versions.json      python, platform, package versions, git commit (null without git)
    model.zip          the final model
    vecnormalize.pkl   the final VecNormalize statistics (only when normalization is on)
    monitor/           Monitor CSVs, one per environment copy; monitor/resume-<t>/ after a resume
    tb/                SB3 logs: progress.csv and TensorBoard events; tb/resume-<t>/ after a resume
    checkpoints/       step-<timesteps>/ {model.zip, vecnormalize.pkl, replay_buffer.pkl, meta.json}
    DONE               JSON {timesteps, wall_seconds}; written last, only when training finished

Runs never overwrite an existing folder unless asked to (``force=True`` deletes it first). A
run is assembled in a hidden sibling folder and renamed into place once its environment and
model are built, so a start that fails (bad kwargs, bad hyperparameters) leaves nothing behind.

:func:`resume_run` continues a killed run from its latest checkpoint at ``t`` timesteps with
``reset_num_timesteps=False``. Each resume is a new log segment: ``tb/resume-<t>/`` (earlier
logs are kept) and ``monitor/resume-<t>/``; the rows of earlier Monitor files for episodes
that ended after ``t`` are truncated, since the resumed run replays those timesteps, so every
timestep is counted once across ``monitor/**``. Same config and seed on the same machine give
the same model parameters (the environments are seeded from the run seed; torch runs
single-threaded). A resumed run is deterministic given (seed, checkpoint): its environments and
random generators are reseeded with ``seed + t`` (:meth:`~BaseAlgorithm.set_random_seed`). It
is not bit-identical to an uninterrupted run, whose generators were never reseeded at ``t``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from agents.callbacks import (
    CheckpointCallback,
    ProgressBarCallback,
    checkpoints,
    save_artifacts,
)
from agents.factory import TORCH_THREADS, load_model, make_model
from experiments.config import AgentConfig, EnvConfig, ExperimentConfig, load_config, run_name

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


def train_experiment(
    config: ExperimentConfig,
    *,
    seed: int | None = None,
    command: str = "",
    force: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Train every (agent, seed) of ``config`` in turn (only ``seed`` when given); returns the
    run folders. Refuses (ValueError) before training anything if a run folder exists and
    ``force`` is false."""
    runs = [
        (agent, s) for agent in config.agents for s in (agent.seeds if seed is None else (seed,))
    ]
    if not force:
        for agent, s in runs:
            _refuse_existing(run_dir(config, agent, s))
    return [
        train_run(run_config(config, agent, s), command=command, force=force, progress=progress)
        for agent, s in runs
    ]


def train_run(
    config: ExperimentConfig,
    *,
    command: str = "",
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Train the single run of ``config`` (one agent with one seed, see :func:`run_config`)
    into a new run folder and return it."""
    if len(config.agents) != 1 or len(config.agents[0].seeds) != 1:
        raise ValueError(
            f"train_run needs a config with one agent and one seed, got "
            f"{[(a.algo, list(a.seeds)) for a in config.agents]}; use train_experiment"
        )
    config = run_config(config, config.agents[0], config.agents[0].seeds[0])
    agent, seed = config.agents[0], config.agents[0].seeds[0]
    folder = run_dir(config, agent, seed)
    if force and folder.exists():
        shutil.rmtree(folder)
    _refuse_existing(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Build everything in a hidden sibling folder and rename it into place only once the
    # environment and the model exist: a start that fails leaves no run folder behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.starting-", dir=folder.parent))
    try:
        _atomic_write(staging / "config.yaml", config.to_yaml())
        _append_command(staging, command)
        _atomic_write(staging / "versions.json", json.dumps(versions(), indent=2) + "\n")
        env = make_env(config.env, agent, seed, staging / "monitor")
        try:
            model = make_model(agent, env, seed)
        except BaseException:
            env.close()
            raise
        # Open Monitor files follow the rename (same inode on POSIX).
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return _learn(model, config, folder, progress, wall_before=0.0, segment="")


def resume_run(folder: str | Path, *, command: str = "", progress: bool = True) -> Path:
    """Continue the unfinished run in ``folder`` from its latest checkpoint (model,
    VecNormalize statistics, replay buffer) up to its ``total_timesteps``; without a checkpoint
    the run starts over in place. Refuses (ValueError) a finished run."""
    folder = Path(folder)
    if not (folder / "config.yaml").is_file():
        raise FileNotFoundError(f"{str(folder)!r} is not a run folder: it has no config.yaml")
    if (folder / "DONE").exists():
        raise ValueError(
            f"run {str(folder)!r} already finished (DONE exists); nothing to resume. "
            "To train it again, delete the folder or use `assort train CONFIG --force`"
        )
    config = load_config(folder / "config.yaml")
    agent, seed = config.agents[0], config.agents[0].seeds[0]
    _append_command(folder, command)
    saved = checkpoints(folder / "checkpoints")
    if not saved:
        for stale in ("monitor", "tb", "checkpoints"):
            shutil.rmtree(folder / stale, ignore_errors=True)
        env = make_env(config.env, agent, seed, folder / "monitor")
        model = make_model(agent, env, seed)
        return _learn(model, config, folder, progress, wall_before=0.0, segment="")
    latest = saved[-1]
    meta = json.loads((latest / "meta.json").read_text())
    timesteps = int(meta["timesteps"])
    segment = f"resume-{timesteps}"
    _truncate_monitors(folder / "monitor", timesteps, agent.n_envs)
    env = make_env(
        config.env,
        agent,
        seed + timesteps,
        folder / "monitor" / segment,
        vecnormalize=latest / "vecnormalize.pkl",
    )
    model = load_model(agent.algo, latest / "model.zip", env)
    # load() restores parameters and optimizer state but not the random generators: reseed
    # torch, numpy, the action space and the environments from (seed, checkpoint).
    model.set_random_seed(seed + timesteps)
    if isinstance(model, OffPolicyAlgorithm):
        model.load_replay_buffer(latest / "replay_buffer.pkl")
    return _learn(
        model, config, folder, progress, wall_before=meta["wall_seconds"], segment=segment
    )


def make_env(
    env: EnvConfig,
    agent: AgentConfig,
    seed: int,
    monitor_dir: Path,
    *,
    vecnormalize: Path | None = None,
) -> VecEnv:
    """``agent.n_envs`` Monitor-wrapped copies of ``env`` in a DummyVecEnv seeded with
    ``seed`` (copy k gets ``seed + k``), wrapped in VecNormalize when the agent normalizes
    (statistics loaded from ``vecnormalize`` when given)."""
    import envs  # noqa: F401  (registers the Assort/* ids)

    venv = make_vec_env(
        env.id,
        n_envs=agent.n_envs,
        seed=seed,
        # render_mode=None: training never renders, so skip the picture make_vec_env asks for.
        env_kwargs={**env.kwargs, "render_mode": None},
        monitor_dir=str(monitor_dir),
        vec_env_cls=DummyVecEnv,
    )
    if vecnormalize is not None and vecnormalize.is_file():
        venv = VecNormalize.load(str(vecnormalize), venv)
        venv.training = True
        return venv
    if agent.normalize.observation or agent.normalize.reward:
        return VecNormalize(
            venv,
            norm_obs=agent.normalize.observation,
            norm_reward=agent.normalize.reward,
            gamma=float(agent.hyperparams.get("gamma", 0.99)),
        )
    return venv


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
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": TORCH_THREADS,
        "packages": packages,
        "git_commit": _git(root, "rev-parse", "HEAD"),
        "git_dirty": None
        if (status := _git(root, "status", "--porcelain", "--untracked-files=no")) is None
        else bool(status),
    }


def _learn(
    model: BaseAlgorithm,
    config: ExperimentConfig,
    folder: Path,
    progress: bool,
    wall_before: float,
    segment: str,
) -> Path:
    """Train ``model`` up to the agent's total_timesteps with checkpoints, then write the
    final artifacts and DONE. Logs (progress.csv and TensorBoard events) go to
    ``tb/<segment>`` (``tb/`` for a fresh start, ``tb/resume-<t>/`` after a resume)."""
    agent = config.agents[0]
    model.set_logger(configure(str(folder / "tb" / segment), ["csv", "tensorboard"]))
    start = time.perf_counter()
    checkpoint = CheckpointCallback(
        folder / "checkpoints",
        every=config.train.checkpoint_every,
        keep=config.train.keep_checkpoints,
        wall_seconds=lambda: wall_before + time.perf_counter() - start,
    )
    callbacks = [checkpoint]
    if progress:
        callbacks.append(
            ProgressBarCallback(agent.total_timesteps, description=f"{config.name}/{folder.name}")
        )
    remaining = agent.total_timesteps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        save_artifacts(model, Path(tmp), replay_buffer=False)
        for item in sorted(Path(tmp).iterdir()):
            os.replace(item, folder / item.name)
    done = {
        "timesteps": int(model.num_timesteps),
        "wall_seconds": round(wall_before + time.perf_counter() - start, 3),
    }
    _atomic_write(folder / "DONE", json.dumps(done) + "\n")
    model.get_env().close()
    return folder


def _truncate_monitors(monitor: Path, timesteps: int, n_envs: int) -> None:
    """Drop the Monitor rows of episodes that ended after the checkpoint at ``timesteps``: the
    resumed run replays them into ``monitor/resume-<timesteps>/``. Each environment copy had
    taken ``timesteps / n_envs`` steps at the checkpoint (a DummyVecEnv steps its copies in
    lockstep); a segment started at ``s`` keeps the episodes whose cumulative length is at most
    ``(timesteps - s) / n_envs``, and segments starting at or after ``timesteps`` are removed."""
    if not monitor.is_dir():
        return
    for segment in [monitor, *sorted(p for p in monitor.glob("resume-*") if p.is_dir())]:
        start = int(segment.name.removeprefix("resume-")) if segment != monitor else 0
        if start >= timesteps:
            shutil.rmtree(segment)
            continue
        budget = (timesteps - start) // n_envs
        for path in segment.glob("*.monitor.csv"):
            lines = path.read_text().splitlines(keepends=True)
            kept, steps = lines[:2], 0
            for line in lines[2:]:
                steps += int(line.split(",")[1])
                if steps > budget:
                    break
                kept.append(line)
            _atomic_write(path, "".join(kept))


def _refuse_existing(folder: Path) -> None:
    if (folder / "DONE").exists():
        raise ValueError(
            f"run folder {str(folder)!r} holds a finished run (DONE exists); refusing to "
            "overwrite it. Pass --force to delete it and train again"
        )
    if folder.exists():
        raise ValueError(
            f"run folder {str(folder)!r} already exists (an unfinished run); continue it with "
            f"`assort train --resume {folder}` or pass --force to delete it and start over"
        )


def _append_command(folder: Path, command: str) -> None:
    with open(folder / "command.txt", "a") as handle:
        handle.write(command + "\n")


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and :func:`os.replace`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def command_line() -> str:
    """This process's command line, as ``assort ...`` when run through the console script."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "assort":
        argv[0] = "assort"
    return shlex.join(argv)
