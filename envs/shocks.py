"""Shocked seasons: uncertain market size, correlated popularity shocks, households.

A ground-truth customer process (DESIGN.md 3) whose customers are Markov chain customers of a
base chain (lambda, rho) while each *season* draws a demand environment
(:class:`DemandEnvironment`):

1. market size: G ~ Gamma(shape 1 / cv_m^2, scale cv_m^2) (mean 1, CV ``cv_market``; G = 1
   when cv_m = 0), the same draw for every product: a forecast of the season's traffic that is
   wrong by tens of percent;
2. popularity: M_i = exp(sigma_c Z_c(i) + sigma_p Z_i - (sigma_c^2 + sigma_p^2) / 2) (mean 1),
   Z standard normal, c(i) the product's cluster (a style shared by similar products);
   sigma_c^2 + sigma_p^2 = log(1 + cv_p^2) and sigma_c^2 = ``cluster_share`` times that, so
   each M_i has CV ``cv_popularity`` and two products of one cluster have log-correlation
   ``cluster_share``;
3. customers whose first choice is product i arrive as independent Poisson streams with season
   totals Poisson(T lambda_i G M_i): in order, a season total Poisson(T G sum_i lambda_i M_i)
   and each customer's first choice drawn with probability lambda_i M_i / sum (the same law).
   Visitors who buy nothing are not simulated (they change nothing): the ``customers`` KPI
   counts the purchase-intending visitors only;
4. a customer whose first choice is out of stock walks through rho exactly as in the MC model;
5. households (``batch_mean`` b > 1): each arrival wants B units, B ~ Geometric(1 / b) on
   {1, 2, ...} (mean b): she buys as many as she can of the first product on her walk that is
   in stock and, when it runs out, walks on for the rest (the units share one walk). Arrivals
   are Poisson(T G sum_i lambda_i M_i / b), so the expected unit demand stays T lambda_i. KPIs
   count households: ``customers`` arrivals, ``lost`` households that bought nothing,
   ``substitutions`` units bought away from the first choice.

Without stock-outs product i's unit demand has mean T lambda_i and squared CV
(2b - 1) / (T lambda_i) + (1 + cv_m^2)(1 + cv_p^2) - 1 (:meth:`ShockShopper.demand_cv`): the
forecast error of a retailer who knows the means exactly. With cv_m = cv_p = 0 and b = 1 the
process *is* the MC model with Poisson(T) customers, in distribution.

**Fitted MC approximation** (DESIGN.md 2): given the season, a customer is an MC customer of
(lambda M / sum, rho); averaged over seasons the expected number of customers choosing i from
an offer set S is T pi_i(S; E[G lambda M], rho) = T pi_i(S; lambda, rho), because pi_S is
linear in lambda. So the fitted model is exactly the base chain with Poisson(T) arrivals (and,
for households, the per-unit chain with T units): what the abstraction loses is only that the
customers of one season share its shock (and, with households, that units come in clumps: the
unit demand variance is multiplied by 2b - 1).

**Streams** (:mod:`envs.streams`): season k of seed s has skey = season_key(s, k). G uses the
draws of customer_key(skey, ``MARKET_CUSTOMER``) (Marsaglia and Tsang: uniforms at draws 0, 1,
..., normals from draw pairs 2m, 2m + 1 with m >= 2^20, so the two never meet); Z_c and Z_i use
customer_key(skey, ``NORMALS_CUSTOMER``), draws 2m and 2m + 1 (Box-Muller, cosine branch) for
normal m = c (clusters first) and m = C + i; the season total uses customer_key(skey,
``POISSON_CUSTOMER``) (:func:`envs.tables.poisson_count`). Customer t uses customer_key(skey,
t): draw 0 is her first choice (a Walker alias table of the season's lambda M, built per
season by :func:`envs.tables.alias_rows` and sampled by :func:`envs.streams.alias_sample`),
draw j her j-th substitution step (the packed row tables of the base chain, as in
:mod:`envs.simulate`), draw ``BATCH_DRAW`` her household size. The walk a customer would take
if nothing were in stock never depends on stock: every stock vector meets the same customers.

Limits: ``cv_market`` and ``cv_popularity`` at most ``MAX_CV`` = 2 (a demand CV of 2 is far
beyond any forecast a retailer would stock against), ``batch_mean`` at most ``MAX_BATCH_MEAN``.
A season's customer count is random and unbounded, but its mean is T, so the work of a call
stays bounded in expectation by the simulator's limit on seasons x T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange, uint64

from envs.instance import Instance, make_instance, register_process
from envs.streams import (
    POISSON_CUSTOMER,
    alias_sample,
    customer_key,
    draw,
    season_key,
    table_sample,
    to_uniform,
)
from envs.tables import ChoiceTables, alias_rows, poisson_count
from envs.validation import InputError, InputTypeError, describe, did_you_mean, real_iv

MARKET_CUSTOMER = np.uint64(0xFFFFFFFFFFFFFFFE)
"""Reserved customer index (2^64 - 2) of the stream of a season's market size G."""
NORMALS_CUSTOMER = np.uint64(0xFFFFFFFFFFFFFFFD)
"""Reserved customer index (2^64 - 3) of the stream of a season's popularity normals Z."""
BATCH_DRAW = np.uint64(1 << 40)
"""Draw index of a household's size in its customer stream (far beyond any walk step)."""
NORMAL_OFFSET = 1 << 20
"""The Gamma sampler's normals use draw pairs from 2 * NORMAL_OFFSET on (its uniforms from 0)."""
MAX_CV = 2.0
MAX_BATCH_MEAN = 100.0
BLOCK_KEYS = ("cv_market", "cv_popularity", "cluster_share", "clusters", "batch_mean")
"""The keys of the ``"demand_environment"`` block of the instance JSON (all optional)."""


