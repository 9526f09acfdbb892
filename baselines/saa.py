"""Sample-average-approximation LP over first-choice demand scenarios (after Gallego & Kim 2020).

Given K first-choice scenarios d^1..d^K (:mod:`baselines.scenarios`), the SAA LP shares one
stock vector x across K scenario copies of the fluid flow of DESIGN.md 5. In scenario k, z^k_i
is the number of units of i sold and w^k_i the number of customers who visit i and do not buy
it (spill); spill moves on through rho in expectation:

    maximize   (1/K) sum_k sum_i (r_i - s_i) z^k_i  -  sum_i (c_i - s_i) x_i
    subject to z^k_i + w^k_i - sum_j rho_ji w^k_j = d^k_i      (flow balance, all k, i)
               z^k_i - x_i <= 0                                (sales within stock)
               0 <= x_i <= u_i,  z^k, w^k >= 0,

with u_i = max_k sum_j d^k_j (no product sells more than a season's customers) and u_i = 0 for
products outside the offer set (:mod:`baselines.pooled` plans on an assortment). The objective
is the scenario average of profit r.z + s.(x - z) - c.x. The LP has N (2K + 1) variables and
2KN rows, all sparse: A_eq = [0 | I_KN | I_K (x) (I - rho^T)], A_ub = [-1_K (x) I_N | I_KN | 0].
It is solved with HiGHS (``scipy.optimize.linprog``) and x is rounded to whole units.

HiGHS does not scale to the heavy-tail sizes (measured on this machine under load: N = 1,000,
K = 32 did not finish in 100 s; N = 10,000, K = 8 neither in 260 s). For large LPs
(``solver="auto"`` above ``LP_VARIABLE_LIMIT`` variables) the same scenarios are planned by
*flow ascent* (ours): the scenario flow is taken with customer-greedy sales, a product sells
min(inflow, x) and only the excess spills,

    a^k = d^k + rho^T max(a^k - x, 0),   z^k = min(a^k, x),   F(x) = (1/K) sum_k m.z^k - h.x,

(m = r - s, h = c - s), and x climbs the supergradient of F: for product i saturated in
scenario k (a^k_i > x_i) one more unit earns m_i minus the value of the spill it stops,
m_i - (rho v^k)_i, where v^k = m on unsaturated products and v^k = rho v^k on saturated ones
(the adjoint of the fixed point); unsaturated products earn 0. F is the LP objective restricted
to greedy sales, so F(x) <= the LP value at x; without substitution both reduce to the
scenario newsvendor and share its optimum.

Variable order in the builder: x (N), then z^1..z^K (K N), then w^1..w^K (K N).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from baselines.bound import fluid_lp
from baselines.policy import PolicyResult
from baselines.scenarios import first_choice_counts, scenarios_iv
from envs.instance import Instance

ROUNDING_RULES = ("nearest", "floor", "ceil")
LP_METHODS = ("highs", "highs-ipm", "highs-ds")
SCENARIO_KINDS = ("first-choice",)
ROUNDING_TOLERANCE = 1e-6
SOLVERS = ("auto", "lp", "flow-ascent")
LP_VARIABLE_LIMIT = 10_000
FIXED_POINT_TOLERANCE = 1e-9
FIXED_POINT_MAX_STEPS = 10_000


@dataclass(frozen=True)
class SAAProgram:
    """The SAA LP in ``linprog`` form: minimize ``cost @ v`` subject to ``a_eq @ v == b_eq``,
    ``a_ub @ v <= b_ub`` and ``0 <= v <= upper`` (the negated maximization above)."""

    cost: np.ndarray
    a_eq: sp.csr_array
    b_eq: np.ndarray
    a_ub: sp.csr_array
    b_ub: np.ndarray
    upper: np.ndarray
    n_products: int
    n_scenarios: int

    def stock(self, v: np.ndarray) -> np.ndarray:
        """The x block of a solution vector."""
        return v[: self.n_products]

    def sales(self, v: np.ndarray) -> np.ndarray:
        """The z blocks of a solution vector, shape (K, N)."""
        n, k = self.n_products, self.n_scenarios
        return v[n : n + k * n].reshape(k, n)

    def spill(self, v: np.ndarray) -> np.ndarray:
        """The w blocks of a solution vector, shape (K, N)."""
        n, k = self.n_products, self.n_scenarios
        return v[n + k * n :].reshape(k, n)


def demands_iv(demands: object, n_products: int) -> np.ndarray:
    """Validate a (K, N) array of non-negative integral demand counts."""
    arr = np.asarray(demands)
    if arr.ndim != 2 or arr.shape[1] != n_products or arr.shape[0] < 1:
        raise ValueError(
            f"`demands` must have shape (K, {n_products}) with K >= 1, one row per scenario; got {arr.shape}"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or arr.dtype == bool:
        raise TypeError(f"`demands` must hold numbers; got dtype {arr.dtype}")
    bad = np.argwhere(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        k, i = (int(v) for v in bad[0])
        raise ValueError(f"`demands` entry ({k}, {i}) is {float(arr[k, i])!r}; demands must be finite and non-negative")
    return arr.astype(np.float64)


def offered_iv(offered: object, n_products: int) -> np.ndarray:
    """Validate an offer-set mask (``None`` means the whole catalog)."""
    if offered is None:
        return np.ones(n_products, dtype=bool)
    mask = np.asarray(offered)
    if mask.dtype != bool:
        raise TypeError(f"`offered` must be a boolean mask over the products; got dtype {mask.dtype}")
    if mask.shape != (n_products,):
        raise ValueError(f"`offered` must have shape ({n_products},), one entry per product; got {mask.shape}")
    return mask


def saa_program(instance: Instance, demands: object, offered: object = None) -> SAAProgram:
    """Build the SAA LP of the module docstring for scenarios ``demands`` (shape (K, N)).

    Pure: no solver is called, so the matrices can be tested directly.
    """
    n = instance.n_products
    d = demands_iv(demands, n)
    mask = offered_iv(offered, n)
    k = d.shape[0]
    margin = instance.prices - instance.salvage
    holding = instance.costs - instance.salvage
    cost = np.concatenate([holding, np.tile(-margin / k, k), np.zeros(k * n)])
    eye_n = sp.identity(n, format="csr")
    eye_kn = sp.identity(k * n, format="csr")
    flow = (eye_n - instance.substitution_csr.T).tocsr()
    a_eq = sp.hstack(
        [sp.csr_array((k * n, n)), eye_kn, sp.kron(sp.identity(k, format="csr"), flow, format="csr")],
        format="csr",
    )
    a_ub = sp.hstack(
        [-sp.kron(np.ones((k, 1)), eye_n, format="csr"), eye_kn, sp.csr_array((k * n, k * n))],
        format="csr",
    )
    cap = float(d.sum(axis=1).max())
    upper = np.full(n * (2 * k + 1), np.inf)
    upper[:n] = np.where(mask, cap, 0.0)
    return SAAProgram(
        cost=cost, a_eq=sp.csr_array(a_eq), b_eq=d.ravel(), a_ub=sp.csr_array(a_ub),
        b_ub=np.zeros(k * n), upper=upper, n_products=n, n_scenarios=k,
    )


def round_stock(x: np.ndarray, rounding: str) -> np.ndarray:
    """Round a fractional stock vector: ``nearest`` (halves up), ``floor`` or ``ceil``.

    Values within 1e-6 of an integer count as that integer (LP solutions carry round-off).
    """
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"`rounding` must be one of {ROUNDING_RULES}; got {rounding!r}")
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    if rounding == "nearest":
        out = np.floor(x + 0.5)
    elif rounding == "floor":
        out = np.floor(x + ROUNDING_TOLERANCE)
    else:
        out = np.ceil(x - ROUNDING_TOLERANCE)
    return out.astype(np.int64)


@dataclass(frozen=True)
class SAASolution:
    """A solved SAA LP: fractional stock, in-sample objective and the solver's status."""

    stock: np.ndarray
    value: float
    status: int
    message: str
    iterations: int


