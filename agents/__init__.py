"""Learned stocking policies trained with stable-baselines3.

:data:`ALGORITHMS` (name -> SB3 class) and :func:`make_model` build models from experiment
configs; :class:`agents.policy.LearnedPolicy` plays a trained run as a
:class:`baselines.policy.StockingPolicy`.
"""

from agents.factory import ALGORITHMS, load_model, make_model

__all__ = ["ALGORITHMS", "load_model", "make_model"]