@dataclass(frozen=True, eq=False)
class DemandEnvironment:
    """What shocks a season (module docstring): ``cv_market`` and ``cv_popularity`` in
    [0, ``MAX_CV``], ``cluster_share`` in [0, 1], ``clusters`` (None: one cluster per product,
    else N integers in [0, N): product i's style) and ``batch_mean`` in [1,
    ``MAX_BATCH_MEAN``]. The length of ``clusters`` is checked against the catalog by
    :class:`ShockShopper`."""

    cv_market: float = 0.0
    cv_popularity: float = 0.0
    cluster_share: float = 0.0
    clusters: np.ndarray | None = None
    batch_mean: float = 1.0

    def __post_init__(self) -> None:
        for label in ("cv_market", "cv_popularity"):
            value = real_iv(label, getattr(self, label), low=0.0, high=MAX_CV)
            object.__setattr__(self, label, value)
        share = real_iv("cluster_share", self.cluster_share, low=0.0, high=1.0)
        batch = real_iv("batch_mean", self.batch_mean, low=1.0, high=MAX_BATCH_MEAN)
        object.__setattr__(self, "cluster_share", share)
        object.__setattr__(self, "batch_mean", batch)
        if self.clusters is not None:
            object.__setattr__(self, "clusters", _clusters_iv(self.clusters))

    @property
    def sigmas(self) -> tuple[float, float]:
        """(sigma_c, sigma_p): the cluster and product parts of the log-popularity spread."""
        total = math.log1p(self.cv_popularity**2)
        return math.sqrt(self.cluster_share * total), math.sqrt((1 - self.cluster_share) * total)

    @property
    def excess_cv2(self) -> float:
        """(1 + cv_m^2)(1 + cv_p^2) - 1: the squared CV the shocks add to every product."""
        return (1 + self.cv_market**2) * (1 + self.cv_popularity**2) - 1

    def cluster_index(self, n_products: int) -> np.ndarray:
        """int64[N]: each product's cluster (0..N-1 when ``clusters`` is None)."""
        if self.clusters is None:
            return np.arange(n_products, dtype=np.int64)
        return self.clusters

    def to_dict(self) -> dict[str, Any]:
        """The ``"demand_environment"`` JSON block (``clusters`` left out when None)."""
        block: dict[str, Any] = {
            "cv_market": self.cv_market,
            "cv_popularity": self.cv_popularity,
            "cluster_share": self.cluster_share,
        }
        if self.clusters is not None:
            block["clusters"] = self.clusters.tolist()
        block["batch_mean"] = self.batch_mean
        return block

    @classmethod
    def from_dict(cls, block: Any) -> DemandEnvironment:
        """Validate a ``"demand_environment"`` block (unknown keys are refused by name)."""
        if not isinstance(block, dict):
            raise InputTypeError(
                f"`demand_environment` must be a JSON object with keys among {list(BLOCK_KEYS)}; "
                f"got {describe(block)}"
            )
        for key in block:
            if key not in BLOCK_KEYS:
                raise InputError(
                    f"unknown `demand_environment` key {key!r}{did_you_mean(key, BLOCK_KEYS)}"
                )
        return cls(**block)


