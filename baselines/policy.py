"""The policy interface shared by heuristics, learned agents and the evaluation code.

A *stocking policy* maps an instance to an integer stock vector x in Z_+^N. Heuristics are
plain functions ``heuristic(instance, **knobs) -> PolicyResult`` registered by name in
:data:`baselines.POLICIES`; anything with a ``name`` and a ``stock_for(instance)`` method
(:class:`StockingPolicy`) can be evaluated and put on the leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from envs.instance import Instance


@dataclass(frozen=True)
class PolicyResult:
    """What a heuristic returns: the stock vector, its wall-clock solve time and extra facts
    (``info``: e.g. ``lp_bound``, the solver status, iterations used)."""

    policy: str
    stock: np.ndarray
    solve_seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "stock": [int(v) for v in self.stock],
            "solve_seconds": self.solve_seconds,
            **self.info,
        }


@runtime_checkable
class StockingPolicy(Protocol):
    """Something that decides a stock vector for an instance."""

    name: str

    def stock_for(self, instance: Instance) -> np.ndarray: ...
