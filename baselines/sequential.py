"""Sequential stocking, vendor by vendor: planners that commit one vendor at a time (DESIGN.md 6).

The vendors of an instance (:attr:`envs.instance.Instance.vendors`) arrive in the order of
their labels. At step k the planner knows the revealed sub-catalog R_k (the products of vendors
0..k, substitution among them only; :mod:`envs.vendors`), the stock it has committed to vendors
0..k-1, T and the number of vendors left; it decides vendor k's stock for good. The season is
played on the whole catalog at the end.

**Commitments** are one hook, :func:`plan_with_commitments`: a stock vector ``fixed`` with
``FREE`` (-1) for the products still to decide, the rest fixed. Every planner here is the
sample-average LP of :mod:`baselines.saa` (after Gallego & Kim) on one or several catalogs
("blocks") that share the stock of their common products:

    maximize   sum_m p_m (1/K) sum_k (r - s).z^{mk}  -  sum_m p_m (c - s).x_(m)
    subject to z^{mk} + w^{mk} - rho_m^T w^{mk} = d^{mk},   z^{mk} <= x_(m),
               x_g = fixed_g where fixed,  0 <= x_g <= u,  z, w >= 0,

block m being a catalog with substitution rho_m, K first-choice scenarios d^{mk}
(:func:`baselines.scenarios.first_choice_counts`) and weight p_m, x_(m) the global stock of its
products (u = the largest scenario's customers). With one block and no fixed product it is
exactly the SAA LP of :func:`baselines.saa.saa_program` (tested). ``planner="fluid"`` uses the
single expected scenario d = T lambda instead of sampled ones: the fluid LP with the committed
products' sales capped by their stock. Committed costs are sunk; they enter the objective as a
constant. Free products' x is rounded to the nearest unit. Solved by HiGHS (``linprog``).

**Myopic re-planning** (:func:`myopic_policy`, registered as ``myopic-saa`` and
``myopic-fluid``): at step k, one block, the revealed sub-catalog R_k, vendors 0..k-1 fixed at
their commitments, vendor k free. It plans as if the revealed catalog were the whole catalog.

**Lookahead over sampled future vendors** (:func:`lookahead_policy`, ``lookahead-saa``; ours):
the planner knows the instance's *family* (``instance.metadata["family"]`` and its knobs), not
the instance. At step k it draws M sampled futures: family instances I'_m of fresh seeds in
[0, 1,000,000) (training seeds; never the held-out evaluation seeds), whose vendors k+1..V-1
stand in for the vendors to come (F_m). Block m is the revealed catalog R_k plus F_m (the
*composite*):

* R_k with its true data and rho among R_k;
* F_m with its sampled prices, costs, salvage and rho among F_m; its lambda scaled so that the
  composite's total first-choice mass equals the sample's (sum lambda' - sum lambda_R, spread
  over F_m in the sample's proportions; the family fixes the total, the revealed part is known);
* cross substitution through a matching pi of R_k to the sample's own first k + 1 vendors
  (vendor by vendor, by popularity rank within the vendor, as rank quantiles when the sizes
  differ): row i of R_k sends rho'_{pi(i) f} to future product f (scaled down if the row would
  sum to more than 0.999), and future product f sends rho'_{f pi(i)} to i (split equally among
  the products matched to the same sample product).

The M blocks share the stock of R_k (vendors 0..k-1 fixed, vendor k free); each block's future
products have their own stock (decided later, with that future known: the usual anticipative
approximation of a multi-stage problem); p_m = 1/M. At the last step there is no future and the
lookahead is the myopic step. This is our construction, not a published algorithm.

An instance without vendor labels is one vendor, revealed at once: the sequential planners then
plan the whole catalog in one step (myopic and lookahead are the one-shot commitment LP).

**Full information** (the ceiling) is any one-shot heuristic of :data:`baselines.registry.
POLICIES` on the whole catalog, e.g. ``saa``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from baselines.fluid import round_stock
from baselines.policy import PolicyResult
from baselines.scenarios import MAX_SCENARIOS, first_choice_counts
from envs.episodes import HELD_OUT_SEED_START
from envs.families import FAMILIES, make_family_instance
from envs.instance import Instance, make_instance
from envs.validation import (
    InputError,
    choice_iv,
    integer_iv,
    number_array_iv,
    rng_iv,
)
from envs.vendors import revealed_products, sub_catalog, vendors_of

FREE = -1
"""The entry of ``fixed`` for a product whose stock is still to decide."""
PLANNERS = ("saa", "fluid")
MAX_FUTURES = 256
MAX_PROGRAM_CELLS = 5_000_000
"""Blocks x scenarios x products of one commitment LP, at most (about 1e7 LP variables)."""
ROW_CEILING = 0.999
"""Composite rows of the lookahead sum to at most this (the chain must leak)."""


@dataclass(frozen=True)
class Block:
    """One catalog of a commitment LP: its instance, the global stock index of each of its
    products, its first-choice scenarios (K, n) and its weight p."""

    instance: Instance
    index: np.ndarray
    demands: np.ndarray
    weight: float


@dataclass(frozen=True)
class CommitmentProgram:
    """The LP of the module docstring in ``linprog`` form: minimize ``cost @ v`` subject to
    ``a_eq @ v == b_eq``, ``a_ub @ v <= b_ub``, ``lower <= v <= upper``; v = (x, then per
    block z^{m1..mK}, w^{m1..mK})."""

    cost: np.ndarray
    a_eq: sp.csr_array
    b_eq: np.ndarray
    a_ub: sp.csr_array
    b_ub: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_stock: int


def fixed_iv(fixed: Any, n: int) -> np.ndarray:
    """int64[n] commitments: whole numbers >= 0, or ``FREE`` (-1) for products to decide."""
    arr = number_array_iv("fixed", fixed)
    if arr.shape != (n,):
        raise InputError(f"`fixed` must have shape ({n},), one entry per product; got {arr.shape}")
    bad = np.flatnonzero((arr != np.round(arr)) | (arr < FREE))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"`fixed` entry {i} is {float(arr[i])!r}; entries must be whole units >= 0, or -1 "
            "for a product still to decide"
        )
    return arr.astype(np.int64)


def commitment_program(blocks: Sequence[Block], fixed: np.ndarray) -> CommitmentProgram:
    """Build the LP of the module docstring (pure: no solver is called). The matrices are
    assembled as coordinate lists in one pass (scipy's block constructors cost more than the
    solve on the small catalogs of the sequential environments)."""
    g = fixed.shape[0]
    holding = np.zeros(g)
    cap = 0.0
    eq_rows, eq_cols, eq_vals, ub_rows, ub_cols, ub_vals = [], [], [], [], [], []
    costs, b_eq = [], []
    column = g  # next free variable
    row = 0  # next equality (and inequality) row: both have K n rows per block
    for block in blocks:
        inst, k = block.instance, block.demands.shape[0]
        n = inst.n_products
        np.add.at(holding, block.index, block.weight * (inst.costs - inst.salvage))
        cap = max(cap, float(block.demands.sum(axis=1).max()))
        rho = inst.substitution_csr.tocoo()
        scen = np.arange(k)[:, None]
        z0 = column + scen * n  # first z column of each scenario
        w0 = column + k * n + scen * n  # first w column of each scenario
        r0 = row + scen * n  # first row of each scenario
        items = np.arange(n)[None, :]
        # z^k_i + w^k_i - sum_j rho_ji w^k_j = d^k_i
        eq_rows += [(r0 + items).ravel(), (r0 + items).ravel(), (r0 + rho.col[None, :]).ravel()]
        eq_cols += [(z0 + items).ravel(), (w0 + items).ravel(), (w0 + rho.row[None, :]).ravel()]
        eq_vals += [np.ones(k * n), np.ones(k * n), np.tile(-rho.data, k)]
        # z^k_i - x_(i) <= 0
        ub_rows += [(r0 + items).ravel(), (r0 + items).ravel()]
        ub_cols += [(z0 + items).ravel(), np.tile(block.index, k)]
        ub_vals += [np.ones(k * n), -np.ones(k * n)]
        margin = inst.prices - inst.salvage
        costs.append(np.concatenate([np.tile(-block.weight * margin / k, k), np.zeros(k * n)]))
        b_eq.append(block.demands.ravel())
        column += 2 * k * n
        row += k * n
    shape = (row, column)
    a_eq = sp.csr_array(
        (np.concatenate(eq_vals), (np.concatenate(eq_rows), np.concatenate(eq_cols))), shape=shape
    )
    a_ub = sp.csr_array(
        (np.concatenate(ub_vals), (np.concatenate(ub_rows), np.concatenate(ub_cols))), shape=shape
    )
    cost = np.concatenate([holding, *costs])
    lower = np.zeros(column)
    upper = np.full(column, np.inf)
    committed = fixed >= 0
    lower[:g] = np.where(committed, fixed, 0.0)
    upper[:g] = np.where(committed, fixed, cap)
    return CommitmentProgram(
        cost=cost,
        a_eq=a_eq,
        b_eq=np.concatenate(b_eq),
        a_ub=a_ub,
        b_ub=np.zeros(row),
        lower=lower,
        upper=upper,
        n_stock=g,
    )


def solve_commitments(program: CommitmentProgram) -> tuple[np.ndarray, float, int]:
    """(fractional x, in-sample objective, HiGHS status) of a commitment LP; a failed solve
    returns the lower bounds (the commitments, 0 elsewhere) and its status."""
    result = linprog(
        program.cost,
        A_ub=program.a_ub,
        b_ub=program.b_ub,
        A_eq=program.a_eq,
        b_eq=program.b_eq,
        bounds=np.column_stack([program.lower, program.upper]),
        method="highs",
    )
    if result.x is None:
        return program.lower[: program.n_stock].copy(), float("nan"), int(result.status)
    return result.x[: program.n_stock].copy(), float(-result.fun), int(result.status)


def planning_scenarios(
    instance: Instance, planner: str, scenarios: int, rng: np.random.Generator
) -> np.ndarray:
    """(K, n) first-choice scenarios: K sampled ones (``saa``) or the one expected scenario
    T lambda (``fluid``)."""
    if planner == "fluid":
        return (instance.customers * instance.arrival)[None, :].astype(np.float64)
    return first_choice_counts(instance, scenarios, rng).astype(np.float64)


def plan_with_commitments(
    blocks: Sequence[Block], fixed: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """The stock int64[G] of the commitment LP over ``blocks`` with ``fixed`` commitments:
    the fixed entries as given, the free ones rounded to the nearest unit; and facts."""
    cells = sum(b.demands.size for b in blocks)
    if cells > MAX_PROGRAM_CELLS:
        raise InputError(
            f"the commitment LP would hold {cells:,} scenario cells (blocks x scenarios x "
            f"products); at most {MAX_PROGRAM_CELLS:,} (use fewer scenarios or futures)"
        )
    x, value, status = solve_commitments(commitment_program(blocks, fixed))
    stock = np.where(fixed >= 0, fixed, round_stock(x, "nearest"))
    return stock, {"status": status, "lp_value": value}


def plan_commitments(
    instance: Instance,
    fixed: Any,
    *,
    rng: None | int | np.random.Generator = None,
    planner: str = "saa",
    scenarios: int = 32,
) -> np.ndarray:
    """The commitment hook: plan the products of ``instance`` whose ``fixed`` entry is
    ``FREE`` (-1), the others' stock fixed at their entry (one block, module docstring);
    returns int64[N] (the fixed entries as given)."""
    planner, scenarios = _knobs_iv(planner, scenarios)
    fixed = fixed_iv(fixed, instance.n_products)
    demands = planning_scenarios(instance, planner, scenarios, rng_iv(rng))
    block = Block(instance, np.arange(instance.n_products), demands, 1.0)
    stock, _ = plan_with_commitments([block], fixed)
    return stock


# ------------------------------------------------------------------------------ steps

StepPlanner = Callable[[Instance, np.ndarray, int, np.random.Generator], np.ndarray]
"""(instance, stock committed so far (0 for undecided), step k, rng) -> stock of vendor k's
products (int64[N], only vendor k's entries are used)."""


def myopic_step(
    instance: Instance,
    committed: np.ndarray,
    step: int,
    rng: np.random.Generator,
    *,
    planner: str = "saa",
    scenarios: int = 32,
) -> np.ndarray:
    """Vendor ``step``'s stock by myopic re-planning (module docstring), as int64[N]."""
    products = revealed_products(instance, step)
    sub = sub_catalog(instance, products)
    new = instance.vendors[products] == step
    fixed = np.where(new, FREE, committed[products])
    demands = planning_scenarios(sub, planner, scenarios, rng)
    block = Block(sub, np.arange(products.size), demands, 1.0)
    stock, _ = plan_with_commitments([block], fixed)
    out = np.zeros(instance.n_products, dtype=np.int64)
    out[products] = stock
    return out


def sequential_plan(instance: Instance, step_planner: StepPlanner, rng: Any) -> np.ndarray:
    """Play the vendors of ``instance`` in label order with ``step_planner``: the committed
    stock int64[N] (an instance without vendor labels is one vendor)."""
    if instance.vendors is None:
        instance = replace(instance, vendors=np.zeros(instance.n_products, dtype=np.int64))
    vendors = vendors_of(instance)
    generator = rng_iv(rng)
    stock = np.zeros(instance.n_products, dtype=np.int64)
    for step in range(instance.n_vendors):
        decided = step_planner(instance, stock, step, generator)
        stock = np.where(vendors == step, decided, stock)
    return stock


def _knobs_iv(planner: str, scenarios: int) -> tuple[str, int]:
    return (
        choice_iv("planner", planner, PLANNERS),
        integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS),
    )


