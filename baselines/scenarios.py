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
"""

from __future__ import annotations

import numpy as np

from envs.instance import Instance
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
