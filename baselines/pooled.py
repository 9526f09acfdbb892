"""Pooled-assortment SAA (after El Housni, Mouchtaki, Gallego, Goyal, Humair, Kim, Sadighian & Wu,
"Joint Assortment and Inventory Planning for Heavy Tailed Demand", 2021).

The paper first chooses an assortment that drops long-tail products whose demand is better
pooled into substitutes than stocked, then plans inventory on that assortment only. Its exact
selection rule was not available to us; the rule below is **ours**, named
*newsvendor-versus-pooling pruning*:

1. Start from the best single-customer assortment S on margins r - c (Feldman & Topaloglu
   2017; :func:`baselines.assortment.best_assortment`): the fluid-optimal offer set.
2. For S, compute the expected demands D_i = T pi_i(S) (:func:`baselines.bound.offer_probabilities`)
   and the value of a customer standing at each product, v = (r - c) on S and v = rho v off S
   (the fluid margin she finally earns when the products outside S are missing).
3. Stocking product i alone is worth the Poisson newsvendor profit
   NV_i(D_i) = (r_i - s_i) E[min(D, x*)] - (c_i - s_i) x*, D ~ Poisson(D_i), x* the critical
   fractile; not stocking it passes its customers on, worth P_i = D_i sum_j rho_ij v_j (the
   substitutes already carry stock, so an extra pooled customer earns about their margin).
   Product i is a *violator* when NV_i(D_i) < P_i.
4. Drop the ``drop_fraction`` share (at least one) of the violators with the smallest D_i,
   recompute pi_S (the dropped demand now flows to the substitutes) and repeat until no violator
   is left or ``max_rounds`` rounds have run.
5. Run the SAA of :mod:`baselines.saa` on the final S only (products outside S get x = 0).

Since NV_i(D) = (r_i - c_i) D - Theta(sqrt(D)) while P_i is linear in D, the rule is a demand
threshold: i is dropped when D_i < theta_i ~ (C_i / (r_i - c_i - sum_j rho_ij v_j))^2, a product
whose own-safety-stock loss exceeds what pooling gives up.

Why the gap to the fluid bound should be O(sqrt(N T)): every stocked product loses O(sqrt(D_i))
against its fluid sales (safety stock and stock-outs), and by Cauchy-Schwarz
sum_{i in S} sqrt(D_i) <= sqrt(|S| sum_i D_i) <= sqrt(N T). A dropped product gives up at most
its own newsvendor loss O(sqrt(D_i)) relative to the fluid value of its demand (that is what it
lost to pooling, by the drop rule), so the same sum bounds it. Stocking every tail product
instead, as the fluid policy and the whole-catalog SAA do, pays a constant per tail product
(whole units of stock against demands below one unit), N in total, which is linear in T when N
grows like T. This is a heuristic argument for our rule, not the paper's proof.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import poisson

from baselines.assortment import best_assortment
from baselines.bound import offer_probabilities
from baselines.newsvendor import critical_ratios
from baselines.policy import PolicyResult
from baselines.saa import saa_policy
from envs.instance import Instance

VALUE_TOLERANCE = 1e-10
VALUE_MAX_STEPS = 10_000


def poisson_newsvendor_value(instance: Instance, demand: np.ndarray) -> np.ndarray:
    """NV_i = (r_i - s_i) E[min(D, x*)] - (c_i - s_i) x* for D ~ Poisson(demand_i), x* the smallest
    x with P(D <= x) >= (r_i - c_i) / (r_i - s_i). Uses E[(D - x)^+] = mu P(D >= x - 1) - x P(D >= x)."""
    mu = np.asarray(demand, dtype=np.float64)
    x = np.where(mu > 0, poisson.ppf(critical_ratios(instance), mu), 0.0)
    x = np.maximum(np.nan_to_num(x), 0.0)
    excess = mu * poisson.sf(x - 2, mu) - x * poisson.sf(x - 1, mu)
    sold = mu - np.maximum(excess, 0.0)
    return (instance.prices - instance.salvage) * sold - (instance.costs - instance.salvage) * x


def customer_values(instance: Instance, offered: np.ndarray) -> np.ndarray:
    """v with v_i = r_i - c_i on the offer set and v = rho v off it (fixed-point iteration)."""
    rho = instance.substitution_csr
    margin = instance.prices - instance.costs
    v = np.where(offered, margin, 0.0)
    scale = max(1.0, float(np.abs(margin).max()))
    for _ in range(VALUE_MAX_STEPS):
        nxt = np.where(offered, margin, rho @ v)
        if np.abs(nxt - v).max() <= VALUE_TOLERANCE * scale:
            return nxt
        v = nxt
    return v


def pooled_assortment(
    instance: Instance, *, drop_fraction: float = 0.5, max_rounds: int = 50
) -> tuple[np.ndarray, int]:
    """The offer set of steps 1-4 of the module docstring and the number of rounds used."""
    if not 0 < drop_fraction <= 1:
        raise ValueError(f"`drop_fraction` must lie in (0, 1]; got {drop_fraction!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 0:
        raise ValueError(f"`max_rounds` must be a non-negative integer; got {max_rounds!r}")
    offered = best_assortment(instance).copy()
    rho = instance.substitution_csr
    rounds = 0
    while rounds < max_rounds and offered.any():
        demand = instance.customers * offer_probabilities(instance, offered)
        pass_on = demand * (rho @ customer_values(instance, offered))
        own = poisson_newsvendor_value(instance, demand)
        violators = np.flatnonzero(offered & (own < pass_on))
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
    scenarios: int = 32,
    rounding: str = "nearest",
    solver: str = "auto",
    iterations: int = 300,
    time_limit: float | None = 60.0,
    drop_fraction: float = 0.5,
    max_rounds: int = 50,
) -> PolicyResult:
    """Newsvendor-versus-pooling pruning (ours, module docstring), then SAA on the kept products.

    ``scenarios``, ``rounding``, ``solver``, ``iterations`` and ``time_limit`` are passed to
    :func:`baselines.saa.saa_policy`; ``drop_fraction`` and ``max_rounds`` steer the pruning.
    ``info`` adds ``assortment_size`` and ``pruning_rounds`` to the SAA facts.
    """
    start = time.perf_counter()
    offered, rounds = pooled_assortment(instance, drop_fraction=drop_fraction, max_rounds=max_rounds)
    result = saa_policy(
        instance, rng=rng, scenarios=scenarios, rounding=rounding, solver=solver,
        iterations=iterations, time_limit=time_limit, offered=offered,
    )
    info = {
        **result.info,
        "assortment_size": int(offered.sum()),
        "pruning_rounds": rounds,
    }
    return PolicyResult(policy="pooled-saa", stock=result.stock, solve_seconds=time.perf_counter() - start, info=info)
