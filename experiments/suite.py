"""The benchmark suite: held-out family instances, each with its fluid LP bound.

A suite is ``families x instance_seeds``: every suite family (a family of
:mod:`envs.families`, possibly with knob overrides and its own shown name) at every held-out
instance seed, each instance with its fluid LP bound B (:func:`envs.fluid_lp.fluid_lp`), the
scale of every percentage the leaderboard reports.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from envs.validation import InputError
from experiments.backends import Backend, run_ordered
from experiments.progress import Progress, phase, say
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
    bound_seconds: float = field(default=0.0, compare=False)
    """Seconds the fluid LP bound took (for progress messages)."""

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
    backend: Backend | None = None,
) -> tuple[SuiteInstance, ...]:
    """``families x instance_seeds``: each entry of ``families`` is a family name or has the
    attributes ``family``, ``name`` and ``overrides`` (:class:`experiments.config.SuiteFamily`);
    the instance is ``make_family_instance(family, seed, **overrides)``. Each instance (and its
    bound) is one task of ``backend`` (serial when None)."""
    if not families:
        raise InputError("`families` must name at least one instance family; got none")
    if not instance_seeds:
        raise InputError("`instance_seeds` must name at least one seed; got none")
    specs = []
    for entry in families:
        family, name, overrides = (
            (entry, entry, {})
            if isinstance(entry, str)
            else (entry.family, entry.name, dict(entry.overrides))
        )
        specs.extend(SuiteSpec(family, name, int(seed), overrides) for seed in instance_seeds)
    with phase(progress, "suite", total=len(specs), unit="instances", tasks=len(specs)) as bar:

        def report(index: int, item: SuiteInstance) -> None:
            bar.tick(1)
            bar.task_done()
            say(
                progress,
                f"suite {item.label}: N={item.instance.n_products}, T={item.instance.customers}, "
                f"LP bound {item.bound:.2f} ({item.bound_seconds:.2f} s)",
            )

        return tuple(run_ordered(backend, make_suite_instance, specs, done=report))


@dataclass(frozen=True)
class SuiteSpec:
    """What defines one suite instance (a backend task of :func:`build_suite`)."""

    family: str
    name: str
    seed: int
    overrides: Mapping[str, Any]


def make_suite_instance(spec: SuiteSpec, tick: Any = None) -> SuiteInstance:
    """The instance of ``spec`` with its fluid LP bound."""
    instance = make_family_instance(spec.family, spec.seed, **spec.overrides)
    solution = fluid_lp(instance)
    item = suite_instance(spec.name, spec.seed, instance, solution.value, spec.overrides)
    return dataclasses.replace(item, bound_seconds=float(solution.solve_seconds))
