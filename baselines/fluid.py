"""Fluid policy: stock the rounded fluid LP sales z (DESIGN.md 5), no hedging against variability.

Rounding rules (:func:`round_stock`, shared by every heuristic that rounds a fractional stock):
``"nearest"`` (x = floor(z + 1/2)), ``"floor"``, ``"ceil"``. Values within
``ROUNDING_TOLERANCE`` of an integer count as that integer (LP solutions and fixed points carry
round-off), so ``"ceil"`` never stocks a product the LP does not sell.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from baselines.policy import PolicyResult
from envs.fluid_lp import METHODS, fluid_lp
from envs.instance import Instance
from envs.validation import choice_iv, rng_iv

ROUNDING_RULES = ("nearest", "floor", "ceil")
ROUNDING_TOLERANCE = 1e-6


def round_stock(x: np.ndarray, rounding: str) -> np.ndarray:
    """Round a fractional stock vector to whole units: ``nearest`` (halves up), ``floor`` or
    ``ceil``; negative values count as 0 and values within ``ROUNDING_TOLERANCE`` of an integer
    as that integer."""
    choice_iv("rounding", rounding, ROUNDING_RULES)
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    if rounding == "nearest":
        out = np.floor(x + 0.5)
    elif rounding == "floor":
        out = np.floor(x + ROUNDING_TOLERANCE)
    else:
        out = np.ceil(x - ROUNDING_TOLERANCE)
    return out.astype(np.int64)


def fluid_policy(
    instance: Instance,
    *,
    rng: None | int | np.random.Generator = None,
    rounding: Literal["nearest", "floor", "ceil"] = "nearest",
    method: Literal["auto", "fixed-point", "highs"] = "auto",
) -> PolicyResult:
    """Stock round(z) for the fluid LP sales z (deterministic; ``rng`` is validated, unused)."""
    start = time.perf_counter()
    rng_iv(rng)
    choice_iv("rounding", rounding, ROUNDING_RULES)
    choice_iv("method", method, METHODS)
    solution = fluid_lp(instance, method=method)
    stock = round_stock(solution.sales, rounding)
    info = {"lp_bound": solution.value, "lp_status": solution.status, "lp_method": solution.method}
    return PolicyResult(
        policy="fluid", stock=stock, solve_seconds=time.perf_counter() - start, info=info
    )
