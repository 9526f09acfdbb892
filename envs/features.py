"""What a stocking agent sees of an instance: bounded per-product and catalog features.

Everything here is a pure function of an :class:`~envs.instance.Instance` that costs O(nnz(rho))
(a few sparse matrix-vector products, no LP and no dense N x N matrix), so it scales to the
large sparse families. Notation of DESIGN.md: prices r, costs c, salvage s, first-choice
probabilities lambda, substitution rho, season length T (its mean for Poisson arrivals).

Demand cap. A customer whose walk (first choice, then substitutes) asks for product i would buy
it if in stock. The chance that one customer asks for i among her first three choices when
nothing else is in stock is at most

    p_i = min(1, (lambda (I + rho + rho^2))_i),

(the expected number of such visits), and the *demand cap* is the 99.9 % quantile of the number
of customers who do so in a season,

    cap_i = max(1, F^-1(0.999)),  F = Binomial(T, p_i)  (fixed T)  or  Poisson(T p_i),

the stock scale of the environments' actions (:func:`envs.one_shot.action_to_stock`). It is an
upper estimate, not a bound: when most of a product's substitutes are dropped, walks longer
than three steps can send it more customers than ``cap_i``. It is at least one unit so that
every product, however rare, can be offered.

Per-product features (``FEATURES``; P = max_i max(r_i, c_i) makes the money columns
scale-free, and every column lies in its declared [low, high] on every valid instance):

==  =====================  =============================================  =====  =====
 #  name                   definition                                     low    high
==  =====================  =============================================  =====  =====
 0  price                  r_i / P                                        0      1
 1  cost                   c_i / P                                        0      1
 2  salvage                s_i / P                                        0      1
 3  margin                 (r_i - c_i) / P                                -1     1
 4  critical_ratio         (r_i - c_i) / (r_i - s_i), clipped to [-1, 1]  -1     1
 5  arrival                lambda_i                                       0      1
 6  popularity             lambda_i / max_j lambda_j (0 if all are 0)     0      1
 7  first_choice_demand    log(1 + T lambda_i) / log(1 + T)               0      1
 8  substitution_out       sum_j rho_ij                                   0      1
 9  leave                  1 - sum_j rho_ij                               0      1
10  substitution_in        m_i / (1 + m_i), m_i = sum_j rho_ji            0      1
11  inflow_demand          log(1 + T (lambda rho)_i) / log(1 + T)         0      1
12  demand_cap             log(1 + cap_i) / log(1 + cap at p_i = 1)       0      1
==  =====================  =============================================  =====  =====

The critical ratio is the newsvendor's (r - c) / (r - s); it is clipped because it is
unbounded below when c > r (and undefined when s >= r, given -1): any value <= 0 already says
"never worth a unit", so the clip loses nothing a planner needs. Columns 8 and 9 are clipped to
[0, 1] only to absorb the instance tolerance (rows may sum to 1 + 1e-9).

Catalog features (``CATALOG_FEATURES``, shared by all products):

==  =====================  =============================================  =====  =====
 #  name                   definition                                     low    high
==  =====================  =============================================  =====  =====
 0  season_length          log(1 + T) / (1 + log(1 + T))                  0      1
 1  no_purchase            lambda_0 = 1 - sum_i lambda_i                  0      1
 2  poisson_arrivals       1 if T is Poisson, else 0                      0      1
 3  long_tail_share        sum of lambda_i over T lambda_i < 1, / sum     0      1
==  =====================  =============================================  =====  =====
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom, poisson

from envs.instance import Instance

CAP_QUANTILE = 0.999
AUTO_SCALE_FLOOR = 1e-9
"""The ``"auto"`` reward divisor is at least this share of T max_i r_i."""
"""Quantile of the visit count that sets the demand cap."""

FEATURES: tuple[tuple[str, float, float], ...] = (
    ("price", 0.0, 1.0),
    ("cost", 0.0, 1.0),
    ("salvage", 0.0, 1.0),
    ("margin", -1.0, 1.0),
    ("critical_ratio", -1.0, 1.0),
    ("arrival", 0.0, 1.0),
    ("popularity", 0.0, 1.0),
    ("first_choice_demand", 0.0, 1.0),
    ("substitution_out", 0.0, 1.0),
    ("leave", 0.0, 1.0),
    ("substitution_in", 0.0, 1.0),
    ("inflow_demand", 0.0, 1.0),
    ("demand_cap", 0.0, 1.0),
)
"""(name, low, high) of each per-product feature column, in order."""

CATALOG_FEATURES: tuple[tuple[str, float, float], ...] = (
    ("season_length", 0.0, 1.0),
    ("no_purchase", 0.0, 1.0),
    ("poisson_arrivals", 0.0, 1.0),
    ("long_tail_share", 0.0, 1.0),
)
"""(name, low, high) of each catalog-level feature, in order."""

N_FEATURES = len(FEATURES)
N_CATALOG_FEATURES = len(CATALOG_FEATURES)


def feature_bounds(features: tuple[tuple[str, float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """float32 (low, high) vectors of a feature table."""
    low = np.array([row[1] for row in features], dtype=np.float32)
    high = np.array([row[2] for row in features], dtype=np.float32)
    return low, high


def substitution_inflow(instance: Instance, weights: np.ndarray) -> np.ndarray:
    """(weights rho)_i = sum_j weights_j rho_ji: the mass one substitution step sends to i."""
    return np.asarray(weights @ instance.substitution_csr, dtype=np.float64)


def visit_probability(instance: Instance) -> np.ndarray:
    """p_i = min(1, (lambda (I + rho + rho^2))_i), see the module docstring."""
    lam = np.asarray(instance.arrival, dtype=np.float64)
    one = substitution_inflow(instance, lam)
    two = substitution_inflow(instance, one)
    return np.minimum(1.0, lam + one + two)


def _count_quantile(instance: Instance, probability: np.ndarray) -> np.ndarray:
    if instance.arrivals == "poisson":
        return poisson.ppf(CAP_QUANTILE, instance.customers * probability)
    return binom.ppf(CAP_QUANTILE, instance.customers, probability)


def demand_cap(instance: Instance) -> np.ndarray:
    """int64[N]: cap_i = max(1, 99.9 % quantile of the customers asking for i), see above."""
    quantile = _count_quantile(instance, visit_probability(instance))
    return np.maximum(1, quantile).astype(np.int64)


def largest_cap(instance: Instance) -> float:
    """The cap of a product every customer asks for (p_i = 1): T, or the Poisson quantile."""
    if instance.arrivals == "poisson":
        return float(max(1.0, poisson.ppf(CAP_QUANTILE, instance.customers)))
    return float(instance.customers)


def _log_share(values: np.ndarray, scale: float) -> np.ndarray:
    """log(1 + values) / log(1 + scale), for 0 <= values <= scale."""
    return np.log1p(values) / math.log1p(scale)


def product_features(instance: Instance, *, cap: np.ndarray | None = None) -> np.ndarray:
    """float32[N, F]: the per-product feature table of the module docstring.

    ``cap`` is :func:`demand_cap` of the instance, when the caller already has it.
    """
    r = instance.prices
    c = instance.costs
    s = instance.salvage
    lam = np.clip(instance.arrival, 0.0, 1.0)
    t = float(instance.customers)
    money = float(max(r.max(), c.max()))
    span = r - s
    critical = np.full(r.shape, -1.0)
    positive = span > 0
    critical[positive] = (r - c)[positive] / span[positive]
    out = np.clip(1.0 - instance.leave_probability, 0.0, 1.0)
    in_mass = substitution_inflow(instance, np.ones(instance.n_products))
    inflow = np.minimum(substitution_inflow(instance, lam), 1.0)
    cap = demand_cap(instance) if cap is None else cap
    top = float(lam.max())
    columns = (
        r / money,
        c / money,
        s / money,
        (r - c) / money,
        np.clip(critical, -1.0, 1.0),
        lam,
        lam / top if top > 0 else np.zeros_like(lam),
        _log_share(t * lam, t),
        out,
        1.0 - out,
        in_mass / (1.0 + in_mass),
        _log_share(t * inflow, t),
        _log_share(cap.astype(np.float64), largest_cap(instance)),
    )
    # Rounding to float32 is monotone and the bounds are exact in float32: the box holds.
    return np.stack(columns, axis=1).astype(np.float32)


def catalog_features(instance: Instance) -> np.ndarray:
    """float32[G]: the catalog-level features of the module docstring."""
    t = float(instance.customers)
    lam = instance.arrival
    total = float(lam.sum())
    tail = float(lam[t * lam < 1.0].sum()) / total if total > 0 else 0.0
    values = (
        math.log1p(t) / (1.0 + math.log1p(t)),
        instance.no_purchase_probability,
        1.0 if instance.arrivals == "poisson" else 0.0,
        min(1.0, tail),
    )
    return np.array(values, dtype=np.float32)


def auto_reward_scale(instance: Instance) -> float:
    """The ``reward_scale="auto"`` divisor: T sum_i lambda_i max(r_i - c_i, 0), at least
    ``AUTO_SCALE_FLOOR`` T max_i r_i.

    The profit of serving every customer her first choice with no leftover stock. It is not a
    bound (substitution can do better when first choices have small margins) but it puts the
    profits of every family on a scale of about 1. The floor keeps the divisor a normal
    positive float when every margin is (nearly) zero, so that rewards stay finite (with the
    instance's money limits, |profit| / divisor stays below about 1e45).
    """
    scale = float(
        instance.customers
        * np.dot(instance.arrival, np.maximum(instance.prices - instance.costs, 0.0))
    )
    return max(scale, AUTO_SCALE_FLOOR * instance.customers * float(instance.prices.max()))
