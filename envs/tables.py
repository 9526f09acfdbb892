"""Sampling tables of a Markov chain choice model, and the Poisson season length.

:class:`ChoiceTables` stores Walker alias tables (spec in :mod:`envs.streams`) in one packed
layout: one table for the first choice (N + 1 outcomes, outcome N is "no purchase") and one
per row i of rho over that row's non-zero entries plus a final "leave" outcome (also coded
N). Tables are packed CSR-style: the first-choice table occupies slots ``[0, N + 1)``, row
i's table slots ``[row_start[i], row_start[i + 1])`` (``row_start[0] = N + 1``; int32 unless
there are 2^31 slots or more). Slot ``s``
is one 64-bit word

    slots[s] = threshold | (kept << 24) | (alias << 44)

* ``threshold`` (24 bits): the column's kept probability times 2^24, rounded; a column kept
  with certainty stores 2^24 - 1 and gives its alias its own outcome, so it never moves;
* ``kept`` (20 bits): the column's own outcome (a product, or N);
* ``alias`` (20 bits): the outcome of the column's alias.

So one sample reads one 8-byte word and yields a product id directly. For large N the tables
do not fit in cache and each substitution step costs a memory access, so the word size sets
the speed (a 16-byte layout with 32-bit thresholds was about 1.3-1.7x slower at N = 100,000).
The price: each column's kept fraction is rounded to within 2^-25, so every outcome's
probability is within about 2^-24 of the model's (far below anything a simulation can
detect), and N is limited to ``MAX_PRODUCTS`` = 2^20 - 1 (outcomes 0..N in 20 bits).

Tables are built by a numba loop (:func:`alias_rows`, Vose's method, the same pairing order as
:func:`envs.streams.alias_table`), in time linear in the number of non-zeros: N = 100,000 with
20 substitutes per row builds in a few tens of ms.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
from numba import njit

from envs.instance import MAX_PRODUCTS, Instance
from envs.streams import draw, to_uniform

POISSON_INVERSION_LIMIT = 10.0
THRESHOLD_BITS = 24
OUTCOME_BITS = 20

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class ChoiceTables:
    """Packed alias tables of an instance's first choice and substitution rows."""

    n_products: int
    row_start: np.ndarray
    slots: np.ndarray

    @property
    def threshold(self) -> np.ndarray:
        """The 24-bit thresholds of all slots."""
        return self.slots & np.uint64((1 << THRESHOLD_BITS) - 1)

    @property
    def kept(self) -> np.ndarray:
        """The outcome of each slot's own column."""
        return (self.slots >> np.uint64(THRESHOLD_BITS)) & np.uint64((1 << OUTCOME_BITS) - 1)

    @property
    def alias(self) -> np.ndarray:
        """The outcome of each slot's alias."""
        return self.slots >> np.uint64(THRESHOLD_BITS + OUTCOME_BITS)

    @classmethod
    def from_instance(cls, instance: Instance) -> ChoiceTables:
        """Build the tables (use :meth:`for_instance` to reuse one build per instance)."""
        n = instance.n_products
        assert n <= MAX_PRODUCTS, "make_instance refuses larger catalogs"
        rho = instance.substitution_csr
        indptr = rho.indptr.astype(np.int64)
        # Slots: first-choice table (N + 1), then row i = its non-zeros followed by "leave".
        row_start = np.empty(n + 1, dtype=np.int64)
        row_start[:] = indptr + np.arange(n + 1) + (n + 1)
        size = int(row_start[-1])
        starts = np.empty(n + 2, dtype=np.int64)
        starts[0] = 0
        starts[1:] = row_start
        probabilities = np.empty(size)
        targets = np.empty(size, dtype=np.int64)
        probabilities[:n] = instance.arrival
        probabilities[n] = instance.no_purchase_probability
        targets[: n + 1] = np.arange(n + 1)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        slot = np.arange(rho.nnz, dtype=np.int64) + rows + (n + 1)
        probabilities[slot] = rho.data
        targets[slot] = rho.indices
        leave_slot = row_start[1:] - 1
        probabilities[leave_slot] = instance.leave_probability
        targets[leave_slot] = n
        keep, alias = alias_rows(starts, probabilities)
        if size < 2**31:
            row_start = row_start.astype(np.int32)  # half the cache footprint of the row index
        scale = float(1 << THRESHOLD_BITS)
        threshold = np.minimum(np.round(keep * scale), scale).astype(np.int64)
        # An outcome whose scaled probability rounds to 0 would vanish from the chain the kernel
        # samples, and a validated chain could become a trap (a leak of 1e-8 lost): keep one
        # unit, a change of at most 2^-24 / K, within the tables' resolution.
        threshold[(probabilities > 0) & (threshold == 0)] = 1
        alias_target = targets[alias]
        certain = threshold == (1 << THRESHOLD_BITS)
        threshold[certain] -= 1
        alias_target[certain] = targets[certain]
        slots = (
            threshold.astype(np.uint64)
            | (targets.astype(np.uint64) << np.uint64(THRESHOLD_BITS))
            | (alias_target.astype(np.uint64) << np.uint64(THRESHOLD_BITS + OUTCOME_BITS))
        )
        for arr in (row_start, slots):
            arr.setflags(write=False)
        return cls(n_products=n, row_start=row_start, slots=slots)

    @classmethod
    def for_instance(cls, instance: Instance) -> ChoiceTables:
        """The tables of ``instance``, built once and cached for the instance's lifetime."""
        tables = _CACHE.get(instance)
        if tables is None:
            tables = cls.from_instance(instance)
            _CACHE[instance] = tables
        return tables

    def outcome_probabilities(self, row: int | None = None) -> np.ndarray:
        """The distribution over outcomes 0..N that a table encodes (exactly, from its slots).

        ``row=None`` is the first-choice table (outcome N: no purchase); ``row=i`` is row i of
        rho (outcome N: leave).
        """
        n = self.n_products
        start, stop = (
            (0, n + 1) if row is None else (int(self.row_start[row]), int(self.row_start[row + 1]))
        )
        kept = self.threshold[start:stop].astype(np.float64) / (1 << THRESHOLD_BITS)
        p = np.zeros(n + 1)
        np.add.at(p, self.kept[start:stop].astype(np.int64), kept)
        np.add.at(p, self.alias[start:stop].astype(np.int64), 1.0 - kept)
        return p / (stop - start)


