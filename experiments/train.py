"""Training runs: one stable-baselines3 model per (agent, seed) of an experiment config.

Each run gets its own folder (layout and manifest: :mod:`experiments.runs`). Runs never
overwrite an existing folder unless asked to (``force=True`` deletes it first). A run is
assembled in a hidden sibling folder and renamed into place once its environment and model are
built, so a start that fails leaves nothing behind (config values are checked at load time,
so that should not happen).

:func:`resume_run` continues a killed run from its latest checkpoint at ``t`` timesteps with
``reset_num_timesteps=False``, after checking the checkpoint's manifest (it unpickles the
model, the normalization statistics and the replay buffer). Each resume is a new log segment:
``tb/resume-<t>/`` (earlier logs are kept) and ``monitor/resume-<t>/``; the rows of earlier
Monitor files for episodes that ended after ``t`` are truncated, since the resumed run replays
those timesteps, so every timestep is counted once across ``monitor/**``. Same config and seed
on the same machine give the same model parameters (the environments are seeded from the run
seed; torch runs single-threaded). A resumed run is deterministic given (seed, checkpoint): its
environments and random generators are reseeded with ``seed + t``
(:meth:`~BaseAlgorithm.set_random_seed`). It is not bit-identical to an uninterrupted run,
whose generators were never reseeded at ``t``.

:func:`train_all` and :func:`train_experiment` map :func:`ensure_trained` (skip a finished run,
resume an unfinished one, train a missing one) over the runs on a backend
(:mod:`experiments.backends`): in this process one after another, or one Ray task per run. The
runs report their timesteps to the caller's training phase (:mod:`experiments.progress`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

from agents.callbacks import CheckpointCallback, ProgressCallback
from agents.factory import load_model, make_model, training_threads
from agents.settings import check_seed
from agents.vec_env import CatalogVecEnv
from envs.validation import InputError
from experiments.backends import Backend, run_ordered
from experiments.config import AgentConfig, EnvConfig, ExperimentConfig
from experiments.progress import Progress, Tick, phase, say
from experiments.runs import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    DONE_FILE,
    MODEL_FILE,
    MONITOR_DIR,
    PICKLED_FILES,
    REPLAY_BUFFER_FILE,
    TB_DIR,
    VECNORMALIZE_FILE,
    VERSIONS_FILE,
    append_command,
    atomic_write_text,
    check_run_config,
    checkpoint_meta,
    checkpoints,
    command_line,
    is_finished,
    load_run_config,
    prune_checkpoints,
    run_config,
    run_dir,
    save_artifacts,
    save_checkpoint,
    verify_manifest,
    versions,
)

ALL_COPIES = "all-copies"
ALL_COPIES_MONITOR = f"{ALL_COPIES}.monitor.csv"


def train_experiment(
    config: ExperimentConfig,
    *,
    seed: int | None = None,
    command: str = "",
    force: bool = False,
    resume: bool = False,
    progress: Progress | None = None,
    backend: Backend | None = None,
) -> list[Path]:
    """Train every (agent, seed) of ``config`` (only ``seed`` when given) on ``backend``
    (serial when None); returns the run folders. An existing run folder is refused
    (InputError, before training anything) unless ``force`` (delete it and train again) or
    ``resume`` (skip it when finished, resume it when not, after checking that it was trained
    with the same config: :func:`experiments.runs.check_run_config`)."""
    if seed is not None:
        seed = check_seed(seed, "--seed")
    if force and resume:
        raise InputError("--force starts runs over and --continue resumes them: give one")
    runs = [
        (agent, s) for agent in config.agents for s in (agent.seeds if seed is None else (seed,))
    ]
    for agent, s in runs:
        folder = run_dir(config, agent, s)
        if force and folder.exists():
            shutil.rmtree(folder)
        if resume and folder.exists():
            check_run_config(folder, config, agent, s)
        elif not resume:
            _refuse_existing(folder)
    return _train_pairs(
        config, runs, command=command, trust=False, progress=progress, backend=backend
    )


@training_threads()
def train_run(
    config: ExperimentConfig,
    *,
    command: str = "",
    force: bool = False,
    tick: Tick | None = None,
) -> Path:
    """Train the single run of ``config`` (one agent with one seed, see
    :func:`experiments.runs.run_config`) into a new run folder and return it; ``tick``
    receives the timesteps as they are done (:class:`agents.callbacks.ProgressCallback`)."""
    if len(config.agents) != 1 or len(config.agents[0].seeds) != 1:
        raise InputError(
            f"train_run needs a config with one agent and one seed; got "
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
        atomic_write_text(staging / CONFIG_FILE, config.to_yaml())
        append_command(staging, command)
        atomic_write_text(staging / VERSIONS_FILE, _json(versions()))
        env = make_env(config.agent_env(agent), agent, seed, staging / MONITOR_DIR)
        try:
            model = _new_model(agent, env, seed)
        except BaseException:
            env.close()
            raise
        # Open Monitor files follow the rename (same inode on POSIX).
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return _learn(model, config, folder, tick, wall_before=0.0, segment="")


@training_threads()
def resume_run(
    folder: str | Path, *, command: str = "", tick: Tick | None = None, trust: bool = False
) -> Path:
    """Continue the unfinished run in ``folder`` from its latest checkpoint (model,
    VecNormalize statistics, replay buffer, after :func:`experiments.runs.verify_manifest`) up
    to its ``total_timesteps``; without a checkpoint the run starts over in place. Refuses
    (InputError) a finished run."""
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise InputError(f"{str(folder)!r} is not a run folder: it has no {CONFIG_FILE}")
    if (folder / DONE_FILE).exists():
        raise InputError(
            f"run {str(folder)!r} already finished (DONE exists); nothing to resume. "
            "To train it again, delete the folder or use `assort train CONFIG --force`"
        )
    config = load_run_config(folder)
    agent, seed = config.agents[0], config.agents[0].seeds[0]
    env_config = config.agent_env(agent)
    append_command(folder, command)
    saved = checkpoints(folder / CHECKPOINTS_DIR)
    if not saved:
        for stale in (MONITOR_DIR, TB_DIR, CHECKPOINTS_DIR):
            shutil.rmtree(folder / stale, ignore_errors=True)
        env = make_env(env_config, agent, seed, folder / MONITOR_DIR)
        model = _new_model(agent, env, seed)
        return _learn(model, config, folder, tick, wall_before=0.0, segment="")
    latest = saved[-1]
    verify_manifest(latest, PICKLED_FILES, trust=trust)
    meta = checkpoint_meta(latest)
    timesteps = int(meta["timesteps"])
    segment = f"resume-{timesteps}"
    _truncate_monitors(folder / MONITOR_DIR, timesteps, agent.n_envs)
    env = make_env(
        env_config,
        agent,
        seed + timesteps,
        folder / MONITOR_DIR / segment,
        vecnormalize=latest / VECNORMALIZE_FILE,
    )
    model = load_model(agent.algo, latest / MODEL_FILE, env)
    # load() restores parameters and optimizer state but not the random generators: reseed
    # torch, numpy, the action space and the environments from (seed, checkpoint).
    model.set_random_seed(seed + timesteps)
    if isinstance(model, OffPolicyAlgorithm):
        model.load_replay_buffer(latest / REPLAY_BUFFER_FILE)
    return _learn(
        model, config, folder, tick, wall_before=meta.get("wall_seconds", 0.0), segment=segment
    )


def train_all(
    config: ExperimentConfig,
    *,
    progress: Progress | None = None,
    trust: bool = False,
    backend: Backend | None = None,
) -> list[Path]:
    """Every (agent, seed) run of ``config`` on ``backend`` (serial when None): skip
    finished, resume unfinished, train missing. Existing run folders are checked first
    (:func:`experiments.runs.check_run_config`: ``RunConfigMismatchError`` if one was trained
    with another config); ``progress`` receives one line per run and, when it is a
    :class:`experiments.progress.Reporter`, shows the training phase; ``trust`` skips the
    manifest check of a resumed checkpoint."""
    pairs = [(agent, seed) for agent in config.agents for seed in agent.seeds]
    for agent, seed in pairs:
        if run_dir(config, agent, seed).exists():
            check_run_config(run_dir(config, agent, seed), config, agent, seed)
    return _train_pairs(
        config, pairs, command=command_line(), trust=trust, progress=progress, backend=backend
    )


@dataclass(frozen=True)
class TrainTask:
    """One training run as a backend task: the run's own config (one agent, one seed; see
    :func:`experiments.runs.run_config`), the command line to record, and whether to trust
    the checkpoint it may resume from."""

    config: ExperimentConfig
    command: str = ""
    trust: bool = False


@dataclass(frozen=True)
class TrainResult:
    """What :func:`ensure_trained` did: ``skipped`` a finished run, ``resumed`` an unfinished
    one, or ``trained`` a new one, in ``seconds``."""

    folder: Path
    action: Literal["skipped", "resumed", "trained"]
    seconds: float


def ensure_trained(task: TrainTask, tick: Tick) -> TrainResult:
    """Make the run of ``task`` finished: skip it when it is (``DONE``), resume it from its
    last checkpoint when its folder exists, train it otherwise. Safe to repeat, so a backend
    may run it again after its worker died (it then resumes)."""
    config = task.config
    agent, seed = config.agents[0], config.agents[0].seeds[0]
    folder = run_dir(config, agent, seed)
    start = time.perf_counter()
    if is_finished(folder):
        action: Literal["skipped", "resumed", "trained"] = "skipped"
    elif folder.exists():
        action = "resumed"
        resume_run(folder, command=task.command, tick=tick, trust=task.trust)
    else:
        action = "trained"
        train_run(config, command=task.command, tick=tick)
    if not is_finished(folder):
        raise RuntimeError(f"training {folder} returned without writing DONE")
    return TrainResult(folder, action, time.perf_counter() - start)


def done_timesteps(folder: Path, total: int) -> int:
    """Timesteps a run folder already holds: all when finished, its latest checkpoint's when
    unfinished (0 without one)."""
    if is_finished(folder):
        return total
    saved = checkpoints(folder / CHECKPOINTS_DIR)
    if not saved:
        return 0
    try:
        return min(total, int(checkpoint_meta(saved[-1])["timesteps"]))
    except InputError:
        return 0


def _train_pairs(
    config: ExperimentConfig,
    pairs: list[tuple[AgentConfig, int]],
    *,
    command: str,
    trust: bool,
    progress: Progress | None,
    backend: Backend | None,
) -> list[Path]:
    """Run :func:`ensure_trained` for every pair on the backend, under one training phase
    (timesteps of every run, with the runs finished so far)."""
    folders = [run_dir(config, agent, seed) for agent, seed in pairs]
    totals = [agent.total_timesteps for agent, _ in pairs]
    done = [done_timesteps(folder, total) for folder, total in zip(folders, totals)]
    finished = [is_finished(folder) for folder in folders]
    tasks, where = [], []
    n = len(pairs)
    for index, ((agent, seed), folder) in enumerate(zip(pairs, folders), start=1):
        if finished[index - 1]:
            say(progress, f"[{index}/{n}] {folder}: finished earlier (DONE), skipped")
            continue
        if folder.exists():
            say(progress, f"[{index}/{n}] {folder}: unfinished, resuming from its last checkpoint")
        else:
            say(
                progress,
                f"[{index}/{n}] {folder}: training {agent.algo} seed {seed} "
                f"for {agent.total_timesteps:,} timesteps",
            )
        tasks.append(TrainTask(run_config(config, agent, seed), command=command, trust=trust))
        where.append(index)
    if not tasks:
        return folders
    with phase(
        progress,
        "training",
        total=sum(totals),
        unit="timesteps",
        tasks=n,
        initial=sum(done),
        tasks_done=sum(finished),
        task_unit="runs",
    ) as bar:

        def report(position: int, result: TrainResult) -> None:
            index = where[position]
            bar.task_done()
            say(progress, f"[{index}/{n}] {result.folder}: done ({result.seconds:.1f} s)")

        run_ordered(backend, ensure_trained, tasks, tick=bar.tick, done=report)
    return folders


def _new_model(agent: AgentConfig, env: VecEnv, seed: int) -> BaseAlgorithm:
    return make_model(
        agent.algo,
        env,
        seed=seed,
        total_timesteps=agent.total_timesteps,
        policy=agent.policy,
        hyperparams=agent.hyperparams,
        policy_kwargs=agent.policy_kwargs,
    )


def make_env(
    env: EnvConfig,
    agent: AgentConfig,
    seed: int,
    monitor_dir: Path,
    *,
    vecnormalize: Path | None = None,
) -> VecEnv:
    """``agent.n_envs`` copies of ``env`` seeded with ``seed`` (copy k gets ``seed + k``):
    Monitor-wrapped environments in a DummyVecEnv (``vec_env: dummy``, one Monitor CSV per
    copy) or the :class:`agents.vec_env.CatalogVecEnv` under a VecMonitor (``vec_env:
    catalog``, one CSV for all copies, ``all-copies.monitor.csv``); wrapped in VecNormalize
    when the agent normalizes (statistics loaded from ``vecnormalize`` when given)."""
    if agent.vec_env == "catalog":
        monitor_dir.mkdir(parents=True, exist_ok=True)
        catalog = CatalogVecEnv(env.id, agent.n_envs, env.kwargs)
        catalog.seed(seed)
        venv: VecEnv = VecMonitor(catalog, filename=str(monitor_dir / ALL_COPIES_MONITOR))
    else:
        venv = make_vec_env(
            env.id,
            n_envs=agent.n_envs,
            seed=seed,
            # render_mode=None: training never renders, so skip the picture it asks for.
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


def _learn(
    model: BaseAlgorithm,
    config: ExperimentConfig,
    folder: Path,
    tick: Tick | None,
    wall_before: float,
    segment: str,
) -> Path:
    """Train ``model`` up to the agent's total_timesteps with checkpoints, then write the
    final artifacts and DONE. Logs (progress.csv and TensorBoard events) go to
    ``tb/<segment>`` (``tb/`` for a fresh start, ``tb/resume-<t>/`` after a resume)."""
    agent = config.agents[0]
    model.set_logger(configure(str(folder / TB_DIR / segment), ["csv", "tensorboard"]))
    start = time.perf_counter()

    def save(trained: BaseAlgorithm) -> None:
        wall = wall_before + time.perf_counter() - start
        save_checkpoint(trained, folder / CHECKPOINTS_DIR, wall_seconds=wall)
        prune_checkpoints(folder / CHECKPOINTS_DIR, config.train.keep_checkpoints)

    callbacks = [CheckpointCallback(config.train.checkpoint_every, save)]
    if tick is not None:
        callbacks.append(ProgressCallback(tick, agent.total_timesteps, label=folder.name))
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
    atomic_write_text(folder / DONE_FILE, _json(done))
    model.get_env().close()
    return folder


def _json(data: object) -> str:
    return json.dumps(data, indent=2) + "\n"


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
        for path in segment.glob("*.monitor.csv"):
            # One CSV per copy steps in lockstep; the catalog VecEnv's one CSV holds every copy.
            budget = (timesteps - start) // (1 if path.name.startswith(ALL_COPIES) else n_envs)
            lines = path.read_text().splitlines(keepends=True)
            kept, steps = lines[:2], 0
            for line in lines[2:]:
                steps += int(line.split(",")[1])
                if steps > budget:
                    break
                kept.append(line)
            atomic_write_text(path, "".join(kept))


def _refuse_existing(folder: Path) -> None:
    if (folder / DONE_FILE).exists():
        raise InputError(
            f"run folder {str(folder)!r} holds a finished run (DONE exists); refusing to "
            "overwrite it. Pass --force to delete it and train again, or --continue to skip it"
        )
    if folder.exists():
        raise InputError(
            f"run folder {str(folder)!r} already exists (an unfinished run); continue it with "
            f"`assort train --resume {folder}` (or every unfinished run of the config with "
            "--continue) or pass --force to delete it and start over"
        )
