"""Reference policies of the environments: the anchor of a residual action and the stock whose
profit is subtracted from the reward (the paired reward baseline).

A reference is a function ``instance -> float64[N]`` (a possibly fractional stock) registered
under a name. ``"fluid"`` is built in: the fluid LP sales z (:func:`envs.fluid_lp.fluid_lp`;
as a baseline stock it is rounded to the nearest unit, halves up, which is the fluid policy).
The heuristics live in a layer above (:mod:`baselines`), so they register themselves here when
:mod:`baselines.registry` is imported: then every registered heuristic's name works too, solved
with a fixed planning seed (``REFERENCE_SEED``) so that the reference of an instance is always
the same stock. The environments look names up only when they are built, and a name that is
not registered is refused with the names that are.

*Commitment references* serve the sequential environments (:mod:`envs.sequential`): a function
``(instance, fixed) -> float64[N]`` that plans the products whose ``fixed`` entry is -1 given the
others' committed stock (the sequential planners of :mod:`baselines.sequential` register
``myopic-fluid`` and ``myopic-saa`` when :mod:`baselines.registry` is imported).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.fluid_lp import FluidSolution
from envs.instance import Instance
from envs.validation import InputError

Reference = Callable[[Instance, FluidSolution], np.ndarray]
"""(instance, its fluid LP solution) -> float64[N] stock."""

REFERENCE_SEED = 0
"""The planning seed of a heuristic used as a reference (a fixed stock per instance)."""
NONE = "none"
FLUID = "fluid"

_REFERENCES: dict[str, Reference] = {FLUID: lambda instance, solution: solution.sales}


CommitmentReference = Callable[[Instance, np.ndarray], np.ndarray]
"""(instance, fixed int64[N]: committed stock, or -1 for products to plan) -> float64[N]."""

_COMMITMENT_REFERENCES: dict[str, CommitmentReference] = {}


def register_commitment_reference(name: str, reference: CommitmentReference) -> None:
    """Make ``name`` usable as a sequential environment's ``action_anchor`` (and, played vendor
    by vendor, its ``reward_baseline``)."""
    _COMMITMENT_REFERENCES[name] = reference


def commitment_reference_names() -> list[str]:
    """The registered commitment references."""
    return list(_COMMITMENT_REFERENCES)


def commitment_reference(name: str) -> CommitmentReference:
    """The registered commitment reference ``name``."""
    return _COMMITMENT_REFERENCES[name]


def register_reference(name: str, reference: Reference) -> None:
    """Make ``name`` usable as an environment's ``action_anchor`` or ``reward_baseline``."""
    _REFERENCES[name] = reference


def reference_names() -> list[str]:
    """``"none"`` and the registered references."""
    return [NONE, *_REFERENCES]


def reference_iv(label: str, name: object) -> str:
    """``"none"`` or a registered reference name."""
    if not isinstance(name, str) or (name != NONE and name not in _REFERENCES):
        hint = "" if len(_REFERENCES) > 1 else " (import baselines to register the heuristics)"
        raise InputError(f"`{label}` must be one of {reference_names()}{hint}; got {name!r}")
    return name


def reference_stock(name: str, instance: Instance, solution: FluidSolution) -> np.ndarray:
    """The float64[N] stock of reference ``name`` on ``instance``, never negative."""
    return np.maximum(np.asarray(_REFERENCES[name](instance, solution), dtype=np.float64), 0.0)


def round_half_up(stock: np.ndarray) -> np.ndarray:
    """int64 floor(x + 1/2): a fractional reference as whole units."""
    return np.floor(np.asarray(stock) + 0.5).astype(np.int64)
