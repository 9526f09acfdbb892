"""The multi-step online shopper (DESIGN.md 3): a ground-truth customer process that is not a
Markov chain, and its fitted Markov chain approximation for planners.

A visitor

1. searches with probability q (``search_probability``); otherwise she leaves without buying;
2. draws an anchor product a with probability w_a (``popularity``, a power law in the families);
3. sees a consideration set C of k products (``consideration``): the anchor plus k - 1 products
   drawn without replacement, with probabilities proportional to w, from the anchor's
   neighbourhood N(a) (``neighbourhood[a]``, e.g. its nearest neighbours in attribute space);
4. buys by MNL among the products of C that are in stock: product i with probability
   v_i / (v_0 + sum_{l in C, in stock} v_l) (``weights`` v, ``outside_weight`` v_0 > 0), or leaves.

Step 4 is simulated as a preference list: Gumbel-max utilities u_i = log v_i + G_i (i in C) and
u_0 = log v_0 + G_0 rank C, truncated where the outside option falls; she buys the first product
on that list that is in stock. That is exactly MNL among the available considered products, and
the list does not depend on stock, so common random numbers hold as for Markov chain customers.

Draws of customer t of season k (streams of :mod:`envs.streams`, ckey = customer_key(
season_key(seed, k), t)): step 0 decides the search (uniform < q), step 1 the anchor (alias
table of w), steps 2..k the other considered products (uniform times the remaining weight, a
linear scan over N(a)), steps k+1..2k the Gumbel noise of the considered products in that order
and step 2k+1 the outside option's. Season KPIs match the Markov chain kernel: her *first
choice* is the top of her list; she is *lost* if she has one but buys nothing, and a purchase of
another product is a *substitution*.

Fitted MC approximation (DESIGN.md 2): lambda_i = P_i(all), rho_ij = (P_j(all minus i) -
P_j(all)) / P_i(all). The consideration set does not depend on stock, and given C the MNL
closed forms give P(first = i | C) = v_i / (v_0 + V_C) and P_j(all minus i | C) - P_j(all | C)
= P(first = i, second = j | C) = v_i v_j / ((v_0 + V_C)(v_0 + V_C - v_i)) for i, j in C. So

    lambda_i = q E_C[P(first = i | C)],   rho_ij = q E_C[P(first = i, second = j | C)] / lambda_i,

estimated by sampling consideration sets only and accumulating the exact conditional
probabilities (Rao-Blackwellization), stratified by anchor: ``samples_per_anchor`` sets for each
anchor a, weighted w_a / samples_per_anchor. The estimate is unbiased for each sum; with
k = N it is exact (a single possible set). Because v_0 > 0 every row of rho sums to less than 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit, prange, uint64

from envs.instance import Instance, make_instance
from envs.streams import (
    POISSON_CUSTOMER,
    alias_sample,
    alias_table,
    customer_key,
    draw,
    season_key,
    to_uniform,
)
from envs.tables import poisson_count
from envs.validation import (
    InputError,
    InputTypeError,
    describe,
    integer_iv,
    real_iv,
    rng_iv,
    vector_iv,
)

DEFAULT_SAMPLES_PER_ANCHOR = 256
MAX_SAMPLES_PER_ANCHOR = 65_536
SPARSE_ABOVE = 1000
"""Substitution matrices (fitted here, generated in :mod:`envs.families`) are stored as a
``scipy.sparse.csr_array`` beyond this many products, dense otherwise."""


@dataclass(frozen=True, eq=False)
class MultiStepShopper:
    """The multi-step online shopper of the module docstring.

    Arguments: ``popularity`` w (N positive numbers, normalized to sum 1), ``weights`` v (N
    positive MNL weights), ``outside_weight`` v_0 > 0, ``search_probability`` q in [0, 1],
    ``consideration`` k (1 <= k <= N) and ``neighbourhood`` (int[N, m], m >= k - 1: row a lists
    m distinct products other than a, the candidates that join anchor a in the consideration set).
    """

    popularity: np.ndarray
    weights: np.ndarray
    outside_weight: float
    search_probability: float
    consideration: int
    neighbourhood: np.ndarray
    anchor_threshold: np.ndarray = field(init=False, repr=False)
    anchor_alias: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        w = vector_iv("popularity", self.popularity, low=0.0, low_open=True)
        n = w.shape[0]
        if n == 0:
            raise InputError("`popularity` must list at least one product; got an empty list")
        v = vector_iv("weights", self.weights, n, low=0.0, low_open=True, length_of="popularity")
        # v_0 = 0 would let the fitted chain trap customers.
        v0 = real_iv("outside_weight", self.outside_weight, low=0.0, low_open=True)
        q = real_iv("search_probability", self.search_probability, low=0.0, high=1.0)
        k = integer_iv("consideration", self.consideration, low=1, high=n)
        neighbourhood = _neighbourhood_iv(self.neighbourhood, n, int(k))
        w = w / w.sum()
        threshold, alias = alias_table(w)
        for name, value in (
            ("popularity", w),
            ("weights", v),
            ("neighbourhood", neighbourhood),
            ("anchor_threshold", threshold),
            ("anchor_alias", alias),
        ):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "outside_weight", float(v0))
        object.__setattr__(self, "search_probability", float(q))
        object.__setattr__(self, "consideration", int(k))

    @property
    def n_products(self) -> int:
        return int(self.popularity.shape[0])

    def run_seasons(
        self,
        stock: np.ndarray,
        seed: int,
        first_season: int,
        customers: int,
        poisson: bool,
        sales: np.ndarray,
        kpis: np.ndarray,
    ) -> None:
        """Simulate seasons first_season .. first_season + K - 1 of ``stock`` (the hook of
        :func:`envs.simulate.simulate`): fills ``sales[k, i]`` (units of i sold) and ``kpis[k]``
        = (customers arriving, lost, substitutions). ``sales`` and ``kpis`` must be zero
        int64 arrays of shapes (K, N) and (K, 3). Bit-identical for any number of threads.
        """
        n = self.n_products
        stock = np.ascontiguousarray(stock, dtype=np.int64)
        assert stock.shape == (n,) and sales.dtype == np.int64 and sales.shape[1:] == (n,)
        assert kpis.dtype == np.int64 and kpis.shape == (sales.shape[0], 3)
        _run_seasons(
            stock,
            np.uint64(seed),
            np.int64(first_season),
            np.int64(customers),
            bool(poisson),
            self.search_probability,
            self.anchor_threshold,
            self.anchor_alias,
            self.neighbourhood,
            self.popularity,
            np.log(self.weights),
            math.log(self.outside_weight),
            self.consideration,
            sales,
            kpis,
        )

    def fit_markov_chain(
        self,
        samples_per_anchor: int = DEFAULT_SAMPLES_PER_ANCHOR,
        rng: None | int | np.random.Generator = None,
    ) -> tuple[np.ndarray, np.ndarray | sp.csr_array]:
        """(lambda, rho) of the fitted MC approximation (module docstring), from
        ``samples_per_anchor`` consideration sets per anchor; the sampling streams are keyed
        by one 63-bit seed drawn from ``rng``. rho is dense up to ``SPARSE_ABOVE`` products."""
        samples_per_anchor = integer_iv(
            "samples_per_anchor", samples_per_anchor, low=1, high=MAX_SAMPLES_PER_ANCHOR
        )
        seed = int(rng_iv(rng).integers(2**63))
        n, m = self.neighbourhood.shape
        first = np.zeros((n, m + 1))
        joint = np.zeros((n, m + 1, m + 1))
        _fit_kernel(
            np.uint64(seed),
            int(samples_per_anchor),
            self.popularity,
            self.weights,
            self.outside_weight,
            self.consideration,
            self.neighbourhood,
            first,
            joint,
        )
        members = np.concatenate(
            [np.arange(n, dtype=np.int64)[:, None], self.neighbourhood], axis=1
        )
        q = self.search_probability
        arrival = q * np.bincount(members.ravel(), weights=first.ravel(), minlength=n)
        rows = np.broadcast_to(members[:, :, None], joint.shape).ravel()
        cols = np.broadcast_to(members[:, None, :], joint.shape).ravel()
        joint = sp.coo_array((q * joint.ravel(), (rows, cols)), shape=(n, n)).tocsr()
        joint.sum_duplicates()
        safe = np.where(arrival > 0, arrival, 1.0)
        rho = sp.csr_array(sp.diags_array(1.0 / safe) @ joint)
        rho.eliminate_zeros()
        if n <= SPARSE_ABOVE:
            return arrival, rho.toarray()
        rho.sort_indices()
        return arrival, rho


def multistep_instance(
    shopper: MultiStepShopper,
    *,
    prices: Any,
    costs: Any,
    customers: int,
    salvage: Any = None,
    arrivals: str = "fixed",
    name: str = "multistep",
    samples_per_anchor: int = DEFAULT_SAMPLES_PER_ANCHOR,
    rng: None | int | np.random.Generator = None,
) -> Instance:
    """An :class:`Instance` whose simulator runs ``shopper`` and whose ``arrival`` and
    ``substitution`` are the shopper's fitted MC approximation (what planners see)."""
    if not isinstance(shopper, MultiStepShopper):
        raise InputTypeError(f"`shopper` must be a MultiStepShopper; got {describe(shopper)}")
    arrival, rho = shopper.fit_markov_chain(samples_per_anchor, rng)
    return make_instance(
        name=name,
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=arrival,
        substitution=rho,
        customers=customers,
        arrivals=arrivals,
        shopper=shopper,
        metadata={"choice_model": "multistep", "fit_samples_per_anchor": int(samples_per_anchor)},
    )


