"""The fluid LP upper bound on expected profit (DESIGN.md 5), by fixed point or by HiGHS.

With margins m_i = r_i - c_i, first choices lambda and substitution rho, the fluid LP is

    maximize    sum_i m_i z_i
    subject to  z_i + w_i = T lambda_i + sum_j rho_ji w_j        (i = 1..N)
                z, w >= 0

(z = expected sales, w = expected visits to products that are not bought). Its dual is

    minimize    T sum_j lambda_j g_j
    subject to  g_i >= m_i,  g_i >= sum_j rho_ij g_j,

whose optimum is the least solution of g = max(m, rho g), the value of a single customer who
is sent to product i (Feldman & Topaloglu 2017). A customer who finds *nothing* in stock leaves
(the simulator's rule), so we also let her leave: a column l >= 0 in each row, dual g >= 0. In a
chain with a leak, I - rho is invertible with (I - rho)^-1 >= 0, so every dual-feasible g is
already >= 0 and l changes nothing (:func:`fluid_lp_matrices` then omits it). In a chain
without any leak (every row sums to 1, e.g. MNL without an outside option) it keeps the bound
at 0, instead of T max(m) < 0, when every margin is negative: the bound stays valid for the
policy "stock nothing".

**Fixed point.** Value iteration g <- max(m, rho g) from g_0 = max(m, 0) is monotone
non-decreasing (g_1 >= g_0 because rho g_0 >= 0) and bounded by max(m, 0), so it converges to
the least fixed point. When every row of rho sums to at most beta < 1 the map is a
beta-contraction in the sup norm and |g_k - g| <= beta / (1 - beta) |g_k - g_(k-1)|, which is
the certified stopping rule. Rows summing to 1 (beta = 1) can make value iteration slow
(MNL without outside option contracts like 1 - 1/N), so for beta > ``NEUMANN_BETA`` value
iteration only warms up (``VALUE_ITERATION_WARMUP`` mat-vecs), and in every case it is
finished by policy iteration: for the buy set S = {i : g_i = m_i > 0} solve g_S = m_S,
(I - rho_UU) g_U = rho_US m_S (sparse or dense LU while |U| <= ``DIRECT_LIMIT``; otherwise the
fixed-policy iteration with the same certified rule when beta <= ``NEUMANN_BETA``, BiCGSTAB
when not), improve S to {i : m_i > 0, m_i >= (rho g)_i} (a product switches only when that
gains more than ``IMPROVEMENT_SLACK`` max(m), so round-off in nearly singular solves cannot
make it cycle; a product of the largest margin always stays, as g <= max(m)), and repeat until
S is stable. ``status="optimal"`` then needs the Bellman residual |max(m, rho g, 0) - g| <=
``RESIDUAL_TOLERANCE`` max(m). A valid chain (DESIGN.md 2) makes I - rho_UU invertible
whenever S is not empty. Running out of ``max_iterations`` gives ``status="iteration_limit"``.

**Primal from the dual.** Offering S to T fluid customers is primal feasible and
complementary slack with g: z = T pi_S (zero off S), w_U = T y with
y (I - rho_UU) = lambda_U, w_S = 0 (pi_S = lambda_S + y rho_US; envs.choice). Hence
value = sum_i m_i z_i = T sum_j lambda_j g_j. Products with m_i <= 0 are never in S.

``method="highs"`` solves the LP above with HiGHS (scipy.optimize.linprog, interior point,
sparse matrices from the pure builder :func:`fluid_lp_matrices`). ``method="auto"`` uses the
fixed point, which was faster at every size we measured (heavy-tail family, N = 1,000: 14 ms
against 190 ms for HiGHS' interior point; a leak-free sparse chain with N = 3,000: 17 ms
against 70 s; N = 1,000,000 with 20 substitutes each: about 5 s, where HiGHS does not finish),
and falls back to HiGHS for N <= ``HIGHS_LIMIT`` if the fixed point reports a status other
than ``"optimal"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import linprog

from envs.instance import SUM_TOLERANCE, Instance
from envs.validation import (
    InputTypeError,
    choice_iv,
    describe,
    integer_iv,
    mask_iv,
    real_iv,
    vector_iv,
)

METHODS = ("auto", "fixed-point", "highs")
DIRECT_LIMIT = 2_000
NEUMANN_BETA = 0.99
VALUE_ITERATION_WARMUP = 200
KRYLOV_MAX_ITERATIONS = 1_000
IMPROVEMENT_SLACK = 1e-10
RESIDUAL_TOLERANCE = 1e-9
HIGHS_LIMIT = 20_000
DEFAULT_TOLERANCE = 1e-12
DEFAULT_MAX_ITERATIONS = 10_000
MAX_ITERATIONS = 10_000_000
_HIGHS_STATUS = {
    0: "optimal",
    1: "iteration_limit",
    2: "infeasible",
    3: "unbounded",
    4: "numerical_error",
}

Method = Literal["auto", "fixed-point", "highs"]


@dataclass(frozen=True)
class FluidSolution:
    """The fluid LP optimum.

    ``value`` = sum_i (r_i - c_i) z_i, the upper bound on expected profit; ``sales`` = z,
    ``visits`` = w, ``dual`` = g (the value of a single customer sent to each product),
    ``assortment`` = the buy set S (bool), ``method`` = the method that produced it,
    ``status`` = "optimal" or why not, ``iterations`` = mat-vecs / policy steps used.
    """

    value: float
    sales: np.ndarray
    visits: np.ndarray
    dual: np.ndarray
    assortment: np.ndarray
    method: str
    solve_seconds: float
    status: str
    iterations: int = 0


def _fluid_lp_iv(instance: Instance, method: str, tolerance: float, max_iterations: int) -> None:
    if not isinstance(instance, Instance):
        raise InputTypeError(
            f"`instance` must be an envs.instance.Instance; got {describe(instance)}"
        )
    choice_iv("method", method, METHODS)
    real_iv("tolerance", tolerance, low=0.0, high=1.0, low_open=True, high_open=True)
    integer_iv("max_iterations", max_iterations, low=1, high=MAX_ITERATIONS)


def margins(instance: Instance) -> np.ndarray:
    """m_i = r_i - c_i, the profit of selling one unit of product i."""
    return instance.prices - instance.costs


def has_leak(instance: Instance) -> bool:
    """True when some row of rho sums to less than 1 (so I - rho is invertible for a valid
    chain)."""
    return bool(np.any(instance.leave_probability > SUM_TOLERANCE))


def fluid_lp_matrices(instance: Instance) -> tuple[np.ndarray, sp.csr_array, np.ndarray]:
    """The fluid LP as ``minimize c @ v s.t. A_eq @ v = b_eq, v >= 0`` (pure; no solver).

    Variables v = (z, w) or, for a chain without any leak, (z, w, l) with l the customers who
    leave because nothing is in stock. c = (-m, 0[, 0]), A_eq = [I, I - rho^T[, I]],
    b_eq = T lambda.
    """
    n = instance.n_products
    eye = sp.identity(n, format="csr")
    blocks = [eye, eye - instance.substitution_csr.T.tocsr()]
    if not has_leak(instance):
        blocks.append(eye)
    a_eq = sp.csr_array(sp.hstack(blocks, format="csr"))
    c = np.concatenate([-margins(instance), np.zeros(a_eq.shape[1] - n)])
    return c, a_eq, instance.customers * instance.arrival


def fluid_lp(
    instance: Instance,
    *,
    method: Method = "auto",
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> FluidSolution:
    """Solve the fluid LP of ``instance`` (module docstring) and return a :class:`FluidSolution`.

    ``tolerance`` is the relative accuracy of the dual g for the fixed point (relative to
    max(m, 0)); ``max_iterations`` caps its mat-vecs and policy steps.
    """
    _fluid_lp_iv(instance, method, tolerance, max_iterations)
    start = time.perf_counter()
    if method == "highs":
        solution = _solve_highs(instance)
    else:
        solution = _solve_fixed_point(instance, tolerance, max_iterations)
        if method == "auto" and solution.status != "optimal" and instance.n_products <= HIGHS_LIMIT:
            solution = _solve_highs(instance)
    return replace(solution, solve_seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------------ HiGHS


def _solve_highs(instance: Instance) -> FluidSolution:
    n = instance.n_products
    c, a_eq, b_eq = fluid_lp_matrices(instance)
    result = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs-ipm")
    status = _HIGHS_STATUS.get(result.status, f"highs_status_{result.status}")
    if result.x is None:
        empty = np.full(n, np.nan)
        return FluidSolution(
            value=float("nan"),
            sales=empty,
            visits=empty.copy(),
            dual=empty.copy(),
            assortment=np.zeros(n, bool),
            method="highs",
            solve_seconds=0.0,
            status=status,
        )
    z = np.maximum(result.x[:n], 0.0)
    w = np.maximum(result.x[n : 2 * n], 0.0)
    g = -np.asarray(result.eqlin.marginals, dtype=np.float64)
    m = margins(instance)
    return FluidSolution(
        value=float(-result.fun),
        sales=z,
        visits=w,
        dual=g,
        assortment=(z > 0) & (m > 0),
        method="highs",
        solve_seconds=0.0,
        status=status,
        iterations=int(result.nit),
    )


# ------------------------------------------------------------------------------ fixed point


def _contraction(instance: Instance) -> float:
    """beta = the largest row sum of rho (the sup-norm contraction factor of g -> rho g)."""
    return float(1.0 - instance.leave_probability.min())


def _solve_fixed_point(instance: Instance, tolerance: float, max_iterations: int) -> FluidSolution:
    g, buy, status, used = _dual_fixed_point(instance, margins(instance), tolerance, max_iterations)
    return _pack(instance, g, buy, status, used, tolerance, max(max_iterations - used, 1))


def single_customer_values(
    instance: Instance,
    margins: np.ndarray | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(g, S, status): g = least solution of g = max(m, rho g, 0), S = {i : g_i = m_i > 0}.

    g_i is the expected margin earned from one customer standing at product i when exactly the
    products of S are offered; S maximizes sum_i m_i pi_i(S) (Feldman & Topaloglu 2017).
    ``margins`` defaults to r - c.
    """
    _fluid_lp_iv(instance, "fixed-point", tolerance, max_iterations)
    m = (
        instance.prices - instance.costs
        if margins is None
        else _margins_iv(margins, instance.n_products)
    )
    g, buy, status, _ = _dual_fixed_point(instance, m, tolerance, max_iterations)
    return g, buy, status


