"""Sample-path stochastic gradient (after Mahajan & van Ryzin 2001).

Stochastic gradient ascent on a continuous relaxation y in R_+^N of the stock vector. At each
iteration the stock x = floor(y + u) (u uniform per product: randomized rounding, which makes
the expected profit continuous in y) is simulated on ``seasons`` fresh planning seasons of the
Markov chain model (the planner's model; a non-MC ``shopper`` is ignored), and the sample-path
value of one more unit of each product is estimated from the same customers:

* product i never ran out, or nobody wanted it after it ran out: the extra unit is left over,
  G_i = 0;
* otherwise the *first* customer whose walk passed i after i ran out (her "displaced" purchase
  j, or leaving) would have bought the extra unit: G_i = m_i - m_j + G_j (m = r - s; the unit of
  j she no longer takes is itself one more unit of j), or G_i = m_i if she left. A customer who
  finds the whole store empty leaves at once, but her walk is still followed (up to
  ``EMPTY_WALK_CAP`` steps) and every run-out product on it counts her as its first late visitor:
  one more unit of any of them would have sold to her. (The former code credited her first
  choice only, which under-valued the last unit whenever a season sold out: in the research
  phase of issue 11, on tiny instances with T = 8, the policy under-stocked by up to half and
  lost 10.8 % of the exact optimum on average, 50 % at worst on MNL without outside option.)

G is computed by ``cascade_depth`` rounds of that recursion starting from G = 0 (a freed unit
that is followed no further counts as left over); it ignores that the freed unit of j appears
mid-season rather than at the start, so it is Mahajan & van Ryzin's derivative up to this
timing approximation, not their exact sample-path derivative. The gradient estimate is
mean_seasons G_i - (c_i - s_i); y_i moves by ``step * (1 + sqrt(y_i)) / sqrt(t + 1)`` times the
gradient over m_i, is projected on [0, T], and the result is the rounded average of the
iterates of the second half.

Where the forward difference is taken (``evaluate_at``): with randomized rounding
x = floor(y + u), the derivative of E[profit(floor(y + u))] in y_i is the forward difference
profit(x + e_i) - profit(x) at x_i = floor(y_i) (the other coordinates randomized). Simulating
x = floor(y + u) for all coordinates at once evaluates it at floor(y_i) + 1 a share frac(y_i)
of the time, the next forward difference, which is smaller where profit is concave in x_i: the
step is biased downward. ``"floor"`` (default) simulates x = floor(y), where every coordinate's
forward difference is the one the ascent needs (it gives up the smoothing of the other
coordinates); ``"randomized"`` is the former rule. Measured against the exact optimum
(``python -m experiments.exact_gaps``, README): over all 39 instances the floor averages a
1.78 % gap (median 0.04 %, 47 % of plans optimal), the randomized point 1.94 % (median 0.33 %,
34 % optimal); the floor is better at T = 8 and slightly worse at N 4-6, T 40-200 (0.40 %
against 0.31 % on average).

Start (``start``, shared with :mod:`baselines.local_search`, :func:`starting_point`): the fluid
LP sales (``"fluid"``), the independent newsvendor (``"newsvendor"``) or the expected demand
T pi_S of the pooled assortment S of :mod:`baselines.pooled` (``"pooled"``, default). On a
catalog whose fluid solution offers a long tail that is better pooled into head products, the
step schedule (a total travel of about step (1 + sqrt(y)) 2 sqrt(iterations) units) cannot carry
the heads from the fluid sales up to the pooled demand: on the research prototype of the
pooling-trap family at T = 30,000 the fluid start lost 23 % of the bound, the pooled start
1.1 %. Where nothing is pruned the pooled start is the fluid start.

Stopping is deterministic: ``iterations`` steps (no wall-clock limit unless ``time_limit`` is
given); ``info["stopped"]`` is ``"iterations"`` or ``"time_limit"`` and ``info["planning_seed"]``
is the seed the planning seasons were derived from.

Planning seasons use the counter-based draws of :mod:`envs.streams` under seeds derived from
``rng.integers(2**62)`` with inverse-CDF sampling of their own (the planner's simulator, not
the evaluation kernel), so the customers planned on are independent of the evaluation seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from baselines.fluid import ROUNDING_RULES, round_stock
from baselines.newsvendor import newsvendor_policy
from baselines.policy import PolicyResult
from baselines.pooled import pooled_assortment
from envs.fluid_lp import fluid_lp, offer_probabilities
from envs.instance import Instance
from envs.streams import customer_key, draw, season_key, to_uniform
from envs.validation import choice_iv, integer_iv, real_iv, rng_iv, time_limit_iv

STARTS = ("pooled", "fluid", "newsvendor")
EVALUATION_POINTS = ("floor", "randomized")
EMPTY_WALK_CAP = 4096
MAX_ITERATIONS = 100_000
MAX_SEASONS = 4096
MAX_CASCADE_DEPTH = 64
MAX_STEP = 1e6
WALK_BUFFER = 64


@njit(parallel=True, cache=True)
def _displacement_paths(stock, seed, counts, first_cdf, indptr, indices, row_cdf, sales, displaced):
    """Simulate seasons of Markov chain customers (inverse-CDF draws from the counter-based
    streams of envs.streams) and record, per season k and product i, what the first customer who
    reached i after it ran out bought instead (-1: nobody reached it; N: she left)."""
    n = stock.shape[0]
    for k in prange(sales.shape[0]):
        skey = season_key(seed, k)
        remaining = stock.copy()
        pending = np.zeros(n, dtype=np.bool_)
        in_stock = 0
        for i in range(n):
            displaced[k, i] = -1
            if remaining[i] > 0:
                in_stock += 1
            else:
                pending[i] = True
        buffer = np.empty(WALK_BUFFER, dtype=np.int64)
        for t in range(counts[k]):
            ckey = customer_key(skey, t)
            first = np.searchsorted(first_cdf, to_uniform(draw(ckey, 0)), side="right")
            if first >= n:
                continue
            if in_stock == 0:
                # She leaves at once, but one more unit of any run-out product on her walk
                # would have sold to her: each of them records her as its first late visitor.
                i = first
                step = 1
                while i < n and step <= EMPTY_WALK_CAP:
                    if pending[i]:
                        displaced[k, i] = n
                        pending[i] = False
                    u = to_uniform(draw(ckey, step))
                    nxt = n
                    for e in range(indptr[i], indptr[i + 1]):
                        if u < row_cdf[e]:
                            nxt = indices[e]
                            break
                    i = nxt
                    step += 1
                continue
            i = first
            step = 1
            seen = 0
            while i < n and remaining[i] == 0:
                if pending[i] and seen < WALK_BUFFER:
                    buffer[seen] = i
                    seen += 1
                    pending[i] = False
                u = to_uniform(draw(ckey, step))
                nxt = n
                for e in range(indptr[i], indptr[i + 1]):
                    if u < row_cdf[e]:
                        nxt = indices[e]
                        break
                i = nxt
                step += 1
            for b in range(seen):
                displaced[k, buffer[b]] = i
            if i == n:
                continue
            remaining[i] -= 1
            sales[k, i] += 1
            if remaining[i] == 0:
                in_stock -= 1
                pending[i] = True


@dataclass(frozen=True)
class WalkTables:
    """Inverse-CDF tables of the Markov chain: cumulative first-choice probabilities (last entry
    = no purchase) and, per row of rho in CSR order, cumulative substitution probabilities."""

    first_cdf: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    row_cdf: np.ndarray

    @classmethod
    def from_instance(cls, instance: Instance) -> WalkTables:
        first = np.append(instance.arrival, instance.no_purchase_probability)
        first_cdf = np.cumsum(first / first.sum())
        first_cdf[-1] = 1.0
        rho = instance.substitution_csr
        row_cdf = rho.data.copy()
        for i in range(rho.shape[0]):
            lo, hi = rho.indptr[i], rho.indptr[i + 1]
            row_cdf[lo:hi] = np.cumsum(row_cdf[lo:hi])
        return cls(first_cdf, rho.indptr.astype(np.int64), rho.indices.astype(np.int64), row_cdf)


def displacement_table(
    instance: Instance,
    stock: np.ndarray,
    seasons: int,
    seed: int,
    tables: WalkTables,
    generator: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(sales, displaced), both int64 (seasons, N), for ``stock`` on planning seed ``seed``
    (Poisson season lengths, when the instance has them, come from ``generator``)."""
    n = instance.n_products
    if instance.arrivals == "poisson":
        counts = generator.poisson(instance.customers, size=seasons).astype(np.int64)
    else:
        counts = np.full(seasons, instance.customers, dtype=np.int64)
    sales = np.zeros((seasons, n), dtype=np.int64)
    displaced = np.zeros((seasons, n), dtype=np.int64)
    _displacement_paths(
        np.asarray(stock, dtype=np.int64),
        np.uint64(seed),
        counts,
        tables.first_cdf,
        tables.indptr,
        tables.indices,
        tables.row_cdf,
        sales,
        displaced,
    )
    return sales, displaced


