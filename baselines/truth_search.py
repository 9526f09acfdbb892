"""A planner that knows the truth: pattern search on the instance's own customer process.

**This planner knows the true customer process.** Every other heuristic plans on the instance's
Markov chain (the fitted MC when the customers are another process, DESIGN.md 3); this one
simulates the process itself, so it is the reference of the *price of the abstraction*: its
profit minus the best MC heuristic's, both evaluated on the true process.

The objective is F(x), the mean profit of x over a bank of ``seasons`` seasons of
:func:`envs.simulate.simulate` on the instance as it is (its ``shopper`` when it has one, else
its Markov chain), under a bank seed drawn from ``rng`` in [2^62, 2^63). Every candidate meets
the same customers (common random numbers), so F is a deterministic function of x. The
leaderboard and the studies evaluate on seeds below 2^62 (the configs' customer seeds), so the
bank never holds an evaluation season.

Start (``start="best"``): the stocks of the Markov chain heuristics ``fluid``,
``assortment-newsvendor``, ``saa`` and ``sample-path-gradient`` (and ``shock-aware-saa`` when
the instance has a demand environment, :mod:`baselines.shock_saa`), each solved with a seed
from ``rng``; the best on the bank, then the best of that stock scaled by 0.6, 0.7, ..., 1.4
(rounded to whole units: a shock that scales every product's demand is one move away). Or one
named heuristic's stock, scaled likewise.

Then coordinate pattern search: product i has a step h_i, initially max(1, round(x_i / 4)). A
pass visits the products in a random order (from ``rng``) and tries x_i + h_i, then
x_i - h_i (never below 0); an improving move is kept and repeated in the same direction while
it improves; when neither direction improves, h_i halves (down to 1). After a pass that
neither moved nor halved a step (every h_i = 1: a +-1 local optimum of F, the stopping point of
:mod:`baselines.local_search`, reached with far fewer evaluations when the optimum is tens of
units away), a *transfer* sweep (``transfers=True``) tries moving one unit between substitutes
(x_i - 1, x_j + 1 for rho_ij > 0 or rho_ji > 0, both directions, pairs in a random order;
first improvement): the move that pooling decisions need and that one coordinate at a time
cannot make (on tiny instances, from (2, 0, 4) to the optimum (3, 0, 3), or from (1, 2, 4) to
(2, 2, 3)). An improving transfer sends the search back to its passes. It stops when a pass
and a transfer sweep both fail (``stopped="converged"``); or after ``max_passes`` passes
(``"iterations"``), ``max_evaluations`` distinct stocks evaluated (``"evaluations"``) or,
only if given, ``time_limit`` seconds (``"time_limit"``). Without a time limit the result
depends on the seed alone.

Budget: an evaluation costs ``seasons`` x T simulated customers; the default
``max_evaluations`` (:func:`default_evaluations`) is ``CUSTOMER_BUDGET`` = 4e9 customers
(8,000 evaluations at N = 20, T = 500 with 1,000 seasons; in the abstraction study the search
converged within 1,500), at least 100 and at most 20,000. Like local search, it is a strong
reference on small and medium catalogs and budget-limited on large ones.
"""

from __future__ import annotations

import time

import numpy as np

from baselines.assortment import assortment_newsvendor_policy
from baselines.fluid import fluid_policy
from baselines.gradient import sample_path_gradient_policy
from baselines.policy import PolicyResult
from baselines.saa import saa_policy
from baselines.shock_saa import shock_aware_saa_policy
from envs.instance import Instance
from envs.shocks import ShockShopper
from envs.simulate import simulate
from envs.validation import choice_iv, flag_iv, integer_iv, rng_iv, time_limit_iv

CUSTOMER_BUDGET = 4_000_000_000
MIN_EVALUATIONS = 100
MAX_EVALUATIONS = 20_000
MAX_BANK_SEASONS = 4096
MAX_PASSES = 1_000
SCALES = (0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4)
BANK_SEED_LOW = 2**62
"""Bank seeds lie in [2^62, 2^63); evaluation seeds of configs and studies lie below."""
START_POLICIES = {
    "fluid": fluid_policy,
    "assortment-newsvendor": assortment_newsvendor_policy,
    "saa": saa_policy,
    "sample-path-gradient": sample_path_gradient_policy,
    "shock-aware-saa": shock_aware_saa_policy,
}
STARTS = ("best", *START_POLICIES)