def _clusters_iv(clusters: Any) -> np.ndarray:
    """Cluster labels: a list of non-negative integers (bools, floats, strings refused)."""
    rule = "`clusters` must be a list of integers in [0, N), one per product"
    if isinstance(clusters, (str, bytes, dict)):
        raise InputTypeError(f"{rule}; got {describe(clusters)}")
    arr = np.asarray(clusters)
    holds_bool = isinstance(clusters, (list, tuple)) and any(
        isinstance(c, (bool, np.bool_)) for c in clusters
    )
    if arr.ndim != 1 or holds_bool or (arr.size and arr.dtype.kind not in "iu"):
        raise InputTypeError(f"{rule}; got {describe(clusters)}")
    if arr.size and (arr.min() < 0 or arr.max() >= arr.size):
        bad = int(np.flatnonzero((arr < 0) | (arr >= arr.size))[0])
        raise InputError(f"{rule}; entry {bad} is {int(arr[bad])} and N is {arr.size}")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ShockShopper:
    """MC customers of a base chain in a season shocked by ``environment`` (module docstring).

    Build it with :meth:`for_instance` (or :func:`shock_instance`): ``arrival`` is the base
    chain's lambda and ``tables`` its packed sampling tables (the substitution walks)."""

    arrival: np.ndarray
    tables: ChoiceTables
    environment: DemandEnvironment
    cluster: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.arrival.shape[0]
        if self.tables.n_products != n:
            raise InputError(
                f"`tables` were built for {self.tables.n_products} products; `arrival` has {n}"
            )
        clusters = self.environment.clusters
        if clusters is not None and clusters.shape[0] != n:
            raise InputError(
                f"`clusters` has {clusters.shape[0]} entries; the catalog has {n} products, "
                "they must match"
            )
        object.__setattr__(self, "cluster", self.environment.cluster_index(n))

    @classmethod
    def for_instance(cls, instance: Instance, environment: DemandEnvironment) -> ShockShopper:
        """The shocked process of ``instance``'s chain."""
        if not isinstance(environment, DemandEnvironment):
            raise InputTypeError(
                f"`environment` must be a DemandEnvironment; got {describe(environment)}"
            )
        return cls(instance.arrival, ChoiceTables.from_instance(instance), environment)

    @property
    def n_products(self) -> int:
        return int(self.arrival.shape[0])

    def json_block(self) -> tuple[str, dict[str, Any]]:
        """``("demand_environment", block)`` for the instance JSON."""
        return "demand_environment", self.environment.to_dict()

    def demand_cv(self, customers: float) -> np.ndarray:
        """CV of each product's first-choice unit demand without stock-outs (module
        docstring); infinite for products nobody chooses first."""
        mean = customers * self.arrival
        with np.errstate(divide="ignore"):
            return np.sqrt(
                (2 * self.environment.batch_mean - 1) / mean + self.environment.excess_cv2
            )

    def season_environment(self, seed: int, seasons: Any) -> tuple[np.ndarray, np.ndarray]:
        """(G[K], M[K, N]) of the given seasons of ``seed``: the kernel's own draws (for checks
        and plots)."""
        seasons = np.ascontiguousarray(seasons, dtype=np.int64)
        g = np.empty(seasons.shape[0])
        m = np.empty((seasons.shape[0], self.n_products))
        sigma_c, sigma_p = self.environment.sigmas
        _environments(
            np.uint64(seed),
            seasons,
            self.environment.cv_market,
            sigma_c,
            sigma_p,
            self.cluster,
            g,
            m,
        )
        return g, m

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
        """The hook of :func:`envs.simulate.simulate` (contract of :mod:`envs.multistep`);
        ``customers`` is the mean T and ``poisson`` is ignored (counts are always mixed
        Poisson). Bit-identical for any number of threads."""
        n = self.n_products
        stock = np.ascontiguousarray(stock, dtype=np.int64)
        assert stock.shape == (n,) and sales.dtype == np.int64 and sales.shape[1:] == (n,)
        assert kpis.dtype == np.int64 and kpis.shape == (sales.shape[0], 3)
        sigma_c, sigma_p = self.environment.sigmas
        _run_seasons(
            stock,
            np.uint64(seed),
            np.int64(first_season),
            float(customers),
            self.arrival,
            self.tables.row_start.astype(np.int64),
            self.tables.slots,
            self.environment.cv_market,
            sigma_c,
            sigma_p,
            self.cluster,
            self.environment.batch_mean,
            sales,
            kpis,
        )


