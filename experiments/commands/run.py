"""``assort run``: the main job. Train every agent and seed of a config, then the leaderboard.

    assort run [CONFIG] [--out DIR] [--runs-dir RUNS] [--store STORE] [--override key=value ...]
               [--backend serial|ray [--address ADDR --shared-dir SHARED] [--workers N]]
               [--progress auto|bars|lines|none]

Without CONFIG it runs the embedded default, ``experiments/configs/quickstart.yaml`` (shipped
with the package); without ``--out`` the report goes to ``results/<config name>``.

Each (agent, seed) run goes to ``<train.runs_dir>/<name>/<algo>-seed<S>/``: a finished run
(DONE) is skipped, an unfinished one resumes from its last checkpoint, a missing one is
trained. An existing run folder whose saved config.yaml differs from the config's run in a
setting that changes the model is refused before anything is trained (the message names
the keys, old -> new). The leaderboard of the config (heuristics and these runs) is then
written into ``DIR`` with its result store in ``DIR/store``, so re-running the same command after an
interruption continues where it stopped.

With ``--backend ray`` every training run, suite instance and leaderboard cell is a Ray task of
one CPU: on a local Ray started by the command, or on the cluster at ``--address``, whose
workers write run folders and the store under ``--shared-dir``. The numbers are the same as
with the serial backend. Progress goes to stderr: one bar per phase (training, suite,
evaluation) on a terminal, a plain line every few seconds in a log file or under CI.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from experiments.commands.common import (
    add_backend_arguments,
    add_progress_arguments,
    backend_from_args,
    reporter_from_args,
    store_path,
    with_runs_dir,
)
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
    add_progress_arguments(parser)
    add_common_arguments(parser)
    add_backend_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    config = load_config(args.config, args.override)
    bootstrap_reps = bootstrap_reps_iv(args.bootstrap_reps)
    reporter = reporter_from_args(args, "[run] ")
    config = with_runs_dir(args, config)
    out = Path(args.out) if args.out is not None else Path("results") / config.name
    store = store_path(args, out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "config.yaml", config.to_yaml().encode())
    with backend_from_args(args) as backend:
        if backend.name != "serial":
            reporter(f"{backend.name} backend: {backend.workers} CPUs, one task per CPU")
        train_all(config, progress=reporter, trust=args.trust_runs, backend=backend)
        reporter(f"training finished after {time.perf_counter() - start:.1f} s; evaluating")
        board = write_leaderboard(
            config,
            out,
            store=store,
            runs=None,
            bootstrap_reps=bootstrap_reps,
            trust=args.trust_runs,
            progress=reporter,
            backend=backend,
        )
    reporter(f"done in {time.perf_counter() - start:.1f} s")
    print(out / "leaderboard.md")
    return 1 if not any(board.families.values()) else 0
