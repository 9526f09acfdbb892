"""Sample-average-approximation LP over first-choice demand scenarios (after Gallego & Kim 2020).

Given K first-choice scenarios d^1..d^K (:mod:`baselines.scenarios`), the SAA LP shares one
stock vector x across K scenario copies of the fluid flow of DESIGN.md 5. In scenario k, z^k_i
is the number of units of i sold, w^k_i the number of customers who visit i and do not buy it
(spill; it moves on through rho in expectation) and l^k_i the customers who leave at i because
nothing is in stock:

    maximize   (1/K) sum_k sum_i (r_i - s_i) z^k_i  -  sum_i (c_i - s_i) x_i
    subject to z^k_i + w^k_i + l^k_i - sum_j rho_ji w^k_j = d^k_i  (flow balance, all k, i)
               z^k_i - x_i <= 0                                  (sales within stock)
               0 <= x_i <= u_i,  z^k, w^k, l^k >= 0,

with u_i = max_k sum_j d^k_j (no product sells more than a season's customers) and u_i = 0 for
products outside the offer set (:mod:`baselines.pooled` plans on an assortment). The objective
is the scenario average of profit r.z + s.(x - z) - c.x. The leave column l exists only for a
chain without any leak (every row of rho sums to 1, e.g. MNL without outside option): when some
row leaks, I - rho is invertible with a non-negative inverse and l is redundant (its dual
constraint g >= 0 follows from g >= rho g); without a leak, summing the flow equations would
force sum_i z^k_i = sum_i d^k_i and make every customer buy, so the LP would stock every
scenario's whole demand even at a loss (a defect of the former builder, issue 11: MNL with
v = (1, 1), v_0 = 0, margins -0.2 and -0.5 stocked 8 units and lost 1.6 where stocking nothing
earns 0). The LP has N (2K + 1) variables (N (3K + 1) with the leave column) and 2KN rows, all
sparse: A_eq = [0 | I_KN | I_K (x) (I - rho^T) [| I_KN]], A_ub = [-1_K (x) I_N | I_KN | 0].
It is solved with HiGHS (``scipy.optimize.linprog``), which also returns the duals mu^k of the
capacity rows (:mod:`baselines.scenario_bound` certifies its upper bound with them).

**Scenario count.** ``scenarios=None`` (default) takes K = :func:`auto_scenarios`: as many
scenarios as keep the LP within ``LP_VARIABLE_LIMIT`` variables, at least ``MIN_AUTO_SCENARIOS``
= 32 and at most ``MAX_AUTO_SCENARIOS`` = 256 (K = 256 for N <= 19, 49 at N = 100, 32 from
N = 157 on, where the flow ascent below takes over). With a fixed K = 32 a tiny instance
(T = 8) changed its stock with the planning seed and lost up to 18.7 % of the exact optimum
(research phase of issue 11).

**Rounding.** ``rounding="in-sample"`` (default) rounds x by the SAA's own objective: when at
most ``ENUMERATE_FRACTIONAL`` = 4 coordinates of x are fractional, every floor/ceil combination
is scored by the in-sample objective with x fixed (the LP with its x block fixed, or the flow
ascent's F below) and the best is kept; otherwise (large catalogs, where one unit matters
little) each coordinate is rounded to the nearest unit. ``"nearest"``, ``"floor"`` and
``"ceil"`` round every coordinate (:func:`baselines.fluid.round_stock`).

HiGHS does not scale to the heavy-tail sizes (measured on this machine under load: N = 1,000,
K = 32 did not finish in 100 s; N = 10,000, K = 8 neither in 260 s). For large LPs
(``solver="auto"`` above ``LP_VARIABLE_LIMIT`` variables) the same scenarios are planned by
*flow ascent* (ours): the scenario flow is taken with customer-greedy sales, a product sells
min(inflow, x) and only the excess spills,

    a^k = d^k + rho^T max(a^k - x, 0),   z^k = min(a^k, x),   F(x) = (1/K) sum_k m.z^k - h.x,

(m = r - s, h = c - s), and x climbs the supergradient of F: for product i saturated in
scenario k (a^k_i > x_i) one more unit earns m_i minus the value of the spill it stops,
m_i - (rho v^k)_i, where v^k_j is what one more customer arriving at j finally earns: m_j where
j is stocked and not saturated (0 < x_j, a^k_j <= x_j) and (rho v^k)_j where she passes on
(a^k_j > x_j, or x_j = 0: an unstocked product sells her nothing); unsaturated products earn
0. (Products reached by spill from a saturated product have positive inflow, so an unstocked
one is already saturated there and the x_j = 0 rule changes only v itself, not the step.) F is
the LP objective restricted to greedy sales, so F(x) <= the LP value at x; without substitution
both reduce to the scenario newsvendor and share its optimum.

Only first-choice scenarios are used here: spill is routed through rho in expectation. The
whole-walk variant is :mod:`baselines.walk_saa` (a worse planner; see its docstring).

Stopping is deterministic by default (``time_limit=None``): the flow ascent runs at most
``iterations`` steps (default ``MAX_ITERATIONS`` = 300 at every N) and stops earlier when it
has converged: a step leaves x unchanged, or (from step 2 ``PATIENCE`` = 100 on) the best
in-sample value F has risen by less than ``CONVERGENCE_TOLERANCE`` = 1e-5 (relative) over the
last ``PATIENCE`` = 50 steps. (The former budget of
1.5e6 / N steps cut the ascent long before convergence on large catalogs: in the research phase
of issue 11, 37 steps at N = 40,005 left 1,666 tail products stocked and lost 17 % of the bound
on the prototype of the pooling-trap family, where the converged ascent lost 0.6 %.)
``info["stopped"]`` says why it stopped (``"converged"``, ``"iterations"``, ``"time_limit"``).

Variable order in the builder: x (N), then z^1..z^K (K N), then w^1..w^K (K N), then
l^1..l^K (K N) when the chain has no leak.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from baselines.fluid import ROUNDING_RULES, round_stock
from baselines.policy import PolicyResult
from baselines.scenarios import MAX_SCENARIOS, first_choice_counts
from envs.fluid_lp import fluid_lp, has_leak, offer_probabilities
from envs.instance import Instance
from envs.validation import (
    InputError,
    choice_iv,
    integer_iv,
    mask_iv,
    number_array_iv,
    rng_iv,
    time_limit_iv,
)

LP_METHODS = ("highs", "highs-ipm", "highs-ds")
MAX_ITERATIONS = 300
MAX_FLOW_ITERATIONS = 100_000
MAX_SCENARIO_CELLS = 50_000_000
SOLVERS = ("auto", "lp", "flow-ascent")
SAA_ROUNDING = ("in-sample", *ROUNDING_RULES)
LP_VARIABLE_LIMIT = 10_000
MIN_AUTO_SCENARIOS = 32
MAX_AUTO_SCENARIOS = 256
ENUMERATE_FRACTIONAL = 4
FRACTIONAL_TOLERANCE = 1e-6
PATIENCE = 50
CONVERGENCE_TOLERANCE = 1e-5
FIXED_POINT_TOLERANCE = 1e-9
FIXED_POINT_MAX_STEPS = 10_000


@dataclass(frozen=True)
class SAAProgram:
    """The SAA LP in ``linprog`` form: minimize ``cost @ v`` subject to ``a_eq @ v == b_eq``,
    ``a_ub @ v <= b_ub`` and ``0 <= v <= upper`` (the negated maximization above).
    ``leave`` says whether the leave columns l^k are present (a chain without any leak)."""

    cost: np.ndarray
    a_eq: sp.csr_array
    b_eq: np.ndarray
    a_ub: sp.csr_array
    b_ub: np.ndarray
    upper: np.ndarray
    n_products: int
    n_scenarios: int
    leave: bool = False

    def stock(self, v: np.ndarray) -> np.ndarray:
        """The x block of a solution vector."""
        return v[: self.n_products]


def demands_iv(demands: object, n_products: int) -> np.ndarray:
    """Validate a (K, N) array of finite, non-negative demand counts."""
    arr = number_array_iv("demands", demands, ndim=2)
    if arr.shape[1] != n_products or arr.shape[0] < 1:
        raise InputError(
            f"`demands` must have shape (K, {n_products}) with K >= 1, one row per scenario; "
            f"got {arr.shape}"
        )
    bad = np.argwhere(arr < 0)
    if bad.size:
        k, i = (int(v) for v in bad[0])
        raise InputError(
            f"`demands` entry ({k}, {i}) is {float(arr[k, i])!r}; demands must be non-negative"
        )
    return arr


def offered_iv(offered: object, n_products: int) -> np.ndarray:
    """Validate an offer-set mask (``None`` means the whole catalog)."""
    if offered is None:
        return np.ones(n_products, dtype=bool)
    return mask_iv("offered", offered, n_products)


def lp_blocks(instance: Instance) -> int:
    """Variable blocks per scenario: (z, w), or (z, w, l) for a chain without any leak."""
    return 2 if has_leak(instance) else 3


def lp_variables(instance: Instance, scenarios: int) -> int:
    """Variables of the K-scenario LP: N (blocks K + 1)."""
    return instance.n_products * (lp_blocks(instance) * scenarios + 1)


def auto_scenarios(instance: Instance) -> int:
    """K for ``scenarios=None``: the most scenarios that keep the LP within
    ``LP_VARIABLE_LIMIT`` variables, clipped to [``MIN_AUTO_SCENARIOS``, ``MAX_AUTO_SCENARIOS``]
    (above about N = 150 the LP no longer fits and the flow ascent plans on 32 scenarios)."""
    fit = (LP_VARIABLE_LIMIT // max(instance.n_products, 1) - 1) // lp_blocks(instance)
    return int(np.clip(fit, MIN_AUTO_SCENARIOS, MAX_AUTO_SCENARIOS))


def saa_program(instance: Instance, demands: object, offered: object = None) -> SAAProgram:
    """Build the SAA LP of the module docstring for scenarios ``demands`` (shape (K, N)).

    Pure: no solver is called, so the matrices can be tested directly.
    """
    n = instance.n_products
    d = demands_iv(demands, n)
    mask = offered_iv(offered, n)
    k = d.shape[0]
    leave = not has_leak(instance)
    blocks = 3 if leave else 2
    margin = instance.prices - instance.salvage
    holding = instance.costs - instance.salvage
    cost = np.concatenate([holding, np.tile(-margin / k, k), np.zeros((blocks - 1) * k * n)])
    eye_n = sp.identity(n, format="csr")
    eye_kn = sp.identity(k * n, format="csr")
    flow = (eye_n - instance.substitution_csr.T).tocsr()
    eq_blocks = [
        sp.csr_array((k * n, n)),
        eye_kn,
        sp.kron(sp.identity(k, format="csr"), flow, format="csr"),
    ]
    if leave:
        eq_blocks.append(eye_kn)
    a_eq = sp.hstack(eq_blocks, format="csr")
    a_ub = sp.hstack(
        [-sp.kron(np.ones((k, 1)), eye_n, format="csr"), eye_kn]
        + [sp.csr_array((k * n, k * n))] * (blocks - 1),
        format="csr",
    )
    cap = float(d.sum(axis=1).max())
    upper = np.full(n * (blocks * k + 1), np.inf)
    upper[:n] = np.where(mask, cap, 0.0)
    return SAAProgram(
        cost=cost,
        a_eq=sp.csr_array(a_eq),
        b_eq=d.ravel(),
        a_ub=sp.csr_array(a_ub),
        b_ub=np.zeros(k * n),
        upper=upper,
        n_products=n,
        n_scenarios=k,
        leave=leave,
    )


@dataclass(frozen=True)
class SAASolution:
    """A solved SAA LP: fractional stock, in-sample objective, the solver's status and why it
    stopped (``"converged"``, ``"iterations"`` or ``"time_limit"``). ``duals`` (LP only; shape
    (K, N)) are the capacity duals mu^k >= 0 of z^k <= x, in units of margin (the LP's marginals
    times K), empty for the flow ascent or a failed solve."""

    stock: np.ndarray
    value: float
    status: int
    message: str
    iterations: int
    stopped: str
    duals: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def solve_saa_program(
    program: SAAProgram,
    *,
    method: str = "highs",
    time_limit: float | None = None,
    fixed_stock: np.ndarray | None = None,
) -> SAASolution:
    """Solve an SAA LP with HiGHS. A failed solve (status != 0 without a solution) is reported in
    ``status``/``message`` with an all-zero stock, never raised. ``fixed_stock`` fixes the x
    block (both bounds), which gives the in-sample value (1/K) sum_k LP_x(d^k) - h.x of x."""
    choice_iv("method", method, LP_METHODS)
    time_limit = time_limit_iv(time_limit)
    options: dict[str, object] = {"presolve": True}
    if time_limit is not None:
        options["time_limit"] = time_limit
    lower = np.zeros_like(program.upper)
    upper = program.upper
    if fixed_stock is not None:
        upper = upper.copy()
        lower[: program.n_products] = fixed_stock
        upper[: program.n_products] = fixed_stock
    result = linprog(
        program.cost,
        A_ub=program.a_ub,
        b_ub=program.b_ub,
        A_eq=program.a_eq,
        b_eq=program.b_eq,
        bounds=np.column_stack([lower, upper]),
        method=method,
        options=options,
    )
    # linprog status 1: iteration or time limit reached; HiGHS' iteration limit is not set here.
    stopped = (
        "converged" if result.status == 0 else ("time_limit" if result.status == 1 else "failed")
    )
    if result.x is None:
        status, message = int(result.status), str(result.message)
        return SAASolution(np.zeros(program.n_products), float("nan"), status, message, 0, stopped)
    k, n = program.n_scenarios, program.n_products
    marginals = getattr(getattr(result, "ineqlin", None), "marginals", None)
    duals = (
        np.maximum(-k * np.asarray(marginals, dtype=np.float64).reshape(k, n), 0.0)
        if marginals is not None
        else np.zeros((0, 0))
    )
    return SAASolution(
        stock=program.stock(result.x).copy(),
        value=float(-result.fun),
        status=int(result.status),
        message=str(result.message),
        iterations=int(getattr(result, "nit", 0)),
        stopped=stopped,
        duals=duals,
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


def greedy_value(
    instance: Instance, demands: np.ndarray, x: np.ndarray, offered: np.ndarray | None = None
) -> float:
    """F(x) of the module docstring: the scenario average of m.min(a^k, x) - h.x with
    customer-greedy flows (margins 0 off the offer set)."""
    margin = instance.prices - instance.salvage
    if offered is not None:
        margin = np.where(offered, margin, 0.0)
    a = scenario_flows(instance.substitution_csr.T.tocsr(), demands, x)
    holding = instance.costs - instance.salvage
    return float((np.minimum(a, x) @ margin).mean() - holding @ x)


def spill_values(rho: sp.csr_array, margin: np.ndarray, passes: np.ndarray) -> np.ndarray:
    """v^k (shape (K, N)): v = m where a customer buys, v = rho v where she ``passes`` on
    (saturated or unstocked products), i.e. the margin one more customer arriving at each
    product finally earns (0 if she leaves). A batch of K fixed-policy iterations (one buy set
    per scenario); :func:`envs.fluid_lp.policy_values` is the single-policy exact version."""
    v = np.where(passes, 0.0, margin)
    for _ in range(FIXED_POINT_MAX_STEPS):
        nxt = np.where(passes, (rho @ v.T).T, margin)
        if np.abs(nxt - v).max() <= FIXED_POINT_TOLERANCE * max(1.0, float(margin.max())):
            return nxt
        v = nxt
    return v


def ascent_direction(
    rho: sp.csr_array, margin: np.ndarray, holding: np.ndarray, inflows: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The supergradient of F at x (module docstring): mean_k of m_i - (rho v^k)_i on products
    saturated in scenario k (a^k_i > x_i), 0 elsewhere, minus h. v^k passes customers on where
    a^k_j > x_j or x_j = 0 (an unstocked product sells nothing to a spilled customer)."""
    saturated = inflows > x
    v = spill_values(rho, margin, saturated | (x == 0))
    return np.where(saturated, margin - (rho @ v.T).T, 0.0).mean(axis=0) - holding


