"""``assort run``: the main job. Train every agent and seed of a config, then the leaderboard.

    assort run [CONFIG] [--out DIR] [--runs-dir RUNS] [--store STORE] [--override key=value ...]

Without CONFIG it runs the embedded default, ``experiments/configs/quickstart.yaml`` (shipped
with the package); without ``--out`` the report goes to ``results/<config name>``.

Each (agent, seed) run goes to ``<train.runs_dir>/<name>/<algo>-seed<S>/``: a finished run
(DONE) is skipped, an unfinished one resumes from its last checkpoint, a missing one is
trained. An existing run folder whose saved config.yaml differs from the config's run in a
setting that changes the model is refused before anything is trained (the message names
the keys, old -> new). The leaderboard of the config (heuristics and these runs) is then
written into ``DIR`` with its result store in ``DIR/store``, so re-running the same command after an
interruption continues where it stopped. Progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from experiments.commands.leaderboard import add_common_arguments, write_leaderboard
from experiments.config import load_config
from experiments.statistics import bootstrap_reps_iv
from experiments.store import atomic_write_bytes
from experiments.train import train_all

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"
"""The embedded default experiment: the README's main job."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="train every agent and seed of a config (resuming), then write its leaderboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "config",
        nargs="?",
        default=str(DEFAULT_CONFIG),
        help="experiment YAML file (default: the embedded quickstart.yaml)",
    )
    parser.add_argument(
        "--out", help="folder for the leaderboard report (default: results/<config name>)"
    )
    parser.add_argument("--runs-dir", help="folder for run folders (default: train.runs_dir)")
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the training progress bars"
    )
    add_common_arguments(parser)
    parser.set_defaults(func=run)


def say(message: str) -> None:
    """A progress line on stderr."""
    print(f"[run] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    config = load_config(args.config, args.override)
    bootstrap_reps = bootstrap_reps_iv(args.bootstrap_reps)
    if args.runs_dir is not None:
        train = dataclasses.replace(config.train, runs_dir=args.runs_dir)
        config = dataclasses.replace(config, train=train)
    out = Path(args.out) if args.out is not None else Path("results") / config.name
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "config.yaml", config.to_yaml().encode())
    train_all(config, progress=not args.no_progress, log=say, trust=args.trust_runs)
    say(f"training finished after {time.perf_counter() - start:.1f} s; evaluating")
    board = write_leaderboard(
        config,
        out,
        store=args.store,
        runs=None,
        bootstrap_reps=bootstrap_reps,
        trust=args.trust_runs,
    )
    say(f"done in {time.perf_counter() - start:.1f} s")
    print(out / "leaderboard.md")
    return 1 if not any(board.families.values()) else 0
