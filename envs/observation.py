"""The catalog observation: a per-product block, the substitution graph, and a catalog block.

One flat ``float32`` vector of ``N * C + G`` numbers (C = :func:`product_columns`,
G = ``CATALOG_COLUMNS``), so that every Gymnasium wrapper, SB3 algorithm and VecEnv can carry
it, while a network that knows C and G recovers N from the length and reads the same weights
for any catalog size (:mod:`agents.catalog_policy`). Row i of the (N, C) product block:

=============  ===============================================================  =====  =====
column         meaning                                                          low    high
=============  ===============================================================  =====  =====
0 .. 12        the 13 features of :data:`envs.features.FEATURES`                -1     1
13             log(1 + T lambda_i) / L          (absolute first-choice demand)   0      1
14             log(1 + z_i) / L                 (fluid LP sales z)               0      1
15             1 / sqrt(1 + z_i)                (relative Poisson noise of z)    0      1
16             1 if the fluid LP sells i (z_i > 0)                               0      1
17             log(1 + w_i) / L                 (fluid visits not bought)        0      1
18             g_i / P                          (the fluid dual: one customer    0      1
                                                 sent to i, clipped)
19 .. 18+k     out-neighbours j_1 .. j_k of i: the k largest rho_ij, as         -1     N - 1
               product indices (-1 pads a shorter row)
19+k .. 18+2k  their weights rho_{i j_1} .. rho_{i j_k} (0 for padding)          0      1
=============  ===============================================================  =====  =====

L = log(1 + 10^6): a fixed scale, so that absolute demand means the same for every N and T
(unlike the log(1 + T) scaling of the base features); the columns scaled by L are clipped at 1
(reached only by seasons of more than a million customers); P = max_i max(r_i, c_i); z, w, g are the
fluid LP's sales, visits and dual (:func:`envs.fluid_lp.fluid_lp`). The catalog block
(G = 6): the 4 :data:`envs.features.CATALOG_FEATURES`, then log(1 + T) / L and log(1 + N) / L.

Only the *out*-lists of rho are stored: the in-message sum_j rho_ji h_j of a graph network is
the scatter-add of the same edges, exact for every kept edge. The neighbour families have at
most 5 substitutes per product, which k = 5 (``DEFAULT_NEIGHBOURS``) keeps whole; for dense
rows (mnl, multistep's fitted chain) the k largest are kept and the dropped mass stays visible
in the substitution out-mass and leave columns (8, 9).
"""

from __future__ import annotations

import math

import numpy as np

from envs.features import (
    CATALOG_FEATURES,
    FEATURES,
    catalog_features,
    feature_bounds,
    product_features,
)
from envs.fluid_lp import FluidSolution
from envs.instance import Instance
from envs.validation import integer_iv

LOG_SCALE = math.log1p(1e6)
FLUID_COLUMNS = 6
BASE_COLUMNS = len(FEATURES) + FLUID_COLUMNS
"""Columns before the neighbour lists: the base features and the fluid columns."""
DEFAULT_NEIGHBOURS = 5
MAX_NEIGHBOURS = 64
CATALOG_COLUMNS = len(CATALOG_FEATURES) + 2
SIZE_FREE_COLUMNS = (0, 1, 2, 3, 4, 8, 9, 10, 13, 14, 15, 16, 17, 18)
"""Product columns whose meaning does not depend on N or T: the economics, the substitution
masses and the absolute-scale demand and fluid columns (it leaves out lambda_i and the
popularity relative to the top product, which shrink with N, and the columns scaled by
log(1 + T))."""
SIZE_FREE_CATALOG_COLUMNS = (1, 2, 3, 4)
"""Catalog columns without the log(1 + T) / (1 + log(1 + T)) scaling and without N."""
FLUID_PRESENCE = 1e-9
"""z_i above this counts as "the fluid LP sells i" (column 16)."""


def neighbours_iv(k: object) -> int:
    """The number k of out-neighbours per product, in [1, ``MAX_NEIGHBOURS``]."""
    return integer_iv("neighbours", k, low=1, high=MAX_NEIGHBOURS)


