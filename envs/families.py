"""Named, seeded instance families (DESIGN.md 4).

``make_family_instance(family, seed, **overrides)`` returns the same :class:`Instance` for the
same ``(family, seed, overrides)``. :data:`FAMILIES` maps each name to a :class:`FamilySpec`
(a description and the default value of every knob); an override must name one of that
family's knobs.

The generator, for a catalog of N products and T customers:

* popularity: product ranks are a random permutation of 1..N and w_i = rank_i^-alpha / sum
  (a power law; with alpha around 1.5 most of a large catalog has mean demand T lambda_i < 1);
* first choice: lambda_i = (1 - no_purchase) w_i, so lambda_0 = ``no_purchase``;
* prices r_i ~ U[price_low, price_high], costs c_i = r_i U[cost_fraction_low, cost_fraction_high]
  (margins of 1 - cost fraction), salvage s_i = salvage_fraction * c_i;
* substitution: positions p_i ~ U[0, 1]^2 in a latent attribute space; product i substitutes to
  its ``neighbours`` nearest products N(i) weighted by popularity, with a leak (chance of
  leaving after a stock-out) leak_i ~ U[leak_low, leak_high]:

      rho_ij = (1 - leak_i) lambda_j / sum_{l in N(i)} lambda_l   for j in N(i), else 0.

  Every row leaks (leak_low > 0), so the chain cannot trap a customer. Substitution is stored
  as a ``scipy.sparse.csr_array`` beyond ``SPARSE_ABOVE`` products, dense otherwise.

The vendor families (``vendors-small``, ``vendors-medium``; DESIGN.md 6) group the products
into V = ``n_vendors`` vendors (brands) of equal size (up to one product), assigned at random,
so that every vendor offers products across the attribute space. Vendor v's costs are shifted
by a vendor-level offset o_v ~ U[-``vendor_cost_spread``, +``vendor_cost_spread``] (c_i = r_i
clip(U[cost_fraction_low, cost_fraction_high] + o_v, 0.05, 0.95)), so vendors differ in how
good a deal they are. A product substitutes to its ``vendor_neighbours`` nearest products of its
own vendor and its ``neighbours`` nearest products of other vendors, each group weighted by
popularity, with the share ``within_vendor`` of the substitution mass staying in the vendor:

    rho_ij = (1 - leak_i) w lambda_j / sum_{l in N_in(i)} lambda_l          for j in N_in(i),
    rho_ij = (1 - leak_i) (1 - w) lambda_j / sum_{l in N_out(i)} lambda_l   for j in N_out(i)

(when one of the groups is empty the other carries the whole 1 - leak_i). The vendor labels
0..V-1 are drawn as a random permutation, and a label is the vendor's arrival position in the
sequential problem (:attr:`Instance.vendors`).

The ``mnl`` family is exact MNL (weights v_i = w_i, outside weight v_0 chosen so that the
no-purchase share with everything offered is ``no_purchase``) through
:func:`envs.choice.mnl_instance`; ``multistep`` is the online shopper of
:mod:`envs.multistep` on the same kind of catalog, its instance carrying the fitted MC model.

``pooling-trap`` is the worst case for rounding the fluid LP (the mechanism of El Housni et al.,
"Joint Assortment and Inventory Planning for Heavy Tailed Demand", 2021), built to be pooled:

* ``heads`` head products with the usual economics (r ~ U[price_low, price_high], c = r U[cost
  fraction]), an equal share of the first choices left over by the tail, and no substitution
  (a head customer who finds her product missing leaves);
* N - ``heads`` tail products, each attached to a random head h: mean first-choice demand
  D_i = T lambda_i ~ U[``tail_demand_low``, ``tail_demand_high``) (default U[0.5, 1): fluid
  sales that round *up* to one unit), a customer who finds it missing walks to h with
  probability 1 - ``tail_leak`` (default 0.999), cost c_i = ``tail_cost_fraction`` r_i (default
  0.7 > 1 - e^-1 >= 1 - e^-D_i: a lone unit sells with probability about 1 - e^-D_i and loses
  money on its own), and margin r_i - c_i = (1 + ``edge``) (1 - tail_leak) (r_h - c_h), so the
  fluid LP *strictly* prefers selling the tail product to passing its customer on (by the
  ``edge``, default 0.1 %).

The fluid bound credits each tail product (r_i - c_i) D_i; the rounded fluid policy buys a unit
for 0.7 r_i that sells with probability about 0.6 and so loses a constant per tail product:
Theta(N - heads) in total, linear in T when the catalog grows like T. Pooling the tail into the
heads gives up only the edge on the tail's fluid credit plus the heads' O(sqrt(heads T))
newsvendor loss. The knobs set the trap's strength: ``edge`` (how much the fluid LP prefers the
tail), ``tail_cost_fraction`` (what a lone unit loses), the tail demand range and ``tail_leak``.
The tail's first choices must leave the heads a share: N - heads tail products need
(N - heads) tail_demand_high < (1 - no_purchase) T.
Ground-truth processes where the Markov chain abstraction may cost more (DESIGN.md 3), each on
the Markov chain catalog above, with knobs for the strength of the effect (0 gives back a
Markov chain process, a built-in control):

* ``market``, ``popularity``, ``fashion``, ``households``: shocked seasons
  (:mod:`envs.shocks`), presets of one builder with the knobs ``cv_market`` (CV of the
  season's market size), ``cv_popularity`` (CV of each product's popularity multiplier),
  ``cluster_share`` (the share of its log-variance common to a style), ``style_grid`` g (styles
  are the cells of a g x g grid over the latent attribute space, so substitutes, which are
  neighbours there, tend to share a style) and ``batch_mean`` (mean household size). Arrivals
  are Poisson (mean T); the chain is the exact fitted MC.
* ``segments``, ``drift``: two segments (:mod:`envs.segments`): *loyal* customers (first
  choice lambda, rho = 0: a stock-out loses them) and *bargain hunters* (MNL over the whole
  catalog with weights w_i^(1/2) exp(-``price_sensitivity`` (r_i - mean r)) and a no-purchase
  share ``hunter_no_purchase``: they substitute widely and lean towards cheap products). The
  loyal share moves linearly from ``loyal_share`` + ``drift`` / 2 (first customer) to
  ``loyal_share`` - ``drift`` / 2 (last): loyal fans early, bargain hunters late. The chain is
  the mixture's exact fitted MC.
"""

