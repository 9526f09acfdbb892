"""The policy registry: heuristic names -> ``"module:function"``, imported lazily.

Importing this module also registers every heuristic as an environment reference
(:mod:`envs.references`), so that ``action_anchor`` and ``reward_baseline`` of the environments
accept any heuristic's name, and the sequential planners' commitment steps
(:data:`COMMITMENT_REFERENCES`) as anchors of the sequential environments.

Every heuristic is ``function(instance, *, rng=None, <knobs with defaults>) -> PolicyResult``.
:func:`solve` looks the name up, checks the knobs against the function's keyword-only
parameters (an unknown knob is an error naming it, with a did-you-mean), calls it and times
the call. :class:`HeuristicPolicy` wraps a name and knobs as a
:class:`baselines.policy.StockingPolicy`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from baselines.policy import PolicyResult
from baselines.sequential import plan_commitments
from envs.fluid_lp import FluidSolution
from envs.instance import Instance
from envs.references import (
    FLUID,
    REFERENCE_SEED,
    register_commitment_reference,
    register_reference,
)
from envs.validation import InputError

POLICIES: dict[str, str] = {
    "fluid": "baselines.fluid:fluid_policy",
    "newsvendor": "baselines.newsvendor:newsvendor_policy",
    "assortment-newsvendor": "baselines.assortment:assortment_newsvendor_policy",
    "saa": "baselines.saa:saa_policy",
    "pooled-saa": "baselines.pooled:pooled_saa_policy",
    "sample-path-gradient": "baselines.gradient:sample_path_gradient_policy",
    "local-search": "baselines.local_search:local_search_policy",
    "exact": "baselines.exact:exact_policy",
    "walk-saa": "baselines.walk_saa:walk_saa_policy",
    "truth-search": "baselines.truth_search:truth_search_policy",
    "shock-aware-saa": "baselines.shock_saa:shock_aware_saa_policy",
    "myopic-saa": "baselines.sequential:myopic_saa_policy",
    "myopic-fluid": "baselines.sequential:myopic_fluid_policy",
    "lookahead-saa": "baselines.sequential:lookahead_policy",
}


def _name_iv(name: Any) -> str:
    if not isinstance(name, str) or name not in POLICIES:
        close = difflib.get_close_matches(str(name), POLICIES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"unknown policy {name!r}; {hint}known policies: {', '.join(POLICIES)}")
    return name


def load_policy(name: str) -> Callable[..., PolicyResult]:
    """The heuristic function registered as ``name`` (imports its module on first use)."""
    module_name, function_name = POLICIES[_name_iv(name)].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def policy_knobs(name: str) -> dict[str, Any]:
    """The knobs of policy ``name`` with their defaults (keyword-only parameters, incl. ``rng``)."""
    signature = inspect.signature(load_policy(name))
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _knobs_iv(name: str, knobs: dict[str, Any]) -> None:
    known = policy_knobs(name)
    for key in knobs:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(
                f"policy {name!r} has no knob {key!r}; {hint}its knobs are: "
                f"{', '.join(known) or 'none'}"
            )


def solve(name: str, instance: Instance, **knobs: Any) -> PolicyResult:
    """Run heuristic ``name`` on ``instance`` with ``knobs``; ``solve_seconds`` is the timed
    call."""
    function = load_policy(name)
    _knobs_iv(name, knobs)
    start = time.perf_counter()
    result = function(instance, **knobs)
    seconds = time.perf_counter() - start
    return replace(result, policy=name, solve_seconds=seconds)


class HeuristicPolicy:
    """A registered heuristic with fixed knobs, as a :class:`baselines.policy.StockingPolicy`.

    The name and knobs are checked at construction. Pass ``rng=<int>`` for a seeded policy: each
    ``stock_for`` call then starts from the same seed.
    """

    def __init__(self, name: str, **knobs: Any) -> None:
        _name_iv(name)
        _knobs_iv(name, knobs)
        self.name = name
        self.knobs = dict(knobs)

    def stock_for(self, instance: Instance) -> np.ndarray:
        return solve(self.name, instance, **self.knobs).stock

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.knobs.items())
        return f"HeuristicPolicy({self.name!r}{', ' if knobs else ''}{knobs})"


class HeuristicReference:
    """Registered heuristic ``name`` as an environment reference (:mod:`envs.references`):
    its stock on an instance, solved with the fixed planning seed ``REFERENCE_SEED``."""

    def __init__(self, name: str) -> None:
        self.name = _name_iv(name)

    def __call__(self, instance: Instance, solution: FluidSolution) -> np.ndarray:
        return solve(self.name, instance, rng=REFERENCE_SEED).stock.astype(np.float64)


for _name in POLICIES:
    if _name != FLUID:  # "fluid" is built in: the fluid LP sales themselves (fractional)
        register_reference(_name, HeuristicReference(_name))


COMMITMENT_REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "myopic-fluid": ("fluid", {}),
    "myopic-saa": ("saa", {"scenarios": 8}),
}
"""Commitment references (name -> planner of :func:`baselines.sequential.plan_commitments`
and its knobs): one myopic re-planning step on the instance given, with the fixed planning seed
``REFERENCE_SEED``. The ``myopic-saa`` anchor plans with 8 scenarios (the ``myopic-saa``
policy with 32), so that an environment step stays cheap."""


class CommitmentReference:
    """A planner of :mod:`baselines.sequential` as an environment commitment reference."""

    def __init__(self, planner: str, knobs: dict[str, Any]) -> None:
        self.planner = planner
        self.knobs = dict(knobs)

    def __call__(self, instance: Instance, fixed: np.ndarray) -> np.ndarray:
        stock = plan_commitments(
            instance, fixed, rng=REFERENCE_SEED, planner=self.planner, **self.knobs
        )
        return stock.astype(np.float64)


for _name, (_planner, _knobs) in COMMITMENT_REFERENCES.items():
    register_commitment_reference(_name, CommitmentReference(_planner, _knobs))
