"""SAA on whole preference-walk scenarios (DESIGN.md 5), compared with first-choice scenarios.

A *walk scenario* is one season's customers, each with the walk she would take if nothing were
in stock (first choice ~ lambda, then rho step by step until she leaves; DESIGN.md 2). The
first-choice SAA of :mod:`baselines.saa` samples only the first choices and routes spill
through rho in expectation; here the substitution itself is sampled, so the spill carries its
real variability. Two LPs use the scenarios, both with x continuous and shared by the K
scenarios, maximizing (1/K) sum_k (sales margin in scenario k) - h . x:

* ``routing="tree"`` (default, non-anticipative): per scenario, node v is a distinct walk
  prefix ending at product j(v), n_v the customers whose walk starts with it. The LP chooses a
  buying mass b_v <= a_v at each node; the mass that passes on splits over v's children in the
  observed proportions, a_c = (n_c / n_v)(a_v - b_v), and sum_{v : j(v) = j} b_v <= x_j. The
  decision to buy may depend on the walk so far, not on where it goes next. It reduces to the
  first-choice flow LP when every prefix ending at j is merged and the splits are rho's.
* ``routing="free"`` (clairvoyant assignment): customers with the same set W of products on
  their walk are aggregated (n_W), and any assignment y_{W,j} with sum_j y_{W,j} <= n_W and
  sum_W y_{W,j} <= x_j counts. Realized sales are such an assignment, so this LP is >= the
  sales margin pathwise and its SAA is also a valid MMW bound (the proof of
  :mod:`baselines.scenario_bound`, Theorem 2 (a)), but a loose one.

**Why first-choice scenarios stay the default planner** (research phase of issue 11; this
project's measurement on every family is ``python -m experiments.walk_study``, README): the free
assignment is clairvoyant about each customer's own walk: it lets her skip a stocked
low-margin product whenever her walk later reaches a better one, so it credits every product on
her walk with her demand, stocks the whole catalog, has an in-sample value *above the fluid
bound* and plans 7-24 points of the bound worse than first-choice SAA. The prefix tree removes
that clairvoyance where prefixes are shared, but a deep prefix seen once still has a single
continuation (clairvoyant again); it tied first-choice SAA on small (-0.4 to +0.6 points) and
lost 3.7-6.0 points on mnl, where every product substitutes to every other and walks are long,
with LPs 60x larger. The first-choice flow LP also lets a customer skip a stocked product, but
only non-anticipatively, through rho in expectation. Walk scenarios remain the right primitive
for the simulation planners (local search, sample-path gradient), which replay the real greedy
dynamics on common random numbers.

**Budget.** Walks are truncated after ``max_steps`` steps (a truncated walk simply ends;
only possible when the chain leaks little or not at all). ``scenarios=None`` takes as many
scenarios as keep the LP within ``LP_VARIABLE_LIMIT`` variables (estimated from the first
scenario), between 1 and ``MAX_AUTO_SCENARIOS`` = 32; the LP is solved by HiGHS and x is
rounded to the nearest unit. Scenarios are drawn from the planner's ``rng``, never from the
evaluation streams.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from baselines.fluid import round_stock
from baselines.policy import PolicyResult
from baselines.scenarios import MAX_SCENARIOS
from envs.instance import Instance
from envs.validation import InputError, choice_iv, integer_iv, rng_iv

ROUTINGS = ("tree", "free")
LP_VARIABLE_LIMIT = 100_000
MAX_AUTO_SCENARIOS = 32
DEFAULT_MAX_STEPS = 64
MAX_STEPS = 1_000
MAX_WALK_CELLS = 20_000_000
"""At most this many (customer, step) cells per scenario are sampled."""


def _cumulative_rows(instance: Instance) -> tuple[sp.csr_array, np.ndarray]:
    """rho in CSR and, per entry, row index + cumulative probability within its row (so one
    ``searchsorted`` over all rows finds every customer's next step at once)."""
    rho = instance.substitution_csr
    rows = np.repeat(np.arange(rho.shape[0]), np.diff(rho.indptr))
    cumulative = rho.data.copy()
    for i in range(rho.shape[0]):
        lo, hi = rho.indptr[i], rho.indptr[i + 1]
        if hi > lo:
            cumulative[lo:hi] = np.cumsum(cumulative[lo:hi])
            if instance.leave_probability[i] <= 1e-12:
                cumulative[hi - 1] = 1.0
    return rho, rows + np.minimum(cumulative, 1.0)


def sample_walks(instance: Instance, generator: np.random.Generator, max_steps: int) -> np.ndarray:
    """One season's walks as an int64 array (customers who choose a product, max_steps): the
    products in order, -1 after she leaves (customers who buy nothing are dropped)."""
    n = instance.n_products
    t = (
        instance.customers
        if instance.arrivals == "fixed"
        else int(generator.poisson(instance.customers))
    )
    first = np.append(instance.arrival, instance.no_purchase_probability)
    current = generator.choice(n + 1, size=t, p=first / first.sum())
    current = current[current < n]
    if current.size * max_steps > MAX_WALK_CELLS:
        raise InputError(
            f"a walk scenario of {current.size:,} customers x max_steps = {max_steps} is more "
            f"than {MAX_WALK_CELLS:,} cells; use fewer steps"
        )
    rho, keys = _cumulative_rows(instance)
    walks = np.full((current.size, max_steps), -1, dtype=np.int64)
    alive = np.arange(current.size)
    for step in range(max_steps):
        if alive.size == 0:
            break
        walks[alive, step] = current[alive]
        u = generator.random(alive.size)
        at = current[alive]
        position = np.searchsorted(keys, at + u, side="right")
        stays = position < rho.indptr[at + 1]
        current[alive[stays]] = rho.indices[position[stays]]
        alive = alive[stays]
    return walks


@dataclass(frozen=True)
class WalkProgram:
    """A walk-scenario LP in ``linprog`` form (minimize ``cost @ v``; x is the first N)."""

    cost: np.ndarray
    a_eq: sp.csr_array | None
    b_eq: np.ndarray | None
    a_ub: sp.csr_array
    b_ub: np.ndarray
    upper: np.ndarray
    n_products: int


def _tree_nodes(walks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product, parent, count) of every distinct prefix of the walks, parents first
    (parent -1 at the first step)."""
    products: list[int] = []
    parents: list[int] = []
    counts: list[int] = []
    node_of = np.full(walks.shape[0], -1, dtype=np.int64)
    for step in range(walks.shape[1]):
        alive = np.flatnonzero(walks[:, step] >= 0)
        if alive.size == 0:
            break
        keys = np.stack([node_of[alive], walks[alive, step]], axis=1)
        unique, inverse, count = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        ids = np.empty(unique.shape[0], dtype=np.int64)
        for row, (parent, product) in enumerate(unique.tolist()):
            ids[row] = len(products)
            products.append(product)
            parents.append(parent)
            counts.append(int(count[row]))
        node_of[alive] = ids[np.asarray(inverse).ravel()]
    return np.array(products, np.int64), np.array(parents, np.int64), np.array(counts, float)


def tree_program(instance: Instance, scenarios: list[np.ndarray]) -> WalkProgram:
    """The prefix-tree LP of the module docstring. Variables: x (N), then per node a_v and b_v."""
    n, k = instance.n_products, len(scenarios)
    m = instance.prices - instance.salvage
    h = instance.costs - instance.salvage
    cost_parts, eq_rows, eq_cols, eq_vals, b_eq = [h], [], [], [], []
    ub_rows, ub_cols, ub_vals = [], [], []
    offset, eq_count, ub_count = n, 0, 0
    for walks in scenarios:
        product, parent, count = _tree_nodes(walks)
        v = product.size
        a = offset + 2 * np.arange(v)
        b = a + 1
        cost = np.zeros(2 * v)
        cost[1::2] = -m[product] / k
        cost_parts.append(cost)
        rows = eq_count + np.arange(v)
        root = parent < 0
        # a_v = n_v at the root; a_v - (n_v / n_p)(a_p - b_p) = 0 below.
        eq_rows += [rows, rows[~root], rows[~root]]
        eq_cols += [a, offset + 2 * parent[~root], offset + 2 * parent[~root] + 1]
        ratio = count[~root] / count[parent[~root]]
        eq_vals += [np.ones(v), -ratio, ratio]
        b_eq.append(np.where(root, count, 0.0))
        eq_count += v
        # b_v - a_v <= 0
        rows = ub_count + np.arange(v)
        ub_rows += [rows, rows]
        ub_cols += [b, a]
        ub_vals += [np.ones(v), -np.ones(v)]
        ub_count += v
        # sum_{v: j(v) = j} b_v - x_j <= 0
        ub_rows += [ub_count + product, ub_count + np.arange(n)]
        ub_cols += [b, np.arange(n)]
        ub_vals += [np.ones(v), -np.ones(n)]
        ub_count += n
        offset += 2 * v
    a_eq = sp.csr_array(
        (np.concatenate(eq_vals), (np.concatenate(eq_rows), np.concatenate(eq_cols))),
        shape=(eq_count, offset),
    )
    a_ub = sp.csr_array(
        (np.concatenate(ub_vals), (np.concatenate(ub_rows), np.concatenate(ub_cols))),
        shape=(ub_count, offset),
    )
    cap = max(float(w.shape[0]) for w in scenarios) if scenarios else 0.0
    upper = np.concatenate([np.full(n, cap), np.full(offset - n, np.inf)])
    return WalkProgram(
        np.concatenate(cost_parts), a_eq, np.concatenate(b_eq), a_ub, np.zeros(ub_count), upper, n
    )


def free_program(instance: Instance, scenarios: list[np.ndarray]) -> WalkProgram:
    """The free-assignment LP of the module docstring. Variables: x (N), then y_{k,W,j}."""
    n, k = instance.n_products, len(scenarios)
    m = instance.prices - instance.salvage
    h = instance.costs - instance.salvage
    cost_parts, rows, cols, vals, b_ub = [h], [], [], [], []
    offset, row_count = n, 0
    for walks in scenarios:
        visited = np.zeros((walks.shape[0], n), dtype=bool)
        for step in range(walks.shape[1]):
            alive = np.flatnonzero(walks[:, step] >= 0)
            visited[alive, walks[alive, step]] = True
        packed = np.packbits(visited, axis=1)
        unique, count = np.unique(packed, axis=0, return_counts=True)
        sets = np.unpackbits(unique, axis=1, count=n).astype(bool)
        set_index, product = np.nonzero(sets)
        y = offset + np.arange(product.size)
        cost_parts.append(-m[product] / k)
        rows += [row_count + set_index]
        cols += [y]
        vals += [np.ones(product.size)]
        b_ub.append(count.astype(float))
        row_count += sets.shape[0]
        rows += [row_count + product, row_count + np.arange(n)]
        cols += [y, np.arange(n)]
        vals += [np.ones(product.size), -np.ones(n)]
        b_ub.append(np.zeros(n))
        row_count += n
        offset += product.size
    a_ub = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(row_count, offset),
    )
    cap = max(float(w.shape[0]) for w in scenarios) if scenarios else 0.0
    upper = np.concatenate([np.full(n, cap), np.full(offset - n, np.inf)])
    return WalkProgram(np.concatenate(cost_parts), None, None, a_ub, np.concatenate(b_ub), upper, n)


def walk_saa_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    scenarios: int | None = None,
    routing: str = "tree",
    max_steps: int = DEFAULT_MAX_STEPS,
) -> PolicyResult:
    """Walk-scenario SAA of the module docstring: ``routing`` ``tree`` (non-anticipative) or
    ``free`` (clairvoyant assignment); ``scenarios`` K (None: from the LP budget); walks cut at
    ``max_steps``. ``info`` carries ``status``, ``saa_value`` (in-sample value), ``scenarios``,
    ``lp_variables`` and ``routing``."""
    start = time.perf_counter()
    generator = rng_iv(rng)
    choice_iv("routing", routing, ROUTINGS)
    max_steps = integer_iv("max_steps", max_steps, low=1, high=MAX_STEPS)
    if scenarios is not None:
        scenarios = integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS)
    build = tree_program if routing == "tree" else free_program
    drawn = [sample_walks(instance, generator, max_steps)]
    if scenarios is None:
        per_scenario = max(1, build(instance, drawn).cost.size - instance.n_products)
        scenarios = int(np.clip(LP_VARIABLE_LIMIT // per_scenario, 1, MAX_AUTO_SCENARIOS))
    drawn += [sample_walks(instance, generator, max_steps) for _ in range(scenarios - 1)]
    program = build(instance, drawn)
    result = linprog(
        program.cost,
        A_ub=program.a_ub,
        b_ub=program.b_ub,
        A_eq=program.a_eq,
        b_eq=program.b_eq,
        bounds=np.column_stack([np.zeros_like(program.upper), program.upper]),
        method="highs",
    )
    n = instance.n_products
    x = result.x[:n] if result.x is not None else np.zeros(n)
    return PolicyResult(
        policy="walk-saa",
        stock=round_stock(x, "nearest"),
        solve_seconds=time.perf_counter() - start,
        info={
            "status": int(result.status),
            "saa_value": float(-result.fun) if result.x is not None else float("nan"),
            "scenarios": scenarios,
            "lp_variables": int(program.cost.size),
            "routing": routing,
        },
    )