def offer_probabilities(
    instance: Instance,
    offered: np.ndarray,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> np.ndarray:
    """pi_S (zero off S) for the boolean mask ``offered``, by LU for small N and by the
    fixed-policy iteration for large sparse N (no dense inverse, no large LU fill-in).

    Raises ``RuntimeError`` if the iteration does not converge within ``max_iterations``.
    """
    _fluid_lp_iv(instance, "fixed-point", tolerance, max_iterations)
    mask = mask_iv("offered", offered, instance.n_products)
    pi, _, ok = _absorption(instance, mask, tolerance, max_iterations)
    if not ok:
        raise RuntimeError(
            f"choice probabilities did not converge within {max_iterations} iterations"
        )
    return pi


def policy_values(
    instance: Instance,
    margins: np.ndarray,
    buy: np.ndarray,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> np.ndarray:
    """g with g_S = m_S on the buy set S = ``buy`` and g_U = (rho g)_U off it: the margin a
    customer standing at each product finally earns when exactly S is offered (the policy
    evaluation step of the fixed point; exact LU for |U| <= ``DIRECT_LIMIT``, otherwise the
    certified fixed-policy iteration or BiCGSTAB). ``tolerance`` is relative to max |m|."""
    _fluid_lp_iv(instance, "fixed-point", tolerance, max_iterations)
    m = _margins_iv(margins, instance.n_products)
    mask = mask_iv("buy", buy, instance.n_products)
    slack = tolerance * max(float(np.abs(m).max()), 1e-300)
    g, _, ok = _evaluate_policy(
        instance.substitution,
        m,
        mask,
        np.zeros(instance.n_products),
        _contraction(instance),
        slack,
        max_iterations,
    )
    if not ok:
        raise RuntimeError(f"policy values did not converge within {max_iterations} iterations")
    return g


def _margins_iv(values: np.ndarray, n: int) -> np.ndarray:
    return vector_iv("margins", values, n, length_of="instance.prices")


def _dual_fixed_point(
    instance: Instance, m: np.ndarray, tolerance: float, max_iterations: int
) -> tuple[np.ndarray, np.ndarray, str, int]:
    """(g, S, status, iterations used): value iteration, then policy iteration (docstring)."""
    rho = instance.substitution
    scale = max(float(m.max()), 0.0)
    n = instance.n_products
    if scale == 0.0:
        # Every margin <= 0: g = 0 solves g = max(m, rho g, 0), S is empty, nothing sells.
        return np.zeros(n), np.zeros(n, bool), "optimal", 0
    beta = _contraction(instance)
    slack = tolerance * scale
    g, used = _value_iteration(rho, m, beta, slack, max_iterations)
    buy = (g <= m) & (m > 0)
    while True:
        g, used_eval, ok = _evaluate_policy(rho, m, buy, g, beta, slack, max_iterations - used)
        used += used_eval + 1
        if not ok or used >= max_iterations:
            return g, buy, "iteration_limit", min(used, max_iterations)
        q = rho @ g
        switch = IMPROVEMENT_SLACK * scale
        improved = np.where(buy, m >= q - switch, m > q + switch) & (m > 0)
        improved |= m == scale  # g <= max(m) always, so a top-margin product is always in S
        if np.array_equal(improved, buy):
            break
        buy = improved
    residual = float(np.abs(np.maximum(m, np.maximum(rho @ g, 0.0)) - g).max())
    status = (
        "optimal" if residual <= max(10 * slack, RESIDUAL_TOLERANCE * scale) else "not_converged"
    )
    return g, buy, status, used


def _value_iteration(
    rho, m: np.ndarray, beta: float, tol: float, budget: int
) -> tuple[np.ndarray, int]:
    """g <- max(m, rho g) from max(m, 0) until certified (beta < 1) or out of mat-vecs."""
    g = np.maximum(m, 0.0)
    factor = beta / (1.0 - beta) if beta < 1.0 else np.inf
    limit = budget if beta <= NEUMANN_BETA else min(budget, VALUE_ITERATION_WARMUP)
    for k in range(1, limit + 1):
        new = np.maximum(m, rho @ g)
        change = float(np.abs(new - g).max())
        g = new
        if factor * change <= tol or change == 0.0:
            return g, k
    return g, limit


def _evaluate_policy(
    rho, m: np.ndarray, buy: np.ndarray, g0: np.ndarray, beta: float, tol: float, budget: int
) -> tuple[np.ndarray, int, bool]:
    """g with g_S = m_S and g_U = (rho g)_U: exact solve for small U, else iteration from g0."""
    keep = ~buy
    g = np.where(buy, m, 0.0)
    if not buy.any():
        return g, 0, True
    u = np.flatnonzero(keep)
    if u.size == 0:
        return g, 0, True
    if u.size <= DIRECT_LIMIT:
        b = _submatrix(rho, u, np.flatnonzero(buy)) @ m[buy]
        g[u] = _solve_transient(_submatrix(rho, u, u), b, transpose=False)
        return g, 1, True
    if beta > NEUMANN_BETA:
        b = _submatrix(rho, u, np.flatnonzero(buy)) @ m[buy]
        g[u], used, ok = _krylov_transient(
            _submatrix(rho, u, u), b, g0[u], tol, budget, transpose=False
        )
        return g, used, ok
    factor = beta / (1.0 - beta)
    g = np.where(buy, m, g0)
    for k in range(1, budget + 1):
        new = np.where(buy, m, rho @ g)
        change = float(np.abs(new - g).max())
        g = new
        if factor * change <= tol or change == 0.0:
            return g, k, True
    return g, budget, False


def _submatrix(rho, rows: np.ndarray, cols: np.ndarray):
    if sp.issparse(rho):
        return sp.csr_array(rho)[rows][:, cols]
    return rho[np.ix_(rows, cols)]


def _solve_transient(a, b: np.ndarray, *, transpose: bool) -> np.ndarray:
    """x with (I - a) x = b, or (I - a)^T x = b, by dense or sparse LU."""
    k = a.shape[0]
    if sp.issparse(a):
        lhs = sp.identity(k, format="csc") - sp.csc_array(a)
        if transpose:
            lhs = lhs.T.tocsc()
        return np.atleast_1d(spla.spsolve(lhs, b))
    lhs = np.eye(k) - a
    return np.linalg.solve(lhs.T if transpose else lhs, b)


def _krylov_transient(
    a, b: np.ndarray, x0: np.ndarray, tol: float, budget: int, *, transpose: bool
) -> tuple[np.ndarray, int, bool]:
    """x with (I - a) x = b (or (I - a)^T x = b) by BiCGSTAB, for large U when the Neumann
    series contracts too slowly (beta > ``NEUMANN_BETA``), falling back to sparse LU when it
    stalls. Converged means the residual is below 10 ``tol`` in the max norm."""
    lhs = sp.identity(a.shape[0], format="csr") - sp.csr_array(a)
    if transpose:
        lhs = lhs.T.tocsr()
    count = [0]

    def note(_: np.ndarray) -> None:
        count[0] += 1

    x, info = spla.bicgstab(
        lhs, b, x0=x0, rtol=0.0, atol=tol, maxiter=min(budget, KRYLOV_MAX_ITERATIONS), callback=note
    )
    residual = float(np.abs(lhs @ x - b).max()) if b.size else 0.0
    if info != 0 or residual > 10 * tol:
        # Nearly singular I - rho_UU (a chain that almost never leaves U) can stall BiCGSTAB;
        # fall back to sparse LU.
        x = np.atleast_1d(spla.spsolve(lhs.tocsc(), b))
        residual = float(np.abs(lhs @ x - b).max())
    return x, count[0] + 1, bool(np.all(np.isfinite(x))) and residual <= 10 * tol


# ------------------------------------------------------------------------------ primal side


def _absorption(
    instance: Instance, buy: np.ndarray, tol: float, budget: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(pi_S, y): y (I - rho_UU) = lambda_U on U, pi_S = lambda_S + y rho_US (zero off S)."""
    lam = instance.arrival
    rho = instance.substitution
    n = instance.n_products
    pi = np.where(buy, lam, 0.0)
    y = np.zeros(n)
    u = np.flatnonzero(~buy)
    if u.size == 0:
        return pi, y, True
    if not buy.any() and not has_leak(instance):
        return (
            pi,
            y,
            True,
        )  # nothing offered and no leak: every customer leaves at once (l = T lambda)
    if u.size <= DIRECT_LIMIT:
        y[u] = _solve_transient(_submatrix(rho, u, u), lam[u], transpose=True)
        pi[buy] += _submatrix(rho, u, np.flatnonzero(buy)).T @ y[u]
        return pi, y, True
    beta = _contraction(instance)
    if beta > NEUMANN_BETA:
        y[u], _, ok = _krylov_transient(
            _submatrix(rho, u, u), lam[u], lam[u], tol * float(lam[u].sum()), budget, transpose=True
        )
        pi[buy] += _submatrix(rho, u, np.flatnonzero(buy)).T @ y[u]
        return pi, y, ok
    factor = beta / (1.0 - beta)
    rho_t = rho.T
    keep = ~buy
    y = np.where(keep, lam, 0.0)
    for _ in range(budget):
        new = np.where(keep, lam + rho_t @ y, 0.0)
        change = float(np.abs(new - y).sum())
        y = new
        if factor * change <= tol * max(float(y.sum()), 1e-300) or change == 0.0:
            break
    else:
        return pi, y, False
    pi = np.where(buy, lam + rho_t @ y, 0.0)
    return pi, y, True


def _pack(
    instance: Instance,
    g: np.ndarray,
    buy: np.ndarray,
    status: str,
    iterations: int,
    tolerance: float,
    budget: int,
) -> FluidSolution:
    pi, y, ok = _absorption(instance, buy, tolerance, budget)
    if not ok and status == "optimal":
        status = "iteration_limit"
    t = instance.customers
    z = t * pi
    w = t * y
    return FluidSolution(
        value=float(margins(instance) @ z),
        sales=z,
        visits=w,
        dual=g,
        assortment=buy,
        method="fixed-point",
        solve_seconds=0.0,
        status=status,
        iterations=iterations,
    )