def _neighbourhood_iv(neighbourhood: Any, n: int, k: int) -> np.ndarray:
    arr = np.array(neighbourhood)
    if arr.ndim != 2 or arr.shape[0] != n or arr.dtype.kind not in "iu":
        raise InputError(
            f"`neighbourhood` must be an integer array of shape ({n}, m); "
            f"got {arr.dtype} {arr.shape}"
        )
    m = arr.shape[1]
    if m < k - 1:
        raise InputError(
            f"`neighbourhood` lists {m} candidates per anchor; "
            f"`consideration` = {k} needs at least {k - 1}"
        )
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise InputError(
            f"`neighbourhood` holds an index outside [0, {n}); "
            f"got {int(arr.min())}..{int(arr.max())}"
        )
    own = np.flatnonzero((arr == np.arange(n)[:, None]).any(axis=1))
    if own.size:
        a = int(own[0])
        raise InputError(
            f"`neighbourhood` row {a} lists product {a} itself; rows must list other products"
        )
    ordered = np.sort(arr, axis=1)
    repeated = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
    if repeated.size:
        raise InputError(
            f"`neighbourhood` row {int(repeated[0])} lists a product twice; "
            "rows must be distinct products"
        )
    return np.ascontiguousarray(arr)


# ------------------------------------------------------------------------------ kernels