from __future__ import annotations

import difflib
import zlib
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from envs.choice import mnl_instance
from envs.instance import (
    ARRIVAL_MODES,
    MAX_CUSTOMERS,
    MAX_MONEY,
    MAX_PRODUCTS,
    MIN_PRICE,
    Instance,
    make_instance,
)
from envs.multistep import (
    MAX_SAMPLES_PER_ANCHOR,
    SPARSE_ABOVE,
    MultiStepShopper,
    multistep_instance,
)
from envs.segments import SegmentShopper, segment_chain, segment_instance
from envs.shocks import MAX_BATCH_MEAN, MAX_CV, DemandEnvironment, shock_instance
from envs.validation import InputError, choice_iv, integer_iv, real_iv, seed_iv

Params = dict[str, Any]


@dataclass(frozen=True)
class FamilySpec:
    """A named instance family: what it is, its knobs' defaults and its builder."""

    name: str
    description: str
    defaults: Mapping[str, Any]
    build: Callable[[np.random.Generator, Params], Instance]


# ------------------------------------------------------------------------- knob rules


def _int_rule(low: int, high: int) -> Callable[[str, Any], int]:
    def rule(label: str, value: Any) -> int:
        return integer_iv(label, value, low=low, high=high, integral_float=True)

    return rule


def _float_rule(low: float, high: float, *, open_low: bool = False) -> Callable[[str, Any], float]:
    def rule(label: str, value: Any) -> float:
        return real_iv(label, value, low=low, high=high, low_open=open_low)

    return rule


def _arrivals_rule(label: str, value: Any) -> str:
    return choice_iv(label, value, ARRIVAL_MODES)


def _fraction_below_one_rule(label: str, value: Any) -> float:
    return real_iv(label, value, low=0.0, high=1.0, high_open=True)


