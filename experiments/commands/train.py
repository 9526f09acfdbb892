"""``assort train``: train the agents of an experiment config, or resume a killed run.

assort train CONFIG [--seed S] [--override key=value ...] [--runs-dir DIR] [--force]
assort train --resume RUN_DIR
"""

from __future__ import annotations

import argparse
import dataclasses

from envs.validation import InputError
from experiments.config import load_config
from experiments.runs import TRUST_FLAG, command_line
from experiments.train import resume_run, train_experiment


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
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        TRUST_FLAG,
        dest="trust_runs",
        action="store_true",
        help="with --resume: load the checkpoint even if its MANIFEST.json does not vouch for "
        "its pickled files (loading unpickles, which can run code)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    progress = not args.no_progress
    if args.resume is not None:
        if args.config is not None or args.override or args.seed is not None or args.force:
            raise InputError(
                "--resume RUN_DIR takes no CONFIG, --seed, --override or --force: "
                "a run resumes with the config saved in its folder"
            )
        folder = resume_run(
            args.resume, command=command_line(), progress=progress, trust=args.trust_runs
        )
        print(f"finished {folder}")
        return 0
    if args.config is None:
        raise InputError("give a CONFIG file to train, or --resume RUN_DIR")
    config = load_config(args.config, args.override)
    if args.runs_dir is not None:
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, runs_dir=args.runs_dir)
        )
    folders = train_experiment(
        config, seed=args.seed, command=command_line(), force=args.force, progress=progress
    )
    for folder in folders:
        print(f"finished {folder}")
    return 0
