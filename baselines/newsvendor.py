"""Independent newsvendor: stock each product for its own first-choice demand, ignoring
substitution.

Demand of product i is D_i ~ Binomial(T, p_i) with T fixed customers (``arrivals="fixed"``), or
Poisson(T p_i) when the number of customers is Poisson(T) (a Poisson mixture of binomials is
Poisson), with p_i = lambda_i. The newsvendor stocks the smallest x with
P(D_i <= x) >= q_i, q_i = (r_i - c_i) / (r_i - s_i) (underage cost r_i - c_i, overage cost
c_i - s_i). Products with r_i - c_i <= 0 get x_i = 0. When c_i = s_i leftovers cost nothing and
q_i = 1; it is capped at ``MAX_RATIO`` = 1 - 1e-12 so the Poisson quantile stays finite. When
r_i = s_i (so r_i <= c_i: no unit can earn anything) the ratio 0/0 is defined as 0.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import binom, poisson

from baselines.policy import PolicyResult
from envs.instance import Instance
from envs.validation import InputError, rng_iv

MAX_RATIO = 1.0 - 1e-12


def critical_ratios(instance: Instance) -> np.ndarray:
    """q_i = (r_i - c_i) / (r_i - s_i), clipped to [0, ``MAX_RATIO``]; q_i = 0 when r_i = s_i."""
    spread = instance.prices - instance.salvage
    safe = np.where(spread > 0, spread, 1.0)
    ratio = np.where(spread > 0, (instance.prices - instance.costs) / safe, 0.0)
    return np.clip(ratio, 0.0, MAX_RATIO)


def newsvendor_stock(instance: Instance, probabilities: np.ndarray) -> np.ndarray:
    """Smallest x_i with P(D_i <= x_i) >= q_i for D_i ~ Binomial(T, p_i) or Poisson(T p_i).

    ``probabilities`` p (float[N], each in [0, 1]) is the chance that one customer buys i if it is
    in stock. Products with margin r_i - c_i <= 0 or p_i = 0 get 0.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if (
        p.shape != (instance.n_products,)
        or np.any(~np.isfinite(p))
        or np.any(p < 0)
        or np.any(p > 1 + 1e-12)
    ):
        raise InputError(
            f"`probabilities` must be {instance.n_products} numbers in [0, 1]; got shape {p.shape}"
        )
    p = np.minimum(p, 1.0)
    ratio = critical_ratios(instance)
    active = (instance.prices > instance.costs) & (p > 0)
    stock = np.zeros(instance.n_products, dtype=np.int64)
    t = instance.customers
    if instance.arrivals == "poisson":
        quantile = poisson.ppf(ratio[active], t * p[active])
    else:
        quantile = binom.ppf(ratio[active], t, p[active])
    stock[active] = np.maximum(quantile, 0).astype(np.int64)
    return stock


def newsvendor_policy(
    instance: Instance, *, rng: None | int | np.random.Generator = None
) -> PolicyResult:
    """The independent newsvendor on first-choice demand (deterministic; ``rng`` is validated,
    unused)."""
    start = time.perf_counter()
    rng_iv(rng)
    stock = newsvendor_stock(instance, instance.arrival)
    return PolicyResult(policy="newsvendor", stock=stock, solve_seconds=time.perf_counter() - start)