def unit_values(margin: np.ndarray, displaced: np.ndarray, depth: int) -> np.ndarray:
    """G (seasons, N): the value of one more unit, by ``depth`` rounds of the recursion
    G_i = m_i - m_j + G_j (j = displaced purchase), G_i = m_i (she left), G_i = 0 (no one)."""
    n = margin.shape[0]
    reached = displaced >= 0
    bought = reached & (displaced < n)
    j = np.where(bought, displaced, 0)
    g = np.zeros(displaced.shape)
    for _ in range(depth):
        freed = np.take_along_axis(g, j, axis=1)
        g = np.where(reached, margin - np.where(bought, margin[j] - freed, 0.0), 0.0)
    return g


def starting_point(instance: Instance, start: str) -> np.ndarray:
    """The fractional starting stock of :data:`STARTS` (module docstring), clipped to [0, T]."""
    choice_iv("start", start, STARTS)
    if start == "fluid":
        y = fluid_lp(instance).sales
    elif start == "newsvendor":
        y = newsvendor_policy(instance).stock.astype(np.float64)
    else:
        offered, _ = pooled_assortment(instance)
        y = (
            instance.customers * offer_probabilities(instance, offered)
            if offered.any()
            else np.zeros(instance.n_products)
        )
    return np.clip(np.asarray(y, dtype=np.float64), 0.0, float(instance.customers))