def shock_instance(base: Instance, environment: DemandEnvironment) -> Instance:
    """``base``'s catalog and chain with customers in seasons shocked by ``environment``: the
    shopper is the true process, the chain (with Poisson(T) arrivals) its exact fitted MC."""
    return make_instance(
        name=base.name,
        prices=base.prices,
        costs=base.costs,
        salvage=base.salvage,
        arrival=base.arrival,
        substitution=base.substitution,
        customers=base.customers,
        arrivals="poisson",
        shopper=ShockShopper.for_instance(base, environment),
        metadata={**base.metadata, "choice_model": "shocks"},
    )


def load_block(block: Any, instance: Instance) -> ShockShopper:
    """The loader of the ``"demand_environment"`` block (:func:`envs.instance.register_process`):
    the file's chain is the base chain, and its arrivals must be Poisson."""
    environment = DemandEnvironment.from_dict(block)
    if instance.arrivals != "poisson":
        raise InputError(
            f"`arrivals` must be 'poisson' with a `demand_environment` block (the season's "
            f"customer count is mixed Poisson); got {instance.arrivals!r}"
        )
    return ShockShopper.for_instance(instance, environment)


register_process("demand_environment", load_block)


# ------------------------------------------------------------------------------ kernels


@njit(inline="always", cache=True)
def _open_uniform(u):
    """A uniform on the open interval (0, 1) from a 64-bit draw."""
    return (np.float64(u >> uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(inline="always", cache=True)
def _normal(key, m):
    """Standard normal m of stream ``key``: Box-Muller (cosine branch) on draws 2m, 2m + 1."""
    u1 = _open_uniform(draw(key, 2 * m))
    u2 = to_uniform(draw(key, 2 * m + 1))
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def gamma_mean_one(key, cv):
    """Gamma(1 / cv^2, cv^2) (mean 1, CV ``cv``) from the draws of stream ``key`` (Marsaglia
    and Tsang 2000; for shape a < 1, Gamma(a + 1) U^(1 / a)). cv = 0 gives 1."""
    if cv <= 0.0:
        return 1.0
    a = 1.0 / (cv * cv)
    boost = 1.0
    step = 0
    if a < 1.0:
        boost = _open_uniform(draw(key, 0)) ** (1.0 / a)
        a += 1.0
        step = 1
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    m = NORMAL_OFFSET
    while True:
        x = _normal(key, m)
        m += 1
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _open_uniform(draw(key, step))
        step += 1
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return boost * d * v * cv * cv


@njit(cache=True)
def _environment(skey, cv_market, sigma_c, sigma_p, cluster, m_out):
    """G of season key ``skey`` (returned) and its popularity multipliers M (into ``m_out``)."""
    g = gamma_mean_one(customer_key(skey, MARKET_CUSTOMER), cv_market)
    n = cluster.shape[0]
    if sigma_c == 0.0 and sigma_p == 0.0:
        for i in range(n):
            m_out[i] = 1.0
        return g
    key = customer_key(skey, NORMALS_CUSTOMER)
    n_clusters = 0
    for i in range(n):
        n_clusters = max(n_clusters, cluster[i] + 1)
    shift = -0.5 * (sigma_c * sigma_c + sigma_p * sigma_p)
    for i in range(n):
        z = shift
        if sigma_c > 0.0:
            z += sigma_c * _normal(key, cluster[i])
        if sigma_p > 0.0:
            z += sigma_p * _normal(key, n_clusters + i)
        m_out[i] = math.exp(z)
    return g


@njit(cache=True)
def _environments(seed, seasons, cv_market, sigma_c, sigma_p, cluster, g, m):
    for r in range(seasons.shape[0]):
        skey = season_key(seed, seasons[r])
        g[r] = _environment(skey, cv_market, sigma_c, sigma_p, cluster, m[r])


@njit(parallel=True, cache=True)
def _run_seasons(
    stock,
    seed,
    first_season,
    mean,
    arrival,
    row_start,
    slots,
    cv_market,
    sigma_c,
    sigma_p,
    cluster,
    batch_mean,
    sales,
    kpis,
):
    n = stock.shape[0]
    log_keep = math.log(1.0 - 1.0 / batch_mean) if batch_mean > 1.0 else 0.0
    for k in prange(sales.shape[0]):
        skey = season_key(seed, first_season + k)
        m = np.empty(n)
        g = _environment(skey, cv_market, sigma_c, sigma_p, cluster, m)
        weights = np.empty(n)
        total = 0.0
        for i in range(n):
            weights[i] = arrival[i] * m[i]
            total += weights[i]
        keep, alias = alias_rows(np.array([0, n], dtype=np.int64), weights)
        threshold = np.empty(n, dtype=np.uint64)
        for i in range(n):
            threshold[i] = min(np.uint64(keep[i] * 4294967296.0), np.uint64(4294967295))
        n_customers = poisson_count(
            customer_key(skey, POISSON_CUSTOMER), mean * g * total / batch_mean
        )
        remaining = stock.copy()
        in_stock = 0
        for i in range(n):
            if remaining[i] > 0:
                in_stock += 1
        lost = 0
        substitutions = 0
        for t in range(n_customers):
            ckey = customer_key(skey, t)
            first = alias_sample(draw(ckey, 0), 0, n, threshold, alias)
            if in_stock == 0:
                lost += 1
                continue
            need = 1
            if batch_mean > 1.0:
                u = _open_uniform(draw(ckey, BATCH_DRAW))
                need = 1 + int(math.floor(math.log(u) / log_keep))
            i = first
            step = 1
            bought = 0
            while need > 0 and in_stock > 0:
                while i != n and remaining[i] == 0:
                    start = row_start[i]
                    i = table_sample(draw(ckey, step), start, row_start[i + 1] - start, slots)
                    step += 1
                if i == n:
                    break
                take = min(need, remaining[i])
                remaining[i] -= take
                sales[k, i] += take
                need -= take
                bought += take
                if i != first:
                    substitutions += take
                if remaining[i] == 0:
                    in_stock -= 1
            if bought == 0:
                lost += 1
        kpis[k, 0] = n_customers
        kpis[k, 1] = lost
        kpis[k, 2] = substitutions
