"""The policy leaderboard: every heuristic and learned agent on the same customers.

The suite is :mod:`experiments.suite`, deciding and simulating is :mod:`experiments.evaluation`,
the contenders are :mod:`experiments.contenders` and the interval formulas
:mod:`experiments.statistics`; this module builds the tables.

**Suite.** The benchmark suite is ``families x instance_seeds`` (``envs.families``), each
instance with its tightest valid bound B: the smaller of the fluid LP bound
(``envs.fluid_lp.fluid_lp``) and the scenario bound's 95% upper confidence limit
(``baselines.scenario_bound``; :mod:`experiments.suite`), named per instance; every percentage
below is a percentage of B. Every policy's stock on
instance i is simulated for seasons k = 0..K-1 with the *same* seed, so season k of instance i
meets the same customers whatever the policy (common random numbers, ``envs.simulate``), and
differences between policies are paired.

**Contenders.** A contender is a heuristic (one deterministic solve per instance, planning
scenarios drawn from a seed independent of the evaluation seed) or a learned agent with one
member per training seed. For a learned agent the per-season profit is the average over its S
training seeds on the same season, p_ik = (1/S) sum_s p_sik, so the interval below is
conditional on the trained seeds; the spread across seeds gets its own interval (below).

**Per family** (I instances, K_i seasons on instance i), for per-season values v_ik:

    mean      = (1/I) sum_i vbar_i,           vbar_i = (1/K_i) sum_k v_ik
    se^2      = (1/I^2) sum_i s_i^2 / K_i,    s_i^2 = sample variance of v_i.  (ddof 1)
    95% CI    = mean -+ z_0.975 se

i.e. a stratified mean over the fixed suite instances, with the customers as the random part.
It is applied to the profit p_ik, to the percentage of the bound 100 p_ik / B_i and to the
paired difference to the best heuristic d_ik = p_ik - p*_ik (the heuristic with the highest
mean profit on the family), whose interval is narrow because the customers are shared.

**Across seeds** (learned agents with S >= 2 training seeds). Seed s's family score is the
instance-stratified mean q_s = (1/I) sum_i 100 pbar_si / B_i (pbar_si its mean profit on
instance i), and the across-seed interval is the t-interval

    mean(q) -+ t_{S-1, 0.975} sd(q) / sqrt(S)          (sd with ddof 1)

over the S values: it treats the seeds as draws from the training procedure, so it contains
the seed-to-seed spread (and each q_s's customer noise). The paired difference of a learned
agent with S >= 2 is the same t-interval over the per-seed paired differences
D_s = (1/I) sum_i (pbar_si - pbar*_i) (and 100 (pbar_si - pbar*_i) / B_i for percentage
points); its mean equals the customer-level one. With one seed no across-seed interval
exists and the difference interval stays the conditional one above.

**Information gap** (sequential suites, ``information_gap=(ceiling, myopic)``). The value of
information of a family is the paired difference ceiling - myopic (full information minus
myopic re-planning; profit and points of the bound, stratified interval as above). A policy's
*share of the gap closed* is

    G = mean_i (ybar_i - mbar_i) / mean_i (cbar_i - mbar_i)

with y, m, c the per-season percentages of the bound of the policy, the myopic reference and
the ceiling on instance i (equal weight per instance): 0 is myopic re-planning, 1 full
information. Its interval is the delta-method one of :func:`experiments.statistics.ratio_ci`
over the paired seasons (conditional on trained seeds); for a learned agent with S >= 2
seeds, the t-interval over its S per-seed shares G_s.

**Aggregate.** The normalized score of a (member, instance) is mean profit / B_i: 0 is the
do-nothing stock x = 0 (profit exactly 0), 1 is the tightest bound. Across families the
interquartile mean (scores between the 25th and 75th percentile, ``scipy.stats.trim_mean``
with 0.25, as in rliable) of the training-seed x instance score matrix is reported with a
stratified bootstrap interval: each replicate resamples instances with replacement within
each family and, for every drawn instance, training seeds with replacement; the interval is
the 2.5 and 97.5 percentiles of the replicates' IQMs (seeded ``rng``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from envs.simulate import MAX_SEASONS
from envs.validation import InputError, integer_iv
from experiments.backends import Backend, run_ordered
from experiments.config import ExperimentConfig
from experiments.contenders import config_contenders
from experiments.evaluation import (
    Cell,
    CellResult,
    Contender,
    Counts,
    Outcome,
    count,
    evaluate_cell,
)
from experiments.progress import Progress, phase, say
from experiments.statistics import (
    DEFAULT_BOOTSTRAP_REPS,
    DEFAULT_LEVEL,
    Interval,
    bootstrap_iqm,
    bootstrap_reps_iv,
    level_iv,
    ratio_ci,
    stratified_mean_ci,
    t_interval,
)
from experiments.store import ResultStore
from experiments.suite import SuiteInstance, build_suite


@dataclass(frozen=True)
class FamilyRow:
    """One contender on one family. Intervals are 95% (``level``): over customers, except
    ``across_seeds`` and, when ``diff_basis`` is ``"seeds"``, the Δ intervals (over seeds)."""

    family: str
    policy: str
    kind: str
    rank: int
    n_seeds: int
    n_instances: int
    seasons: int
    timesteps: int | None
    mean_profit: Interval
    percent_of_bound: Interval
    diff_to_best: Interval | None
    diff_percent_of_bound: Interval | None
    is_best_heuristic: bool
    seed_percent_of_bound: tuple[float, ...]
    decide_seconds: float
    fill_rate: float
    across_seeds: Interval | None = None
    """Learned agents with >= 2 seeds: t-interval over the per-seed % of bound (docstring)."""
    diff_basis: Literal["customers", "seeds"] = "customers"
    """What the Δ intervals are over: customers (conditional) or training seeds (t-interval)."""
    gap_closed: Interval | None = None
    """With an information gap: the share of the gap from myopic to full information closed
    (0 = myopic, 1 = ceiling; module docstring); over seeds when ``diff_basis`` is seeds."""

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        for name in (
            "mean_profit",
            "percent_of_bound",
            "diff_to_best",
            "diff_percent_of_bound",
            "across_seeds",
            "gap_closed",
        ):
            value = getattr(self, name)
            data[name] = None if value is None else value.to_dict()
        data["seed_percent_of_bound"] = list(self.seed_percent_of_bound)
        return data


@dataclass(frozen=True)
class AggregateRow:
    """One contender across every family: IQM of normalized scores (0 = no stock, 1 = bound)."""

    policy: str
    kind: str
    rank: int
    n_seeds: int
    n_instances: int
    n_families: int
    seasons: int
    iqm: Interval
    mean_score: float

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items()}, "iqm": self.iqm.to_dict()}


@dataclass(frozen=True)
class InformationGap:
    """A family's value of information: ceiling minus myopic re-planning, paired (module
    docstring), in profit and in points of the LP bound."""

    family: str
    ceiling: str
    myopic: str
    profit: Interval
    points: Interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "ceiling": self.ceiling,
            "myopic": self.myopic,
            "profit": self.profit.to_dict(),
            "points": self.points.to_dict(),
        }


@dataclass(frozen=True)
class Leaderboard:
    """Per-family tables, the aggregate table and what stands behind them."""

    families: dict[str, list[FamilyRow]]
    aggregate: list[AggregateRow]
    suite: tuple[SuiteInstance, ...]
    seasons: int
    seed: int
    level: float
    bootstrap_reps: int
    counts: Counts
    descriptions: dict[str, str]
    code_tag: str = ""
    notes: tuple[str, ...] = ()
    """Things the report must say about the rows (e.g. a label split by training config)."""
    gaps: dict[str, InformationGap] = field(default_factory=dict)
    """Per family, the value of information (sequential suites only)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "seasons": self.seasons,
            "seed": self.seed,
            "level": self.level,
            "bootstrap_reps": self.bootstrap_reps,
            "suite": [
                {
                    "family": s.family,
                    "seed": s.seed,
                    "label": s.label,
                    "bound": s.bound,
                    "bound_name": s.bound_name,
                    "fluid_bound": s.fluid_bound,
                    "scenario_bound": s.scenario_bound,
                    "scenario_bound_upper": s.scenario_bound_upper,
                    "scenario": None if s.scenario is None else dict(s.scenario),
                    "n_products": s.instance.n_products,
                    "customers": s.instance.customers,
                    "instance_hash": s.hash,
                }
                for s in self.suite
            ],
            "families": {f: [r.to_dict() for r in rows] for f, rows in self.families.items()},
            "aggregate": [r.to_dict() for r in self.aggregate],
            "counts": dict(self.counts.__dict__),
            "descriptions": self.descriptions,
            "code_tag": self.code_tag,
            "notes": list(self.notes),
            "gaps": {f: g.to_dict() for f, g in self.gaps.items()},
        }


