"""``assort leaderboard``: evaluate heuristics and trained runs on a config's benchmark suite.

    assort leaderboard --config CONFIG --out DIR [--runs RUNS] [--store STORE]
                       [--override key=value ...] [--backend serial|ray ...]

Every heuristic in ``evaluation.heuristics`` and every finished run (the config's own runs in
``<train.runs_dir>/<name>/``, or every run folder with a DONE marker under ``--runs``) is
evaluated on ``evaluation.families x evaluation.instance_seeds`` with the same customers. Results
are kept per (policy, instance, seed) in the store (default ``DIR/store``), so a second call
only computes what is new and an interrupted call resumes. A config's own run folder whose
saved config.yaml differs from the config in a training setting is refused (the message names
the keys, old -> new), so a stale run is never reported under the config. Writes the report of
:mod:`experiments.report` into ``DIR``; progress goes to stderr (one bar per phase on a
terminal, a plain line every few seconds otherwise). With ``--backend ray`` every suite instance
and every (policy, instance) cell is a Ray task (see ``assort run --help``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.backends import Backend
from experiments.commands.common import (
    add_backend_arguments,
    add_progress_arguments,
    backend_from_args,
    reporter_from_args,
    store_path,
    task_path,
    with_runs_dir,
)
from experiments.config import ExperimentConfig, load_config
from experiments.leaderboard import Leaderboard, leaderboard_from_config
from experiments.progress import Progress, say
from experiments.report import write_report
from experiments.runs import TRUST_FLAG
from experiments.statistics import DEFAULT_BOOTSTRAP_REPS, MAX_BOOTSTRAP_REPS, bootstrap_reps_iv
from experiments.store import ResultStore


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="evaluate heuristics and trained runs on the same customers and write the leaderboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", required=True, help="experiment YAML file (its evaluation section is the suite)"
    )
    parser.add_argument("--out", required=True, help="folder for the tables, plots and index.html")
    add_common_arguments(parser)
    parser.add_argument(
        "--runs", help="evaluate every finished run under this folder instead of the config's runs"
    )
    add_progress_arguments(parser)
    add_backend_arguments(parser)
    parser.set_defaults(func=run)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``assort run``."""
    parser.add_argument("--store", help="result store folder (default: OUT/store)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config value by dotted path, e.g. evaluation.seasons=500 (repeatable)",
    )
    parser.add_argument(
        "--bootstrap-reps",
        type=int,
        default=DEFAULT_BOOTSTRAP_REPS,
        help=f"bootstrap replicates of the aggregate intervals (default {DEFAULT_BOOTSTRAP_REPS}, "
        f"at most {MAX_BOOTSTRAP_REPS:,})",
    )
    parser.add_argument(
        TRUST_FLAG,
        dest="trust_runs",
        action="store_true",
        help="evaluate run folders even if their MANIFEST.json does not vouch for their pickled "
        "files (loading unpickles model.zip and vecnormalize.pkl, which can run code)",
    )


def write_leaderboard(
    config: ExperimentConfig,
    out: Path,
    *,
    store: str | None,
    runs: str | None,
    bootstrap_reps: int,
    trust: bool = False,
    progress: Progress | None = None,
    backend: Backend | None = None,
) -> Leaderboard:
    """Compute the leaderboard of ``config`` on ``backend`` and write its report into ``out``."""
    board = leaderboard_from_config(
        config,
        store=ResultStore(Path(store) if store else out / "store"),
        runs=runs,
        trust=trust,
        bootstrap_reps=bootstrap_reps,
        progress=progress,
        backend=backend,
    )
    written = write_report(
        board, out, title=f"Leaderboard: {config.name}", description=config.description
    )
    counts = board.counts
    say(
        progress,
        f"{counts.evaluations_computed} evaluations computed, {counts.evaluations_reused} reused "
        f"from the store; report in {out} ({written['index.html'].name}, "
        f"{written['leaderboard.md'].name})",
    )
    return board


def run(args: argparse.Namespace) -> int:
    config = with_runs_dir(args, load_config(args.config, args.override))
    out = Path(args.out)
    bootstrap_reps = bootstrap_reps_iv(args.bootstrap_reps)
    reporter = reporter_from_args(args, "[leaderboard] ")
    with backend_from_args(args) as backend:
        board = write_leaderboard(
            config,
            out,
            store=store_path(args, out),
            runs=task_path(args, args.runs, "runs") if args.runs is not None else None,
            bootstrap_reps=bootstrap_reps,
            trust=args.trust_runs,
            progress=reporter,
            backend=backend,
        )
    print(out / "leaderboard.md")
    return 1 if not any(board.families.values()) else 0
