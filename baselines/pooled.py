"""Pooled-assortment SAA (after El Housni, Mouchtaki, Gallego, Goyal, Humair, Kim, Sadighian & Wu,
"Joint Assortment and Inventory Planning for Heavy Tailed Demand", 2021).

The paper first chooses an assortment that drops long-tail products whose demand is better
pooled into substitutes than stocked, then plans inventory on that assortment only. Its exact
selection rule was not available to us; the rule below is **ours**, named
*expected-demand threshold pooling*:

1. Start from the best single-customer assortment S on margins r - c (Feldman & Topaloglu
   2017; :func:`baselines.assortment.best_assortment`): the fluid-optimal offer set.
2. For S, compute the expected demands D_i = T pi_i(S) (:func:`envs.fluid_lp.offer_probabilities`)
   and the value of one more expected customer standing at each product: on S the marginal
   newsvendor value u_j = (r_j - s_j) P(Poisson(D_j) <= x*_j - 1) (the derivative of the
   Poisson newsvendor profit in its mean demand at the critical fractile x*_j, by the envelope
   theorem; below r_j - c_j because part of extra demand meets an empty shelf), and v = rho v
   off S (she walks on). A customer who finds i missing is worth p_i = sum_j rho_ij v_j.
3. Stocking x units of i sells min(D, x) and passes the other customers on:
   (r_i - s_i - p_i) E[min(D, x)] - (c_i - s_i) x + p_i D_i, against p_i D_i for not stocking
   it (D ~ Poisson(D_i)). The bracket is concave in x, so i is worth stocking iff one unit pays:
   (r_i - s_i - p_i) P(D >= 1) > c_i - s_i, i.e. iff D_i exceeds the threshold
   theta_i = -log(1 - (c_i - s_i) / (r_i - s_i - p_i)) (infinite when r_i - c_i <= p_i).
   Products of S with D_i <= theta_i are *violators*.
4. Drop the ``drop_fraction`` share (at least one) of the violators with the smallest D_i,
   recompute pi_S (the dropped demand now flows to the substitutes, raising their D_j) and
   repeat until no violator is left or ``max_rounds`` rounds have run.
5. Run the SAA of :mod:`baselines.saa` on the final S only (products outside S get x = 0).

Why the gap to the fluid bound should be O(sqrt(N T)): every stocked product loses O(sqrt(D_i))
against its fluid sales (safety stock and stock-outs), and by Cauchy-Schwarz
sum_{i in S} sqrt(D_i) <= sqrt(|S| sum_i D_i) <= sqrt(N T). A dropped product has D_i below a
constant threshold, so it gives up O(1) = O(sqrt(D_i) + 1) of fluid value, and only products
whose single unit would not pay are dropped. Stocking every tail product with fractional fluid
sales instead, as the fluid policy does, pays a constant per tail product (a whole unit against
a demand below one), of order N in total, which is linear in T when N grows like T. This is a
heuristic argument for our rule, not the paper's proof.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import poisson

from baselines.assortment import best_assortment
from baselines.newsvendor import critical_ratios
from baselines.policy import PolicyResult
from baselines.saa import plan_saa
from envs.fluid_lp import offer_probabilities, policy_values
from envs.instance import Instance
from envs.validation import integer_iv, real_iv

MAX_ROUNDS = 100_000


def marginal_newsvendor_values(instance: Instance, demand: np.ndarray) -> np.ndarray:
    """u_j = (r_j - s_j) P(D <= x*_j - 1), D ~ Poisson(demand_j): d NV_j / d demand_j at fixed
    x*."""
    mu = np.asarray(demand, dtype=np.float64)
    x = np.maximum(
        np.nan_to_num(np.where(mu > 0, poisson.ppf(critical_ratios(instance), mu), 0.0)), 0.0
    )
    return (instance.prices - instance.salvage) * poisson.cdf(x - 1, mu)


def stocking_pays(instance: Instance, demand: np.ndarray, pass_on: np.ndarray) -> np.ndarray:
    """(r - s - p) P(Poisson(D) >= 1) > c - s: one unit of i earns more than passing its
    customers on (p = ``pass_on``, the value of a customer who finds i missing)."""
    keep = (instance.prices - instance.salvage - pass_on) * -np.expm1(
        -np.asarray(demand, dtype=np.float64)
    )
    return keep > instance.costs - instance.salvage


def customer_values(
    instance: Instance, offered: np.ndarray, margin: np.ndarray | None = None
) -> np.ndarray:
    """v with v_i = margin_i on the offer set and v = rho v off it
    (:func:`envs.fluid_lp.policy_values`); ``margin`` defaults to r - c."""
    margin = instance.prices - instance.costs if margin is None else margin
    return policy_values(instance, margin, np.asarray(offered, dtype=bool))


def pooled_assortment(
    instance: Instance, *, drop_fraction: float = 0.5, max_rounds: int = 50
) -> tuple[np.ndarray, int]:
    """The offer set of steps 1-4 of the module docstring and the number of rounds used."""
    drop_fraction = real_iv("drop_fraction", drop_fraction, low=0.0, high=1.0, low_open=True)
    max_rounds = integer_iv("max_rounds", max_rounds, low=0, high=MAX_ROUNDS)
    offered = best_assortment(instance).copy()
    rho = instance.substitution_csr
    rounds = 0
    while rounds < max_rounds and offered.any():
        demand = instance.customers * offer_probabilities(instance, offered)
        values = customer_values(instance, offered, marginal_newsvendor_values(instance, demand))
        violators = np.flatnonzero(offered & ~stocking_pays(instance, demand, rho @ values))
        if violators.size == 0:
            break
        count = max(1, int(np.floor(drop_fraction * violators.size)))
        order = np.argsort(demand[violators], kind="stable")
        offered[violators[order[:count]]] = False
        rounds += 1
    return offered, rounds


def pooled_saa_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    scenarios: int | None = None,
    rounding: str = "in-sample",
    solver: str = "auto",
    method: str = "highs-ipm",
    iterations: int | None = None,
    time_limit: float | None = None,
    drop_fraction: float = 0.5,
    max_rounds: int = 50,
) -> PolicyResult:
    """Expected-demand threshold pooling (ours, module docstring), then SAA on the kept products.

    ``scenarios``, ``rounding``, ``solver``, ``method``, ``iterations`` and ``time_limit`` are
    passed to the SAA of :func:`baselines.saa.saa_policy`, restricted to the kept products;
    ``drop_fraction`` and ``max_rounds`` steer the pruning. ``info`` adds ``assortment_size`` and
    ``pruning_rounds`` to the SAA facts.
    """
    start = time.perf_counter()
    offered, rounds = pooled_assortment(
        instance, drop_fraction=drop_fraction, max_rounds=max_rounds
    )
    result = plan_saa(
        instance,
        offered,
        rng=rng,
        scenarios=scenarios,
        rounding=rounding,
        solver=solver,
        method=method,
        iterations=iterations,
        time_limit=time_limit,
    )
    info = {
        **result.info,
        "assortment_size": int(offered.sum()),
        "pruning_rounds": rounds,
    }
    return PolicyResult(
        policy="pooled-saa",
        stock=result.stock,
        solve_seconds=time.perf_counter() - start,
        info=info,
    )
