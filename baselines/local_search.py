"""Simulation local search on a fixed scenario bank: unit moves with common random numbers.

The objective is the mean simulated profit F(x) over a fixed bank of ``seasons`` seasons of the
Markov chain model (:func:`envs.simulate.simulate` under one planning seed drawn from ``rng``;
a non-MC ``shopper`` is ignored, the planner sees the MC model). Every candidate is scored on
the same customers, so F is a deterministic function and a move is kept only if it raises F.

The bank (``seasons=None``, default) holds max(32, ceil(``BANK_CUSTOMERS`` / T)) seasons, at
least 32,768 customers: with 32 seasons of T = 8 customers (256 customers) the search
overfitted its bank and accepted moves that lose in expectation (up to 8.6 % of the exact
optimum on tiny instances in the research phase of issue 11). From T = 1,024 on it is the
former 32 seasons.

Starting from a rounded start of :data:`baselines.gradient.STARTS` (``start``; default the
pooled assortment's expected demand, which is the fluid LP sales where nothing is pruned),
passes visit the products in a random order (from ``rng``); for each product the move +1 is
tried, then -1; an improving move is repeated in the same direction while it keeps improving
(a pass can carry a product many units, not one). When a pass improves nothing, *swap* moves
are tried: one unit from i to j, for every ordered pair with x_i > 0 (all pairs while N <=
``SWAP_ALL_BELOW``, else the substitutes j of i, rho_ij > 0), first improvement; after an
improving swap the unit passes resume. (A +-1 search cannot trade a product for its substitute
one unit at a time when each single step loses: from the newsvendor start it stopped up to 41 %
below the optimum on tiny instances in the research phase.) The search stops when neither
passes nor swaps improve (``stopped="converged"``), after ``max_passes`` passes
(``"iterations"``), after ``max_evaluations`` objective evaluations (``"evaluations"``) or,
only if ``time_limit`` is given, after that many seconds (``"time_limit"``). Without a time
limit the result depends on the seed alone.

Each candidate costs ``seasons`` x T simulated customers, so a full pass costs about
2 N seasons T customers. The default ``max_evaluations`` (:func:`default_evaluations`) is a
budget of ``CUSTOMER_BUDGET`` = 2e9 simulated customers, at least 100 and at most 20,000
evaluations: 625 evaluations at N = 10,000, T = 100,000 with 32 seasons (measured: 312 took
16.7 s on a loaded core, so about 35 s), 6,250 at the heavy-tail family's N = 1,000,
T = 10,000. A strong reference on small and medium instances (it converges), budget-limited and
far from converged on large ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from baselines.fluid import round_stock
from baselines.gradient import STARTS, starting_point
from baselines.policy import PolicyResult
from envs.instance import Instance
from envs.simulate import simulate
from envs.validation import choice_iv, flag_iv, integer_iv, rng_iv, time_limit_iv

CUSTOMER_BUDGET = 2_000_000_000
MIN_EVALUATIONS = 100
MAX_EVALUATIONS = 20_000
MAX_BANK_SEASONS = 4096
MAX_PASSES = 10_000
BANK_CUSTOMERS = 32_768
MIN_BANK_SEASONS = 32
SWAP_ALL_BELOW = 30


def default_seasons(customers: int) -> int:
    """The default bank: max(``MIN_BANK_SEASONS``, ceil(``BANK_CUSTOMERS`` / T)) seasons,
    capped at ``MAX_BANK_SEASONS``."""
    return min(MAX_BANK_SEASONS, max(MIN_BANK_SEASONS, math.ceil(BANK_CUSTOMERS / customers)))


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
    seasons: int | None = None,
    start: str = "pooled",
    max_passes: int = 20,
    max_evaluations: int | None = None,
    swaps: bool = True,
    time_limit: float | None = None,
) -> PolicyResult:
    """First-improvement local search of the module docstring (unit moves, repeated while they
    improve, then swaps when ``swaps``).

    ``info`` carries ``bank_profit`` (F at the result), ``start_profit``, ``evaluations``,
    ``moves``, ``swaps``, ``passes``, ``stopped`` (``"converged"``, ``"iterations"``,
    ``"evaluations"`` or ``"time_limit"``), ``seasons``, ``max_evaluations`` and ``bank_seed``
    (the planning seed of the bank).
    """
    begin = time.perf_counter()
    generator = rng_iv(rng)
    seasons = (
        default_seasons(instance.customers)
        if seasons is None
        else integer_iv("seasons", seasons, low=1, high=MAX_BANK_SEASONS)
    )
    max_passes = integer_iv("max_passes", max_passes, low=1, high=MAX_PASSES)
    choice_iv("start", start, STARTS)
    swaps = flag_iv("swaps", swaps)
    if max_evaluations is None:
        max_evaluations = default_evaluations(seasons, instance.customers)
    max_evaluations = integer_iv("max_evaluations", max_evaluations, low=1, high=MAX_EVALUATIONS)
    time_limit = time_limit_iv(time_limit)
    seed = int(generator.integers(2**62))
    model = replace(instance, shopper=None) if instance.shopper is not None else instance
    objective = bank_objective(model, seasons, seed)
    x = round_stock(starting_point(instance, start), "nearest")
    best = objective(x)
    start_profit = best
    state = {"evaluations": 1, "best": best}
    moves = swapped = passes = 0
    stopped = "iterations"

    def out_of_budget() -> str | None:
        if state["evaluations"] >= max_evaluations:
            return "evaluations"
        if time_limit is not None and time.perf_counter() - begin > time_limit:
            return "time_limit"
        return None

    def try_move(i: int, j: int | None, delta: int) -> bool:
        """Apply x_i += delta (and x_j -= delta for a swap); keep it if F rises."""
        x[i] += delta
        if j is not None:
            x[j] -= delta
        value = objective(x)
        state["evaluations"] += 1
        if value > state["best"]:
            state["best"] = value
            return True
        x[i] -= delta
        if j is not None:
            x[j] += delta
        return False

    rho = instance.substitution_csr
    n = instance.n_products
    while passes < max_passes and stopped == "iterations":
        passes += 1
        improved = False
        for i in generator.permutation(n):
            for delta in (1, -1):
                if x[i] + delta < 0 or out_of_budget():
                    continue
                if try_move(i, None, delta):
                    moves += 1
                    improved = True
                    while x[i] + delta >= 0 and not out_of_budget() and try_move(i, None, delta):
                        moves += 1
                    break
            reason = out_of_budget()
            if reason is not None:
                stopped = reason
                break
        if improved or stopped != "iterations":
            continue
        if not swaps:
            stopped = "converged"
            break
        found = False
        for i in generator.permutation(n):
            if x[i] == 0:
                continue
            targets = (
                [j for j in range(n) if j != i]
                if n <= SWAP_ALL_BELOW
                else rho.indices[rho.indptr[i] : rho.indptr[i + 1]].tolist()
            )
            for j in targets:
                if out_of_budget():
                    break
                if try_move(int(j), int(i), 1):
                    swapped += 1
                    found = True
                    break
            reason = out_of_budget()
            if found or reason is not None:
                stopped = reason or stopped
                break
        if not found and stopped == "iterations":
            stopped = "converged"
    info = {
        "bank_profit": state["best"],
        "start_profit": start_profit,
        "evaluations": state["evaluations"],
        "moves": moves,
        "swaps": swapped,
        "passes": passes,
        "stopped": stopped,
        "seasons": seasons,
        "max_evaluations": max_evaluations,
        "bank_seed": seed,
    }
    return PolicyResult(
        policy="local-search", stock=x, solve_seconds=time.perf_counter() - begin, info=info
    )