def ascent_start(instance: Instance, offered: np.ndarray) -> np.ndarray:
    """Where the flow ascent starts: the fluid LP sales on the whole catalog, or the expected
    demand T pi_S of the offer set S when it is a strict subset (the customers of the dropped
    products already flow to their substitutes, so the ascent need not carry them there)."""
    if offered.all():
        return fluid_lp(instance).sales.copy()
    if not offered.any():
        return np.zeros(instance.n_products)
    return instance.customers * offer_probabilities(instance, offered)


def flow_ascent(
    instance: Instance,
    demands: np.ndarray,
    offered: np.ndarray,
    *,
    iterations: int = MAX_ITERATIONS,
    step: float = 5.0,
    time_limit: float | None = None,
) -> SAASolution:
    """Maximize F(x) of the module docstring by projected supergradient ascent on fixed scenarios.

    Start at :func:`ascent_start` (F is not concave: from the mean first-choice demand the ascent
    was measured to stall in a poor region on a heavy-tail instance, N = 3,000: in-sample 16,353
    against 17,311 from the fluid start); the step for product i at iteration t is
    ``step * (1 + sqrt(mean inflow_i)) / sqrt(t + 1)`` times the supergradient divided by m_i;
    x stays in [0, max_k sum d^k] (0 off the offer set). Stops after ``iterations`` steps, when
    it has converged (a step leaves x unchanged, or from step 2 ``PATIENCE`` on the best F rose
    by less than ``CONVERGENCE_TOLERANCE`` relative over the last ``PATIENCE`` steps) or after
    ``time_limit`` seconds (None: no limit). Returns the best iterate seen.
    """
    start = time.perf_counter()
    rho = instance.substitution_csr
    rho_t = rho.T.tocsr()
    margin = np.where(offered, instance.prices - instance.salvage, 0.0)
    holding = instance.costs - instance.salvage
    cap = np.where(offered, float(demands.sum(axis=1).max()), 0.0)
    x = np.clip(ascent_start(instance, offered), 0.0, cap)
    best_x, best_value = x.copy(), -np.inf
    history: list[float] = []
    a = None
    done = 0
    stopped = "iterations"
    for t in range(iterations):
        a = scenario_flows(rho_t, demands, x, a)
        value = float((np.minimum(a, x) @ margin).mean() - holding @ x)
        if value > best_value:
            best_x, best_value = x.copy(), value
        history.append(best_value)
        done = t + 1
        if len(history) >= 2 * PATIENCE and history[-1] - history[-1 - PATIENCE] <= (
            CONVERGENCE_TOLERANCE * max(1.0, abs(history[-1]))
        ):
            stopped = "converged"
            break
        gain = ascent_direction(rho, margin, holding, a, x)
        scale = (1.0 + np.sqrt(a.mean(axis=0))) / np.maximum(margin, 1e-12)
        nxt = np.clip(x + step * scale * gain / np.sqrt(t + 1.0), 0.0, cap)
        if np.array_equal(nxt, x):
            stopped = "converged"
            break
        x = nxt
        if time_limit is not None and time.perf_counter() - start > time_limit:
            stopped = "time_limit"
            break
    return SAASolution(best_x, best_value, 0, f"flow ascent: {done} iterations", done, stopped)


