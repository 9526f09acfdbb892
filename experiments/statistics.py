"""Interval estimates of the leaderboard and the studies: one set of formulas for all.

For per-season values v_ik on suite instances i = 1..I (K_i seasons each):

    mean      = (1/I) sum_i vbar_i,           vbar_i = (1/K_i) sum_k v_ik
    se^2      = (1/I^2) sum_i s_i^2 / K_i,    s_i^2 = sample variance of v_i.  (ddof 1)
    95% CI    = mean -+ z_0.975 se

(:func:`stratified_mean_ci`: a stratified mean over fixed instances, with the customers as the
random part). Over S values that are draws of a random procedure (training seeds),
:func:`t_interval` gives mean -+ t_{S-1, 0.975} sd / sqrt(S). A ratio of two stratified means
of paired values (the share of a gap closed) gets the delta-method interval of
:func:`ratio_ci`. Across families,
:func:`bootstrap_iqm` gives the interquartile mean of a score matrix with a stratified
bootstrap percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from envs.validation import InputError, integer_iv, real_iv

DEFAULT_LEVEL = 0.95
DEFAULT_BOOTSTRAP_REPS = 2_000
MAX_BOOTSTRAP_REPS = 100_000
BOOTSTRAP_CHUNK_CELLS = 10_000_000
"""Replicates are drawn in chunks of at most this many scores, so memory stays bounded."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with its standard error and confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    se: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "se": self.se}


def level_iv(level: float) -> float:
    """A confidence level in (0, 1)."""
    return real_iv("level", level, low=0.0, high=1.0, low_open=True, high_open=True)


def stratified_mean_ci(groups: Sequence[np.ndarray], level: float = DEFAULT_LEVEL) -> Interval:
    """Mean over groups of the group means, with the normal interval of the module docstring:
    se^2 = (1/I^2) sum_i s_i^2 / K_i (every group needs at least 2 values)."""
    level = level_iv(level)
    if len(groups) == 0:
        raise InputError("`groups` must hold at least one array of values; got none")
    means = []
    variance = 0.0
    for index, group in enumerate(groups):
        values = np.asarray(group, dtype=np.float64)
        if values.ndim != 1 or values.shape[0] < 2:
            raise InputError(
                f"`groups` entry {index} has shape {values.shape}; each group needs a 1-d array of "
                "at least 2 values"
            )
        means.append(values.mean())
        variance += values.var(ddof=1) / values.shape[0]
    mean = float(np.mean(means))
    se = math.sqrt(variance) / len(groups)
    half = float(stats.norm.ppf(0.5 + level / 2)) * se
    return Interval(mean=mean, low=mean - half, high=mean + half, se=se)


def t_interval(values: Sequence[float] | np.ndarray, level: float = DEFAULT_LEVEL) -> Interval:
    """Student-t interval of the mean of S >= 2 values: mean -+ t_{S-1} sd / sqrt(S)."""
    level = level_iv(level)
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.shape[0] < 2:
        raise InputError(
            f"`values` has shape {data.shape}; a t-interval needs a 1-d array of at least 2 values"
        )
    mean = float(data.mean())
    se = float(data.std(ddof=1)) / math.sqrt(data.shape[0])
    half = float(stats.t.ppf(0.5 + level / 2, data.shape[0] - 1)) * se
    return Interval(mean=mean, low=mean - half, high=mean + half, se=se)


def ratio_ci(
    numerators: Sequence[np.ndarray],
    denominators: Sequence[np.ndarray],
    level: float = DEFAULT_LEVEL,
) -> Interval:
    """R = A / B for the stratified means A of ``numerators`` and B of ``denominators`` (the
    same groups, paired value by value), with the delta-method interval

        se(R) = se_strat(u) / |B|,    u_ik = a_ik - R b_ik,

    se_strat the stratified standard error of :func:`stratified_mean_ci` (the linearization of
    the ratio estimator). Valid when B is well away from 0 relative to its standard error; a
    zero B gives an interval of NaN."""
    if len(numerators) != len(denominators):
        raise InputError(
            f"`numerators` has {len(numerators)} groups but `denominators` has "
            f"{len(denominators)}; they must be paired"
        )
    a = stratified_mean_ci(numerators, level)
    b = stratified_mean_ci(denominators, level)
    if b.mean == 0:
        return Interval(mean=math.nan, low=math.nan, high=math.nan, se=math.nan)
    ratio = a.mean / b.mean
    linear = [
        np.asarray(x, dtype=np.float64) - ratio * np.asarray(y, dtype=np.float64)
        for x, y in zip(numerators, denominators)
    ]
    se = stratified_mean_ci(linear, level).se / abs(b.mean)
    half = float(stats.norm.ppf(0.5 + level_iv(level) / 2)) * se
    return Interval(mean=ratio, low=ratio - half, high=ratio + half, se=se)


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% (``trim_mean(scores, 0.25)``)."""
    return stats.trim_mean(scores, 0.25, axis=axis)


def bootstrap_iqm(
    strata: Sequence[np.ndarray],
    *,
    reps: int = DEFAULT_BOOTSTRAP_REPS,
    level: float = DEFAULT_LEVEL,
    rng: None | int | np.random.Generator = None,
) -> Interval:
    """IQM of all scores with a stratified bootstrap percentile interval.

    ``strata`` holds one ``(runs, tasks)`` score matrix per family. A replicate draws, in every
    stratum, ``tasks`` columns with replacement and for each drawn column ``runs`` rows with
    replacement; ``se`` is the standard deviation of the replicates' IQMs.
    """
    level = level_iv(level)
    reps = bootstrap_reps_iv(reps)
    matrices = [np.asarray(s, dtype=np.float64) for s in strata]
    if not matrices or any(m.ndim != 2 or m.size == 0 for m in matrices):
        raise InputError(
            "`strata` must be non-empty (runs, tasks) matrices; got shapes "
            f"{[m.shape for m in matrices]}"
        )
    rng = np.random.default_rng(rng)
    point = float(iqm(np.concatenate([m.ravel() for m in matrices])))
    cells = sum(m.size for m in matrices)
    chunk = max(1, BOOTSTRAP_CHUNK_CELLS // cells)
    replicates = np.empty(reps)
    for first in range(0, reps, chunk):
        size = min(chunk, reps - first)
        parts = []
        for m in matrices:
            runs, tasks = m.shape
            cols = rng.integers(0, tasks, size=(size, 1, tasks))
            rows = rng.integers(0, runs, size=(size, runs, tasks))
            parts.append(m[rows, cols].reshape(size, runs * tasks))
        replicates[first : first + size] = iqm(np.concatenate(parts, axis=1), axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    se = float(replicates.std(ddof=1)) if reps > 1 else 0.0
    return Interval(mean=point, low=float(low), high=float(high), se=se)


def bootstrap_reps_iv(reps: object) -> int:
    """Bootstrap replicates: an integer in [1, ``MAX_BOOTSTRAP_REPS``]."""
    return integer_iv("bootstrap_reps", reps, low=1, high=MAX_BOOTSTRAP_REPS)
