"""``assort tune``: search one agent's hyperparameters with Optuna and write the best setting as
a ready experiment file.

    assort tune CONFIG --agent N --trials K [--seed S] [--concurrent-trials B]
                [--validation-instances V] [--validation-seed-start 2000000] [--seasons K]
                [--training-seeds S ...] [--out DIR] [--override key=value ...]
                [--backend serial|ray ...] [--progress auto|bars|lines|none]

Each trial trains agent N (0-based, as listed in the config) with a setting sampled from the
search space of its algorithm (README: Hyperparameter sweeps) on its training environment, then
scores it on validation instances of the training family (seeds from 2,000,000 on: neither
training nor the leaderboard's test instances) as mean profit / fluid LP bound. Trials are
asked from Optuna's TPE sampler (seeded with --seed) B at a time and run on the backend, so the
sampled settings and scores depend only on --seed and B, not on the backend. Writes
``DIR/best.yaml`` (run it with ``assort run DIR/best.yaml``), ``DIR/trials.csv`` and
``DIR/tune.json``; run folders and evaluations are kept in ``DIR/runs`` and ``DIR/store``, so
the same command resumes after an interruption. Needs ``pip install -e ".[tune]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.commands.common import (
    add_backend_arguments,
    add_progress_arguments,
    backend_from_args,
    reporter_from_args,
    task_path,
)
from experiments.config import load_config
from experiments.runs import command_line
from experiments.tune import (
    DEFAULT_CONCURRENT,
    DEFAULT_SEASONS,
    DEFAULT_VALIDATION_INSTANCES,
    VALIDATION_SEED_START,
    tune,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search one agent's hyperparameters (Optuna) and write the best as an experiment file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="experiment YAML file")
    parser.add_argument(
        "--agent", type=int, required=True, metavar="N", help="index of the agent to tune (0-based)"
    )
    parser.add_argument("--trials", type=int, required=True, metavar="K", help="number of trials")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler (default 0)")
    parser.add_argument(
        "--concurrent-trials",
        type=int,
        default=DEFAULT_CONCURRENT,
        metavar="B",
        help=f"trials asked from the sampler at a time, run in parallel on the backend "
        f"(default {DEFAULT_CONCURRENT}); the results depend on it",
    )
    parser.add_argument(
        "--validation-instances",
        type=int,
        default=DEFAULT_VALIDATION_INSTANCES,
        metavar="V",
        help=f"validation instances (default {DEFAULT_VALIDATION_INSTANCES})",
    )
    parser.add_argument(
        "--validation-seed-start",
        type=int,
        default=VALIDATION_SEED_START,
        metavar="SEED",
        help=f"first validation instance seed (default {VALIDATION_SEED_START:_})",
    )
    parser.add_argument(
        "--seasons",
        type=int,
        default=DEFAULT_SEASONS,
        help=f"seasons per validation instance (default {DEFAULT_SEASONS})",
    )
    parser.add_argument(
        "--training-seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="training seeds of every trial (default: the agent's first seed)",
    )
    parser.add_argument(
        "--out", help="folder for best.yaml, trials.csv, tune.json (default: results/<name>-tune)"
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config value by dotted path before validation (repeatable)",
    )
    add_progress_arguments(parser)
    add_backend_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.override)
    reporter = reporter_from_args(args, "[tune] ")
    out = args.out if args.out is not None else str(Path("results") / f"{config.name}-tune")
    out = task_path(args, out, "tune")
    with backend_from_args(args) as backend:
        result = tune(
            config,
            agent_index=args.agent,
            trials=args.trials,
            out=out,
            seed=args.seed,
            concurrent=args.concurrent_trials,
            validation_instances=args.validation_instances,
            validation_seed_start=args.validation_seed_start,
            seasons=args.seasons,
            training_seeds=args.training_seeds,
            command=command_line(),
            backend=backend,
            progress=reporter,
        )
    print(result.written["best.yaml"])
    return 0