def solve_saa_program(program: SAAProgram, *, method: str = "highs", time_limit: float | None = None) -> SAASolution:
    """Solve an SAA LP with HiGHS. A failed solve (status != 0 without a solution) is reported in
    ``status``/``message`` with an all-zero stock, never raised."""
    if method not in LP_METHODS:
        raise ValueError(f"`method` must be one of {LP_METHODS}; got {method!r}")
    options: dict[str, object] = {"presolve": True}
    if time_limit is not None:
        if not time_limit > 0:
            raise ValueError(f"`time_limit` must be positive seconds or None; got {time_limit!r}")
        options["time_limit"] = float(time_limit)
    bounds = np.column_stack([np.zeros_like(program.upper), program.upper])
    result = linprog(
        program.cost, A_ub=program.a_ub, b_ub=program.b_ub, A_eq=program.a_eq, b_eq=program.b_eq,
        bounds=bounds, method=method, options=options,
    )
    if result.x is None:
        status, message = int(result.status), str(result.message)
        return SAASolution(np.zeros(program.n_products), float("nan"), status, message, 0)
    return SAASolution(
        stock=program.stock(result.x).copy(), value=float(-result.fun), status=int(result.status),
        message=str(result.message), iterations=int(getattr(result, "nit", 0)),
    )


