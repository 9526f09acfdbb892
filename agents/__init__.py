"""Learned stocking policies trained with stable-baselines3.

:data:`ALGORITHMS` (name -> SB3 class), :func:`make_model` and :func:`load_model` build and load
models from explicit settings, which :mod:`agents.settings` checks beforehand;
:class:`agents.policy.LearnedPolicy` plays a trained model as a
:class:`baselines.policy.StockingPolicy`.
"""

from agents.factory import ALGORITHMS, load_model, make_model

__all__ = ["ALGORITHMS", "load_model", "make_model"]
