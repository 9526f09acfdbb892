"""Evaluating a policy on a suite instance: decide its stock, then simulate it.

A :class:`Contender` is a leaderboard row: a heuristic (one :class:`Member`) or a learned
agent (one member per training seed). :func:`evaluate_cell` lets a member decide its stock on
a suite instance (heuristics plan with :func:`planning_seed`, derived from the evaluation seed
and the instance but independent of the customer streams, so no policy plans on the test
customers), then simulates seasons 0..K-1 of the evaluation seed: season k of instance i meets
the same customers whatever the policy (common random numbers, :mod:`envs.simulate`), so
differences between policies are paired. Decisions and evaluations go through the result store
(:mod:`experiments.store`), so nothing is computed twice. A :class:`Cell` (one member on one
instance) is self-contained and picklable, so the leaderboard maps :func:`evaluate_cell` over
its cells on any backend (:mod:`experiments.backends`); :func:`evaluate_member` is the same in
this process, counted.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from envs.episodes import IncompatibleInstanceError
from envs.instance import Instance, stock_iv
from envs.simulate import simulate
from envs.validation import InputError
from experiments.progress import Progress, say
from experiments.store import Decision, EvaluationRecord, ResultStore
from experiments.suite import SuiteInstance

Decided = tuple[np.ndarray, float, dict[str, Any]]
"""What deciding returns: the stock vector, the seconds it took, extra JSON-able facts."""

MAX_BATCH_CELLS = 1 << 22
"""Seasons are simulated in batches of at most this many (season, product) sales cells."""
PLANNING_STREAM = 1
"""Spawn key that separates the heuristics' planning seeds from the evaluation seed."""


@dataclass(frozen=True)
class Member:
    """One policy behind a contender: a heuristic, or one training seed of a learned agent.

    ``label`` names it in the store; ``identity`` (JSON-able) is everything its decisions
    depend on, so a changed knob or retrained model is decided anew; ``decide(instance,
    planning_seed)`` returns the stock, the seconds it took and extra facts.
    """

    label: str
    identity: Any
    decide: Callable[[Instance, int], Decided]
    training_seed: int | None = None
    timesteps: int | None = None


@dataclass(frozen=True)
class Contender:
    """A leaderboard row: a heuristic (one member) or a learned agent (one member per seed)."""

    name: str
    kind: Literal["heuristic", "learned"]
    members: tuple[Member, ...]
    description: str = ""
    note: str = ""
    """Said in the report when not empty (e.g. that one label was split by config)."""

    def __post_init__(self) -> None:
        if self.kind not in ("heuristic", "learned"):
            raise InputError(f"`kind` must be 'heuristic' or 'learned'; got {self.kind!r}")
        if not self.members:
            raise InputError(
                f"contender {self.name!r} has no members; it needs at least one policy"
            )


def policy_decider(make_policy: Callable[[], Any]) -> Callable[[Instance, int], Decided]:
    """A ``decide`` for any :class:`baselines.policy.StockingPolicy`, built on first use and
    timed around ``stock_for`` (the planning seed is not used: such policies are deterministic)."""
    built: list[Any] = []

    def decide(instance: Instance, planning_seed: int) -> Decided:
        if not built:
            built.append(make_policy())
        start = time.perf_counter()
        stock = built[0].stock_for(instance)
        return np.asarray(stock), time.perf_counter() - start, {}

    return decide


