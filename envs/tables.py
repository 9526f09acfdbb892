"""Sampling tables of a Markov chain choice model, and the Poisson season length.

:class:`ChoiceTables` stores one alias table for the first choice (N + 1 outcomes, the last
is "no purchase") and one per row of rho over that row's non-zero entries plus a final
"leave" outcome, packed CSR-style: row i's table lives at ``[row_start[i], row_start[i+1])``
and ``row_target`` maps each slot to a product (or N for "leave").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from envs.instance import Instance
from envs.streams import alias_table, draw, to_uniform

POISSON_INVERSION_LIMIT = 10.0


@dataclass(frozen=True)
class ChoiceTables:
    first_threshold: np.ndarray
    first_alias: np.ndarray
    row_start: np.ndarray
    row_threshold: np.ndarray
    row_alias: np.ndarray
    row_target: np.ndarray

    @classmethod
    def from_instance(cls, instance: Instance) -> ChoiceTables:
        n = instance.n_products
        first = np.append(instance.arrival, instance.no_purchase_probability)
        if first.sum() <= 0:
            first[-1] = 1.0
        first_threshold, first_alias = alias_table(first)
        rho = instance.substitution_csr
        leave = instance.leave_probability
        counts = np.diff(rho.indptr) + 1
        row_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=row_start[1:])
        size = int(row_start[-1])
        row_threshold = np.empty(size, dtype=np.uint64)
        row_alias = np.empty(size, dtype=np.int64)
        row_target = np.empty(size, dtype=np.int64)
        for i in range(n):
            lo, hi = rho.indptr[i], rho.indptr[i + 1]
            probabilities = np.append(rho.data[lo:hi], leave[i])
            if probabilities.sum() <= 0:
                probabilities[-1] = 1.0
            threshold, alias = alias_table(probabilities)
            s, e = row_start[i], row_start[i + 1]
            row_threshold[s:e] = threshold
            row_alias[s:e] = alias
            row_target[s:e - 1] = rho.indices[lo:hi]
            row_target[e - 1] = n
        return cls(first_threshold, first_alias, row_start, row_threshold, row_alias, row_target)


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
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= -mean + k * loglam - math.lgamma(k + 1.0):
            return int(k)