def product_columns(k: int = DEFAULT_NEIGHBOURS) -> int:
    """C: columns of one product's row."""
    return BASE_COLUMNS + 2 * k


def observation_size(n: int, k: int = DEFAULT_NEIGHBOURS) -> int:
    """N * C + G."""
    return n * product_columns(k) + CATALOG_COLUMNS


def catalog_size(length: int, k: int = DEFAULT_NEIGHBOURS) -> int:
    """N from the length of an observation (the inverse of :func:`observation_size`)."""
    n, rest = divmod(length - CATALOG_COLUMNS, product_columns(k))
    assert rest == 0 and n >= 1, f"an observation of {length} numbers is not N * C + G"
    return n


def top_neighbours(instance: Instance, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(int64[N, k] indices, float64[N, k] weights) of each row's k largest rho_ij (ties in
    column order), padded with -1 and 0."""
    rho = instance.substitution_csr
    n = instance.n_products
    index = np.full((n, k), -1, dtype=np.int64)
    weight = np.zeros((n, k))
    indptr, cols, vals = rho.indptr, rho.indices, rho.data
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(n), counts)
    if counts.max(initial=0) <= k:
        slot = np.arange(cols.shape[0]) - indptr[rows]
    else:
        # Rank every entry within its row by weight (stable: ties keep column order).
        order = np.lexsort((np.arange(cols.shape[0]), -vals, rows))
        rank = np.empty(cols.shape[0], dtype=np.int64)
        rank[order] = np.arange(cols.shape[0]) - indptr[rows[order]]
        slot = rank
    kept = slot < k
    index[rows[kept], slot[kept]] = cols[kept]
    weight[rows[kept], slot[kept]] = vals[kept]
    return index, weight


def catalog_observation(
    instance: Instance,
    solution: FluidSolution,
    cap: np.ndarray,
    k: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """float32[N * C + G]: the observation of the module docstring, given the instance's fluid
    LP solution and demand cap (:func:`envs.features.demand_cap`)."""
    n = instance.n_products
    t = float(instance.customers)
    money = float(max(instance.prices.max(), instance.costs.max()))
    z = np.maximum(solution.sales, 0.0)
    w = np.maximum(solution.visits, 0.0)
    index, weight = top_neighbours(instance, k)
    fluid = np.stack(
        [
            _log_scaled(t * instance.arrival),
            _log_scaled(z),
            1.0 / np.sqrt(1.0 + z),
            (z > FLUID_PRESENCE).astype(np.float64),
            _log_scaled(w),
            np.clip(solution.dual / money, 0.0, 1.0),
        ],
        axis=1,
    )
    table = np.concatenate(
        [product_features(instance, cap=cap), fluid, index.astype(np.float64), weight], axis=1
    ).astype(np.float32)
    catalog = np.concatenate(
        [catalog_features(instance), _log_scaled(np.array([t, n], dtype=np.float64))]
    ).astype(np.float32)
    return np.concatenate([table.ravel(), catalog])


def _log_scaled(values: np.ndarray) -> np.ndarray:
    """min(1, log(1 + values) / L)."""
    return np.minimum(np.log1p(values) / LOG_SCALE, 1.0)


def observation_bounds(n: int, k: int = DEFAULT_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """float32 (low, high) of the observation of a catalog of N = n products."""
    base_low, base_high = feature_bounds(FEATURES)
    low = np.concatenate([base_low, np.zeros(FLUID_COLUMNS), np.full(k, -1.0), np.zeros(k)])
    high = np.concatenate(
        [base_high, np.ones(FLUID_COLUMNS), np.full(k, max(n - 1, 0)), np.ones(k)]
    )
    catalog_low = np.zeros(CATALOG_COLUMNS)
    catalog_high = np.ones(CATALOG_COLUMNS)
    return (
        np.concatenate([np.tile(low, n), catalog_low]).astype(np.float32),
        np.concatenate([np.tile(high, n), catalog_high]).astype(np.float32),
    )