def default_evaluations(seasons: int, customers: int) -> int:
    """min(``MAX_EVALUATIONS``, max(``MIN_EVALUATIONS``, ``CUSTOMER_BUDGET`` // (seasons T)))."""
    return min(
        MAX_EVALUATIONS, max(MIN_EVALUATIONS, CUSTOMER_BUDGET // max(seasons * customers, 1))
    )


def substitute_pairs(instance: Instance) -> np.ndarray:
    """int64[P, 2]: the pairs i < j with rho_ij > 0 or rho_ji > 0 (the transfer moves)."""
    rho = instance.substitution_csr
    coo = (rho + rho.T).tocoo()
    keep = coo.row < coo.col
    pairs = np.stack([coo.row[keep], coo.col[keep]], axis=1).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


class BankObjective:
    """F(x) of the module docstring, with a cache of the distinct stocks evaluated."""

    def __init__(self, instance: Instance, seasons: int, seed: int) -> None:
        self.instance = instance
        self.seasons = seasons
        self.seed = seed
        self.values: dict[bytes, float] = {}

    def __call__(self, stock: np.ndarray) -> float:
        key = np.asarray(stock, dtype=np.int64).tobytes()
        if key not in self.values:
            result = simulate(self.instance, stock, self.seasons, self.seed)
            self.values[key] = float(result.profit.mean())
        return self.values[key]

    @property
    def evaluations(self) -> int:
        return len(self.values)


def truth_search_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    seasons: int = 1000,
    start: str = "best",
    max_passes: int = 100,
    transfers: bool = True,
    max_evaluations: int | None = None,
    time_limit: float | None = None,
) -> PolicyResult:
    """Pattern search on the true process (module docstring).

    ``info`` carries ``bank_profit`` (F at the result), ``start_profit`` and ``start_from`` (the
    start candidate and scale), ``candidates`` (F of each start heuristic's stock),
    ``evaluations`` (distinct stocks), ``coordinate_moves``, ``transfer_moves``, ``passes``,
    ``stopped``, ``seasons``,
    ``max_evaluations``, ``bank_seed`` and ``knows`` (``"true process"``).
    """
    begin = time.perf_counter()
    generator = rng_iv(rng)
    seasons = integer_iv("seasons", seasons, low=1, high=MAX_BANK_SEASONS)
    choice_iv("start", start, STARTS)
    max_passes = integer_iv("max_passes", max_passes, low=1, high=MAX_PASSES)
    transfers = flag_iv("transfers", transfers)
    if max_evaluations is None:
        max_evaluations = default_evaluations(seasons, instance.customers)
    max_evaluations = integer_iv("max_evaluations", max_evaluations, low=1, high=MAX_EVALUATIONS)
    time_limit = time_limit_iv(time_limit)
    objective = BankObjective(instance, seasons, int(generator.integers(BANK_SEED_LOW, 2**63)))

    names = [start] if start != "best" else list(START_POLICIES)
    if start == "best" and not isinstance(instance.shopper, ShockShopper):
        names.remove("shock-aware-saa")  # without a demand environment it is saa again
    candidates = {}
    for name in names:
        seed = int(generator.integers(2**62))
        stock = START_POLICIES[name](instance, rng=seed).stock.astype(np.int64)
        candidates[name] = (stock, objective(stock))
    start_from = max(candidates, key=lambda name: candidates[name][1])
    base, best = candidates[start_from]
    x = base.copy()
    chosen = start_from
    for scale in SCALES:
        scaled = np.round(base * scale).astype(np.int64)
        value = objective(scaled)
        if value > best:
            x, best, chosen = scaled, value, f"{start_from} x {scale:g}"
    start_profit = best

    steps = np.maximum(1, np.round(x / 4)).astype(np.int64)
    pairs = substitute_pairs(instance) if transfers else np.zeros((0, 2), dtype=np.int64)
    passes = 0
    moves = {"coordinate": 0, "transfer": 0}
    stopped = "iterations"

    def out_of_budget() -> str | None:
        if objective.evaluations >= max_evaluations:
            return "evaluations"
        if time_limit is not None and time.perf_counter() - begin > time_limit:
            return "time_limit"
        return None

    while passes < max_passes and stopped == "iterations":
        passes += 1
        changed = False
        for i in generator.permutation(instance.n_products):
            moved = False
            for sign in (1, -1):
                while objective.evaluations < max_evaluations:
                    candidate = x.copy()
                    candidate[i] = max(0, x[i] + sign * steps[i])
                    if candidate[i] == x[i]:
                        break
                    value = objective(candidate)
                    if value <= best:
                        break
                    x, best, moved = candidate, value, True
                    moves["coordinate"] += 1
                if moved:
                    break
            if not moved and steps[i] > 1:
                steps[i] //= 2
                moved = True
            changed = changed or moved
            stopped = out_of_budget() or stopped
            if stopped != "iterations":
                break
        if changed or stopped != "iterations":
            continue
        for k in generator.permutation(pairs.shape[0]):
            for a, b in (pairs[k], pairs[k][::-1]):
                if x[a] == 0 or out_of_budget():
                    continue
                candidate = x.copy()
                candidate[a] -= 1
                candidate[b] += 1
                value = objective(candidate)
                if value > best:
                    x, best, changed = candidate, value, True
                    moves["transfer"] += 1
                    break
            if changed:
                break
        stopped = out_of_budget() or ("iterations" if changed else "converged")
    info = {
        "bank_profit": best,
        "start_profit": start_profit,
        "start_from": chosen,
        "candidates": {name: value for name, (_, value) in candidates.items()},
        "evaluations": objective.evaluations,
        "coordinate_moves": moves["coordinate"],
        "transfer_moves": moves["transfer"],
        "passes": passes,
        "stopped": stopped,
        "seasons": seasons,
        "max_evaluations": max_evaluations,
        "bank_seed": objective.seed,
        "knows": "true process",
    }
    return PolicyResult(
        policy="truth-search", stock=x, solve_seconds=time.perf_counter() - begin, info=info
    )