MAX_NEIGHBOURS = 100
MAX_CONSIDERATION = 100
MAX_DENSE_PRODUCTS = 2_000
MAX_STYLE_GRID = 32
MAX_VENDORS = 1_000
"""The most vendors a family may have (each is one step of the sequential environments)."""
"""Families with a dense substitution matrix (``mnl``) hold at most this many products."""
KNOB_RULES: Mapping[str, Callable[[str, Any], Any]] = MappingProxyType(
    {
        "n_products": _int_rule(1, MAX_PRODUCTS),
        "customers": _int_rule(1, MAX_CUSTOMERS),
        "arrivals": _arrivals_rule,
        "alpha": _float_rule(0.0, 10.0),
        "no_purchase": _float_rule(0.0, 0.99),
        "neighbours": _int_rule(0, MAX_NEIGHBOURS),
        "leak_low": _float_rule(0.0, 1.0, open_low=True),
        "leak_high": _float_rule(0.0, 1.0, open_low=True),
        "price_low": _float_rule(MIN_PRICE, MAX_MONEY),
        "price_high": _float_rule(MIN_PRICE, MAX_MONEY),
        "cost_fraction_low": _float_rule(0.0, 1.0),
        "cost_fraction_high": _float_rule(0.0, 1.0),
        "salvage_fraction": _float_rule(0.0, 1.0),
        "search_probability": _float_rule(0.0, 1.0),
        "consideration": _int_rule(1, MAX_CONSIDERATION),
        "utility_spread": _float_rule(0.0, 10.0),
        "outside_weight": _float_rule(0.0, 1e12, open_low=True),
        "samples_per_anchor": _int_rule(1, MAX_SAMPLES_PER_ANCHOR),
        "heads": _int_rule(1, MAX_PRODUCTS),
        "tail_leak": _float_rule(0.0, 1.0, open_low=True),
        "edge": _float_rule(0.0, 10.0),
        "tail_cost_fraction": _fraction_below_one_rule,
        "tail_demand_low": _float_rule(0.0, 1e6, open_low=True),
        "tail_demand_high": _float_rule(0.0, 1e6, open_low=True),
        "cv_market": _float_rule(0.0, MAX_CV),
        "cv_popularity": _float_rule(0.0, MAX_CV),
        "cluster_share": _float_rule(0.0, 1.0),
        "style_grid": _int_rule(1, MAX_STYLE_GRID),
        "batch_mean": _float_rule(1.0, MAX_BATCH_MEAN),
        "loyal_share": _float_rule(0.0, 1.0),
        "drift": _float_rule(0.0, 1.0),
        "price_sensitivity": _float_rule(0.0, 10.0),
        "hunter_no_purchase": _float_rule(0.0, 0.99),
        "n_vendors": _int_rule(1, MAX_VENDORS),
        "vendor_neighbours": _int_rule(0, MAX_NEIGHBOURS),
        "within_vendor": _float_rule(0.0, 1.0),
        "vendor_cost_spread": _float_rule(0.0, 0.5),
    }
)
"""Validation of every knob: ``rule(name, value)`` returns the normalized value or raises
:class:`~envs.validation.InputError`; every size has an upper limit, so no override can make a
build run for hours or exhaust memory."""


def _pairs_iv(params: Params) -> None:
    for low, high in (
        ("leak_low", "leak_high"),
        ("price_low", "price_high"),
        ("cost_fraction_low", "cost_fraction_high"),
        ("tail_demand_low", "tail_demand_high"),
    ):
        if low in params and params[low] > params[high]:
            raise InputError(
                f"override `{low}` is {params[low]!r}, above `{high}` = {params[high]!r}; "
                f"`{low}` must be at most `{high}`"
            )


# ---------------------------------------------------------------------- building blocks


