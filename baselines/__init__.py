"""Analytical Markov-chain heuristics and the fluid LP upper bound.

``POLICIES`` maps each heuristic's name to ``"module:function"`` (imported on first use);
:func:`solve` runs one by name, :class:`HeuristicPolicy` wraps one as a stocking policy.
"""

from baselines.policy import PolicyResult, StockingPolicy
from baselines.registry import POLICIES, HeuristicPolicy, load_policy, policy_knobs, solve

__all__ = [
    "POLICIES",
    "HeuristicPolicy",
    "PolicyResult",
    "StockingPolicy",
    "load_policy",
    "policy_knobs",
    "solve",
]