def saa_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    scenarios: int | None = None,
    rounding: str = "in-sample",
    solver: str = "auto",
    method: str = "highs-ipm",
    iterations: int | None = None,
    time_limit: float | None = None,
) -> PolicyResult:
    """Whole-catalog SAA on first-choice scenarios.

    Knobs: ``scenarios`` K (None: :func:`auto_scenarios`); ``rounding`` of x (``in-sample``:
    the best floor/ceil combination by the SAA objective, module docstring; or a rule of
    :func:`baselines.fluid.round_stock`); ``solver``: ``lp`` (HiGHS ``method``),
    ``flow-ascent`` (at most ``iterations`` supergradient steps, default ``MAX_ITERATIONS``, fewer
    when it converges), or ``auto`` (the LP up to ``LP_VARIABLE_LIMIT`` variables, flow ascent
    above); ``time_limit`` seconds for either (None: deterministic budgets only). ``info``
    carries ``status`` (0 = solved), ``message``, ``saa_value`` (in-sample value of the
    fractional x), ``rounded_value`` (in-sample value of the stock, when ``in-sample`` rounding
    scored candidates), ``solver``, ``scenarios``, ``lp_variables``, ``iterations`` and
    ``stopped``.
    """
    return plan_saa(
        instance,
        None,
        rng=rng,
        scenarios=scenarios,
        rounding=rounding,
        solver=solver,
        method=method,
        iterations=iterations,
        time_limit=time_limit,
    )


