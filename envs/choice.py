"""Choice probabilities of the Markov chain model, the exact MNL map, and MC approximation.

Notation of DESIGN.md 2. For an offer set S (a boolean mask over the N products) and U the
products not in S, the Markov chain customer (first choice lambda, substitution rho) buys
product i in S with the absorption probability

    pi_S = lambda_S + lambda_U (I - rho_UU)^-1 rho_US        (Blanchet, Gallego & Goyal 2016)

and nothing with probability 1 - sum_S pi_S. MNL with no-purchase weight v_0 >= 0 and product
weights v_i > 0 is represented exactly by lambda_i = v_i / (v_0 + V) and
rho_ij = v_j / (v_0 + V - v_i) (j != i), V = sum_i v_i; its choice probabilities are
pi_i(S) = v_i / (v_0 + sum_{j in S} v_j). Any choice model P is approximated by the MC model
lambda_i = P_i(N), rho_ij = (P_j(N minus i) - P_j(N)) / P_i(N).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from envs.instance import Instance, make_instance
from envs.validation import InputError, describe, integer_iv, mask_iv, real_iv, vector_iv

MAX_DENSE_APPROXIMATION = 5_000
""":func:`markov_chain_approximation` builds a dense N x N matrix from N + 1 model calls."""


def _weights_iv(weights: Any, outside_weight: Any) -> tuple[np.ndarray, float]:
    v = vector_iv("weights", weights, low=0.0, low_open=True)
    if v.shape[0] == 0:
        raise InputError("`weights` must list at least one product; got an empty list")
    return v, real_iv("outside_weight", outside_weight, low=0.0)


def markov_chain_choice_probabilities(arrival: Any, substitution: Any, offered: Any) -> np.ndarray:
    """pi_S for the offer set ``offered`` (boolean mask); zero outside S.

    Solves (I - rho_UU)^T y = lambda_U and returns pi_S = lambda_S + y rho_US (dense LU, or
    sparse LU when ``substitution`` is a scipy.sparse matrix). The chain must be valid
    (DESIGN.md 2), which makes I - rho_UU non-singular whenever S is not empty.
    """
    lam = vector_iv("arrival", arrival, low=0.0)
    n = lam.shape[0]
    if getattr(substitution, "shape", None) != (n, n):
        raise InputError(
            f"`substitution` must have shape ({n}, {n}) to match `arrival`; "
            f"got {getattr(substitution, 'shape', describe(substitution))}"
        )
    s = mask_iv("offered", offered, n)
    pi = np.zeros(n)
    if not s.any():
        return pi
    u = ~s
    pi[s] = lam[s]
    if not u.any():
        return pi
    if sp.issparse(substitution):
        rho = sp.csr_array(substitution, dtype=np.float64)
        rho_u = rho[np.flatnonzero(u)]
        a = (sp.identity(int(u.sum()), format="csc") - rho_u[:, np.flatnonzero(u)]).T.tocsc()
        y = np.atleast_1d(spla.spsolve(a, lam[u]))
        pi[s] += rho_u[:, np.flatnonzero(s)].T @ y
    else:
        rho = np.asarray(substitution, dtype=np.float64)
        a = np.eye(int(u.sum())) - rho[np.ix_(u, u)]
        y = np.linalg.solve(a.T, lam[u])
        pi[s] += y @ rho[np.ix_(u, s)]
    return pi


def mnl_choice_probabilities(weights: Any, outside_weight: float, offered: Any) -> np.ndarray:
    """Closed-form MNL: pi_i(S) = v_i / (v_0 + sum_{j in S} v_j) for i in S, 0 elsewhere."""
    v, v0 = _weights_iv(weights, outside_weight)
    s = mask_iv("offered", offered, v.shape[0])
    pi = np.zeros(v.shape[0])
    if s.any():
        pi[s] = v[s] / (v0 + v[s].sum())
    return pi


def mnl_instance(
    weights: Any,
    outside_weight: float,
    *,
    prices: Any,
    costs: Any,
    customers: int,
    salvage: Any = None,
    arrivals: str = "fixed",
    name: str = "mnl",
) -> Instance:
    """The exact Markov chain representation of MNL (weights v_i > 0, v_0 >= 0).

    lambda_i = v_i / (v_0 + V), rho_ij = v_j / (v_0 + V - v_i) for j != i, rho_ii = 0. With
    v_0 = 0 every row of rho sums to 1 and the whole catalog is one closed class, which
    :func:`envs.instance.make_instance` accepts (a customer always buys while anything is in
    stock). A single product with v_0 = 0 has rho = [[0]] (she buys it or, if it is out, leaves).
    """
    v, v0 = _weights_iv(weights, outside_weight)
    total = v0 + v.sum()
    arrival = v / total
    rest = total - v
    rho = np.divide(
        v[None, :], rest[:, None], out=np.zeros((v.shape[0], v.shape[0])), where=rest[:, None] > 0
    )
    np.fill_diagonal(rho, 0.0)
    return make_instance(
        name=name,
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=arrival,
        substitution=rho,
        customers=customers,
        arrivals=arrivals,
        metadata={"choice_model": "mnl", "weights": v.tolist(), "outside_weight": v0},
    )


def markov_chain_approximation(
    choice_probabilities: Callable[[np.ndarray], np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The MC approximation (lambda, rho) of a choice model given as a function of the offer set.

    lambda_i = P_i(N), rho_ij = (P_j(N minus i) - P_j(N)) / P_i(N) for j != i (DESIGN.md 2;
    Blanchet, Gallego & Goyal 2016), from n + 1 calls of ``choice_probabilities``. A product
    with P_i(N) = 0 gets an all-zero row (a customer sent there leaves). Negative differences,
    which only a model violating substitutability (regularity) produces, are clipped to 0.
    Exact for MNL.
    """
    n = integer_iv("n", n, low=1, high=MAX_DENSE_APPROXIMATION)
    full = np.ones(n, dtype=bool)
    p_all = np.asarray(choice_probabilities(full), dtype=np.float64)
    if p_all.shape != (n,):
        raise InputError(f"`choice_probabilities` must return shape ({n},); got {p_all.shape}")
    rho = np.zeros((n, n))
    for i in range(n):
        if p_all[i] <= 0:
            continue
        without = full.copy()
        without[i] = False
        p_without = np.asarray(choice_probabilities(without), dtype=np.float64)
        rho[i] = np.maximum(p_without - p_all, 0.0) / p_all[i]
        rho[i, i] = 0.0
    return p_all.copy(), rho
