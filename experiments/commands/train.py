"""``assort train``: train the agents of an experiment config, or resume a killed run.

    assort train CONFIG [--seed S] [--override key=value ...] [--runs-dir DIR]
                 [--force | --continue]
                 [--backend serial|ray [--address ADDR --shared-dir SHARED] [--workers N]]
    assort train --resume RUN_DIR

An existing run folder is refused unless --force (delete it, train again) or --continue (skip
a finished run, resume an unfinished one from its last checkpoint, as ``assort run`` does) is
given. Every (agent, seed) run is one task of the backend: with ``--backend ray`` one Ray task
of one CPU each (a local Ray started by the command, or the cluster at ``--address``, whose
workers write the run folders under ``--shared-dir``). ``--resume`` continues one run in this
process. Progress goes to stderr: a bar over the timesteps of every run on a terminal, a plain
line every few seconds otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from envs.validation import InputError
from experiments.commands.common import (
    add_backend_arguments,
    add_progress_arguments,
    backend_from_args,
    reporter_from_args,
    with_runs_dir,
)
from experiments.config import load_config
from experiments.progress import Reporter, phase
from experiments.runs import CONFIG_FILE, TRUST_FLAG, command_line, is_finished, load_run_config
from experiments.train import done_timesteps, resume_run, train_experiment


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the learned agents of an experiment config (one run per agent and seed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?", help="experiment YAML file")
    parser.add_argument("--seed", type=int, help="train only this seed (for every agent)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config value by dotted path before validation, e.g. "
        "agents.0.total_timesteps=5000 or agents.*.n_envs=2 (repeatable)",
    )
    parser.add_argument("--runs-dir", help="folder for run folders (default: train.runs_dir)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run")
    parser.add_argument(
        "--force", action="store_true", help="delete existing run folders and train again"
    )
    parser.add_argument(
        "--continue",
        dest="resume_existing",
        action="store_true",
        help="skip finished runs and resume unfinished ones from their last checkpoint",
    )
    add_progress_arguments(parser)
    parser.add_argument(
        TRUST_FLAG,
        dest="trust_runs",
        action="store_true",
        help="with --resume: load the checkpoint even if its MANIFEST.json does not vouch for "
        "its pickled files (loading unpickles, which can run code)",
    )
    add_backend_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    reporter = reporter_from_args(args, "[train] ")
    if args.resume is not None:
        given = (args.config, args.seed)
        if any(v is not None for v in given) or args.override or args.force or args.resume_existing:
            raise InputError(
                "--resume RUN_DIR takes no CONFIG, --seed, --override, --force or --continue: "
                "a run resumes with the config saved in its folder"
            )
        if args.backend != "serial" or args.shared_dir is not None:
            raise InputError("--resume continues one run in this process; it takes no --backend")
        folder = resume(args.resume, reporter, args.trust_runs)
        print(f"finished {folder}")
        return 0
    if args.config is None:
        raise InputError("give a CONFIG file to train, or --resume RUN_DIR")
    config = with_runs_dir(args, load_config(args.config, args.override))
    with backend_from_args(args) as backend:
        folders = train_experiment(
            config,
            seed=args.seed,
            command=command_line(),
            force=args.force,
            resume=args.resume_existing,
            progress=reporter,
            backend=backend,
        )
    for folder in folders:
        print(f"finished {folder}")
    return 0


def resume(folder: str, reporter: Reporter, trust: bool) -> Path:
    """``resume_run`` under a training phase of one run."""
    path = Path(folder)
    total = initial = 0
    if (path / CONFIG_FILE).is_file() and not is_finished(path):
        total = load_run_config(path).agents[0].total_timesteps
        initial = done_timesteps(path, total)
    with phase(
        reporter, "training", total, "timesteps", tasks=1, task_unit="runs", initial=initial
    ) as bar:
        finished = resume_run(path, command=command_line(), tick=bar.tick, trust=trust)
        bar.task_done()
    return finished
