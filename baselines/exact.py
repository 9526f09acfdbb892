"""Exact optimum for tiny instances: enumerate stock vectors, evaluate each by the DP.

Each candidate x is evaluated exactly by :func:`envs.exact.exact_expected_profit`. The search
box is 0 <= x_i <= K for every product:

* fixed T customers: K = T. This loses nothing: at most T customers come, so with x_i >= T
  product i never runs out and an extra unit never sells, never changes what anyone buys, and
  costs c_i - s_i >= 0.
* Poisson(T) customers: K = the (1 - ``POISSON_BOX_TAIL``) quantile of Poisson(T); a unit
  beyond it sells with probability below 1e-6 (a truncation, like the DP's own).

Refuses instances whose box holds more than ``max_candidates`` vectors with
:class:`InstanceTooLargeError` (a ``ValueError``), naming the count and the limit. Ties
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
from envs.validation import InputError, InputTypeError, describe, integer_iv, rng_iv

MAX_CANDIDATES = 20_000
MAX_CANDIDATE_LIMIT = 10_000_000
POISSON_BOX_TAIL = 1e-6
EXACT_DIGITS = 30
SCIENTIFIC_DIGITS = 4_000


class InstanceTooLargeError(InputError):
    """The exact policy refuses an instance whose search box is larger than ``max_candidates``."""


def stock_box(instance: Instance) -> int:
    """K, the largest stock per product that the search considers (module docstring)."""
    if instance.arrivals == "poisson":
        return int(poisson.isf(POISSON_BOX_TAIL, instance.customers))
    return instance.customers


def candidate_count(box: int, n_products: int) -> str:
    """(K + 1)^N written out from Python integers: exact (with thousands separators) below
    ``EXACT_DIGITS`` digits, else the leading digits in scientific form (d.dde+X, truncated);
    beyond ``SCIENTIFIC_DIGITS`` digits only the power of ten, from the logarithm."""
    digits = n_products * math.log10(box + 1)
    if digits < EXACT_DIGITS:
        return f"{(box + 1) ** n_products:,}"
    if digits < SCIENTIFIC_DIGITS:
        text = str((box + 1) ** n_products)
        return f"{text[0]}.{text[1:3]}e+{len(text) - 1}"
    return f"about 10^{digits:,.0f}"


def _exact_iv(instance: Instance, max_candidates: int) -> int:
    if not isinstance(instance, Instance):
        raise InputTypeError(
            f"`instance` must be an envs.instance.Instance; got {describe(instance)}"
        )
    max_candidates = integer_iv("max_candidates", max_candidates, low=1, high=MAX_CANDIDATE_LIMIT)
    box = stock_box(instance)
    too_many = (
        instance.n_products * math.log10(box + 1) > math.log10(max_candidates) + 1
        or (box + 1) ** instance.n_products > max_candidates
    )
    if too_many:
        raise InstanceTooLargeError(
            f"the exact policy would enumerate (K + 1)^N = ({box} + 1)^{instance.n_products} "
            f"= {candidate_count(box, instance.n_products)} stock vectors; it handles at most "
            f"max_candidates = {max_candidates:,} (tiny instances only)"
        )
    return box


def exact_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    max_candidates: int = MAX_CANDIDATES,
) -> PolicyResult:
    """The stock vector with the largest exact expected profit (deterministic; ``rng`` is
    validated, unused)."""
    start = time.perf_counter()
    rng_iv(rng)
    box = _exact_iv(instance, max_candidates)
    best_profit = -math.inf
    best = np.zeros(instance.n_products, dtype=np.int64)
    for candidate in itertools.product(range(box + 1), repeat=instance.n_products):
        profit = exact_expected_profit(instance, np.array(candidate, dtype=np.int64)).profit
        if profit > best_profit:
            best_profit = profit
            best = np.array(candidate, dtype=np.int64)
    info = {"exact_profit": best_profit, "candidates": (box + 1) ** instance.n_products}
    return PolicyResult(
        policy="exact", stock=best, solve_seconds=time.perf_counter() - start, info=info
    )