def round_in_sample(x: np.ndarray, mask: np.ndarray, score) -> tuple[np.ndarray, float]:
    """The best of the floor/ceil combinations of x's fractional coordinates by ``score(stock)``
    when there are at most ``ENUMERATE_FRACTIONAL`` of them (ties: the first, floor before
    ceil); otherwise nearest rounding, unscored (NaN)."""
    low = np.where(mask, round_stock(x, "floor"), 0)
    fractional = np.flatnonzero(mask & (x - low > FRACTIONAL_TOLERANCE))
    if fractional.size > ENUMERATE_FRACTIONAL:
        return np.where(mask, round_stock(x, "nearest"), 0), float("nan")
    best, best_value = low, -np.inf
    for bits in itertools.product((0, 1), repeat=int(fractional.size)):
        candidate = low.copy()
        candidate[fractional] += np.asarray(bits, dtype=np.int64)
        value = score(candidate)
        if value > best_value + 1e-12 * max(1.0, abs(value)):
            best, best_value = candidate, value
    return best, float(best_value)


def plan_saa(
    instance: Instance,
    offered: np.ndarray | None,
    *,
    rng: None | int | np.random.Generator,
    scenarios: int | None,
    rounding: str,
    solver: str,
    method: str,
    iterations: int | None,
    time_limit: float | None,
    draw_scenarios: Callable[..., np.ndarray] = first_choice_counts,
) -> PolicyResult:
    """:func:`saa_policy` restricted to the offer set ``offered`` (None: the whole catalog),
    with every knob explicit; :mod:`baselines.pooled` calls it with its pruned assortment.
    ``draw_scenarios(instance, K, generator)`` draws the (K, N) first-choice scenarios
    (:mod:`baselines.scenarios`; :mod:`baselines.shock_saa` passes the demand-environment
    scenarios)."""
    start = time.perf_counter()
    generator = rng_iv(rng)
    k = (
        auto_scenarios(instance)
        if scenarios is None
        else integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS)
    )
    choice_iv("rounding", rounding, SAA_ROUNDING)
    choice_iv("solver", solver, SOLVERS)
    choice_iv("method", method, LP_METHODS)
    n = instance.n_products
    steps = (
        MAX_ITERATIONS
        if iterations is None
        else integer_iv("iterations", iterations, low=1, high=MAX_FLOW_ITERATIONS)
    )
    time_limit = time_limit_iv(time_limit)
    mask = offered_iv(offered, n)
    if k * n > MAX_SCENARIO_CELLS:
        raise InputError(
            f"`scenarios` {k:,} times N = {n:,} products is {k * n:,} scenario cells; the SAA "
            f"holds at most {MAX_SCENARIO_CELLS:,} (use fewer scenarios)"
        )
    demands = draw_scenarios(instance, k, generator).astype(np.float64)
    variables = lp_variables(instance, k)
    chosen = (
        solver if solver != "auto" else ("lp" if variables <= LP_VARIABLE_LIMIT else "flow-ascent")
    )
    if chosen == "lp":
        program = saa_program(instance, demands, mask)
        solution = solve_saa_program(program, method=method, time_limit=time_limit)

        def score(stock: np.ndarray) -> float:
            return solve_saa_program(program, method=method, fixed_stock=stock).value

    else:
        solution = flow_ascent(instance, demands, mask, iterations=steps, time_limit=time_limit)

        def score(stock: np.ndarray) -> float:
            return greedy_value(instance, demands, stock, mask)

    rounded_value = float("nan")
    if rounding == "in-sample":
        stock, rounded_value = round_in_sample(solution.stock, mask, score)
    else:
        stock = np.where(mask, round_stock(solution.stock, rounding), 0)
    return PolicyResult(
        policy="saa",
        stock=stock,
        solve_seconds=time.perf_counter() - start,
        info={
            "status": solution.status,
            "message": solution.message,
            "saa_value": solution.value,
            "rounded_value": rounded_value,
            "solver": chosen,
            "scenarios": k,
            "lp_variables": variables,
            "iterations": solution.iterations,
            "stopped": solution.stopped,
        },
    )
