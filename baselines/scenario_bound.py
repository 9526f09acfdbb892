"""Sample-average (Mak-Morton-Wood) upper bound on the optimal expected profit.

Notation of DESIGN.md 2 and 5: m_i = r_i - s_i, h_i = c_i - s_i (h >= 0 since salvage <= cost
is validated), so that for a stock x and sales S, profit = m . S - h . x.

**Scenario LP.** For a stock x in R^N_+ and first-choice counts d in Z^N_+,

    LP_x(d) = max  m . z
              s.t. z_i + w_i + l_i = d_i + sum_j rho_ji w_j      (i = 1..N)
                   0 <= z <= x,  w, l >= 0

(:func:`baselines.saa.saa_program` builds the K-scenario version; l exists only for a chain
without any leak, where it is not redundant, see there).

**Theorem 1 (conditional flow bound).** For every integral x and every d,
E[m . S(x) | d] <= LP_x(d).

*Proof.* Condition on d. For fixed T the customers' order is then a uniformly random
permutation of the multiset of first choices, the no-purchase customers being inert; for
Poisson arrivals the counts are independent Poisson and, given them, the order is again
uniform. Follow each customer's preference walk (DESIGN.md 2); a *visit* to i is a step of a
walk at i taken while she is still shopping. A visit ends in a purchase (S_i counts them), in a
*continuation* (V_i: she does not buy and draws her next step from rho_i., which may be the
chain's leak) or in an immediate departure because nothing at all is in stock, the simulator's
rule (L_i). Every visit to i is a first choice (d_i of them) or follows a continuation j -> i,
so pathwise S_i + V_i + L_i = d_i + sum_j N_ji, with N_ji the continuations j -> i. The step
drawn at a continuation at j comes from rho_j. independently of everything before it (the
previous customers, this customer's earlier steps and the stock at that moment, which is what
made the visit a continuation); summing over customers and steps (walks have finite expected
length: every closed class leaks, or without any leak a walk stops at the first stocked
product, and if nothing is in stock she leaves at once) gives E[N_ji | d] = rho_ji E[V_j | d].
So (z, w, l) = E[(S, V, L) | d] satisfies the flow equations, and 0 <= z <= x because sales
never exceed stock: it is feasible, and m . E[S | d] <= LP_x(d). []

**Theorem 2 (MMW bound).** Let d^1..d^K be i.i.d. first-choice scenarios and

    v_K = max_{x in R^N_+}  (1/K) sum_k LP_x(d^k) - h . x.

Then (a) E[v_K] >= OPT = max_{x in Z^N_+} E[profit(x)]; (b) E[v_K] is non-increasing in K;
(c) pathwise v_K <= dbar . g*, where dbar = (1/K) sum_k d^k and g* is the least solution of
g = max(r - c, rho g, 0) (the fluid LP's dual, :func:`envs.fluid_lp.fluid_lp`); since
E[dbar] = T lambda, E[dbar . g*] is the fluid bound, so E[v_K] <= the fluid bound.

*Proof.* (a) With x* optimal, OPT = E_d[E[m . S(x*) | d]] - h . x* <=
E[(1/K) sum_k LP_{x*}(d^k)] - h . x* <= E[v_K] (Theorem 1, then x* is one candidate of the
max). (b) Mak, Morton & Wood (1999), Theorem 1: the K-average is the average of its K
leave-one-out (K-1)-averages, and a max of an average is at most the average of the maxima.
(c) LP_x(d) is jointly concave in (x, d) (an LP value as a function of its right-hand side),
so (1/K) sum_k LP_x(d^k) <= LP_x(dbar), and max_x LP_x(dbar) - h . x is the fluid LP on demand
dbar (x = z is optimal since h >= 0; the margin becomes m - h = r - c). Its dual feasible set
{g >= r - c, g >= rho g, g >= 0} does not depend on the demand and its least element g* is
optimal for every demand >= 0, so the value is dbar . g*. []

**Dual certificate (Lagrangian).** Dualizing z^k <= x with multipliers mu^k / K >= 0,

    v_K <= L(mu) = (1/K) sum_k d^k . g(m - mu^k)   for every mu in
    M_h = {mu >= 0 : (1/K) sum_k mu^k <= h},

where g(m') is the least solution of g = max(m', rho g, 0), the fluid dual with margins m'
(for a fixed mu the Lagrangian separates into one fluid LP per scenario, whose value is
d^k . g(m - mu^k), and an x-term (mean_k mu^k - h) . x that is <= 0 on M_h, maximized by x = 0).
Strong LP duality gives min_{M_h} L = v_K. So *any* mu in M_h certifies an upper bound on v_K
without trusting a solver's optimality: HiGHS' capacity duals projected onto M_h, or an iterate
of projected subgradient descent. Each evaluation costs one fluid fixed point per scenario, so
the certificate decomposes over scenarios and scales like the fluid bound; mu^k = h for every k
gives L = dbar . g*. With the lossless cap x_i <= u = max_k sum_j d^k_j (no product sells more
than a season's customers) every mu >= 0 is admissible, with the x-term
u sum_i (mean_k mu^k_i - h_i)^+ added; this form accepts the LP's own duals when x sits at its
cap (MNL without outside option). g is made exactly dual-feasible: where the fixed point's
Bellman residual r = max |max(m', rho g, 0) - g| is positive and the chain contracts
(beta = max row sum of rho < 1 - 1e-6), g + r / (1 - beta) satisfies rho (g + c) <= rho g +
beta c <= g + r + beta c = g + c for c = r / (1 - beta); without a leak the residual of an LU
solve (about 1e-15 relative) is left as it is. A *primal* value (1/K) sum_k LP_x(d^k) - h . x
at some x (the flow ascent's value, say) is a LOWER bound on v_K and never a bound on OPT.

**Estimator and confidence limit.** M independent replications give certified values
V^1..V^M (each >= its replication's v_K). The plain one-sided (1 - alpha) upper limit is
mean(V) + t_{M-1,1-alpha} sd(V) / sqrt(M). Better: with C^r = dbar^r . g*, E[C^r] = the fluid
bound F exactly, so with D^r = V^r - C^r, U = F + mean(D) + t_{M-1,1-alpha} sd(D) / sqrt(M) is
also a valid (1 - alpha) upper limit on E[V] >= E[v_K] >= OPT (a control variate with
coefficient 1: V^r and C^r move together, so D is far less noisy; by (c) D^r <= 0 when
V^r = v_K^r). We report ``upper`` = min(U, F), both being valid, and ``estimate`` = F + mean(D).
The limit is valid with probability 1 - alpha over the bound's own scenarios, not with
certainty; it assumes the D^r are roughly normal (M is small).

**Where each method applies** (``method``; measured on this project's 2-core machine, one LP
at a time; see the README for the measured tables):

* ``"lp"``: the K-scenario LP through HiGHS (dual simplex, falling back to interior point and
  to HiGHS' choice when a method returns no solution), certified by L at its projected duals
  (equal to the LP value to 1e-8 relative where tested). Practical up to a few 10^4
  variables: the research phase timed the LP alone on a quiet machine at 0.1-0.7 s for small
  (N 10, K 128) and mnl (N 20, K 128), 3-5 s for medium (N 100, K 64), 3.5 s for heavy-tail
  (N 1,000) with K = 8 and 31 s with K = 32 (where dual simplex also stopped without a solution
  on 2 of 4 replications).
* ``"decomposed"``: no K-scenario LP at all: x from the SAA's flow ascent on the same scenarios
  (:func:`baselines.saa.flow_ascent`), multipliers from the greedy spill values at x, projected
  onto M_h, then ``polish`` projected subgradient (Polyak) steps on L towards the flow ascent's
  primal value. Every step is K fluid fixed points, so it runs wherever the SAA's flow ascent
  runs (research phase: N = 10,000 with K = 16 in 76-113 s a replication); the certificate is
  a little looser than the LP (0.4-0.6 % above the LP's v_K where both were computed). It
  stops being practical where the flow ascent does: its cost grows like K N times the steps.
* ``"auto"`` (default): the LP up to ``BOUND_LP_LIMIT`` variables, the decomposition above.

:func:`default_budget` picks K and M by catalog size (documented there), so that the serious
leaderboard's 20 instances take minutes, not hours.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from baselines.saa import (
    MAX_SCENARIO_CELLS,
    flow_ascent,
    lp_variables,
    saa_program,
    scenario_flows,
    solve_saa_program,
    spill_values,
)
from baselines.scenarios import MAX_SCENARIOS, first_choice_counts
from envs.choice import markov_chain_choice_probabilities
from envs.fluid_lp import fluid_lp, single_customer_values
from envs.instance import Instance, make_instance
from envs.validation import (
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    integer_iv,
    real_iv,
    rng_iv,
)

METHODS = ("auto", "lp", "decomposed")
BOUND_LP_LIMIT = 20_000
"""``method="auto"`` solves the LP up to this many variables, the decomposition above."""
MAX_REPLICATIONS = 1_000
MAX_POLISH = 10_000
DEFAULT_POLISH = 30
DEFAULT_LEVEL = 0.95
CONTRACTION_MARGIN = 1e-6
SPARSE_VIEW_ABOVE = 200
SPARSE_VIEW_DENSITY = 0.05
FALLBACK_METHODS = ("highs-ds", "highs-ipm", "highs")


def default_budget(instance: Instance) -> tuple[int, int]:
    """(K, M) for an instance of N products: K = the largest power of two up to 128 whose LP
    has at most ``BOUND_LP_LIMIT`` variables (128 for N <= 77 on leaking chains, 64 up to
    N = 155, 8 at N = 1,000), or K = 16 where not even K = 8 fits (the decomposed
    certificate); M = 10 replications up to N = 50, 5 up to N = 2,000 and 3 beyond.

    Measured per replication (LP and certificate) while other jobs loaded the 2 cores (load
    average 7-12): small (N 10, K 128) 1.6 s, mnl (N 20, K 128) 3.5 s, medium (N 100, K 64)
    15 s, heavy-tail (N 1,000, K 8) 12 s; five instances of each of these four families then
    take about 15 minutes (the research phase timed the same LPs 3-5 times faster on a quiet
    machine). The control variate keeps the upper limit within about 0.1 % of the estimate with
    these M (README)."""
    n = instance.n_products
    k = 128
    while k > 8 and lp_variables(instance, k) > BOUND_LP_LIMIT:
        k //= 2
    if lp_variables(instance, k) > BOUND_LP_LIMIT:
        k = 16
    m = 10 if n <= 50 else (5 if n <= 2_000 else 3)
    return k, m


@dataclass(frozen=True)
class ScenarioBound:
    """The MMW bound of one instance (module docstring).

    ``upper``: the (``level``) upper confidence limit min(U, fluid) with the control variate;
    ``estimate``: fluid + mean(D); ``plain_estimate`` / ``plain_upper``: without it; ``values``:
    the certified V^r; ``controls``: dbar^r . g*; ``primal``: per replication, a lower bound on
    its v_K (the LP value, or the flow ascent's in-sample value), so ``values - primal`` is how
    loose each certificate can be; ``methods``: ``"lp"`` or ``"decomposed"`` per replication.
    """

    fluid: float
    estimate: float
    upper: float
    plain_estimate: float
    plain_upper: float
    scenarios: int
    replications: int
    level: float
    values: np.ndarray
    controls: np.ndarray
    primal: np.ndarray
    methods: tuple[str, ...]
    seconds: float

    @property
    def tightest(self) -> float:
        """min(fluid bound, upper): the tightest valid bound (at the confidence ``level``)."""
        return min(self.fluid, self.upper)

    def to_dict(self) -> dict[str, object]:
        return {
            "fluid_bound": self.fluid,
            "scenario_bound": self.estimate,
            "scenario_bound_upper": self.upper,
            "plain_estimate": self.plain_estimate,
            "plain_upper": self.plain_upper,
            "scenarios": self.scenarios,
            "replications": self.replications,
            "level": self.level,
            "values": [float(v) for v in self.values],
            "controls": [float(v) for v in self.controls],
            "primal": [float(v) for v in self.primal],
            "methods": list(self.methods),
            "seconds": self.seconds,
        }


# ------------------------------------------------------------------ Lagrangian certificate


def project_multipliers(mu: np.ndarray, holding: np.ndarray) -> np.ndarray:
    """Euclidean projection of mu (K, N) onto M_h = {mu >= 0, sum_k mu^k <= K h}: per product a
    capped simplex (clip at 0; where the column sum is still too large, project the column onto
    {y >= 0, sum y = K h_i} by the sort-and-threshold rule; a zero budget gives a zero column).
    A last rescaling of any column whose sum still exceeds its budget by round-off keeps the
    result inside M_h, which is all that the certificate's validity needs."""
    k = mu.shape[0]
    out = np.maximum(mu, 0.0)
    budget = k * np.maximum(holding, 0.0)
    over = out.sum(axis=0) > budget
    empty = over & (budget <= 0.0)
    out[:, empty] = 0.0
    over &= ~empty
    if over.any():
        y = mu[:, over]
        b = budget[over]
        ordered = -np.sort(-y, axis=0)
        cumulative = np.cumsum(ordered, axis=0) - b[None, :]
        index = np.arange(1, k + 1)[:, None]
        positive = ordered - cumulative / index > 0
        last = k - 1 - np.argmax(positive[::-1], axis=0)
        theta = cumulative[last, np.arange(y.shape[1])] / (last + 1)
        out[:, over] = np.maximum(y - theta[None, :], 0.0)
    sums = out.sum(axis=0)
    excess = sums > budget
    if excess.any():
        out[:, excess] *= budget[excess] / sums[excess]
    return out


def certified_values(instance: Instance, margins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g, buy): a dual-feasible g (g >= m', g >= rho g, g >= 0 up to float error) at the least
    fixed point of g = max(m', rho g, 0), inflated by r / (1 - beta) when its Bellman residual r
    is positive and the chain contracts (module docstring), and the buy set {g = m' > 0}."""
    g, buy, _ = single_customer_values(instance, margins)
    rho = instance.substitution_csr
    residual = float(np.abs(np.maximum(margins, np.maximum(rho @ g, 0.0)) - g).max())
    beta = float(1.0 - instance.leave_probability.min())
    if residual > 0 and beta < 1.0 - CONTRACTION_MARGIN:
        g = g + residual / (1.0 - beta)
    return g, buy


def sparse_view(instance: Instance) -> Instance:
    """The same instance with rho stored as CSR when it is dense, large and sparse (the
    per-scenario fixed points then use sparse solves instead of dense O(N^3) ones; measured 25x
    faster on the heavy-tail family, N = 1,000)."""
    if instance.is_sparse or instance.n_products <= SPARSE_VIEW_ABOVE:
        return instance
    rho = instance.substitution_csr
    if rho.nnz > SPARSE_VIEW_DENSITY * instance.n_products**2:
        return instance
    return make_instance(
        name=instance.name,
        prices=instance.prices,
        costs=instance.costs,
        salvage=instance.salvage,
        arrival=instance.arrival,
        substitution=rho,
        customers=instance.customers,
        arrivals=instance.arrivals,
    )


def lagrangian_bound(
    instance: Instance,
    demands: np.ndarray,
    mu: np.ndarray,
    *,
    project: bool = True,
    with_sales: bool = False,
) -> tuple[float, np.ndarray | None]:
    """(L(mu), z): a certified upper bound on v_K of the scenarios ``demands`` (K, N) and, when
    ``with_sales``, the per-scenario fluid sales z^k at margins m - mu^k (-z^k / K is a
    subgradient of L in mu^k).

    ``project=True``: mu is projected onto M_h (no x-term). ``project=False``: mu is only
    clipped at 0 and the x-term with the lossless cap u = max_k sum_j d^k_j is added,
    u sum_i (mean_k mu^k_i - h_i)^+ (module docstring)."""
    d = np.asarray(demands, dtype=np.float64)
    m = instance.prices - instance.salvage
    h = instance.costs - instance.salvage
    if project:
        mu = project_multipliers(mu, h)
        penalty = 0.0
    else:
        mu = np.maximum(mu, 0.0)
        penalty = float(d.sum(axis=1).max()) * float(np.maximum(mu.mean(axis=0) - h, 0.0).sum())
    view = sparse_view(instance)
    total = 0.0
    z = np.zeros_like(d) if with_sales else None
    for k in range(d.shape[0]):
        g, buy = certified_values(view, m - mu[k])
        total += float(d[k] @ g)
        if z is not None and buy.any():
            z[k] = markov_chain_choice_probabilities(d[k], view.substitution, buy)
    return total / d.shape[0] + penalty, z


def subgradient_polish(
    instance: Instance,
    demands: np.ndarray,
    mu0: np.ndarray,
    *,
    iterations: int,
    target: float,
) -> tuple[float, np.ndarray]:
    """Projected subgradient descent on L over M_h from mu0 with Polyak steps towards
    ``target`` (a lower bound on min L = v_K, e.g. a primal value). Returns the best certified
    value and its mu (every iterate's L is itself a certified bound)."""
    h = instance.costs - instance.salvage
    k = np.asarray(demands).shape[0]
    mu = project_multipliers(mu0, h)
    value, z = lagrangian_bound(instance, demands, mu, with_sales=True)
    best, best_mu = value, mu.copy()
    for _ in range(iterations):
        direction = z / k
        norm = float((direction * direction).sum())
        if norm == 0.0 or value <= target:
            break
        mu = project_multipliers(mu + (value - target) / norm * direction, h)
        value, z = lagrangian_bound(instance, demands, mu, with_sales=True)
        if value < best:
            best, best_mu = value, mu.copy()
    return best, best_mu


def greedy_duals(instance: Instance, demands: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """Multipliers from the customer-greedy flows of the SAA's flow ascent at x:
    mu^k_i = max(0, m_i - (rho v^k)_i) where i is saturated in scenario k (the value of one
    more unit there), else 0."""
    d = np.asarray(demands, dtype=np.float64)
    x = np.asarray(stock, dtype=np.float64)
    rho = instance.substitution_csr
    m = instance.prices - instance.salvage
    a = scenario_flows(rho.T.tocsr(), d, x)
    saturated = a > x
    v = spill_values(rho, m, saturated | (x == 0))
    return np.where(saturated, np.maximum(m - (rho @ v.T).T, 0.0), 0.0)


# ----------------------------------------------------------------- one replication


def lp_certificate(instance: Instance, demands: np.ndarray) -> tuple[float, float] | None:
    """(certified L at the LP's duals, the LP value) for one replication by HiGHS, or None when
    no method returned a solution."""
    program = saa_program(instance, demands)
    for method in FALLBACK_METHODS:
        solution = solve_saa_program(program, method=method)
        if solution.status == 0 and solution.duals.size:
            break
    else:
        return None
    mu = solution.duals
    value = min(
        lagrangian_bound(instance, demands, mu)[0],
        lagrangian_bound(instance, demands, mu, project=False)[0],
    )
    return value, solution.value


def decomposed_certificate(
    instance: Instance, demands: np.ndarray, *, polish: int
) -> tuple[float, float]:
    """(certified L, the flow ascent's primal value) without the K-scenario LP (module
    docstring, ``"decomposed"``)."""
    offered = np.ones(instance.n_products, dtype=bool)
    ascent = flow_ascent(instance, demands, offered)
    mu = greedy_duals(instance, demands, ascent.stock)
    value, _ = subgradient_polish(instance, demands, mu, iterations=polish, target=ascent.value)
    return value, ascent.value


def _bound_iv(
    instance: object,
    scenarios: object,
    replications: object,
    method: object,
    polish: object,
    level: object,
) -> tuple[int, int, str, int, float]:
    if not isinstance(instance, Instance):
        raise InputTypeError(
            f"`instance` must be an envs.instance.Instance; got {describe(instance)}"
        )
    default_k, default_m = default_budget(instance)
    k = (
        default_k
        if scenarios is None
        else integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS)
    )
    m = (
        default_m
        if replications is None
        else integer_iv("replications", replications, low=2, high=MAX_REPLICATIONS)
    )
    method = choice_iv("method", method, METHODS)
    polish = integer_iv("polish", polish, low=0, high=MAX_POLISH)
    level = real_iv("level", level, low=0.5, high=1.0, high_open=True)
    cells = k * instance.n_products
    if cells > MAX_SCENARIO_CELLS:
        raise InputError(
            f"`scenarios` {k:,} times N = {instance.n_products:,} products is {cells:,} scenario "
            f"cells; the bound holds at most {MAX_SCENARIO_CELLS:,} (use fewer scenarios)"
        )
    return k, m, method, polish, level


def scenario_bound(
    instance: Instance,
    *,
    scenarios: int | None = None,
    replications: int | None = None,
    rng: None | int | np.random.Generator = None,
    method: str = "auto",
    polish: int = DEFAULT_POLISH,
    level: float = DEFAULT_LEVEL,
) -> ScenarioBound:
    """The MMW bound with ``replications`` M independent replications of ``scenarios`` K
    first-choice scenarios each (None: :func:`default_budget`), drawn from ``rng``; each
    replication certified by ``method`` (module docstring; ``polish`` subgradient steps for the
    decomposed certificate), combined into the control-variate upper limit at ``level``."""
    start = time.perf_counter()
    k, m, method, polish, level = _bound_iv(
        instance, scenarios, replications, method, polish, level
    )
    generator = rng_iv(rng)
    fluid = fluid_lp(instance)
    use_lp = method == "lp" or (method == "auto" and lp_variables(instance, k) <= BOUND_LP_LIMIT)
    values, controls, primal, methods = [], [], [], []
    for _ in range(m):
        demands = first_choice_counts(instance, k, generator).astype(np.float64)
        certified = lp_certificate(instance, demands) if use_lp else None
        if certified is None:
            certified = decomposed_certificate(instance, demands, polish=polish)
            methods.append("decomposed")
        else:
            methods.append("lp")
        values.append(certified[0])
        primal.append(certified[1])
        controls.append(float(demands.mean(axis=0) @ fluid.dual))
    values_arr, controls_arr = np.array(values), np.array(controls)
    quantile = float(student_t.ppf(level, m - 1)) / math.sqrt(m)
    difference = values_arr - controls_arr
    estimate = fluid.value + float(difference.mean())
    upper = estimate + quantile * float(difference.std(ddof=1))
    plain = float(values_arr.mean())
    return ScenarioBound(
        fluid=float(fluid.value),
        estimate=estimate,
        upper=min(float(fluid.value), upper),
        plain_estimate=plain,
        plain_upper=plain + quantile * float(values_arr.std(ddof=1)),
        scenarios=k,
        replications=m,
        level=level,
        values=values_arr,
        controls=controls_arr,
        primal=np.array(primal),
        methods=tuple(methods),
        seconds=time.perf_counter() - start,
    )
