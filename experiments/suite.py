"""The benchmark suite: held-out family instances, each with its bounds.

A suite is ``families x instance_seeds``: every suite family (a family of
:mod:`envs.families`, possibly with knob overrides and its own shown name) at every held-out
instance seed. Each instance carries its fluid LP bound (:func:`envs.fluid_lp.fluid_lp`) and,
unless switched off, the scenario (Mak-Morton-Wood) bound of :mod:`baselines.scenario_bound`:
its control-variate estimate and its one-sided 95% upper confidence limit (UCL). The scale of
every percentage the leaderboard reports is the *tightest valid bound* of the instance,
B = min(fluid bound, scenario UCL), and the suite names which one it is. (The UCL is valid with
95% confidence over the bound's own scenarios; the fluid bound with certainty.)

The scenario bound costs seconds (small, mnl) to minutes (heavy-tail) per instance, so it is
kept in the result store (:meth:`experiments.store.ResultStore.get_bound`), fingerprinted by
the instance hash, the bound's settings and the source of the modules that compute it. Its
budget is deterministic: K scenarios and M replications from
:func:`baselines.scenario_bound.default_budget` (by catalog size), and its scenarios come from
:func:`bound_seed`, derived from the instance's definition hash alone, so they are independent
of the evaluation customers and of the heuristics' planning seeds, and the same instance gets
the same bound in every config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.scenario_bound import ScenarioBound, default_budget, scenario_bound
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from envs.validation import InputError
from experiments.backends import Backend, run_ordered
from experiments.progress import Progress, phase, say
from experiments.store import ResultStore, fingerprint, instance_hash, source_hash

BOUND_ENTROPY = 0x5CE4A210B0
"""Entropy of the bound's seed stream (distinct from the evaluation and planning streams)."""
BOUND_MODULES = (
    "baselines.scenario_bound",
    "baselines.saa",
    "baselines.scenarios",
    "envs.fluid_lp",
    "envs.choice",
)
"""The modules whose source determines a scenario bound (given the instance and settings)."""
FLUID = "fluid"
SCENARIO = "scenario UCL"


@dataclass(frozen=True)
class SuiteInstance:
    """One benchmark instance with its bounds and definition hash. ``family`` is the suite
    family's shown name (the family, or its label when it has overrides). ``bound`` is the
    tightest valid bound (the scale of every score), ``bound_name`` says which one it is
    (``"fluid"`` or ``"scenario UCL"``); ``scenario`` holds the scenario bound's record
    (:meth:`baselines.scenario_bound.ScenarioBound.to_dict`) when it was computed."""

    family: str
    seed: int
    instance: Instance
    bound: float
    hash: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    fluid_bound: float = math.nan
    bound_name: str = FLUID
    scenario: Mapping[str, Any] | None = None
    bound_seconds: float = field(default=0.0, compare=False)
    """Seconds the fluid LP bound took (for progress messages)."""
    scenario_computed: bool = field(default=False, compare=False)
    """Whether the scenario bound was computed now (False: read from the store, or none)."""

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}"

    @property
    def scenario_bound(self) -> float | None:
        return None if self.scenario is None else float(self.scenario["scenario_bound"])

    @property
    def scenario_bound_upper(self) -> float | None:
        return None if self.scenario is None else float(self.scenario["scenario_bound_upper"])


def suite_instance(
    family: str,
    seed: int,
    instance: Instance,
    bound: float,
    overrides: Mapping[str, Any] | None = None,
    *,
    scenario: Mapping[str, Any] | None = None,
) -> SuiteInstance:
    """Wrap an instance with its fluid bound ``bound`` (it must be positive: scores are profit /
    bound) and, optionally, the scenario bound's record; the scale is the smaller valid one."""
    if not math.isfinite(bound) or bound <= 0:
        raise InputError(
            f"the fluid LP bound of {family}-{seed} is {bound!r}; normalized scores need a "
            "positive bound"
        )
    tightest, name = float(bound), FLUID
    if scenario is not None:
        upper = float(scenario["scenario_bound_upper"])
        if math.isfinite(upper) and 0 < upper < tightest:
            tightest, name = upper, SCENARIO
    return SuiteInstance(
        family=family,
        seed=int(seed),
        instance=instance,
        bound=tightest,
        hash=instance_hash(instance),
        overrides=dict(overrides or {}),
        fluid_bound=float(bound),
        bound_name=name,
        scenario=None if scenario is None else dict(scenario),
    )


