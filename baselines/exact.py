"""Exact optimum for tiny instances: enumerate stock vectors, evaluate each by the DP.

Each candidate x is evaluated exactly by :func:`envs.exact.exact_expected_profit`. The search
box is 0 <= x_i <= K for every product:

* fixed T customers: K = T. This loses nothing: at most T customers come, so with x_i >= T
  product i never runs out and an extra unit never sells, never changes what anyone buys, and
  costs c_i - s_i >= 0.
* Poisson(T) customers: K = the (1 - ``POISSON_BOX_TAIL``) quantile of Poisson(T); a unit
  beyond it sells with probability below 1e-6 (a truncation, like the DP's own).

Refuses instances whose box holds more than ``max_candidates`` vectors, naming the limit. Ties
go to the first maximizer in lexicographic order, so the result is deterministic.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
from scipy.stats import poisson

from baselines.policy import PolicyResult
from envs.exact import exact_expected_profit
from envs.instance import Instance

MAX_CANDIDATES = 20_000
POISSON_BOX_TAIL = 1e-6


def stock_box(instance: Instance) -> int:
    """K, the largest stock per product that the search considers (module docstring)."""
    if instance.arrivals == "poisson":
        return int(poisson.isf(POISSON_BOX_TAIL, instance.customers))
    return instance.customers


def _exact_iv(instance: Instance, max_candidates: int) -> int:
    if not isinstance(instance, Instance):
        raise TypeError(f"`instance` must be an envs.instance.Instance; got {type(instance).__name__}")
    if isinstance(max_candidates, bool) or not isinstance(max_candidates, int) or max_candidates < 1:
        raise ValueError(f"`max_candidates` must be a positive integer; got {max_candidates!r}")
    box = stock_box(instance)
    count = (box + 1) ** instance.n_products if instance.n_products * math.log10(box + 1) < 18 else math.inf
    if count > max_candidates:
        raise ValueError(
            f"the exact policy would enumerate (K + 1)^N = ({box} + 1)^{instance.n_products} "
            f"= {count:,} stock vectors; it handles at most max_candidates = {max_candidates:,} "
            "(tiny instances only)"
        )
    return box


def exact_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    max_candidates: int = MAX_CANDIDATES,
) -> PolicyResult:
    """The stock vector with the largest exact expected profit (deterministic; ``rng`` unused)."""
    start = time.perf_counter()
    box = _exact_iv(instance, max_candidates)
    best_profit = -math.inf
    best = np.zeros(instance.n_products, dtype=np.int64)
    for candidate in itertools.product(range(box + 1), repeat=instance.n_products):
        profit = exact_expected_profit(instance, np.array(candidate, dtype=np.int64)).profit
        if profit > best_profit:
            best_profit = profit
            best = np.array(candidate, dtype=np.int64)
    info = {"exact_profit": best_profit, "candidates": (box + 1) ** instance.n_products}
    return PolicyResult(policy="exact", stock=best, solve_seconds=time.perf_counter() - start, info=info)
