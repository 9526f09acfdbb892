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
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

from agents.callbacks import CheckpointCallback, ProgressBarCallback
from agents.factory import load_model, make_model
from agents.settings import check_seed
from agents.vec_env import CatalogVecEnv
from envs.validation import InputError
from experiments.config import AgentConfig, EnvConfig, ExperimentConfig
from experiments.progress import Progress
from experiments.progress import say as report
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
    progress: bool = True,
) -> list[Path]:
    """Train every (agent, seed) of ``config`` in turn (only ``seed`` when given); returns the
    run folders. Refuses (InputError) before training anything if a run folder exists and
    ``force`` is false."""
    if seed is not None:
        seed = check_seed(seed, "--seed")
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
    """Train the single run of ``config`` (one agent with one seed, see
    :func:`experiments.runs.run_config`) into a new run folder and return it."""
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
    return _learn(model, config, folder, progress, wall_before=0.0, segment="")


def resume_run(
    folder: str | Path, *, command: str = "", progress: bool = True, trust: bool = False
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
        return _learn(model, config, folder, progress, wall_before=0.0, segment="")
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
        model, config, folder, progress, wall_before=meta.get("wall_seconds", 0.0), segment=segment
    )


def train_all(
    config: ExperimentConfig,
    *,
    progress: bool = True,
    log: Progress | None = None,
    trust: bool = False,
) -> list[Path]:
    """Every (agent, seed) run of ``config``: skip finished, resume unfinished, train missing.
    Existing run folders are checked first (:func:`experiments.runs.check_run_config`:
    ``RunConfigMismatchError`` if one was trained with another config); ``log`` receives one
    line per run; ``trust`` skips the manifest check of a resumed checkpoint."""
    folders = []
    pairs = [(agent, seed) for agent in config.agents for seed in agent.seeds]
    for agent, seed in pairs:
        if run_dir(config, agent, seed).exists():
            check_run_config(run_dir(config, agent, seed), config, agent, seed)
    for index, (agent, seed) in enumerate(pairs, start=1):
        folder = run_dir(config, agent, seed)
        start = time.perf_counter()
        if is_finished(folder):
            report(log, f"[{index}/{len(pairs)}] {folder}: finished earlier (DONE), skipped")
        elif folder.exists():
            report(
                log,
                f"[{index}/{len(pairs)}] {folder}: unfinished, resuming from its last checkpoint",
            )
            resume_run(folder, command=command_line(), progress=progress, trust=trust)
        else:
            report(
                log,
                f"[{index}/{len(pairs)}] {folder}: training {agent.algo} seed {seed} "
                f"for {agent.total_timesteps:,} timesteps",
            )
            train_run(run_config(config, agent, seed), command=command_line(), progress=progress)
        if not is_finished(folder):
            raise RuntimeError(f"training {folder} returned without writing DONE")
        report(log, f"[{index}/{len(pairs)}] {folder}: done ({time.perf_counter() - start:.1f} s)")
        folders.append(folder)
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
    progress: bool,
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
            "overwrite it. Pass --force to delete it and train again"
        )
    if folder.exists():
        raise InputError(
            f"run folder {str(folder)!r} already exists (an unfinished run); continue it with "
            f"`assort train --resume {folder}` or pass --force to delete it and start over"
        )