def simulate_profits(
    instance: Instance,
    stock: np.ndarray,
    seasons: int,
    seed: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-season profits of ``stock`` over seasons 0..seasons-1 of ``seed`` (``envs.simulate``,
    in batches), and the mean KPIs (fill rate, lost customers, substitutions, leftover units)."""
    x = stock_iv(stock, instance.n_products)
    batch = max(1, min(seasons, MAX_BATCH_CELLS // max(1, instance.n_products)))
    profits = np.empty(seasons, dtype=np.float64)
    purchases = lost = substitutions = 0
    for start in range(0, seasons, batch):
        part = simulate(instance, x, min(batch, seasons - start), seed, first_season=start)
        profits[start : start + part.seasons] = part.profit
        purchases += int(part.purchases.sum())
        lost += int(part.lost.sum())
        substitutions += int(part.substitutions.sum())
    wanting = purchases + lost
    kpis = {
        "fill_rate": purchases / wanting if wanting else 1.0,
        "mean_purchases": purchases / seasons,
        "mean_lost": lost / seasons,
        "mean_substitutions": substitutions / seasons,
        "mean_leftover": float(x.sum()) - purchases / seasons,
    }
    return profits, kpis


def planning_seed(seed: int, item: SuiteInstance) -> int:
    """The seed a heuristic plans with on ``item``: derived from the evaluation seed and the
    instance but independent of the customer streams, so no policy plans on the test customers."""
    sequence = np.random.SeedSequence(
        [int(seed), int(item.seed)],
        spawn_key=(PLANNING_STREAM, zlib.crc32(item.family.encode())),
    )
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class Outcome:
    """One member on one suite instance."""

    member: Member
    item: SuiteInstance
    decision: Decision
    record: EvaluationRecord


@dataclass
class Counts:
    """How much work a leaderboard did and how much it found in the store."""

    decisions_computed: int = 0
    decisions_reused: int = 0
    evaluations_computed: int = 0
    evaluations_reused: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cell:
    """One leaderboard cell as a backend task: ``member`` on ``item`` for ``seasons`` seasons
    of the customer seed ``seed``, through ``store`` (a shared folder when the task runs on
    another machine)."""

    member: Member
    item: SuiteInstance
    seasons: int
    seed: int
    store: ResultStore


@dataclass(frozen=True)
class CellResult:
    """What :func:`evaluate_cell` found or computed. ``incompatible`` holds the reason when
    the member cannot play the instance (:class:`envs.episodes.IncompatibleInstanceError`);
    then ``decision`` and ``record`` are None."""

    decision: Decision | None
    record: EvaluationRecord | None
    decision_computed: bool = False
    evaluation_computed: bool = False
    message: str = ""
    incompatible: str | None = None


def evaluate_cell(cell: Cell, tick: Any = None) -> CellResult:
    """Decide (or load the stored decision) and evaluate (or load the stored evaluation) one
    cell; the store's writes are atomic, so cells may run at the same time in several
    processes. A member that cannot play the instance's size gives a result with
    ``incompatible`` set instead of raising."""
    member, item, store, seed, seasons = cell.member, cell.item, cell.store, cell.seed, cell.seasons
    pseed = planning_seed(seed, item)
    decision_fp = store.decision_fingerprint(
        {"member": member.identity, "planning_seed": pseed},
        item.hash,
    )
    decision = store.get_decision(member.label, item.label, decision_fp)
    decision_computed = decision is None
    if decision is None:
        try:
            stock, seconds, info = member.decide(item.instance, pseed)
        except IncompatibleInstanceError as exc:
            return CellResult(None, None, incompatible=str(exc))
        stock = stock_iv(stock, item.instance.n_products, f"stock of {member.label}")
        decision = Decision(
            policy=member.label,
            instance=item.label,
            fingerprint=decision_fp,
            stock=tuple(int(v) for v in stock),
            seconds=float(seconds),
            info={**info, "planning_seed": pseed},
        )
        store.put_decision(decision)
        how = f"decided in {seconds:.2f} s"
    else:
        how = "decision stored"
    stock = np.asarray(decision.stock, dtype=np.int64)
    key = store.evaluation_key(member.label, item.label, item.hash, stock, seed, seasons)
    record = store.get_evaluation(key)
    evaluation_computed = record is None
    if record is None:
        start = time.perf_counter()
        profits, kpis = simulate_profits(item.instance, stock, seasons, seed)
        record = EvaluationRecord(key=key, profits=profits, stock=decision.stock, kpis=kpis)
        store.put_evaluation(record)
        how += f", simulated {seasons} seasons in {time.perf_counter() - start:.2f} s"
    else:
        how += ", evaluation stored"
    message = (
        f"{member.label} on {item.label}: {how}; mean profit {record.mean_profit:.2f} "
        f"({100 * record.mean_profit / item.bound:.1f}% of bound)"
    )
    return CellResult(decision, record, decision_computed, evaluation_computed, message)


def count(counts: Counts, result: CellResult) -> None:
    """Add one cell's work to ``counts``."""
    if result.incompatible is not None:
        return
    if result.decision_computed:
        counts.decisions_computed += 1
    else:
        counts.decisions_reused += 1
    if result.evaluation_computed:
        counts.evaluations_computed += 1
    else:
        counts.evaluations_reused += 1


def evaluate_member(
    member: Member,
    item: SuiteInstance,
    *,
    seasons: int,
    seed: int,
    store: ResultStore,
    counts: Counts,
    progress: Progress | None = None,
) -> Outcome:
    """:func:`evaluate_cell` in this process, counted in ``counts``; a member that cannot
    play the instance raises :class:`envs.episodes.IncompatibleInstanceError`."""
    result = evaluate_cell(Cell(member, item, seasons, seed, store))
    if result.incompatible is not None:
        raise IncompatibleInstanceError(result.incompatible)
    count(counts, result)
    say(progress, result.message)
    assert result.decision is not None and result.record is not None
    return Outcome(member=member, item=item, decision=result.decision, record=result.record)