def myopic_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    planner: str = "saa",
    scenarios: int = 32,
) -> PolicyResult:
    """Myopic re-planning, vendor by vendor (module docstring): ``planner`` ``saa`` (K =
    ``scenarios`` first-choice scenarios) or ``fluid`` (the expected scenario)."""
    start = time.perf_counter()
    planner, scenarios = _knobs_iv(planner, scenarios)

    def step(inst: Instance, committed: np.ndarray, k: int, gen: np.random.Generator):
        return myopic_step(inst, committed, k, gen, planner=planner, scenarios=scenarios)

    stock = sequential_plan(instance, step, rng)
    return PolicyResult(
        policy=f"myopic-{planner}",
        stock=stock,
        solve_seconds=time.perf_counter() - start,
        info={"vendors": instance.n_vendors, "scenarios": scenarios},
    )


def myopic_saa_policy(
    instance: Instance, *, rng: None | int | np.random.Generator = None, scenarios: int = 32
) -> PolicyResult:
    """:func:`myopic_policy` with the SAA planner (registered as ``myopic-saa``)."""
    return myopic_policy(instance, rng=rng, planner="saa", scenarios=scenarios)


def myopic_fluid_policy(
    instance: Instance, *, rng: None | int | np.random.Generator = None
) -> PolicyResult:
    """:func:`myopic_policy` with the fluid planner (registered as ``myopic-fluid``)."""
    return myopic_policy(instance, rng=rng, planner="fluid", scenarios=1)


