"""Simulation local search on a fixed scenario bank: +-1 unit moves with common random numbers.

The objective is the mean simulated profit F(x) over a fixed bank of ``seasons`` seasons of the
Markov chain model (:func:`envs.simulate.simulate` under one planning seed drawn from ``rng``;
a non-MC ``shopper`` is ignored, the planner sees the MC model). Every candidate is scored on
the same customers, so F is a deterministic function and a move is kept only if it raises F.

Starting from the rounded fluid LP sales (``start="fluid"``) or the independent newsvendor
(``start="newsvendor"``), passes visit the products in a random order (from ``rng``); for each
product the move +1 is tried, then -1, and the first improving move is kept (first
improvement). The search stops after a pass without improvement (``stopped="converged"``),
after ``max_passes`` passes (``"iterations"``), after ``max_evaluations`` objective evaluations
(``"evaluations"``) or, only if ``time_limit`` is given, after that many seconds
(``"time_limit"``). Without a time limit the result depends on the seed alone.

Each candidate costs ``seasons`` x T simulated customers, so a full pass costs about
2 N seasons T customers. The default ``max_evaluations`` (:func:`default_evaluations`) is a
budget of ``CUSTOMER_BUDGET`` = 2e9 simulated customers, at least 100 and at most 20,000
evaluations: 625 evaluations at N = 10,000, T = 100,000 with 32 seasons (measured: 312 took
16.7 s on a loaded core, so about 35 s), 6,250 at the heavy-tail family's N = 1,000,
T = 10,000 (the old 60 s time limit allowed about 5,000 there). A strong reference on small
and medium instances (it converges), budget-limited and far from converged on large ones.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from baselines.fluid import fluid_policy
from baselines.gradient import STARTS
from baselines.newsvendor import newsvendor_policy
from baselines.policy import PolicyResult
from envs.instance import Instance
from envs.simulate import simulate
from envs.validation import choice_iv, integer_iv, rng_iv, time_limit_iv

CUSTOMER_BUDGET = 2_000_000_000
MIN_EVALUATIONS = 100
MAX_EVALUATIONS = 20_000
MAX_BANK_SEASONS = 4096
MAX_PASSES = 10_000


def default_evaluations(seasons: int, customers: int) -> int:
    """min(``MAX_EVALUATIONS``, max(``MIN_EVALUATIONS``, ``CUSTOMER_BUDGET`` // (seasons T)))."""
    return min(
        MAX_EVALUATIONS, max(MIN_EVALUATIONS, CUSTOMER_BUDGET // max(seasons * customers, 1))
    )


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
    max_evaluations: int | None = None,
    time_limit: float | None = None,
) -> PolicyResult:
    """First-improvement +-1 local search of the module docstring.

    ``info`` carries ``bank_profit`` (F at the result), ``start_profit``, ``evaluations``,
    ``moves``, ``passes``, ``stopped`` (``"converged"``, ``"iterations"``, ``"evaluations"`` or
    ``"time_limit"``), ``max_evaluations`` and ``bank_seed`` (the planning seed of the bank).
    """
    begin = time.perf_counter()
    generator = rng_iv(rng)
    seasons = integer_iv("seasons", seasons, low=1, high=MAX_BANK_SEASONS)
    max_passes = integer_iv("max_passes", max_passes, low=1, high=MAX_PASSES)
    choice_iv("start", start, STARTS)
    if max_evaluations is None:
        max_evaluations = default_evaluations(seasons, instance.customers)
    max_evaluations = integer_iv("max_evaluations", max_evaluations, low=1, high=MAX_EVALUATIONS)
    time_limit = time_limit_iv(time_limit)
    seed = int(generator.integers(2**62))
    model = replace(instance, shopper=None) if instance.shopper is not None else instance
    objective = bank_objective(model, seasons, seed)
    x = (fluid_policy(instance) if start == "fluid" else newsvendor_policy(instance)).stock.astype(
        np.int64
    )
    best = objective(x)
    start_profit = best
    evaluations, moves, passes = 1, 0, 0
    stopped = "iterations"
    while passes < max_passes and stopped == "iterations":
        passes += 1
        improved = False
        for i in generator.permutation(instance.n_products):
            for delta in (1, -1):
                if x[i] + delta < 0 or evaluations >= max_evaluations:
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
            if evaluations >= max_evaluations:
                stopped = "evaluations"
                break
            if time_limit is not None and time.perf_counter() - begin > time_limit:
                stopped = "time_limit"
                break
        if not improved and stopped == "iterations":
            stopped = "converged"
    info = {
        "bank_profit": best,
        "start_profit": start_profit,
        "evaluations": evaluations,
        "moves": moves,
        "passes": passes,
        "stopped": stopped,
        "seasons": seasons,
        "max_evaluations": max_evaluations,
        "bank_seed": seed,
    }
    return PolicyResult(
        policy="local-search", stock=x, solve_seconds=time.perf_counter() - begin, info=info
    )