def bound_seed(instance_hash_: str) -> int:
    """The seed of an instance's scenario-bound scenarios: from its definition hash and
    :data:`BOUND_ENTROPY` only (module docstring)."""
    sequence = np.random.SeedSequence(BOUND_ENTROPY, spawn_key=(int(instance_hash_[:15], 16),))
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def cached_scenario_bound(
    instance: Instance, label: str, store: ResultStore | None
) -> tuple[dict[str, Any], bool]:
    """The scenario bound record of ``instance`` (default budget, :func:`bound_seed`) from
    ``store`` if present, else computed (and stored); the flag says whether it was computed."""
    digest = instance_hash(instance)
    scenarios, replications = default_budget(instance)
    settings = {
        "scenarios": scenarios,
        "replications": replications,
        "seed": bound_seed(digest),
        "method": "auto",
    }
    key = fingerprint(
        {"instance_hash": digest, "settings": settings, "source": source_hash(*BOUND_MODULES)}
    )
    if store is not None:
        record = store.get_bound(label, key)
        if record is not None:
            return record, False
    result: ScenarioBound = scenario_bound(
        instance, scenarios=scenarios, replications=replications, rng=settings["seed"]
    )
    record = {**result.to_dict(), "seed": settings["seed"]}
    if store is not None:
        store.put_bound(label, key, record)
    return record, True


def build_suite(
    families: Sequence[Any],
    instance_seeds: Sequence[int],
    *,
    progress: Progress | None = None,
    store: ResultStore | None = None,
    scenario_bounds: bool = False,
    backend: Backend | None = None,
) -> tuple[SuiteInstance, ...]:
    """``families x instance_seeds``: each entry of ``families`` is a family name or has the
    attributes ``family``, ``name`` and ``overrides`` (:class:`experiments.config.SuiteFamily`);
    the instance is ``make_family_instance(family, seed, **overrides)``. With
    ``scenario_bounds`` each instance also gets its scenario bound (through ``store``, a shared
    folder when tasks run elsewhere). Each instance (and its bounds) is one task of ``backend``
    (serial when None)."""
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
        specs.extend(
            SuiteSpec(family, name, int(seed), overrides, store, scenario_bounds)
            for seed in instance_seeds
        )
    with phase(progress, "suite", total=len(specs), unit="instances", tasks=len(specs)) as bar:

        def report(index: int, item: SuiteInstance) -> None:
            bar.tick(1)
            bar.task_done()
            note = ""
            if item.scenario is not None:
                scenario = item.scenario
                note = (
                    f"; scenario bound {scenario['scenario_bound']:.2f}, UCL "
                    f"{scenario['scenario_bound_upper']:.2f} (K={scenario['scenarios']}, "
                    f"M={scenario['replications']}, "
                    + (f"{scenario['seconds']:.1f} s)" if item.scenario_computed else "stored)")
                )
            say(
                progress,
                f"suite {item.label}: N={item.instance.n_products}, T={item.instance.customers}, "
                f"LP bound {item.fluid_bound:.2f} ({item.bound_seconds:.2f} s){note}; "
                f"scale: {item.bound_name}",
            )

        return tuple(run_ordered(backend, make_suite_instance, specs, done=report))


@dataclass(frozen=True)
class SuiteSpec:
    """What defines one suite instance (a backend task of :func:`build_suite`)."""

    family: str
    name: str
    seed: int
    overrides: Mapping[str, Any]
    store: ResultStore | None = None
    scenario_bounds: bool = False


def make_suite_instance(spec: SuiteSpec, tick: Any = None) -> SuiteInstance:
    """The instance of ``spec`` with its fluid LP bound and, when asked, its scenario bound."""
    instance = make_family_instance(spec.family, spec.seed, **spec.overrides)
    solution = fluid_lp(instance)
    scenario, computed = None, False
    if spec.scenario_bounds:
        scenario, computed = cached_scenario_bound(instance, f"{spec.name}-{spec.seed}", spec.store)
    item = suite_instance(
        spec.name, spec.seed, instance, solution.value, spec.overrides, scenario=scenario
    )
    return dataclasses.replace(
        item, bound_seconds=float(solution.solve_seconds), scenario_computed=computed
    )