# --------------------------------------------------------------------------- lookahead


def family_of(instance: Instance, family: str | None, knobs: Mapping[str, Any] | None):
    """(family name, knobs) the lookahead samples futures from: the arguments, else the
    instance's metadata (set by :func:`envs.families.make_family_instance`)."""
    name = family if family is not None else instance.metadata.get("family")
    params = dict(knobs) if knobs is not None else dict(instance.metadata.get("parameters", {}))
    if name is None:
        raise InputError(
            f"instance {instance.name!r} does not say its family (no metadata); the lookahead "
            "samples future vendors from the family: pass `family` (and `family_knobs`)"
        )
    choice_iv("family", name, tuple(FAMILIES))
    return name, params


def rank_matching(real: np.ndarray, sample: np.ndarray, real_vendors, sample_vendors, vendors):
    """pi: for each real product (indices into ``real``), the sample product of the same
    vendor position with the same popularity-rank quantile (module docstring)."""
    match = np.empty(real.size, dtype=np.int64)
    for v in range(vendors):
        mine = np.flatnonzero(real_vendors == v)
        theirs = np.flatnonzero(sample_vendors == v)
        mine = mine[np.argsort(-real[mine], kind="stable")]
        theirs = theirs[np.argsort(-sample[theirs], kind="stable")]
        quantile = np.arange(mine.size) * theirs.size // max(mine.size, 1)
        match[mine] = theirs[quantile]
    return match