@njit(cache=True)
def alias_rows(starts, probabilities):
    """Vose alias tables for the rows ``[starts[r], starts[r + 1])`` of ``probabilities``.

    Returns (keep, alias): keep[s] the kept fraction of slot s, alias[s] the *global* slot of
    its alias. Pairing order as in :func:`envs.streams.alias_table` (small and large stacks
    filled in index order, popped from the end). A row summing to 0 becomes "last outcome".
    """
    size = probabilities.shape[0]
    keep = np.ones(size)
    alias = np.arange(size)
    longest = 0
    for r in range(starts.shape[0] - 1):
        longest = max(longest, starts[r + 1] - starts[r])
    scaled = np.empty(longest)
    small = np.empty(longest, dtype=np.int64)
    large = np.empty(longest, dtype=np.int64)
    for r in range(starts.shape[0] - 1):
        s0 = starts[r]
        m = starts[r + 1] - s0
        total = 0.0
        for c in range(m):
            total += probabilities[s0 + c]
        n_small = 0
        n_large = 0
        for c in range(m):
            if total > 0.0:
                scaled[c] = probabilities[s0 + c] * (m / total)
            else:
                scaled[c] = float(m) if c == m - 1 else 0.0
            if scaled[c] < 1.0:
                small[n_small] = c
                n_small += 1
            else:
                large[n_large] = c
                n_large += 1
        while n_small > 0 and n_large > 0:
            n_small -= 1
            s = small[n_small]
            g = large[n_large - 1]
            keep[s0 + s] = scaled[s]
            alias[s0 + s] = s0 + g
            scaled[g] = (scaled[g] + scaled[s]) - 1.0
            if scaled[g] < 1.0:
                n_large -= 1
                small[n_small] = g
                n_small += 1
    return keep, alias


@njit(cache=True)
def poisson_count(ckey, mean):
    """A Poisson(mean) count from the draws of stream ``ckey`` (inversion, or PTRS for mean >= 10).

    PTRS is Hoermann's (1993) transformed rejection with squeeze, as in NumPy's generator.
    """
    step = 0
    if mean < POISSON_INVERSION_LIMIT:
        u = to_uniform(draw(ckey, step))
        p = math.exp(-mean)
        cumulative = p
        k = 0
        while u > cumulative and p > 0.0:
            k += 1
            p *= mean / k
            cumulative += p
        return k
    slam = math.sqrt(mean)
    loglam = math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = to_uniform(draw(ckey, step)) - 0.5
        v = to_uniform(draw(ckey, step + 1))
        step += 2
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= vr:
            return int(k)
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(
            a / (us * us) + b
        ) <= -mean + k * loglam - math.lgamma(k + 1.0):
            return int(k)