@njit(cache=True)
def _consideration_set(ckey, anchor, k, neighbourhood, popularity, chosen, local, taken):
    """Fill chosen[0:k]: the anchor, then k - 1 candidates of N(anchor) drawn without
    replacement proportionally to popularity with the draws at steps 2, ..., k of ``ckey``;
    local[r] is 0 for the anchor and 1 + s for candidate neighbourhood[anchor, s]."""
    chosen[0] = anchor
    local[0] = 0
    m = neighbourhood.shape[1]
    for s in range(m):
        taken[s] = False
    for r in range(1, k):
        total = 0.0
        for s in range(m):
            if not taken[s]:
                total += popularity[neighbourhood[anchor, s]]
        target = to_uniform(draw(ckey, 1 + r)) * total
        pick = -1
        cumulative = 0.0
        for s in range(m):
            if taken[s]:
                continue
            pick = s
            cumulative += popularity[neighbourhood[anchor, s]]
            if target < cumulative:
                break
        taken[pick] = True
        chosen[r] = neighbourhood[anchor, pick]
        local[r] = 1 + pick


@njit(inline="always", cache=True)
def _gumbel(u):
    """Standard Gumbel from a 64-bit draw, via a uniform on the open interval (0, 1)."""
    p = (np.float64(u >> uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
    return -math.log(-math.log(p))


@njit(parallel=True, cache=True)
def _run_seasons(
    stock,
    seed,
    first_season,
    customers,
    poisson,
    search,
    anchor_threshold,
    anchor_alias,
    neighbourhood,
    popularity,
    log_weights,
    log_outside,
    k,
    sales,
    kpis,
):
    n = stock.shape[0]
    m = neighbourhood.shape[1]
    for season in prange(sales.shape[0]):
        skey = season_key(seed, first_season + season)
        n_customers = customers
        if poisson:
            n_customers = poisson_count(customer_key(skey, POISSON_CUSTOMER), np.float64(customers))
        remaining = stock.copy()
        chosen = np.empty(k, dtype=np.int64)
        local = np.empty(k, dtype=np.int64)
        taken = np.empty(m, dtype=np.bool_)
        utility = np.empty(k, dtype=np.float64)
        lost = 0
        substitutions = 0
        for t in range(n_customers):
            ckey = customer_key(skey, t)
            if to_uniform(draw(ckey, 0)) >= search:
                continue
            anchor = alias_sample(draw(ckey, 1), 0, n, anchor_threshold, anchor_alias)
            _consideration_set(ckey, anchor, k, neighbourhood, popularity, chosen, local, taken)
            for r in range(k):
                utility[r] = log_weights[chosen[r]] + _gumbel(draw(ckey, k + 1 + r))
            outside = log_outside + _gumbel(draw(ckey, 2 * k + 1))
            top = -1
            best = -1
            for r in range(k):
                if utility[r] <= outside:
                    continue
                if top < 0 or utility[r] > utility[top]:
                    top = r
                if remaining[chosen[r]] > 0 and (best < 0 or utility[r] > utility[best]):
                    best = r
            if top < 0:
                continue
            if best < 0:
                lost += 1
                continue
            if best != top:
                substitutions += 1
            i = chosen[best]
            remaining[i] -= 1
            sales[season, i] += 1
        kpis[season, 0] = n_customers
        kpis[season, 1] = lost
        kpis[season, 2] = substitutions


@njit(parallel=True, cache=True)
def _fit_kernel(seed, samples, popularity, weights, outside, k, neighbourhood, first, joint):
    """For each anchor a, over ``samples`` consideration sets C drawn from the streams
    customer_key(season_key(seed, a), s): add w_a / samples times P(first = i | C) to
    first[a, local(i)] and times P(first = i, second = j | C) to joint[a, local(i), local(j)]
    (local positions: 0 for a, 1 + s for neighbourhood[a, s])."""
    n = popularity.shape[0]
    m = neighbourhood.shape[1]
    for a in prange(n):
        skey = season_key(seed, a)
        chosen = np.empty(k, dtype=np.int64)
        local = np.empty(k, dtype=np.int64)
        taken = np.empty(m, dtype=np.bool_)
        scale = popularity[a] / samples
        for s in range(samples):
            _consideration_set(
                customer_key(skey, s), a, k, neighbourhood, popularity, chosen, local, taken
            )
            total = outside
            for r in range(k):
                total += weights[chosen[r]]
            for r in range(k):
                p_first = weights[chosen[r]] / total
                first[a, local[r]] += scale * p_first
                rest = total - weights[chosen[r]]
                for c in range(k):
                    if c != r:
                        joint[a, local[r], local[c]] += scale * p_first * weights[chosen[c]] / rest