def _gap_closed(
    outcomes: list[list[Outcome]],
    percent: list[np.ndarray],
    references: tuple[list[np.ndarray], list[np.ndarray]],
    by_seeds: bool,
    level: float,
) -> Interval:
    """The share of the information gap closed (module docstring); ``references`` are the
    per-season percentages of the bound of the ceiling and the myopic reference."""
    ceiling, myopic = references
    if by_seeds:
        width = np.mean([c.mean() - m.mean() for c, m in zip(ceiling, myopic)])
        shares = [
            np.mean(
                [
                    100 * o.record.mean_profit / o.item.bound - m.mean()
                    for o, m in zip(member_outcomes, myopic)
                ]
            )
            / width
            for member_outcomes in outcomes
        ]
        return t_interval(shares, level)
    return ratio_ci(
        [p - m for p, m in zip(percent, myopic)],
        [c - m for c, m in zip(ceiling, myopic)],
        level,
    )


def _family_row(
    family: str,
    contender: Contender,
    outcomes: list[list[Outcome]],
    best: list[np.ndarray] | None,
    level: float,
    references: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
) -> FamilyRow:
    """``outcomes[m][i]``: member m on instance i of the family."""
    items = [o.item for o in outcomes[0]]
    profits = [
        np.mean([outcomes[m][i].record.profits for m in range(len(outcomes))], axis=0)
        for i in range(len(items))
    ]
    percent = [100 * p / item.bound for p, item in zip(profits, items)]
    seed_pct = tuple(
        float(np.mean([100 * o.record.mean_profit / o.item.bound for o in member_outcomes]))
        for member_outcomes in outcomes
    )
    by_seeds = contender.kind == "learned" and len(outcomes) >= 2
    across = t_interval(seed_pct, level) if by_seeds else None
    diff = diff_pct = None
    if best is not None and by_seeds:
        best_means = [float(np.mean(b)) for b in best]
        gaps = np.array(
            [
                [o.record.mean_profit - b for o, b in zip(member_outcomes, best_means)]
                for member_outcomes in outcomes
            ]
        )
        bounds = np.array([item.bound for item in items])
        diff = t_interval(gaps.mean(axis=1), level)
        diff_pct = t_interval((100 * gaps / bounds).mean(axis=1), level)
    elif best is not None:
        diff = stratified_mean_ci([p - b for p, b in zip(profits, best)], level)
        diff_pct = stratified_mean_ci(
            [100 * (p - b) / item.bound for p, b, item in zip(profits, best, items)],
            level,
        )
    steps = {m.timesteps for m in contender.members}
    all_outcomes = [o for member_outcomes in outcomes for o in member_outcomes]
    return FamilyRow(
        family=family,
        policy=contender.name,
        kind=contender.kind,
        rank=0,
        n_seeds=len(contender.members),
        n_instances=len(items),
        seasons=min(o.record.key.seasons for o in all_outcomes),
        timesteps=steps.pop() if len(steps) == 1 else None,
        mean_profit=stratified_mean_ci(profits, level),
        percent_of_bound=stratified_mean_ci(percent, level),
        diff_to_best=diff,
        diff_percent_of_bound=diff_pct,
        is_best_heuristic=False,
        seed_percent_of_bound=seed_pct,
        decide_seconds=float(np.mean([o.decision.seconds for o in all_outcomes])),
        fill_rate=float(np.mean([o.record.kpis.get("fill_rate", math.nan) for o in all_outcomes])),
        across_seeds=across,
        diff_basis="seeds" if by_seeds else "customers",
        gap_closed=(
            None
            if references is None
            else _gap_closed(outcomes, percent, references, by_seeds, level)
        ),
    )


