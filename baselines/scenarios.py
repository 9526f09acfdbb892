"""Planning scenarios: demand samples drawn from the Markov chain model for the SAA heuristics.

A *first-choice scenario* is the vector d in Z_+^N of how many of a season's customers pick
product i first (DESIGN.md 2):

* ``arrivals="fixed"``: (d_1, ..., d_N, d_0) ~ Multinomial(T; lambda_1, ..., lambda_N, lambda_0),
  d_0 being the customers who buy nothing;
* ``arrivals="poisson"``: the season has Poisson(T) customers, so d_i ~ Poisson(T lambda_i)
  independently (Poisson thinning).

Scenarios are drawn from the planner's own generator ``rng``, never from the counter-based
evaluation streams of :mod:`envs.streams`: the customers a policy is evaluated on are
independent of the samples it planned with. (The whole preference walk of each customer is not
sampled here: the SAA LP of :mod:`baselines.saa` routes spill in expectation through rho.)

*Demand-environment scenarios* (:func:`environment_counts`) are for a planner that knows the
season's demand environment (:class:`envs.shocks.DemandEnvironment`, the instance JSON's
``"demand_environment"`` block) on top of the chain: per scenario a market size G and
popularity multipliers M drawn as in :mod:`envs.shocks`, then d_i ~ Poisson(T lambda_i G M_i)
(for households, d_i is the units of Poisson(T lambda_i G M_i / b) households of Geometric size
with mean b: h + NegativeBinomial(h, 1 / b) for h households). Without a demand environment
they are the first-choice scenarios above.
"""

from __future__ import annotations

import numpy as np

from envs.instance import Instance
from envs.shocks import ShockShopper
from envs.validation import integer_iv, rng_iv

MAX_SCENARIOS = 4096
"""The most scenarios a planner may draw (each is a length-N count vector)."""


def first_choice_counts(
    instance: Instance, scenarios: int, rng: None | int | np.random.Generator = None
) -> np.ndarray:
    """K first-choice demand scenarios: an int64 array of shape (K, N), row k = d^k.

    Multinomial(T; lambda, lambda_0) per row for fixed-length seasons, independent
    Poisson(T lambda_i) entries for Poisson seasons. Same ``rng`` seed => identical arrays.
    """
    k = integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS)
    generator = rng_iv(rng)
    lam = instance.arrival
    if instance.arrivals == "poisson":
        return generator.poisson(instance.customers * lam, size=(k, lam.shape[0])).astype(np.int64)
    probabilities = np.append(lam, instance.no_purchase_probability)
    probabilities = probabilities / probabilities.sum()
    counts = generator.multinomial(instance.customers, probabilities, size=k)
    return counts[:, :-1].astype(np.int64)


def environment_counts(
    instance: Instance, scenarios: int, rng: None | int | np.random.Generator = None
) -> np.ndarray:
    """K first-choice scenarios (int64, shape (K, N)) of the instance's shocked seasons when its
    ``shopper`` is an :class:`envs.shocks.ShockShopper` (module docstring), else
    :func:`first_choice_counts`."""
    shopper = instance.shopper
    if not isinstance(shopper, ShockShopper):
        return first_choice_counts(instance, scenarios, rng)
    k = integer_iv("scenarios", scenarios, low=1, high=MAX_SCENARIOS)
    generator = rng_iv(rng)
    environment = shopper.environment
    n = instance.n_products
    g = np.ones(k)
    if environment.cv_market > 0:
        shape = 1.0 / environment.cv_market**2
        g = generator.gamma(shape, 1.0 / shape, size=k)
    sigma_c, sigma_p = environment.sigmas
    z = np.full((k, n), -0.5 * (sigma_c**2 + sigma_p**2))
    if sigma_c > 0:
        cluster = shopper.cluster
        z += sigma_c * generator.standard_normal((k, int(cluster.max()) + 1))[:, cluster]
    if sigma_p > 0:
        z += sigma_p * generator.standard_normal((k, n))
    mean = instance.customers * instance.arrival[None, :] * g[:, None] * np.exp(z)
    b = environment.batch_mean
    if b <= 1.0:
        return generator.poisson(mean).astype(np.int64)
    households = generator.poisson(mean / b)
    extra = generator.negative_binomial(np.maximum(households, 1), 1.0 / b)
    return (households + np.where(households > 0, extra, 0)).astype(np.int64)