def composite_catalog(sub: Instance, sample: Instance, step: int) -> tuple[Instance, int]:
    """The revealed catalog ``sub`` (vendors 0..step, true data) plus the sample's vendors
    after ``step`` (module docstring); products of ``sub`` come first. Returns the composite
    and the number of future products."""
    sample_vendors = vendors_of(sample)
    past = np.flatnonzero(sample_vendors <= step)
    future = np.flatnonzero(sample_vendors > step)
    f = future.size
    pi = past[
        rank_matching(
            sub.arrival,
            sample.arrival[past],
            sub.vendors,
            sample_vendors[past],
            step + 1,
        )
    ]
    rho_s = sample.substitution_csr
    rho_rr = sub.substitution_csr.toarray()
    rho_rf = rho_s[pi][:, future].toarray()
    room = np.maximum(0.0, ROW_CEILING - rho_rr.sum(axis=1))
    out = rho_rf.sum(axis=1)
    scale = np.divide(room, out, out=np.ones_like(out), where=out > room)
    rho_rf *= np.minimum(1.0, scale)[:, None]
    shared = np.bincount(pi, minlength=sample.n_products)[pi]
    rho_fr = rho_s[future][:, pi].toarray() / shared[None, :]
    rho_ff = rho_s[future][:, future].toarray()
    rho = np.block([[rho_rr, rho_rf], [rho_fr, rho_ff]])
    total = float(sample.arrival.sum())
    mass = max(0.0, total - float(sub.arrival.sum()))
    lam_f = sample.arrival[future]
    lam_f = lam_f * (mass / lam_f.sum()) if lam_f.sum() > 0 else lam_f
    lam = np.concatenate([sub.arrival, lam_f])
    lam = lam / max(1.0, float(lam.sum()))
    vendors = np.concatenate([sub.vendors, sample_vendors[future]])
    composite = make_instance(
        name=f"{sub.name}+future",
        prices=np.concatenate([sub.prices, sample.prices[future]]),
        costs=np.concatenate([sub.costs, sample.costs[future]]),
        salvage=np.concatenate([sub.salvage, sample.salvage[future]]),
        arrival=lam,
        substitution=rho,
        customers=sub.customers,
        arrivals=sub.arrivals,
        vendors=vendors,
    )
    return composite, f


