"""The action scales of the environments: how an action in [-1, 1]^N becomes a stock vector.

* absolute: x_i = round((a_i + 1) / 2 * cap_i) with cap_i the demand cap of
  :mod:`envs.features` (:func:`scale_action`, :func:`action_to_stock`; inverse
  :func:`stock_to_action`): a = -1 stocks nothing, a = 1 stocks the cap;
* residual around an anchor y (fractional stock): x_i = max(0, round(y_i + a_i (2 + 2 sqrt(y_i))))
  (:func:`anchored_stock`): a = 0 stocks the rounded anchor and a = +-1 moves about two
  Poisson standard deviations plus two units from it;
* proportional around an anchor y (:func:`proportional_stock`, the sequential environments):
  x_i = round(y_i (1 + a_i)) for a_i <= 0 and x_i = round(y_i + a_i (y_i + 2 + 2 sqrt(y_i)))
  for a_i > 0, so a = 0 is the anchor, a = -1 drops the product whatever its anchor, a = -1/2
  halves it and a = 1 doubles it plus two units and two Poisson standard deviations.

Entries outside [-1, 1] are clipped first (an unclipped policy output means the bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.features import demand_cap
from envs.instance import Instance
from envs.validation import InputError, number_array_iv


def action_iv(action: Any, n: int, label: str = "action") -> np.ndarray:
    """``action`` as float64[n] of finite real numbers (strings, bools and complex numbers are
    refused, not converted), one entry per product."""
    arr = number_array_iv(label, action)
    if arr.shape != (n,):
        raise InputError(
            f"`{label}` must have shape ({n},), one entry per product; got shape {arr.shape}"
        )
    return arr


def scale_action(action: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """int64 x_i = round((clip(a_i, -1, 1) + 1) / 2 * cap_i) (round half to even); works on a
    batch (E, N) as well."""
    fraction = (np.clip(action, -1.0, 1.0) + 1.0) / 2.0
    return np.rint(fraction * cap).astype(np.int64)


def anchored_stock(action: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """int64 x_i = max(0, round(y_i + clip(a_i, -1, 1) (2 + 2 sqrt(y_i)))) around an anchor y
    (the residual scale of the module docstring); works on a batch (E, N) as well."""
    spread = 2.0 + 2.0 * np.sqrt(anchor)
    return np.maximum(0, np.rint(anchor + np.clip(action, -1.0, 1.0) * spread)).astype(np.int64)


def proportional_stock(action: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """int64 stock on the proportional scale of the module docstring around anchor y (the
    action clipped to [-1, 1] first; halves round to even)."""
    a = np.clip(action, -1.0, 1.0)
    y = np.maximum(np.asarray(anchor, dtype=np.float64), 0.0)
    up = y + a * (y + 2.0 + 2.0 * np.sqrt(y))
    return np.maximum(0, np.rint(np.where(a <= 0, y * (1.0 + a), up))).astype(np.int64)


def action_to_stock(instance: Instance, action: Any) -> np.ndarray:
    """The stock vector int64[N] an action commits on ``instance`` on the absolute scale."""
    return scale_action(action_iv(action, instance.n_products), demand_cap(instance))


def stock_to_action(instance: Instance, stock: Any) -> np.ndarray:
    """float32[N] action a_i = 2 min(x_i, cap_i) / cap_i - 1, the inverse of
    :func:`action_to_stock`.

    ``action_to_stock(instance, stock_to_action(instance, x)) == min(x, cap)`` exactly (for caps
    below 2**22, where float32 resolves a unit); stock above the cap is stocked at the cap.
    """
    x = action_iv(stock, instance.n_products, "stock")
    if np.any(x < 0):
        i = int(np.flatnonzero(x < 0)[0])
        raise InputError(f"`stock` entry {i} is {float(x[i])!r}; stock must be non-negative")
    cap = demand_cap(instance)
    return (2.0 * np.minimum(x, cap) / cap - 1.0).astype(np.float32)
