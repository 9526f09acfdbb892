"""Best single-customer assortment (Feldman & Topaloglu 2017) and assortment + newsvendor.

The assortment LP for one Markov chain customer with margins m is the fluid LP with T = 1; its
dual is the least solution g of g = max(m, rho g) (:mod:`envs.fluid_lp`), and the optimal offer
set is S = {i : g_i = m_i > 0}: the products where selling beats sending the customer on.
Assortment + newsvendor then stocks each i in S for demand Binomial(T, pi_i(S)) (Poisson(T
pi_i(S)) with Poisson customers), the choice probabilities of S, at the newsvendor critical
ratio (:mod:`baselines.newsvendor`). It ignores that stock-outs during the season change S.
"""

from __future__ import annotations

import time

import numpy as np

from baselines.newsvendor import newsvendor_stock
from baselines.policy import PolicyResult
from envs.fluid_lp import offer_probabilities, single_customer_values
from envs.instance import Instance
from envs.validation import rng_iv


def best_assortment(instance: Instance, margins: np.ndarray | None = None) -> np.ndarray:
    """The offer set S (bool[N]) maximizing sum_i m_i pi_i(S); ``margins`` defaults to r - c.

    The fixed point converging is an internal invariant (a valid chain and the default budget
    always reach ``status="optimal"``), checked by an assertion.
    """
    _, offered, status = single_customer_values(instance, margins)
    assert status == "optimal", f"the assortment fixed point stopped with status {status!r}"
    return offered


def assortment_newsvendor_policy(
    instance: Instance, *, rng: None | int | np.random.Generator = None
) -> PolicyResult:
    """Newsvendor quantities on the best assortment's choice probabilities (deterministic;
    ``rng`` is validated, unused)."""
    start = time.perf_counter()
    rng_iv(rng)
    offered = best_assortment(instance)
    pi = offer_probabilities(instance, offered)
    stock = newsvendor_stock(instance, pi)
    info = {"assortment_size": int(offered.sum())}
    return PolicyResult(
        policy="assortment-newsvendor",
        stock=stock,
        solve_seconds=time.perf_counter() - start,
        info=info,
    )
