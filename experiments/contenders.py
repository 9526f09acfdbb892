"""The contenders of a leaderboard: registered heuristics and finished training runs.

:func:`heuristic_contender` wraps a heuristic of :data:`baselines.registry.POLICIES` (with its
knobs); :func:`learned_contenders` groups finished run folders into one contender per agent
and training config, with one member per training seed; :func:`config_contenders` gives both
for an experiment config.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import LearnedPolicy
from baselines.registry import POLICIES, HeuristicPolicy, solve
from envs.instance import Instance
from envs.validation import InputError, InputTypeError, describe
from experiments.config import ExperimentConfig
from experiments.evaluation import Contender, Decided, Member, policy_decider
from experiments.progress import Progress, say
from experiments.runs import (
    check_run_config,
    config_fingerprint,
    file_hashes,
    find_runs,
    is_finished,
    learned_policy,
    run_dir,
    run_facts,
    saved_run_config,
)
from experiments.store import fingerprint, source_hash


def heuristic_contender(entry: str | Mapping[str, Any] | Any) -> Contender:
    """A registry heuristic from a config entry: a name, ``{name: ..., knobs: {...}}`` or an
    object with ``name`` and ``knobs`` attributes. It is solved with
    ``baselines.registry.solve(name, instance, rng=planning_seed, **knobs)``; its identity
    includes the source hash of ``baselines`` and ``envs``, so edited heuristics decide anew."""
    if isinstance(entry, str):
        name, knobs = entry, {}
    elif isinstance(entry, Mapping):
        unknown = sorted(set(entry) - {"name", "knobs"})
        if unknown or "name" not in entry:
            raise InputError(
                f"a heuristic entry must be a name or {{name, knobs}}; got {dict(entry)!r}"
            )
        name, knobs = entry["name"], dict(entry.get("knobs") or {})
    elif hasattr(entry, "name"):
        name, knobs = entry.name, dict(getattr(entry, "knobs", {}) or {})
    else:
        raise InputTypeError(
            f"a heuristic entry must be a name or {{name, knobs}}; got {describe(entry)}"
        )
    if "rng" in knobs:
        raise InputError(
            f"heuristic {name!r} sets the knob 'rng'; the leaderboard seeds every heuristic itself "
            "(a planning seed per instance, independent of the evaluation customers)"
        )
    HeuristicPolicy(name, **knobs)  # checks the name and the knobs now, not mid-leaderboard

    def decide(instance: Instance, planning_seed: int) -> Decided:
        result = solve(name, instance, rng=planning_seed, **knobs)
        info = {k: v for k, v in result.info.items() if isinstance(v, (bool, int, float, str))}
        return np.asarray(result.stock), float(result.solve_seconds), info

    description = ", ".join(f"{k}={v}" for k, v in sorted(knobs.items()))
    identity = {
        "heuristic": name,
        "knobs": knobs,
        "target": POLICIES[name],
        "source": source_hash("baselines", "envs"),
    }
    return Contender(
        name=name,
        kind="heuristic",
        members=(Member(name, identity, decide),),
        description=description,
    )


@functools.lru_cache(maxsize=64)
def loaded_policy(run: str, content: str, trust: bool) -> LearnedPolicy:
    """:func:`experiments.runs.learned_policy` of ``run``, loaded once per process for each
    ``content`` (the fingerprint of its files): a backend worker that evaluates several cells of
    one run loads its model once, and a retrained run (other files) is loaded anew."""
    return learned_policy(run, trust=trust)


def learned_contenders(run_dirs: Sequence[str | Path], *, trust: bool = False) -> list[Contender]:
    """One contender per (experiment, label, config fingerprint), one member per training
    seed, so runs trained with different configs are never pooled. The row is named by its
    label (``algo`` or the agent's label, the run folder's stem); when one label has several
    groups, by ``<experiment>/<label>`` if that tells them apart, else with ``@<fingerprint
    [:8]>`` appended, and the contender's ``note`` says so. A member's store label is
    ``<experiment>/<run folder>@<hash8>`` with the hash of its files (two runs folders with
    the same names never share store files); its identity is the hash of its ``model.zip``,
    ``vecnormalize.pkl`` and ``config.yaml`` (and of the ``agents`` and ``envs`` source), and
    the model is only loaded (:func:`experiments.runs.learned_policy`, which checks the run's
    manifest unless ``trust``) when a decision is not stored."""
    groups: dict[tuple[str, str, str], list[Member]] = {}
    for run in sorted(Path(r) for r in run_dirs):
        facts = run_facts(run)
        files = file_hashes(run)
        content = fingerprint(files)
        member = Member(
            label=f"{facts.experiment}/{run.name}@{content[:8]}",
            identity={"run": run.name, "files": files, "source": source_hash("agents", "envs")},
            decide=policy_decider(
                lambda run=run, content=content: loaded_policy(str(run), content, trust)
            ),
            training_seed=facts.seed,
            timesteps=facts.timesteps,
        )
        key = (facts.experiment, facts.label, config_fingerprint(saved_run_config(run)))
        groups.setdefault(key, []).append(member)
    names = {}
    for experiment, label, config_fp in groups:
        experiments = [key[0] for key in groups if key[1] == label]
        prefix = f"{experiment}/" if len(set(experiments)) > 1 else ""
        suffix = f"@{config_fp[:8]}" if experiments.count(experiment) > 1 else ""
        names[experiment, label, config_fp] = f"{prefix}{label}{suffix}"
    contenders = []
    for (experiment, label, config_fp), members in groups.items():
        rows = [names[key] for key in groups if key[1] == label]
        note = (
            ""
            if len(rows) == 1
            else (
                f"runs labelled {label!r} were trained with {len(rows)} different configs, shown "
                f"as separate rows ({', '.join(rows)}) and never pooled"
            )
        )
        contenders.append(
            Contender(
                name=names[experiment, label, config_fp],
                kind="learned",
                members=tuple(members),
                description=f"runs of {experiment}, config {config_fp[:8]}",
                note=note,
            )
        )
    return contenders


def config_contenders(
    config: ExperimentConfig,
    *,
    runs: str | Path | None = None,
    trust: bool = False,
    progress: Progress | None = None,
) -> list[Contender]:
    """The heuristics of ``config.evaluation.heuristics`` and the learned agents: the finished
    runs of the config's (agent, seed) pairs, or every finished run under ``runs`` when given.
    Runs without a ``DONE`` marker are left out, and said so through ``progress``; a config's
    own run trained with another config raises :class:`RunConfigMismatchError`
    (:func:`check_run_config`)."""
    contenders = [heuristic_contender(entry) for entry in config.evaluation.heuristics]
    if runs is not None:
        folders = find_runs(runs)
        if not folders:
            say(progress, f"no finished runs (folders with DONE) under {runs}")
    else:
        pairs = [(agent, seed) for agent in config.agents for seed in agent.seeds]
        named = [run_dir(config, agent, seed) for agent, seed in pairs]
        folders = [folder for folder in named if is_finished(folder)]
        for (agent, seed), folder in zip(pairs, named):
            if folder in folders:
                check_run_config(folder, config, agent, seed)
        for folder in named:
            if folder not in folders:
                say(progress, f"run {folder} has not finished (no DONE); left off the leaderboard")
    return contenders + learned_contenders(folders, trust=trust)
