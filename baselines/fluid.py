"""Fluid policy: stock the rounded fluid LP sales z (DESIGN.md 5), no hedging against variability.

Rounding rules: ``"nearest"`` (x = floor(z + 1/2)), ``"floor"``, ``"ceil"``. Sales below
``ZERO_SALES`` (numerical noise from the fixed point) count as 0 before rounding, so ``"ceil"``
never stocks a product the LP does not sell.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from baselines.bound import METHODS, fluid_lp
from baselines.policy import PolicyResult
from envs.instance import Instance

ROUNDING_RULES = ("nearest", "floor", "ceil")
ZERO_SALES = 1e-9


def round_sales(sales: np.ndarray, rounding: str) -> np.ndarray:
    """Round fluid sales to whole units by ``rounding`` (one of ``ROUNDING_RULES``)."""
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"`rounding` must be one of {ROUNDING_RULES}; got {rounding!r}")
    z = np.where(sales < ZERO_SALES, 0.0, sales)
    if rounding == "nearest":
        return np.floor(z + 0.5).astype(np.int64)
    if rounding == "floor":
        return np.floor(z + ZERO_SALES).astype(np.int64)
    return np.ceil(z - ZERO_SALES).astype(np.int64)


def fluid_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    rounding: Literal["nearest", "floor", "ceil"] = "nearest",
    method: Literal["auto", "fixed-point", "highs"] = "auto",
) -> PolicyResult:
    """Stock round(z) for the fluid LP sales z (deterministic; ``rng`` is unused)."""
    start = time.perf_counter()
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"`rounding` must be one of {ROUNDING_RULES}; got {rounding!r}")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}")
    solution = fluid_lp(instance, method=method)
    stock = round_sales(solution.sales, rounding)
    info = {"lp_bound": solution.value, "lp_status": solution.status, "lp_method": solution.method}
    return PolicyResult(policy="fluid", stock=stock, solve_seconds=time.perf_counter() - start, info=info)