def run_leaderboard(
    suite: Sequence[SuiteInstance],
    contenders: Sequence[Contender],
    *,
    seasons: int,
    seed: int,
    store: ResultStore,
    level: float = DEFAULT_LEVEL,
    bootstrap_reps: int = DEFAULT_BOOTSTRAP_REPS,
    rng: None | int | np.random.Generator = 0,
    progress: Progress | None = None,
    backend: Backend | None = None,
    information_gap: tuple[str, str] | None = None,
) -> Leaderboard:
    """Evaluate every member of every contender on every suite instance (reusing the store)
    and build the per-family and aggregate tables (module docstring). Each (member, instance)
    cell is one task of ``backend`` (serial when None; :mod:`experiments.backends`); the
    tables do not depend on the backend. With ``information_gap`` = (ceiling, myopic), two
    heuristic contenders' names, every family evaluated by both also gets its value of
    information and every row its share of the gap closed.

    A member whose ``decide`` raises :class:`envs.episodes.IncompatibleInstanceError` (a
    learned agent trained for another catalog size) leaves its contender out of that family;
    the reason is kept in ``counts.failures``. Any other error propagates (on a parallel
    backend, after the cells not yet finished are cancelled). ``rng`` seeds the
    bootstrap.
    """
    seasons = integer_iv("seasons", seasons, low=2, high=MAX_SEASONS)
    if not suite:
        raise InputError("`suite` must hold at least one instance; got none")
    if not contenders:
        raise InputError("`contenders` must hold at least one policy; got none")
    names = [c.name for c in contenders]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"contender names must be unique; {duplicates} appear more than once")
    level = level_iv(level)
    if information_gap is not None:
        for role, name in zip(("ceiling", "myopic"), information_gap):
            if name not in names:
                raise InputError(
                    f"the information gap's {role} {name!r} is not a contender; contenders: {names}"
                )
    counts = Counts()
    families = list(dict.fromkeys(item.family for item in suite))
    # Every (contender, family, member, instance) is one cell, a backend task.
    places: list[tuple[str, str, int, int]] = []
    cells: list[Cell] = []
    for contender in contenders:
        for family in families:
            items = [item for item in suite if item.family == family]
            for m, member in enumerate(contender.members):
                for i, item in enumerate(items):
                    places.append((contender.name, family, m, i))
                    cells.append(Cell(member, item, seasons, seed, store))
    with phase(progress, "evaluation", total=len(cells), unit="cells", tasks=len(cells)) as bar:

        def report(index: int, result: CellResult) -> None:
            bar.tick(1)
            bar.task_done()
            if result.incompatible is None:
                say(progress, result.message)

        results = run_ordered(backend, evaluate_cell, cells, done=report)
    by_family: dict[str, dict[str, list[list[Outcome]]]] = {f: {} for f in families}
    refused: dict[tuple[str, str], str] = {}
    for (name, family, _, _), result in zip(places, results):
        if result.incompatible is not None:
            refused.setdefault((name, family), result.incompatible)
    for (name, family, m, _), cell, result in zip(places, cells, results):
        if (name, family) in refused:
            continue
        count(counts, result)
        assert result.decision is not None and result.record is not None
        members = by_family[family].setdefault(name, [])
        while len(members) <= m:
            members.append([])
        members[m].append(Outcome(cell.member, cell.item, result.decision, result.record))
    for (name, family), reason in refused.items():
        message = f"{name} not evaluated on family {family}: {reason}"
        counts.failures.append(message)
        say(progress, message)
    tables: dict[str, list[FamilyRow]] = {}
    gaps: dict[str, InformationGap] = {}
    for family in families:
        results = by_family[family]
        references = None
        if information_gap is not None and all(name in results for name in information_gap):
            ceiling, myopic = (
                [o.record.profits for o in results[name][0]] for name in information_gap
            )
            bounds = [o.item.bound for o in results[information_gap[0]][0]]
            references = (
                [100 * c / b for c, b in zip(ceiling, bounds)],
                [100 * m / b for m, b in zip(myopic, bounds)],
            )
            gaps[family] = InformationGap(
                family=family,
                ceiling=information_gap[0],
                myopic=information_gap[1],
                profit=stratified_mean_ci([c - m for c, m in zip(ceiling, myopic)], level),
                points=stratified_mean_ci([c - m for c, m in zip(*references)], level),
            )
        heuristics = [c for c in contenders if c.kind == "heuristic" and c.name in results]
        best_name = max(
            heuristics,
            default=None,
            key=lambda c: np.mean([o.record.mean_profit for o in results[c.name][0]]),
        )
        best = None if best_name is None else [o.record.profits for o in results[best_name.name][0]]
        rows = [
            _family_row(family, c, results[c.name], best, level, references)
            for c in contenders
            if c.name in results
        ]
        rows.sort(key=lambda r: -r.mean_profit.mean)
        tables[family] = [
            replace(
                row,
                rank=index + 1,
                is_best_heuristic=best_name is not None and row.policy == best_name.name,
            )
            for index, row in enumerate(rows)
        ]
    aggregate = _aggregate(contenders, by_family, families, bootstrap_reps, level, rng)
    return Leaderboard(
        families=tables,
        aggregate=aggregate,
        suite=tuple(suite),
        seasons=int(seasons),
        seed=int(seed),
        level=level,
        bootstrap_reps=int(bootstrap_reps),
        counts=counts,
        descriptions={c.name: c.description for c in contenders},
        code_tag=store.code_tag,
        notes=tuple(dict.fromkeys(c.note for c in contenders if c.note)),
        gaps=gaps,
    )