def scenario_flows(
    rho_t: sp.csr_array, demands: np.ndarray, x: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """Inflows a^k (shape (K, N)) solving a^k = d^k + rho^T max(a^k - x, 0), by monotone iteration
    from ``start`` (default d; a warm start from the previous x's inflows converges as well)."""
    a = demands.copy() if start is None else np.maximum(start, demands)
    scale = max(1.0, float(demands.sum(axis=1).max()))
    for _ in range(FIXED_POINT_MAX_STEPS):
        nxt = demands + (rho_t @ np.maximum(a - x, 0.0).T).T
        if np.abs(nxt - a).max() <= FIXED_POINT_TOLERANCE * scale:
            return nxt
        a = nxt
    return a


def spill_values(rho: sp.csr_array, margin: np.ndarray, saturated: np.ndarray) -> np.ndarray:
    """v^k (shape (K, N)): v = m on unsaturated products, v = rho v on saturated ones, i.e. the
    margin a spilled customer arriving at each product finally earns (0 if she leaves)."""
    v = np.where(saturated, 0.0, margin)
    for _ in range(FIXED_POINT_MAX_STEPS):
        nxt = np.where(saturated, (rho @ v.T).T, margin)
        if np.abs(nxt - v).max() <= FIXED_POINT_TOLERANCE * max(1.0, float(margin.max())):
            return nxt
        v = nxt
    return v


def flow_ascent(
    instance: Instance, demands: np.ndarray, offered: np.ndarray, *, iterations: int = 300,
    step: float = 5.0, time_limit: float | None = None,
) -> SAASolution:
    """Maximize F(x) of the module docstring by projected supergradient ascent on fixed scenarios.

    Start x = the fluid LP sales (:func:`baselines.bound.fluid_lp`) on the offer set (F is not
    concave: from the mean first-choice demand the ascent was measured to stall in a poor region
    on a heavy-tail instance, N = 3,000: in-sample 16,353 against 17,311 from the fluid start);
    the step for product i at iteration t is
    ``step * (1 + sqrt(mean inflow_i)) / sqrt(t + 1)`` times the supergradient divided by m_i;
    x stays in [0, max_k sum d^k] (0 off the offer set). Returns the best iterate seen.
    """
    start = time.perf_counter()
    rho = instance.substitution_csr
    rho_t = rho.T.tocsr()
    margin = np.where(offered, instance.prices - instance.salvage, 0.0)
    holding = instance.costs - instance.salvage
    cap = np.where(offered, float(demands.sum(axis=1).max()), 0.0)
    x = np.minimum(fluid_lp(instance).sales, cap)
    best_x, best_value = x.copy(), -np.inf
    a = None
    done = 0
    for t in range(iterations):
        a = scenario_flows(rho_t, demands, x, a)
        value = float((np.minimum(a, x) @ margin).mean() - holding @ x)
        if value > best_value:
            best_x, best_value = x.copy(), value
        saturated = a > x
        v = spill_values(rho, margin, saturated)
        gain = np.where(saturated, margin - (rho @ v.T).T, 0.0).mean(axis=0) - holding
        scale = (1.0 + np.sqrt(a.mean(axis=0))) / np.maximum(margin, 1e-12)
        x = np.clip(x + step * scale * gain / np.sqrt(t + 1.0), 0.0, cap)
        done = t + 1
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    return SAASolution(best_x, best_value, 0, f"flow ascent: {done} iterations", done)


def saa_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    scenarios: int = 32,
    scenario_kind: Literal["first-choice"] = "first-choice",
    rounding: str = "nearest",
    solver: str = "auto",
    method: str = "highs-ipm",
    iterations: int = 300,
    time_limit: float | None = 60.0,
    offered: object = None,
) -> PolicyResult:
    """Whole-catalog SAA (``offered=None``) or SAA restricted to an offer set.

    Knobs: ``scenarios`` K; ``scenario_kind`` (first-choice counts; preference-walk scenarios are
    not implemented); ``rounding`` of x; ``solver``: ``lp`` (HiGHS ``method``), ``flow-ascent``
    (``iterations`` supergradient steps), or ``auto`` (the LP up to ``LP_VARIABLE_LIMIT``
    variables, flow ascent above); ``time_limit`` seconds for either. ``info`` carries
    ``status`` (0 = solved), ``message``, ``saa_value`` (in-sample value), ``solver``,
    ``scenarios`` and ``lp_variables``.
    """
    start = time.perf_counter()
    k = scenarios_iv(scenarios)
    if scenario_kind not in SCENARIO_KINDS:
        raise ValueError(f"`scenario_kind` must be one of {SCENARIO_KINDS}; got {scenario_kind!r}")
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"`rounding` must be one of {ROUNDING_RULES}; got {rounding!r}")
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}; got {solver!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"`iterations` must be a positive integer; got {iterations!r}")
    n = instance.n_products
    mask = offered_iv(offered, n)
    demands = first_choice_counts(instance, k, rng).astype(np.float64)
    variables = n * (2 * k + 1)
    chosen = solver if solver != "auto" else ("lp" if variables <= LP_VARIABLE_LIMIT else "flow-ascent")
    if chosen == "lp":
        solution = solve_saa_program(saa_program(instance, demands, mask), method=method, time_limit=time_limit)
    else:
        solution = flow_ascent(instance, demands, mask, iterations=int(iterations), time_limit=time_limit)
    stock = np.where(mask, round_stock(solution.stock, rounding), 0)
    return PolicyResult(
        policy="saa",
        stock=stock,
        solve_seconds=time.perf_counter() - start,
        info={
            "status": solution.status,
            "message": solution.message,
            "saa_value": solution.value,
            "solver": chosen,
            "scenarios": k,
            "lp_variables": variables,
        },
    )
