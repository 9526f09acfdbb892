"""Walk scenarios against first-choice scenarios: SAA planned on whole preference walks.

    python -m experiments.walk_study [--quick] [--store DIR]

Three planners on every family (small, medium, mnl, heavy-tail, multistep, pooling-trap; three
held-out instances each), through the leaderboard's own pipeline (the same customers for
every policy, planning seeds independent of them, :mod:`experiments.leaderboard`):

* ``saa``: first-choice scenarios, spill routed through rho in expectation
  (:mod:`baselines.saa`);
* ``walk-saa``: whole walks, non-anticipative prefix-tree LP (:mod:`baselines.walk_saa`);
* ``walk-saa-free``: whole walks, clairvoyant free assignment (``routing="free"``).

The report (``experiments/results/walk_scenarios/``, a leaderboard report) gives each planner's
profit as a percentage of the fluid LP bound and its paired difference to the best, with 95%
intervals; walk-saa's in-sample values and LP sizes are in the stored decisions. ``--quick``:
small and mnl only, one instance, 500 seasons.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from experiments.contenders import heuristic_contender
from experiments.evaluation import Contender
from experiments.leaderboard import run_leaderboard
from experiments.report import write_report
from experiments.store import ResultStore
from experiments.suite import build_suite

RESULTS = Path(__file__).resolve().parent / "results"
FAMILIES = ("small", "medium", "mnl", "heavy-tail", "multistep", "pooling-trap")
INSTANCE_SEEDS = (1_000_000, 1_000_001, 1_000_002)
SEASONS = 1_000
SEED = 20_261_124


def renamed(contender: Contender, name: str) -> Contender:
    """The same heuristic under another row name (and store label)."""
    members = tuple(replace(m, label=name) for m in contender.members)
    return replace(contender, name=name, members=members)


def contenders() -> list[Contender]:
    free = heuristic_contender({"name": "walk-saa", "knobs": {"routing": "free"}})
    return [
        heuristic_contender("saa"),
        heuristic_contender("walk-saa"),
        renamed(free, "walk-saa-free"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small and mnl, one instance")
    parser.add_argument(
        "--store",
        default="results/heuristics-store",
        help="result store (shared with the heuristics leaderboard: same planning seeds, so "
        "walk-saa's decisions are reused)",
    )
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    families = ("small", "mnl") if args.quick else FAMILIES
    seeds = INSTANCE_SEEDS[:1] if args.quick else INSTANCE_SEEDS
    seasons = 500 if args.quick else SEASONS
    store = ResultStore(args.store)
    suite = build_suite(families, seeds, progress=print)
    board = run_leaderboard(
        suite, contenders(), seasons=seasons, seed=SEED, store=store, progress=print
    )
    out = RESULTS / ("walk_scenarios_quick" if args.quick else "walk_scenarios")
    command = "python -m experiments.walk_study" + (" --quick" if args.quick else "")
    write_report(
        board,
        out,
        title="Walk scenarios against first-choice scenarios",
        description=f"Command: {command}. " + __doc__.split("\n\n")[2].replace("\n", " "),
    )
    print((out / "leaderboard.md").read_text())
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