def _aggregate(
    contenders: Sequence[Contender],
    by_family: dict[str, dict[str, list[list[Outcome]]]],
    families: list[str],
    reps: int,
    level: float,
    rng: None | int | np.random.Generator,
) -> list[AggregateRow]:
    rng = np.random.default_rng(rng)
    rows = []
    for contender in contenders:
        strata = [
            np.array(
                [
                    [o.record.mean_profit / o.item.bound for o in member_outcomes]
                    for member_outcomes in by_family[f][contender.name]
                ]
            )
            for f in families
            if contender.name in by_family[f]
        ]
        if not strata:
            continue
        interval = bootstrap_iqm(strata, reps=reps, level=level, rng=rng)
        rows.append(
            AggregateRow(
                policy=contender.name,
                kind=contender.kind,
                rank=0,
                n_seeds=len(contender.members),
                n_instances=sum(s.shape[1] for s in strata),
                n_families=len(strata),
                seasons=min(
                    o.record.key.seasons
                    for f in families
                    if contender.name in by_family[f]
                    for mo in by_family[f][contender.name]
                    for o in mo
                ),
                iqm=interval,
                mean_score=float(np.mean(np.concatenate([s.ravel() for s in strata]))),
            )
        )
    rows.sort(key=lambda r: -r.iqm.mean)
    return [replace(row, rank=index + 1) for index, row in enumerate(rows)]


