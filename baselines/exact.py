"""Exact optimum by one dynamic program over a provably sufficient stock box (small N).

The DP of :mod:`envs.exact` evaluates one stock vector x. But the revenue-to-go V_t(y) of a
state y (remaining inventory, t customers still to come) does not depend on the initial stock,
so a single DP over the box B = {0 <= y <= k} gives the expected profit of *every* x in B at
once (m = r - s, h = c - s):

    V_t(y) = sum_{i in S(y)} pi_i(S(y)) (m_i + V_{t-1}(y - e_i))
             + (1 - sum_{i in S(y)} pi_i(S(y))) V_{t-1}(y),        V_0 = 0,
    profit(x) = V_T(x) - h . x      (Poisson T: sum_t P(T = t) V_t(x) - h . x),

with S(y) = {i : y_i > 0} and pi the Markov chain choice probabilities (:mod:`envs.choice`; one
solve per offer set, 2^N of them). The work is |B| T N, against |B| (|B| T N) for enumerating
the candidates with one DP each. Poisson season lengths are summed up to the count whose upper
tail is below ``envs.exact.POISSON_TAIL`` (1e-12), as in :mod:`envs.exact`.

**Theorem (sufficient box).** Let B_i be the number of customers whose whole preference walk
(the walk she would take if nothing were in stock, DESIGN.md 2) visits i: B_i ~ Binomial(T, p_i)
(Poisson(T p_i) for Poisson arrivals), where p_i = pi_{{i}}(i) is the chance that a walk ever
reaches i. Let q_i = (r_i - c_i) / (r_i - s_i) and k_i = min{y : P(B_i <= y) >= q_i}, the
newsvendor quantile of B_i (k_i = 0 when r_i <= c_i). If s_i <= r_i for every i, some optimal
stock satisfies x_i <= k_i for every i.

*Proof.* Run the seasons with stocks x and x + e_i on the same walks. They coincide until a
customer reaches i when the x-system has no unit of i left, which needs x_i + 1 distinct
customers with i on their walk: B_i >= x_i + 1. From then on the inventories differ by exactly
one unit vector e_j, the richer system holding the extra unit: a customer acts identically in
both unless she reaches j, where the richer system sells j and the poorer one follows the same
walk to its first stocked product l (the extra unit moves to l) or loses her (the difference
ends). The revenue difference telescopes, (m_i - m_j1) + (m_j1 - m_j2) + ..., to m_i - m_l (the
chain ends with an unsold unit of l) or m_i (she leaves); with m >= 0 it is at most m_i. So
R(x + e_i) - R(x) <= m_i 1{B_i >= x_i + 1} pathwise, and profit(x) - profit(x - e_i) <=
m_i P(B_i >= x_i) - h_i <= 0 whenever P(B_i <= x_i - 1) >= q_i. Lowering any x_i > k_i one unit
at a time therefore never lowers the expected profit. []

The box is usually far smaller than [0, T]^N: (4, 5, 4) on the tiny family (T = 8), about
T/2 per product for N = 3, T = 100. :func:`exact_policy` refuses instances whose box has more
than ``max_states`` states (:class:`InstanceTooLargeError`, naming the box and the count); the
DP holds three float64 arrays of that length. Ties go to the first maximizer in C order of the
box, so the result is deterministic.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.stats import binom, poisson

from baselines.policy import PolicyResult
from envs.choice import markov_chain_choice_probabilities
from envs.exact import POISSON_TAIL
from envs.instance import Instance, stock_iv
from envs.validation import InputError, InputTypeError, describe, integer_iv, rng_iv

MAX_STATES = 2_000_000
"""Default largest box (states) :func:`exact_policy` accepts: a few seconds of DP."""
MAX_STATES_LIMIT = 50_000_000
"""The largest ``max_states`` anyone may ask for (three float64 arrays: 1.2 GB)."""
MAX_EXACT_PRODUCTS = 16
"""At most this many products (the DP solves the choice model for all 2^N offer sets)."""
QUANTILE_SLACK = 1e-12


class InstanceTooLargeError(InputError):
    """The exact policy refuses an instance whose box has more than ``max_states`` states."""


def walk_hit_probabilities(instance: Instance) -> np.ndarray:
    """p_i = P(a customer's whole preference walk ever visits i) = pi_{{i}}(i)."""
    n = instance.n_products
    p = np.zeros(n)
    for i in range(n):
        mask = np.zeros(n, dtype=bool)
        mask[i] = True
        p[i] = markov_chain_choice_probabilities(instance.arrival, instance.substitution, mask)[i]
    return np.clip(p, 0.0, 1.0)


def sufficient_box(instance: Instance) -> np.ndarray:
    """k (int64[N]) of the theorem in the module docstring: some optimal stock lies in
    0 <= x <= k. The quantile is taken at q_i + ``QUANTILE_SLACK`` for float safety (a larger
    box is still sufficient)."""
    m = instance.prices - instance.salvage
    spread = np.where(m > 0, m, 1.0)
    q = np.where(m > 0, (instance.prices - instance.costs) / spread, 0.0)
    p = walk_hit_probabilities(instance)
    k = np.zeros(instance.n_products, dtype=np.int64)
    active = (q > 0) & (p > 0)
    level = np.minimum(q[active] + QUANTILE_SLACK, 1.0)
    mean = instance.customers * p[active]
    if instance.arrivals == "poisson":
        quantile = poisson.ppf(np.minimum(level, 1.0 - POISSON_TAIL), mean)
    else:
        quantile = binom.ppf(level, instance.customers, p[active])
    k[active] = np.minimum(np.asarray(quantile, dtype=np.float64), 2**31 - 1).astype(np.int64)
    return k


def box_states(box: np.ndarray) -> int:
    """prod_i (k_i + 1) as a Python integer (no overflow)."""
    return math.prod(int(v) + 1 for v in box)


@njit(cache=True)
def _dp_sweep(values, patterns, prob, stay, margin, stride, steps, weights, out):
    """``steps`` DP steps in place (``values`` holds V_0 = 0); out += weights[t] V_t."""
    n_states = values.shape[0]
    n = margin.shape[0]
    new = np.empty_like(values)
    for t in range(1, steps + 1):
        for s in range(n_states):
            pat = patterns[s]
            acc = stay[pat] * values[s]
            for i in range(n):
                pi = prob[pat, i]
                if pi > 0.0:
                    acc += pi * (margin[i] + values[s - stride[i]])
            new[s] = acc
        values[:] = new
        w = weights[t]
        if w != 0.0:
            for s in range(n_states):
                out[s] += w * values[s]


@njit(cache=True)
def _state_facts(shape, stride, holding, patterns, cost):
    """Per state (mixed-radix index): the bit pattern of stocked products and h . y."""
    n = shape.shape[0]
    for s in range(patterns.shape[0]):
        pat = 0
        c = 0.0
        for i in range(n):
            digit = (s // stride[i]) % shape[i]
            if digit > 0:
                pat |= 1 << i
            c += digit * holding[i]
        patterns[s] = pat
        cost[s] = c


@dataclass(frozen=True)
class AllStocks:
    """The expected profit of every stock in ``box`` (an array of shape k + 1), its maximum
    and the first maximizer in C order."""

    box: np.ndarray
    profit: np.ndarray
    best_stock: np.ndarray
    best_profit: float
    seconds: float

    def profit_of(self, stock: np.ndarray) -> float:
        """The exact expected profit of a stock inside the box; outside it, the profit of the
        stock clipped to the box is an upper bound only if the box is sufficient for every
        coordinate, so this refuses (use :func:`envs.exact.exact_expected_profit`)."""
        x = np.asarray(stock, dtype=np.int64)
        if x.shape != self.box.shape or np.any(x < 0) or np.any(x > self.box):
            raise InputError(
                f"`stock` {x.tolist()} lies outside the box 0..{self.box.tolist()}; evaluate it "
                "with envs.exact.exact_expected_profit"
            )
        return float(self.profit[tuple(x)])


def _exact_iv(instance: Instance, max_states: int) -> tuple[int, np.ndarray]:
    if not isinstance(instance, Instance):
        raise InputTypeError(
            f"`instance` must be an envs.instance.Instance; got {describe(instance)}"
        )
    max_states = integer_iv("max_states", max_states, low=1, high=MAX_STATES_LIMIT)
    if instance.shopper is not None:
        raise InputError(
            "`instance` has a `shopper` (a non-Markov-chain customer process); the exact DP "
            "handles Markov chain customers only"
        )
    if instance.n_products > MAX_EXACT_PRODUCTS:
        raise InstanceTooLargeError(
            f"the exact DP handles at most {MAX_EXACT_PRODUCTS} products (it solves the choice "
            f"model for all 2^N offer sets); the instance has N = {instance.n_products:,}"
        )
    if np.any(instance.salvage > instance.prices):
        raise InputError(
            "the exact DP's box needs salvage <= price for every product; product "
            f"{int(np.argmax(instance.salvage > instance.prices))} has salvage above its price"
        )
    return max_states, sufficient_box(instance)


def exact_all_stocks(
    instance: Instance, *, box: np.ndarray | None = None, max_states: int = MAX_STATES
) -> AllStocks:
    """The expected profit of every stock in ``box`` (default :func:`sufficient_box`) by one DP
    (module docstring), and the optimum over the box. Refuses a box of more than
    ``max_states`` states with :class:`InstanceTooLargeError`."""
    start = time.perf_counter()
    max_states, proven = _exact_iv(instance, max_states)
    k = proven if box is None else stock_iv(box, instance.n_products, "box")
    states = box_states(k)
    if states > max_states:
        raise InstanceTooLargeError(
            f"the exact DP's stock box 0..{k.tolist()} has {states:,} states; it handles at "
            f"most max_states = {max_states:,}"
        )
    n = instance.n_products
    shape = np.asarray(k + 1, dtype=np.int64)
    stride = np.ones(n, dtype=np.int64)
    for i in range(n - 2, -1, -1):
        stride[i] = stride[i + 1] * shape[i + 1]
    holding = instance.costs - instance.salvage
    patterns = np.empty(states, dtype=np.int64)
    cost = np.empty(states)
    _state_facts(shape, stride, holding, patterns, cost)
    prob = np.zeros((1 << n, n))
    for pattern in range(1, 1 << n):
        mask = np.array([(pattern >> i) & 1 for i in range(n)], dtype=bool)
        prob[pattern] = markov_chain_choice_probabilities(
            instance.arrival, instance.substitution, mask
        )
    stay = 1.0 - prob.sum(axis=1)
    if instance.arrivals == "poisson":
        t_max = int(poisson.isf(POISSON_TAIL, instance.customers))
        while poisson.sf(t_max, instance.customers) >= POISSON_TAIL:
            t_max += 1
        weights = poisson.pmf(np.arange(t_max + 1), instance.customers)
    else:
        t_max = instance.customers
        weights = np.zeros(t_max + 1)
        weights[-1] = 1.0
    values = np.zeros(states)
    out = np.zeros(states)
    margin = instance.prices - instance.salvage
    _dp_sweep(values, patterns, prob, stay, margin, stride, t_max, weights, out)
    profit = out - cost
    best = int(np.argmax(profit))
    return AllStocks(
        box=k,
        profit=profit.reshape(tuple(int(v) for v in shape)),
        best_stock=np.array(np.unravel_index(best, tuple(int(v) for v in shape)), dtype=np.int64),
        best_profit=float(profit[best]),
        seconds=time.perf_counter() - start,
    )


def exact_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    max_states: int = MAX_STATES,
) -> PolicyResult:
    """The stock vector with the largest exact expected profit (deterministic; ``rng`` is
    validated, unused). ``info`` carries ``exact_profit``, ``box`` and ``states``."""
    start = time.perf_counter()
    rng_iv(rng)
    solution = exact_all_stocks(instance, max_states=max_states)
    info = {
        "exact_profit": solution.best_profit,
        "box": [int(v) for v in solution.box],
        "states": int(solution.profit.size),
    }
    return PolicyResult(
        policy="exact",
        stock=solution.best_stock,
        solve_seconds=time.perf_counter() - start,
        info=info,
    )
