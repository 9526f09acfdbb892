"""Exact expected profit of a stock vector by dynamic programming (tiny instances; test oracle).

State: the remaining inventory y (0 <= y <= x componentwise) and the number t of customers
still to come. The offer set is S(y) = {i : y_i > 0}; a customer buys i in S(y) with the
Markov chain choice probability pi_i(S(y)) (:mod:`envs.choice`), which is exactly what the
walk of DESIGN.md 2 does with dynamic substitution. With margin m_i = r_i - s_i,

    V_t(y) = sum_{i in S(y)} pi_i(S(y)) (m_i + V_{t-1}(y - e_i))
             + (1 - sum_{i in S(y)} pi_i(S(y))) V_{t-1}(y),
    V_0(y) = 0,

and the expected profit is V_T(x) + sum_i (s_i - c_i) x_i. The same recursion with the unit
vector e_i in place of m_i gives the expected sales vector E_t(y); the code runs that one and
reports profit = m . E_T(x) + (s - c) . x, which equals V_T(x) by linearity. The variance of
the season profit comes from the second moment of the revenue R still to come,

    W_t(y) = sum_{i in S(y)} pi_i(S(y)) (m_i^2 + 2 m_i V_{t-1}(y - e_i) + W_{t-1}(y - e_i))
             + (1 - sum) W_{t-1}(y),

as Var = W_T(x) - V_T(x)^2 (for Poisson T: the pmf-weighted W and V, then the same formula).

Poisson season lengths: E[.] = sum_t P(T = t) E_t(x), summed for t = 0 .. t_max where t_max is
the smallest count whose upper tail P(T > t_max) is below ``POISSON_TAIL`` (1e-12); that tail
is dropped (not renormalized), so the result is low by at most 1e-12 times the largest
possible sales, sum_i x_i (and the second moment by 1e-12 times the largest squared revenue).

pi is computed once per distinct offer set (at most 2^N of them, cached).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from envs.choice import markov_chain_choice_probabilities
from envs.instance import Instance, stock_iv
from envs.validation import InputError

POISSON_TAIL = 1e-12
MAX_STATES = 200_000
MAX_WORK = 400_000_000


@dataclass(frozen=True)
class ExactResult:
    """Expected season profit, expected sales per product (float64[N]) and profit variance."""

    profit: float
    sales: np.ndarray
    variance: float


def exact_expected_profit(instance: Instance, stock) -> ExactResult:
    """Expected profit, sales and profit variance of ``stock`` by the DP in the module docstring.

    Refuses (:class:`~envs.validation.InputError` naming the limit) when the number of inventory
    states prod_i (x_i + 1) exceeds ``MAX_STATES`` or the work states x customers x N exceeds
    ``MAX_WORK``, and instances whose customers are a non-MC ``shopper``.
    """
    if instance.shopper is not None:
        raise InputError(
            "`instance` has a `shopper` (a non-Markov-chain customer process); "
            "exact_expected_profit handles Markov chain customers only"
        )
    x = stock_iv(stock, instance.n_products)
    n = instance.n_products
    n_states = 1
    for v in x:
        n_states *= int(v) + 1
        if n_states > MAX_STATES:
            break
    if n_states > MAX_STATES:
        raise InputError(
            f"`stock` gives more than {MAX_STATES:,} inventory states (prod_i (x_i + 1)); "
            f"exact_expected_profit handles at most MAX_STATES = {MAX_STATES:,}"
        )
    if instance.arrivals == "poisson":
        t_max = int(poisson.isf(POISSON_TAIL, instance.customers))
        while poisson.sf(t_max, instance.customers) >= POISSON_TAIL:
            t_max += 1
        weights = poisson.pmf(np.arange(t_max + 1), instance.customers)
    else:
        t_max = instance.customers
        weights = np.zeros(t_max + 1)
        weights[-1] = 1.0
    work = n_states * t_max * n
    if work > MAX_WORK:
        raise InputError(
            f"the DP needs {work:,} steps (states {n_states:,} x customers {t_max:,} "
            f"x products {n}); "
            f"exact_expected_profit handles at most MAX_WORK = {MAX_WORK:,}"
        )
    # Mixed-radix index of y: idx = sum_i y_i * stride_i; states enumerated by idx.
    stride = np.ones(n, dtype=np.int64)
    for i in range(n - 2, -1, -1):
        stride[i] = stride[i + 1] * (x[i + 1] + 1)
    index = np.arange(n_states, dtype=np.int64)
    y = (index[:, None] // stride[None, :]) % (x + 1)[None, :]
    offered = y > 0
    probability = np.zeros((n_states, n))
    cache: dict[bytes, np.ndarray] = {}
    for state in range(n_states):
        key = np.packbits(offered[state]).tobytes()
        if key not in cache:
            cache[key] = markov_chain_choice_probabilities(
                instance.arrival, instance.substitution, offered[state]
            )
        probability[state] = cache[key]
    neighbour = np.where(offered, index[:, None] - stride[None, :], index[:, None])
    stay = 1.0 - probability.sum(axis=1)
    margin = instance.prices - instance.salvage
    expected = np.zeros((n_states, n))
    revenue = np.zeros(n_states)
    square = np.zeros(n_states)
    start = n_states - 1
    sales = weights[0] * expected[start]
    first_moment = 0.0
    second_moment = 0.0
    for t in range(1, t_max + 1):
        updated = probability + stay[:, None] * expected
        updated_revenue = stay * revenue
        updated_square = stay * square
        for i in range(n):
            p = probability[:, i]
            after = neighbour[:, i]
            updated += p[:, None] * expected[after]
            updated_revenue += p * (margin[i] + revenue[after])
            updated_square += p * (
                margin[i] ** 2 + 2.0 * margin[i] * revenue[after] + square[after]
            )
        expected, revenue, square = updated, updated_revenue, updated_square
        sales = sales + weights[t] * expected[start]
        first_moment += weights[t] * revenue[start]
        second_moment += weights[t] * square[start]
    profit = float(margin @ sales + (instance.salvage - instance.costs) @ x)
    variance = max(0.0, second_moment - first_moment**2)
    return ExactResult(profit=profit, sales=sales, variance=variance)
