"""The benchmark suite: held-out family instances, each with its fluid LP bound.

A suite is ``families x instance_seeds``: every suite family (a family of
:mod:`envs.families`, possibly with knob overrides and its own shown name) at every held-out
instance seed, each instance with its fluid LP bound B (:func:`envs.fluid_lp.fluid_lp`), the
scale of every percentage the leaderboard reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from envs.validation import InputError
from experiments.progress import Progress, say
from experiments.store import instance_hash


@dataclass(frozen=True)
class SuiteInstance:
    """One benchmark instance with its fluid LP bound and definition hash. ``family`` is the
    suite family's shown name (the family, or its label when it has overrides)."""

    family: str
    seed: int
    instance: Instance
    bound: float
    hash: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}"


def suite_instance(
    family: str,
    seed: int,
    instance: Instance,
    bound: float,
    overrides: Mapping[str, Any] | None = None,
) -> SuiteInstance:
    """Wrap an instance; the bound must be positive (scores are profit / bound)."""
    if not math.isfinite(bound) or bound <= 0:
        raise InputError(
            f"the fluid LP bound of {family}-{seed} is {bound!r}; normalized scores need a "
            "positive bound"
        )
    return SuiteInstance(
        family=family,
        seed=int(seed),
        instance=instance,
        bound=float(bound),
        hash=instance_hash(instance),
        overrides=dict(overrides or {}),
    )


def build_suite(
    families: Sequence[Any],
    instance_seeds: Sequence[int],
    *,
    progress: Progress | None = None,
) -> tuple[SuiteInstance, ...]:
    """``families x instance_seeds``: each entry of ``families`` is a family name or has the
    attributes ``family``, ``name`` and ``overrides`` (:class:`experiments.config.SuiteFamily`);
    the instance is ``make_family_instance(family, seed, **overrides)``."""
    if not families:
        raise InputError("`families` must name at least one instance family; got none")
    if not instance_seeds:
        raise InputError("`instance_seeds` must name at least one seed; got none")
    suite = []
    for entry in families:
        family, name, overrides = (
            (entry, entry, {})
            if isinstance(entry, str)
            else (entry.family, entry.name, dict(entry.overrides))
        )
        for seed in instance_seeds:
            instance = make_family_instance(family, seed, **overrides)
            solution = fluid_lp(instance)
            suite.append(suite_instance(name, seed, instance, solution.value, overrides))
            say(
                progress,
                f"suite {name}-{seed}: N={instance.n_products}, T={instance.customers}, "
                f"LP bound {solution.value:.2f} ({solution.solve_seconds:.2f} s)",
            )
    return tuple(suite)
