"""Counter-based random streams: every customer's draws are a pure function of their keys.

The draw used at step ``j`` of customer ``t`` in season ``k`` of a run seeded with ``seed`` is

    season_key(seed, k)      = mix(mix(seed) ^ (k * 0xD1B54A32D192ED03))
    customer_key(sk, t)      = mix(sk ^ (t * 0x9E6C63D0676A9A99))
    draw(ck, j)              = mix(ck + (j + 1) * 0x9E3779B97F4A7C15)

with ``mix`` the SplitMix64 finalizer and all arithmetic modulo 2^64. Reserved indices (no
customer of a season has them; no walk step reaches 2^40):

* customer ``POISSON_CUSTOMER`` = 2^64 - 1: the number of customers of a Poisson season (and
  of a shocked season, :mod:`envs.shocks`);
* customer ``envs.shocks.MARKET_CUSTOMER`` = 2^64 - 2: a shocked season's market size G;
* customer ``envs.shocks.NORMALS_CUSTOMER`` = 2^64 - 3: a shocked season's popularity normals;
* draw ``envs.shocks.BATCH_DRAW`` = 2^40 of a customer: her household size.

Because the walk a customer
*would* take if nothing were in stock does not depend on stock, every stock vector evaluated
with the same seed meets the same customers (common random numbers), whatever the order in
which seasons are computed or how many threads compute them.

A 64-bit draw ``u`` gives a uniform on [0, 1) as ``(u >> 11) * 2^-53`` and an alias-table
sample as: column ``((u >> 32) * K) >> 32`` (K columns), accepted when
``(u & 0xFFFFFFFF) < threshold[column]`` (thresholds are probabilities scaled by 2^32),
otherwise its alias (:func:`alias_sample`). The simulator's packed tables
(:class:`envs.tables.ChoiceTables`, sampled by :func:`table_sample`) use the same column and
24-bit thresholds compared with ``(u >> 8) & 0xFFFFFF``. Both the numba kernels and the
plain-Python reference follow this spec, so they produce identical sales.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
SEASON_MULTIPLIER = np.uint64(0xD1B54A32D192ED03)
CUSTOMER_MULTIPLIER = np.uint64(0x9E6C63D0676A9A99)
POISSON_CUSTOMER = np.uint64(0xFFFFFFFFFFFFFFFF)
MASK64 = (1 << 64) - 1
MASK32 = np.uint64(0xFFFFFFFF)
MASK24 = np.uint64(0xFFFFFF)
MASK20 = np.uint64(0xFFFFF)


@njit(inline="always", cache=True)
def mix(z):
    """SplitMix64 finalizer (a bijection of uint64)."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(inline="always", cache=True)
def season_key(seed, season):
    return mix(mix(uint64(seed)) ^ (uint64(season) * SEASON_MULTIPLIER))


@njit(inline="always", cache=True)
def customer_key(skey, customer):
    return mix(skey ^ (uint64(customer) * CUSTOMER_MULTIPLIER))


@njit(inline="always", cache=True)
def draw(ckey, step):
    return mix(ckey + (uint64(step) + uint64(1)) * GOLDEN)


@njit(inline="always", cache=True)
def to_uniform(u):
    return np.float64(u >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(inline="always", cache=True)
def alias_sample(u, start, n_columns, threshold, alias):
    """Sample from the alias table stored at ``[start, start + n_columns)``; returns an offset."""
    column = ((u >> uint64(32)) * uint64(n_columns)) >> uint64(32)
    if (u & MASK32) < threshold[start + column]:
        return np.int64(column)
    return alias[start + column]


@njit(inline="always", cache=True)
def table_sample(u, start, n_columns, slots):
    """Sample a packed table (:class:`envs.tables.ChoiceTables`) at ``[start, start + n_columns)``.

    Column ``((u >> 32) * K) >> 32`` as in :func:`alias_sample`; its word is
    ``threshold | kept << 24 | alias << 44``; kept when ``(u >> 8) & 0xFFFFFF < threshold``
    (24 bits of u disjoint from the column's), and the outcome is returned directly.
    """
    slot = start + np.int64(((u >> uint64(32)) * uint64(n_columns)) >> uint64(32))
    word = slots[slot]
    if ((u >> uint64(8)) & MASK24) < (word & MASK24):
        return np.int64((word >> uint64(24)) & MASK20)
    return np.int64(word >> uint64(44))


# ------------------------------------------------------- the same spec in plain Python


def py_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def py_season_key(seed: int, season: int) -> int:
    return py_mix(py_mix(seed & MASK64) ^ ((season * 0xD1B54A32D192ED03) & MASK64))


def py_customer_key(skey: int, customer: int) -> int:
    return py_mix(skey ^ ((customer * 0x9E6C63D0676A9A99) & MASK64))


def py_draw(ckey: int, step: int) -> int:
    return py_mix((ckey + (step + 1) * 0x9E3779B97F4A7C15) & MASK64)


def py_to_uniform(u: int) -> float:
    return (u >> 11) * (1.0 / 9007199254740992.0)


def py_alias_sample(u: int, start: int, n_columns: int, threshold, alias) -> int:
    column = ((u >> 32) * n_columns) >> 32
    if (u & 0xFFFFFFFF) < threshold[start + column]:
        return column
    return int(alias[start + column])


def py_table_sample(u: int, start: int, n_columns: int, slots) -> int:
    word = slots[start + (((u >> 32) * n_columns) >> 32)]
    if ((u >> 8) & 0xFFFFFF) < (word & 0xFFFFFF):
        return (word >> 24) & 0xFFFFF
    return word >> 44


# ------------------------------------------------------------------------- alias tables


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for a probability vector (it is normalized by its sum).

    Returns ``(threshold, alias)``: column ``k`` is kept when a 32-bit uniform integer falls
    below ``threshold[k]`` (the kept probability times 2^32), otherwise ``alias[k]`` is taken.
    Outcome ``k`` then has probability ``(threshold[k] + sum_{m: alias[m]=k} (2^32 -
    threshold[m])) / (K 2^32)``, within 2^-32 of the input.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    k = p.shape[0]
    total = p.sum()
    assert k > 0 and total > 0
    scaled = p * (k / total)
    keep = np.ones(k)
    alias = np.arange(k, dtype=np.int64)
    small = [i for i in range(k) if scaled[i] < 1.0]
    large = [i for i in range(k) if scaled[i] >= 1.0]
    while small and large:
        s = small.pop()
        g = large[-1]
        keep[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            large.pop()
            small.append(g)
    threshold = np.minimum(np.round(keep * 2.0**32), 2.0**32).astype(np.uint64)
    return threshold, alias