def sample_path_gradient_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    iterations: int = 200,
    seasons: int = 4,
    step: float = 1.0,
    cascade_depth: int = 3,
    start: str = "pooled",
    evaluate_at: str = "floor",
    rounding: str = "nearest",
    time_limit: float | None = None,
) -> PolicyResult:
    """Sample-path gradient ascent of the module docstring.

    Knobs: ``iterations``; ``seasons`` simulated per iteration; ``step`` scale; ``cascade_depth``;
    ``start`` (``pooled``, ``fluid`` or ``newsvendor``); ``evaluate_at`` (``floor`` or
    ``randomized``: where the forward differences are simulated); ``rounding`` of the averaged
    iterate; ``time_limit``
    seconds (None: no limit; stops early, ``info["iterations"]`` says how many ran).
    """
    begin = time.perf_counter()
    generator = rng_iv(rng)
    iterations = integer_iv("iterations", iterations, low=1, high=MAX_ITERATIONS)
    seasons = integer_iv("seasons", seasons, low=1, high=MAX_SEASONS)
    cascade_depth = integer_iv("cascade_depth", cascade_depth, low=1, high=MAX_CASCADE_DEPTH)
    step = real_iv("step", step, low=0.0, high=MAX_STEP, low_open=True)
    choice_iv("start", start, STARTS)
    choice_iv("evaluate_at", evaluate_at, EVALUATION_POINTS)
    choice_iv("rounding", rounding, ROUNDING_RULES)
    time_limit = time_limit_iv(time_limit)
    seed = int(generator.integers(2**62))
    tables = WalkTables.from_instance(instance)
    margin = instance.prices - instance.salvage
    holding = instance.costs - instance.salvage
    cap = float(instance.customers)
    y = starting_point(instance, start)
    total = np.zeros_like(y)
    averaged = 0
    done = 0
    stopped = "iterations"
    for t in range(iterations):
        jitter = generator.random(y.shape[0])
        x = np.floor(y if evaluate_at == "floor" else y + jitter).astype(np.int64)
        _, displaced = displacement_table(
            instance, x, seasons, _iteration_seed(seed, t), tables, generator
        )
        gradient = unit_values(margin, displaced, cascade_depth).mean(axis=0) - holding
        y = np.clip(
            y + step * (1.0 + np.sqrt(y)) * gradient / np.maximum(margin, 1e-12) / np.sqrt(t + 1.0),
            0.0,
            cap,
        )
        done = t + 1
        if t >= iterations // 2:
            total += y
            averaged += 1
        if (
            time_limit is not None
            and done < iterations
            and time.perf_counter() - begin > time_limit
        ):
            stopped = "time_limit"
            break
    final = total / averaged if averaged else y
    stock = round_stock(final, rounding)
    info = {
        "iterations": done,
        "seasons_per_iteration": seasons,
        "averaged_iterates": max(averaged, 1),
        "stopped": stopped,
        "planning_seed": seed,
    }
    return PolicyResult(
        policy="sample-path-gradient",
        stock=stock,
        solve_seconds=time.perf_counter() - begin,
        info=info,
    )


def _iteration_seed(seed: int, iteration: int) -> int:
    """A distinct planning seed per iteration (fresh customers at every step)."""
    return int((seed + 0x9E3779B97F4A7C15 * (iteration + 1)) % 2**63)