def power_law_popularity(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """w_i = rank_i^-alpha / sum_l rank_l^-alpha with ranks a random permutation of 1..n."""
    ranks = rng.permutation(n) + 1.0
    weights = ranks**-alpha
    return weights / weights.sum()


def catalog_economics(
    rng: np.random.Generator, n: int, params: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prices r ~ U[price_low, price_high], costs c = r U[cost_fraction_low, high], s = f c."""
    prices = rng.uniform(params["price_low"], params["price_high"], n)
    costs = prices * rng.uniform(params["cost_fraction_low"], params["cost_fraction_high"], n)
    salvage = costs * params["salvage_fraction"]
    return prices, costs, salvage


def nearest_neighbours(positions: np.ndarray, m: int) -> np.ndarray:
    """int64[N, m]: the m nearest other products of each product (Euclidean, nearest first)."""
    n = positions.shape[0]
    if m == 0:
        return np.zeros((n, 0), dtype=np.int64)
    _, index = cKDTree(positions).query(positions, k=m + 1)
    index = np.asarray(index, dtype=np.int64).reshape(n, m + 1)
    # Drop the product itself (normally column 0; with tied distances possibly elsewhere).
    is_self = index == np.arange(n)[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(index, order, axis=1)[:, :m]


def neighbour_substitution(
    arrival: np.ndarray, neighbours: np.ndarray, leak: np.ndarray
) -> np.ndarray | sp.csr_array:
    """rho_ij = (1 - leak_i) lambda_j / sum_{l in N(i)} lambda_l for j in N(i) (rows N(i))."""
    n, m = neighbours.shape
    target = arrival[neighbours]
    values = (1.0 - leak)[:, None] * target / target.sum(axis=1, keepdims=True) if m else target
    rows = np.repeat(np.arange(n), m)
    rho = sp.csr_array((values.ravel(), (rows, neighbours.ravel())), shape=(n, n))
    if n > SPARSE_ABOVE:
        return rho
    return rho.toarray()


# --------------------------------------------------------------------------- builders


def _markov_chain_catalog(
    rng: np.random.Generator, params: Params, arrivals: str
) -> tuple[Instance, np.ndarray]:
    """The Markov chain catalog of the module docstring and its latent positions (N x 2)."""
    n = params["n_products"]
    popularity = power_law_popularity(rng, n, params["alpha"])
    arrival = (1.0 - params["no_purchase"]) * popularity
    prices, costs, salvage = catalog_economics(rng, n, params)
    positions = rng.random((n, 2))
    leak = rng.uniform(params["leak_low"], params["leak_high"], n)
    neighbours = nearest_neighbours(positions, min(params["neighbours"], n - 1))
    instance = make_instance(
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=arrival,
        substitution=neighbour_substitution(arrival, neighbours, leak),
        customers=params["customers"],
        arrivals=arrivals,
    )
    return instance, positions


def _build_markov_chain(rng: np.random.Generator, params: Params) -> Instance:
    return _markov_chain_catalog(rng, params, params["arrivals"])[0]


def style_clusters(positions: np.ndarray, grid: int) -> np.ndarray:
    """int64[N]: the cell of a ``grid`` x ``grid`` grid over [0, 1)^2 holding each position,
    renumbered 0..C-1 over the non-empty cells (so there are at most N clusters)."""
    cells = np.minimum((positions * grid).astype(np.int64), grid - 1)
    _, labels = np.unique(cells[:, 0] * grid + cells[:, 1], return_inverse=True)
    return labels.astype(np.int64).ravel()


def _build_shocks(rng: np.random.Generator, params: Params) -> Instance:
    base, positions = _markov_chain_catalog(rng, params, "poisson")
    environment = DemandEnvironment(
        cv_market=params["cv_market"],
        cv_popularity=params["cv_popularity"],
        cluster_share=params["cluster_share"],
        clusters=style_clusters(positions, params["style_grid"]),
        batch_mean=params["batch_mean"],
    )
    return shock_instance(base, environment)


def loyal_and_hunters(base: Instance, params: Params) -> tuple[Instance, Instance]:
    """The two segment chains of the ``segments`` family (module docstring): loyal customers
    (base lambda, rho = 0) and bargain hunters (MNL through its exact chain)."""
    n = base.n_products
    loyal = segment_chain(base.arrival, np.zeros((n, n)), base, "loyal segment")
    popularity = base.arrival / base.arrival.sum()
    log_weights = 0.5 * np.log(popularity) - params["price_sensitivity"] * (
        base.prices - base.prices.mean()
    )
    weights = np.maximum(np.exp(log_weights - log_weights.max()), 1e-300)
    share = params["hunter_no_purchase"]
    mnl = mnl_instance(
        weights,
        share / (1.0 - share) * weights.sum(),
        prices=base.prices,
        costs=base.costs,
        customers=base.customers,
    )
    hunters = segment_chain(mnl.arrival, mnl.substitution, base, "hunter segment")
    return loyal, hunters


def _build_segments(rng: np.random.Generator, params: Params) -> Instance:
    loyal_share, drift = params["loyal_share"], params["drift"]
    if not (0.0 <= loyal_share - drift / 2 and loyal_share + drift / 2 <= 1.0):
        raise InputError(
            f"override `drift` is {drift!r}; with `loyal_share` = {loyal_share!r} the loyal "
            "share moves from loyal_share + drift / 2 to loyal_share - drift / 2, which must "
            "stay within [0, 1]"
        )
    base, _ = _markov_chain_catalog(rng, params, params["arrivals"])
    start = loyal_share + drift / 2
    end = loyal_share - drift / 2
    shopper = SegmentShopper(
        loyal_and_hunters(base, params), np.array([start, 1 - start]), np.array([end, 1 - end])
    )
    return segment_instance(
        shopper,
        prices=base.prices,
        costs=base.costs,
        salvage=base.salvage,
        customers=base.customers,
        arrivals=base.arrivals,
    )


def vendor_substitution(
    arrival: np.ndarray,
    positions: np.ndarray,
    vendors: np.ndarray,
    leak: np.ndarray,
    params: Params,
) -> np.ndarray | sp.csr_array:
    """rho of the vendor families (module docstring): nearest products within and across
    vendors, the share ``within_vendor`` of the mass 1 - leak_i within."""
    n = arrival.shape[0]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    share = params["within_vendor"]
    groups = {}
    for same in (True, False):
        wanted = params["vendor_neighbours"] if same else params["neighbours"]
        index = np.full((n, wanted), -1, dtype=np.int64)
        for v in np.unique(vendors):
            members = np.flatnonzero(vendors == v)
            pool = members if same else np.flatnonzero(vendors != v)
            m = min(wanted, pool.size - (1 if same else 0))
            if m <= 0:
                continue
            _, found = cKDTree(positions[pool]).query(positions[members], k=m + (1 if same else 0))
            found = pool[np.asarray(found, dtype=np.int64).reshape(members.size, -1)]
            if same:  # drop the product itself (tied distances may put it anywhere)
                order = np.argsort(found == members[:, None], axis=1, kind="stable")
                found = np.take_along_axis(found, order, axis=1)[:, :m]
            index[members, :m] = found
        groups[same] = index
    for same in (True, False):
        index = groups[same]
        other = groups[not same]
        present = index >= 0
        target = np.where(present, arrival[np.maximum(index, 0)], 0.0)
        total = target.sum(axis=1, keepdims=True)
        has_other = (other >= 0).any(axis=1, keepdims=True)
        part = np.where(has_other, share if same else 1.0 - share, 1.0)
        mass = (1.0 - leak)[:, None] * part
        weight = np.divide(mass * target, total, out=np.zeros_like(target), where=total > 0)
        keep = present & (weight > 0)
        rows.append(np.nonzero(keep)[0])
        cols.append(index[keep])
        values.append(weight[keep])
    rho = sp.csr_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return rho if n > SPARSE_ABOVE else rho.toarray()


def _build_vendor_chain(rng: np.random.Generator, params: Params) -> Instance:
    n = params["n_products"]
    n_vendors = params["n_vendors"]
    if n_vendors > n:
        raise InputError(
            f"override `n_vendors` is {n_vendors}; a catalog of {n} products has at most {n} "
            "vendors"
        )
    popularity = power_law_popularity(rng, n, params["alpha"])
    arrival = (1.0 - params["no_purchase"]) * popularity
    vendors = np.empty(n, dtype=np.int64)
    vendors[rng.permutation(n)] = np.arange(n) % n_vendors
    vendors = rng.permutation(n_vendors)[vendors]
    prices = rng.uniform(params["price_low"], params["price_high"], n)
    spread = params["vendor_cost_spread"]
    offset = rng.uniform(-spread, spread, n_vendors)[vendors]
    fraction = rng.uniform(params["cost_fraction_low"], params["cost_fraction_high"], n)
    costs = prices * np.clip(fraction + offset, 0.05, 0.95)
    salvage = costs * params["salvage_fraction"]
    positions = rng.random((n, 2))
    leak = rng.uniform(params["leak_low"], params["leak_high"], n)
    return make_instance(
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=arrival,
        substitution=vendor_substitution(arrival, positions, vendors, leak, params),
        customers=params["customers"],
        arrivals=params["arrivals"],
        vendors=vendors,
    )


def _build_mnl(rng: np.random.Generator, params: Params) -> Instance:
    n = params["n_products"]
    if n > MAX_DENSE_PRODUCTS:
        raise InputError(
            f"`n_products` is {n:,}; the mnl family stores its substitution densely and holds "
            f"at most {MAX_DENSE_PRODUCTS:,} products"
        )
    weights = power_law_popularity(rng, n, params["alpha"])
    prices, costs, salvage = catalog_economics(rng, n, params)
    share = params["no_purchase"]
    return mnl_instance(
        weights,
        share / (1.0 - share) * weights.sum(),
        prices=prices,
        costs=costs,
        salvage=salvage,
        customers=params["customers"],
        arrivals=params["arrivals"],
    )


def _build_multistep(rng: np.random.Generator, params: Params) -> Instance:
    n = params["n_products"]
    if params["consideration"] > n:
        raise InputError(
            f"override `consideration` is {params['consideration']}; a shopper cannot consider "
            f"more than the {n} products of the catalog"
        )
    popularity = power_law_popularity(rng, n, params["alpha"])
    prices, costs, salvage = catalog_economics(rng, n, params)
    positions = rng.random((n, 2))
    weights = np.exp(params["utility_spread"] * rng.standard_normal(n))
    size = min(params["neighbours"], n - 1)
    if size < params["consideration"] - 1:
        raise InputError(
            f"override `neighbours` is {params['neighbours']}; the neighbourhood must hold "
            f"at least `consideration` - 1 = {params['consideration'] - 1} products "
            f"(and at most N - 1 = {n - 1})"
        )
    shopper = MultiStepShopper(
        popularity=popularity,
        weights=weights,
        outside_weight=params["outside_weight"],
        search_probability=params["search_probability"],
        consideration=params["consideration"],
        neighbourhood=nearest_neighbours(positions, size),
    )
    return multistep_instance(
        shopper,
        prices=prices,
        costs=costs,
        salvage=salvage,
        customers=params["customers"],
        arrivals=params["arrivals"],
        samples_per_anchor=params["samples_per_anchor"],
        rng=rng,
    )


def _build_pooling_trap(rng: np.random.Generator, params: Params) -> Instance:
    n, t, heads = params["n_products"], params["customers"], params["heads"]
    n_tail = n - heads
    if n_tail < 1:
        raise InputError(
            f"override `heads` is {heads}; the pooling trap needs at least one tail product, "
            f"so `heads` must be below `n_products` = {n}"
        )
    purchase = (1.0 - params["no_purchase"]) * t
    if n_tail * params["tail_demand_high"] >= purchase:
        raise InputError(
            f"the pooling trap's {n_tail:,} tail products with demand up to "
            f"`tail_demand_high` = {params['tail_demand_high']:g} could take all "
            f"(1 - no_purchase) T = {purchase:,.1f} first choices; use fewer products or more "
            "customers"
        )
    head_prices, head_costs, _ = catalog_economics(rng, heads, params)
    demand = rng.uniform(params["tail_demand_low"], params["tail_demand_high"], n_tail)
    owner = rng.integers(heads, size=n_tail)
    leak, fraction = params["tail_leak"], params["tail_cost_fraction"]
    tail_margin = (1.0 + params["edge"]) * (1.0 - leak) * (head_prices - head_costs)[owner]
    tail_prices = tail_margin / (1.0 - fraction)
    arrival = np.concatenate([np.full(heads, (purchase - demand.sum()) / (heads * t)), demand / t])
    rows = heads + np.arange(n_tail)
    rho = sp.csr_array((np.full(n_tail, 1.0 - leak), (rows, owner)), shape=(n, n))
    return make_instance(
        prices=np.concatenate([head_prices, tail_prices]),
        costs=np.concatenate([head_costs, fraction * tail_prices]),
        arrival=arrival,
        substitution=rho if n > SPARSE_ABOVE else rho.toarray(),
        customers=t,
        arrivals=params["arrivals"],
    )


# --------------------------------------------------------------------------- registry

_ECONOMICS = {
    "price_low": 1.0,
    "price_high": 3.0,
    "cost_fraction_low": 0.3,
    "cost_fraction_high": 0.7,
    "salvage_fraction": 0.0,
}
_CHAIN = {"arrivals": "fixed", "no_purchase": 0.2, "leak_low": 0.2, "leak_high": 0.6, **_ECONOMICS}
_PROCESS_CATALOG = {
    "n_products": 20,
    "customers": 500,
    "alpha": 1.0,
    "neighbours": 4,
    "no_purchase": 0.2,
    "leak_low": 0.2,
    "leak_high": 0.6,
    **_ECONOMICS,
}
_SHOCK_CATALOG = _PROCESS_CATALOG  # arrivals are always Poisson: no `arrivals` knob
_SHOCKS = {
    "cv_market": 0.0,
    "cv_popularity": 0.0,
    "cluster_share": 0.5,
    "style_grid": 2,
    "batch_mean": 1.0,
}
_SEGMENT_CATALOG = {**_PROCESS_CATALOG, "arrivals": "fixed"}


def _spec(
    name: str,
    description: str,
    build: Callable[[np.random.Generator, Params], Instance],
    **defaults: Any,
) -> FamilySpec:
    assert all(key in KNOB_RULES for key in defaults), defaults
    return FamilySpec(name, description, MappingProxyType(defaults), build)


FAMILIES: Mapping[str, FamilySpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec(
                "tiny",
                "3 products, 8 customers, every product substitutes to both others; small "
                "enough for the exact DP (envs.exact), with salvage at 25% of cost.",
                _build_markov_chain,
                n_products=3,
                customers=8,
                alpha=1.0,
                neighbours=2,
                **{**_CHAIN, "salvage_fraction": 0.25},
            ),
            _spec(
                "small",
                "10 products, 200 customers, power-law popularity (alpha 1), each product "
                "substitutes to its 3 nearest neighbours in a latent 2-d attribute space.",
                _build_markov_chain,
                n_products=10,
                customers=200,
                alpha=1.0,
                neighbours=3,
                **_CHAIN,
            ),
            _spec(
                "medium",
                "100 products, 2,000 customers, power-law popularity (alpha 1), 5 "
                "neighbour substitutes per product.",
                _build_markov_chain,
                n_products=100,
                customers=2_000,
                alpha=1.0,
                neighbours=5,
                **_CHAIN,
            ),
            _spec(
                "heavy-tail",
                "1,000 products, 10,000 customers, popularity rank^-1.5: most products "
                "have mean demand T lambda_i below one unit; 5 neighbour substitutes per product.",
                _build_markov_chain,
                n_products=1_000,
                customers=10_000,
                alpha=1.5,
                neighbours=5,
                **_CHAIN,
            ),
            _spec(
                "large",
                "100,000 products, 1,000,000 customers, popularity rank^-1.5, sparse "
                "substitution (csr_array) to 5 neighbours per product.",
                _build_markov_chain,
                n_products=100_000,
                customers=1_000_000,
                alpha=1.5,
                neighbours=5,
                **_CHAIN,
            ),
            _spec(
                "mnl",
                "20 products, 500 customers, exact MNL (weights rank^-1, no-purchase share "
                "0.2 with everything offered) through its exact Markov chain map.",
                _build_mnl,
                n_products=20,
                customers=500,
                alpha=1.0,
                arrivals="fixed",
                no_purchase=0.2,
                **_ECONOMICS,
            ),
            _spec(
                "multistep",
                "200 products, 4,000 customers of the multi-step online shopper "
                "(envs.multistep): search with probability 0.6, anchor by popularity rank^-1, "
                "4 more products from the anchor's 10 nearest neighbours, MNL purchase among the "
                "considered products in stock. The simulator runs the shopper; arrival and "
                "substitution hold its fitted MC approximation (the JSON file keeps only that).",
                _build_multistep,
                n_products=200,
                customers=4_000,
                alpha=1.0,
                arrivals="fixed",
                search_probability=0.6,
                consideration=5,
                neighbours=10,
                utility_spread=0.5,
                outside_weight=2.0,
                samples_per_anchor=256,
                **_ECONOMICS,
            ),
            _spec(
                "pooling-trap",
                "Worst case for rounding the fluid LP (after El Housni et al. 2021): 5 head "
                "products and N - 5 = 400 tail products with mean demand U[0.5, 1) each "
                "(T = 1,000), whose customers walk to one head product when the tail product "
                "is missing; a lone tail unit costs 0.7 of its price and the fluid LP prefers "
                "the tail by a 0.1% edge, so the fluid policy loses a constant per tail product.",
                _build_pooling_trap,
                n_products=405,
                customers=1_000,
                heads=5,
                arrivals="fixed",
                no_purchase=0.2,
                tail_leak=0.001,
                edge=0.001,
                tail_cost_fraction=0.7,
                tail_demand_low=0.5,
                tail_demand_high=1.0,
                **_ECONOMICS,
            ),
            _spec(
                "market",
                "20 products, 500 customers (Poisson mean) of the Markov chain catalog (alpha 1, "
                "4 neighbour substitutes) in seasons whose market size is uncertain: every "
                "product's demand is scaled by one Gamma draw G with CV cv_market = 0.5 "
                "(envs.shocks). The chain is the exact fitted MC.",
                _build_shocks,
                **_SHOCK_CATALOG,
                **{**_SHOCKS, "cv_market": 0.5},
            ),
            _spec(
                "popularity",
                "As market, but each product's popularity is shocked instead: lognormal "
                "multipliers with CV cv_popularity = 0.5, half of the log-variance shared by "
                "the product's style (a cell of a 2 x 2 grid of the attribute space).",
                _build_shocks,
                **_SHOCK_CATALOG,
                **{**_SHOCKS, "cv_popularity": 0.5},
            ),
            _spec(
                "fashion",
                "As market, with both shocks: market size and style-correlated popularity, "
                "each with CV 0.4 (SKU forecast error about 0.66, a new fashion item's).",
                _build_shocks,
                **_SHOCK_CATALOG,
                **{**_SHOCKS, "cv_market": 0.4, "cv_popularity": 0.4},
            ),
            _spec(
                "households",
                "As market, without shocks but with households: each arrival wants a "
                "Geometric number of units with mean batch_mean = 2 along one preference walk.",
                _build_shocks,
                **_SHOCK_CATALOG,
                **{**_SHOCKS, "batch_mean": 2.0},
            ),
            _spec(
                "segments",
                "20 products, 500 customers of two segments (envs.segments): loyal customers "
                "(a stock-out loses them) and bargain hunters (MNL over the whole catalog, "
                "leaning to cheap products), half and half; the chain is the exact fitted MC.",
                _build_segments,
                **_SEGMENT_CATALOG,
                loyal_share=0.5,
                drift=0.0,
                price_sensitivity=1.0,
                hunter_no_purchase=0.1,
            ),
            _spec(
                "drift",
                "As segments, but the mix drifts during the season: the loyal share falls "
                "from 0.75 (first customer) to 0.25 (last), so early loyal fans deplete what "
                "late bargain hunters would buy.",
                _build_segments,
                **_SEGMENT_CATALOG,
                loyal_share=0.5,
                drift=0.5,
                price_sensitivity=1.0,
                hunter_no_purchase=0.1,
            ),
            _spec(
                "vendors-small",
                "12 products from 4 vendors of 3 (sequential problem: one vendor per step), "
                "200 customers, power-law popularity (alpha 1); each product substitutes to the "
                "2 other products of its vendor and its 3 nearest products of other vendors, "
                "20% of the substitution mass within the vendor, leak 10-40% per step; vendor "
                "cost offsets +-0.25.",
                _build_vendor_chain,
                n_products=12,
                customers=200,
                alpha=1.0,
                n_vendors=4,
                neighbours=3,
                vendor_neighbours=2,
                within_vendor=0.2,
                vendor_cost_spread=0.25,
                **{**_CHAIN, "leak_low": 0.1, "leak_high": 0.4},
            ),
            _spec(
                "vendors-medium",
                "60 products from 6 vendors of 10, 1,500 customers, power-law popularity "
                "(alpha 1); 3 nearest substitutes within the vendor and 4 across vendors, 20% "
                "of the substitution mass within the vendor, leak 10-40% per step; vendor cost "
                "offsets +-0.25.",
                _build_vendor_chain,
                n_products=60,
                customers=1_500,
                alpha=1.0,
                n_vendors=6,
                neighbours=4,
                vendor_neighbours=3,
                within_vendor=0.2,
                vendor_cost_spread=0.25,
                **{**_CHAIN, "leak_low": 0.1, "leak_high": 0.4},
            ),
        )
    }
)
"""Every named family; iterate this, never a hand-kept list of names."""


def family_parameters(family: str, **overrides: Any) -> Params:
    """The family's defaults with ``overrides`` applied and validated."""
    if family not in FAMILIES:
        close = difflib.get_close_matches(str(family), FAMILIES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"unknown family {family!r}; {hint}known families are {list(FAMILIES)}")
    defaults = FAMILIES[family].defaults
    for key in overrides:
        if key not in defaults:
            close = difflib.get_close_matches(key, defaults, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(
                f"unknown override {key!r} for family {family!r}; {hint}its knobs are "
                f"{sorted(defaults)}"
            )
    params = dict(defaults)
    params.update({key: KNOB_RULES[key](key, value) for key, value in overrides.items()})
    _pairs_iv(params)
    return params


def make_family_instance(family: str, seed: int, **overrides: Any) -> Instance:
    """The instance of ``family`` for ``seed`` (deterministic in family, seed and overrides).

    The generator is ``np.random.default_rng(SeedSequence(seed, spawn_key=(crc32(family),)))``,
    so different families with the same seed draw independently. The instance is named
    ``"<family>-<seed>"`` and its metadata records the family, seed and resolved knobs.
    """
    params = family_parameters(family, **overrides)
    seed = seed_iv("seed", seed)
    sequence = np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(family.encode()),))
    instance = FAMILIES[family].build(np.random.default_rng(sequence), params)
    return replace(
        instance,
        name=f"{family}-{int(seed)}",
        metadata={**instance.metadata, "family": family, "seed": int(seed), "parameters": params},
    )