def lookahead_step(
    instance: Instance,
    committed: np.ndarray,
    step: int,
    rng: np.random.Generator,
    *,
    family: str,
    knobs: Mapping[str, Any],
    planner: str = "saa",
    scenarios: int = 8,
    futures: int = 8,
) -> np.ndarray:
    """Vendor ``step``'s stock by lookahead over sampled futures (module docstring)."""
    if step == instance.n_vendors - 1:
        return myopic_step(instance, committed, step, rng, planner=planner, scenarios=scenarios)
    products = revealed_products(instance, step)
    sub = sub_catalog(instance, products)
    r = products.size
    new = instance.vendors[products] == step
    blocks = []
    offset = r
    for _ in range(futures):
        seed = int(rng.integers(HELD_OUT_SEED_START))
        sample = make_family_instance(family, seed, **knobs)
        if sample.n_vendors != instance.n_vendors:
            raise InputError(
                f"family {family!r} draws {sample.n_vendors} vendors but instance "
                f"{instance.name!r} has {instance.n_vendors}; the lookahead needs the same count"
            )
        composite, f = composite_catalog(sub, sample, step)
        index = np.concatenate([np.arange(r), offset + np.arange(f)])
        offset += f
        demands = planning_scenarios(composite, planner, scenarios, rng)
        blocks.append(Block(composite, index, demands, 1.0 / futures))
    fixed = np.concatenate([np.where(new, FREE, committed[products]), np.full(offset - r, FREE)])
    stock, _ = plan_with_commitments(blocks, fixed)
    out = np.zeros(instance.n_products, dtype=np.int64)
    out[products] = stock[:r]
    return out


def lookahead_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    planner: str = "saa",
    scenarios: int = 8,
    futures: int = 8,
    family: str | None = None,
    family_knobs: dict[str, Any] | None = None,
) -> PolicyResult:
    """Lookahead over ``futures`` sampled future vendors with ``scenarios`` first-choice
    scenarios each (module docstring); the family is ``family`` / ``family_knobs`` or, by
    default, the instance's own (its metadata). Registered as ``lookahead-saa``."""
    start = time.perf_counter()
    planner, scenarios = _knobs_iv(planner, scenarios)
    futures = integer_iv("futures", futures, low=1, high=MAX_FUTURES)
    single = instance.vendors is None or instance.n_vendors == 1  # no future to sample
    name, knobs = ("", {}) if single else family_of(instance, family, family_knobs)

    def step(inst: Instance, committed: np.ndarray, k: int, gen: np.random.Generator):
        return lookahead_step(
            inst,
            committed,
            k,
            gen,
            family=name,
            knobs=knobs,
            planner=planner,
            scenarios=scenarios,
            futures=futures,
        )

    stock = sequential_plan(instance, step, rng)
    return PolicyResult(
        policy=f"lookahead-{planner}",
        stock=stock,
        solve_seconds=time.perf_counter() - start,
        info={"vendors": instance.n_vendors, "scenarios": scenarios, "futures": futures},
    )