def leaderboard_from_config(
    config: ExperimentConfig,
    *,
    store: ResultStore,
    runs: str | Path | None = None,
    trust: bool = False,
    bootstrap_reps: int = DEFAULT_BOOTSTRAP_REPS,
    progress: Progress | None = None,
    backend: Backend | None = None,
) -> Leaderboard:
    """The leaderboard of an :class:`experiments.config.ExperimentConfig`: its evaluation
    suite, heuristics and runs (:func:`config_contenders`), seasons and seed; suite instances
    and cells are tasks of ``backend`` (serial when None)."""
    evaluation = config.evaluation
    bootstrap_reps = bootstrap_reps_iv(bootstrap_reps)
    contenders = config_contenders(config, runs=runs, trust=trust, progress=progress)
    suite = build_suite(
        evaluation.families,
        evaluation.instance_seeds,
        progress=progress,
        store=store,
        scenario_bounds=evaluation.scenario_bound,
        backend=backend,
    )
    gap = evaluation.information_gap
    return run_leaderboard(
        suite,
        contenders,
        seasons=evaluation.seasons,
        seed=evaluation.seed,
        store=store,
        bootstrap_reps=bootstrap_reps,
        progress=progress,
        backend=backend,
        information_gap=None if gap is None else (gap.ceiling, gap.myopic),
    )
