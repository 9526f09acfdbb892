"""Simulation local search on a fixed scenario bank: +-1 unit moves with common random numbers.

The objective is the mean simulated profit F(x) over a fixed bank of ``seasons`` seasons of the
Markov chain model (:func:`envs.simulate.simulate` under one planning seed drawn from ``rng``;
a non-MC ``shopper`` is ignored, the planner sees the MC model). Every candidate is scored on
the same customers, so F is a deterministic function and a move is kept only if it raises F.

Starting from the rounded fluid LP sales (``start="fluid"``) or the independent newsvendor
(``start="newsvendor"``), passes visit the products in a random order (from ``rng``); for each
product the move +1 is tried, then -1, and the first improving move is kept (first
improvement). The search stops after a pass without improvement, after ``max_passes`` passes or
when ``time_limit`` seconds have run. Each candidate costs ``seasons`` x T simulated customers,
so a full pass costs about 2 N seasons T customers: a strong reference on small and medium
instances, time-limited (and far from converged) on large ones.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from baselines.fluid import fluid_policy
from baselines.newsvendor import newsvendor_policy
from baselines.policy import PolicyResult
from envs.instance import Instance
from envs.simulate import simulate

STARTS = ("fluid", "newsvendor")


def bank_objective(instance: Instance, seasons: int, seed: int):
    """F(x): mean profit of ``x`` over seasons 0..seasons-1 of planning seed ``seed``."""

    def objective(stock: np.ndarray) -> float:
        return float(simulate(instance, stock, seasons, seed).profit.mean())

    return objective


def local_search_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    seasons: int = 32,
    start: str = "fluid",
    max_passes: int = 20,
    time_limit: float | None = 60.0,
) -> PolicyResult:
    """First-improvement +-1 local search of the module docstring.

    ``info`` carries ``bank_profit`` (F at the result), ``start_profit``, ``evaluations``,
    ``moves``, ``passes`` and ``stopped`` (``"local optimum"``, ``"max_passes"`` or ``"time_limit"``).
    """
    begin = time.perf_counter()
    for label, value in (("seasons", seasons), ("max_passes", max_passes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{label}` must be a positive integer; got {value!r}")
    if start not in STARTS:
        raise ValueError(f"`start` must be one of {STARTS}; got {start!r}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"`time_limit` must be positive seconds or None; got {time_limit!r}")
    generator = np.random.default_rng(rng)
    seed = int(generator.integers(2**62))
    model = replace(instance, shopper=None) if instance.shopper is not None else instance
    objective = bank_objective(model, int(seasons), seed)
    x = (fluid_policy(instance) if start == "fluid" else newsvendor_policy(instance)).stock.astype(np.int64)
    best = objective(x)
    start_profit = best
    evaluations, moves, passes = 1, 0, 0
    stopped = "max_passes"
    out_of_time = False
    while passes < max_passes and not out_of_time:
        passes += 1
        improved = False
        for i in generator.permutation(instance.n_products):
            for delta in (1, -1):
                if x[i] + delta < 0:
                    continue
                x[i] += delta
                value = objective(x)
                evaluations += 1
                if value > best:
                    best = value
                    moves += 1
                    improved = True
                    break
                x[i] -= delta
            if time_limit is not None and time.perf_counter() - begin > time_limit:
                out_of_time = True
                stopped = "time_limit"
                break
        if not improved and not out_of_time:
            stopped = "local optimum"
            break
    info = {
        "bank_profit": best, "start_profit": start_profit, "evaluations": evaluations,
        "moves": moves, "passes": passes, "stopped": stopped, "seasons": int(seasons),
    }
    return PolicyResult(policy="local-search", stock=x, solve_seconds=time.perf_counter() - begin, info=info)
