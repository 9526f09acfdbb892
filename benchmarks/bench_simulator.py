"""Customer arrivals per second of the season simulator vs the plain-Python reference.

Usage::

    python benchmarks/bench_simulator.py            # full grid, writes
                                                    # benchmarks/results_simulator.md
    python benchmarks/bench_simulator.py --quick     # smaller grid and budgets (a minute or so)
    python benchmarks/bench_simulator.py --processes # ground-truth processes vs the MC kernel,
                                                    # writes benchmarks/results_processes.md

Grid: N in {10, 100, 1,000, 10,000, 100,000} x T in {1,000, 10,000, 100,000, 1,000,000}
(``--quick``: N in {10, 1,000, 100,000} x T in {1,000, 100,000}). Everything is measured in
one run, in one process:

* the numba simulator through the public :func:`envs.simulate.evaluate` (streamed seasons, the
  path experiments use) with ``numba.set_num_threads(1)`` and then 2, on about ``--budget``
  customers (whole seasons, at least 4 of them); numba compile time is excluded by a warm-up
  call; the median of ``--repeats`` timings is reported;
* the plain-Python reference :func:`envs.reference.simulate_season_reference` on about
  ``--reference-budget`` customers: whole seasons when T is small enough, otherwise the first
  ``--reference-budget`` customers of one season (a prefix, marked with * in the table; a prefix
  sees fewer stock-outs than a whole season, so its walks are shorter and the reference looks
  faster: the ratio is then conservative);
* ratio = 1-thread numba rate / reference rate.

Ground-truth processes (``--processes``; written to ``benchmarks/results_processes.md``, so a
rerun on a loaded machine leaves the main grid's file alone): for each process family of
:mod:`envs.families` (``market``, ``popularity``, ``fashion``, ``households``, ``segments``,
``drift``; instance seed 0, N and T overridden) at (N, T) in ``PROCESS_GRID``, the process's
kernel (``instance.shopper``) against the Markov chain kernel on the same instance's fitted
chain (the instance without its shopper), one thread, the two timed alternately (process, MC,
process, MC, ...) so that load from other jobs hits both alike; best of ``--repeats`` timings
of :func:`envs.simulate.evaluate` on about ``--budget`` nominal customers each, stock
x_i = floor(0.9 T lambda_i). Rates count *nominal* customers, T per season, for both kernels:
the kernels count arrivals differently (the shock kernel does not simulate visitors who buy
nothing, and counts households), so seasons per second times T is the comparable unit.

Synthetic instances (:func:`bench_instance`, seeded): first-choice probabilities with a heavy
tail, lambda_i proportional to (i + 1)^-0.7 (in a random order) and summing to 0.85; dense
substitution for N <= 1,000 (rho_ij proportional to U(0, 1) lambda_j), sparse beyond (20
distinct random substitutes per row, weights proportional to their lambda_j); every row of rho
sums to 0.6 (a 40 % chance to leave at each stock-out). Stock x_i = round(0.9 T lambda_i), so
popular products stock out during the season and customers really walk. Prices 2, costs 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.families import make_family_instance  # noqa: E402
from envs.instance import Instance, make_instance  # noqa: E402
from envs.reference import ReferenceSimulator  # noqa: E402
from envs.simulate import evaluate  # noqa: E402
from envs.tables import ChoiceTables  # noqa: E402

DENSE_UP_TO = 1_000
SUBSTITUTES = 20
ROW_SUM = 0.6
ARRIVAL_SUM = 0.85
TAIL_EXPONENT = 0.7


def bench_instance(n: int, customers: int, seed: int = 0) -> tuple[Instance, np.ndarray]:
    """The benchmark instance of size ``n`` and its stock x_i = round(0.9 T lambda_i)."""
    rng = np.random.default_rng(seed)
    weights = rng.permutation((np.arange(n) + 1.0) ** -TAIL_EXPONENT)
    arrival = ARRIVAL_SUM * weights / weights.sum()
    if n == 1:
        rho: np.ndarray | sp.csr_array = np.zeros((1, 1))
    elif n <= DENSE_UP_TO:
        dense = rng.random((n, n)) * arrival[None, :]
        np.fill_diagonal(dense, 0.0)
        rho = dense * (ROW_SUM / dense.sum(axis=1, keepdims=True))
    else:
        k = min(SUBSTITUTES, n - 1)
        # k distinct offsets in [1, n) per row: sorted random draws, then de-duplicated by a shift.
        offsets = np.sort(rng.integers(1, n - k, (n, k)), axis=1) + np.arange(k)[None, :]
        rows = np.repeat(np.arange(n), k)
        cols = (rows + offsets.ravel()) % n
        values = arrival[cols]
        row_sums = np.bincount(rows, weights=values, minlength=n)
        rho = sp.csr_array((values * (ROW_SUM / row_sums[rows]), (rows, cols)), shape=(n, n))
    inst = make_instance(
        name=f"bench-{n}",
        prices=np.full(n, 2.0),
        costs=np.ones(n),
        arrival=arrival,
        substitution=rho,
        customers=customers,
    )
    return inst, np.round(0.9 * customers * arrival).astype(np.int64)


def time_numba(
    inst: Instance, stock: np.ndarray, threads: int, seasons: int, repeats: int
) -> tuple[float, float]:
    """(median wall-clock rate, median CPU-time rate) in customers per second."""
    numba.set_num_threads(threads)
    evaluate(inst, stock, 2, seed=1)  # warm-up: compiled code loaded, tables cached
    walls, cpus = [], []
    for r in range(repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = evaluate(inst, stock, seasons, seed=100 + r)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        customers = result.mean_customers * result.seasons
        walls.append(customers / wall)
        cpus.append(customers / cpu)
    return statistics.median(walls), statistics.median(cpus)


def time_reference(
    inst: Instance, stock: np.ndarray, budget: int, repeats: int
) -> tuple[float, bool]:
    """(median rate in customers per second, whether a season prefix was used)."""
    reference = ReferenceSimulator(
        inst, ChoiceTables.for_instance(inst)
    )  # lists built once, untimed
    prefix = inst.customers > budget
    seasons = 1 if prefix else max(1, budget // inst.customers)
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        customers = 0
        for k in range(seasons):
            season = reference.season(stock, 100 + r, k, max_customers=budget)
            customers += season.customers
        rates.append(customers / (time.perf_counter() - start))
    return statistics.median(rates), prefix


PROCESS_FAMILIES = ("market", "popularity", "fashion", "households", "segments", "drift")
PROCESS_GRID = ((20, 500), (200, 10_000), (1_000, 100_000))


def time_alternately(
    instances: tuple[Instance, Instance], stock: np.ndarray, seasons: int, repeats: int
) -> tuple[float, float]:
    """Best-of-``repeats`` nominal rates (seasons x T per second) of two instances, timed
    alternately on one thread."""
    numba.set_num_threads(1)
    for inst in instances:
        evaluate(inst, stock, 2, seed=1)  # warm-up
    best = [0.0, 0.0]
    for r in range(repeats):
        for j, inst in enumerate(instances):
            start = time.perf_counter()
            evaluate(inst, stock, seasons, seed=100 + r)
            best[j] = max(best[j], seasons * inst.customers / (time.perf_counter() - start))
    return best[0], best[1]


def process_section(repeats: int, budget: int, out: Path) -> None:
    """The ground-truth process table of the module docstring, written to ``out``."""
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    rows = [
        "| N | T | process | seasons | process kernel M/s | MC kernel (fitted chain) M/s | ratio |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for n, t in PROCESS_GRID:
        for family in PROCESS_FAMILIES:
            inst = make_family_instance(family, 0, n_products=n, customers=t)
            mc = dataclasses.replace(inst, shopper=None)
            stock = np.floor(0.9 * t * inst.arrival).astype(np.int64)
            seasons = max(4, budget // t)
            process, chain = time_alternately((inst, mc), stock, seasons, repeats)
            row = (
                f"| {n:,} | {t:,} | {family} | {seasons:,} | {process / 1e6:.1f} "
                f"| {chain / 1e6:.1f} | {process / chain:.2f} |"
            )
            rows.append(row)
            print(row, flush=True)
    load_after = os.getloadavg()
    text = "\n".join(
        [
            "# Ground-truth processes against the Markov chain kernel",
            "",
            f"Generated by `python benchmarks/bench_simulator.py --processes` on "
            f"{started:%Y-%m-%d %H:%M} UTC (best of {repeats} timings, ~{budget:,} nominal "
            "customers each, one thread, the two kernels alternating). Method: see the script's "
            "docstring.",
            "",
            *machine_info(),
            f"* Load average (1, 5, 15 min) before: {load_before[0]:.2f}, {load_before[1]:.2f}, "
            f"{load_before[2]:.2f}; after: {load_after[0]:.2f}, {load_after[1]:.2f}, "
            f"{load_after[2]:.2f}. The machine is shared: absolute rates fall with the load; "
            "the ratio of two kernels timed alternately in the same run is the number to read.",
            "",
            *rows,
            "",
            "M/s = million nominal customers (T per season) per second. MC kernel = "
            "envs.simulate's kernel on the same instance's fitted chain (its shopper removed). "
            "ratio = process kernel / MC kernel.",
            "",
        ]
    )
    out.write_text(text)
    print(f"wrote {out}")


def machine_info() -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"* CPU: {cpu}, {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
        f"* Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
        f"(threading layer {numba.threading_layer()})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller grid and budgets")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timings per cell (median reported)"
    )
    parser.add_argument("--budget", type=int, default=None, help="customers per numba timing")
    parser.add_argument(
        "--reference-budget", type=int, default=None, help="customers per reference timing"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results_simulator.md")
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="only the ground-truth processes against the MC kernel (results_processes.md)",
    )
    args = parser.parse_args(argv)
    if args.processes:
        process_section(
            args.repeats or 5,
            args.budget or 2_000_000,
            args.out.with_name("results_processes.md")
            if args.out.name == "results_simulator.md"
            else args.out,
        )
        return 0
    sizes = [10, 1_000, 100_000] if args.quick else [10, 100, 1_000, 10_000, 100_000]
    lengths = [1_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    repeats = args.repeats or (2 if args.quick else 3)
    budget = args.budget or (1_000_000 if args.quick else 4_000_000)
    reference_budget = args.reference_budget or (20_000 if args.quick else 100_000)
    threads_available = numba.config.NUMBA_NUM_THREADS

    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    header = (
        "| N | T | substitution | seasons | 1-thread M/s | 1-thread M/s (CPU time) | 2-thread M/s "
        "| reference M/s | ratio | tables ms |"
    )
    rows = [header, "|" + "---|" * 10]
    for n in sizes:
        for t in lengths:
            inst, stock = bench_instance(n, t)
            density = "dense" if n <= DENSE_UP_TO else f"sparse, {SUBSTITUTES}/row"
            seasons = max(4, budget // t)
            one_wall, one_cpu = time_numba(inst, stock, 1, seasons, repeats)
            two_wall = (
                time_numba(inst, stock, 2, seasons, repeats)[0]
                if threads_available >= 2
                else float("nan")
            )
            reference, prefix = time_reference(inst, stock, reference_budget, repeats)
            build = time.perf_counter()
            ChoiceTables.from_instance(inst)
            build = time.perf_counter() - build
            mark = "*" if prefix else ""
            row = (
                f"| {n:,} | {t:,} | {density} | {seasons:,} | {one_wall / 1e6:.1f} "
                f"| {one_cpu / 1e6:.1f} | {two_wall / 1e6:.1f} | {reference / 1e6:.3f}{mark} "
                f"| {one_wall / reference:.0f} | {build * 1e3:.0f} |"
            )
            rows.append(row)
            print(row, flush=True)
    load_after = os.getloadavg()
    numba.set_num_threads(threads_available)
    text = "\n".join(
        [
            "# Simulator throughput (customer arrivals per second)",
            "",
            f"Generated by `python benchmarks/bench_simulator.py"
            f"{' --quick' if args.quick else ''}` on {started:%Y-%m-%d %H:%M} UTC "
            f"(repeats {repeats}, numba budget ~{budget:,} customers per timing, "
            f"reference budget ~{reference_budget:,}). Instances, stock and method: "
            "see the script's docstring.",
            "",
            *machine_info(),
            f"* Load average (1, 5, 15 min) before: {load_before[0]:.2f}, {load_before[1]:.2f}, "
            f"{load_before[2]:.2f}; after: {load_after[0]:.2f}, {load_after[1]:.2f}, "
            f"{load_after[2]:.2f}. "
            "The machine is shared: other jobs may hold one or both cores during the run, "
            "which lowers the wall-clock rates (the 2-thread column most). The CPU-time column "
            "divides by the process's CPU time instead, so it is not lowered by time-slicing "
            "(still by cache sharing).",
            "",
            *rows,
            "",
            "M/s = million customer arrivals per second (every arriving customer counts, "
            "including those who buy nothing). * = reference timed on a prefix of one season "
            "(see the docstring). ratio = 1-thread wall-clock rate / reference rate. "
            "tables ms = time to build the instance's sampling tables "
            "(ChoiceTables.from_instance, after warm-up; not part of the rates).",
            "",
        ]
    )
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
