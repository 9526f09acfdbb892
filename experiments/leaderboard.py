"""The policy leaderboard: every heuristic and learned agent on the same customers.

**Suite.** The benchmark suite is ``families x instance_seeds`` (``envs.families``), each
instance with its fluid LP bound B (``baselines.bound.fluid_lp``). Every policy's stock on
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

**Aggregate.** The normalized score of a (member, instance) is mean profit / B_i: 0 is the
do-nothing stock x = 0 (profit exactly 0), 1 is the fluid LP bound. Across families the
interquartile mean (scores between the 25th and 75th percentile, ``scipy.stats.trim_mean``
with 0.25, as in rliable) of the training-seed x instance score matrix is reported with a
stratified bootstrap interval: each replicate resamples instances with replacement within
each family and, for every drawn instance, training seeds with replacement; the interval is
the 2.5 and 97.5 percentiles of the replicates' IQMs (seeded ``rng``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import stats

from envs.instance import Instance, stock_iv
from envs.one_shot import IncompatibleInstanceError
from experiments.store import (
    Decision,
    EvaluationRecord,
    ResultStore,
    fingerprint,
    instance_hash,
    source_hash,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

Progress = Callable[[str], None]
Decided = tuple[np.ndarray, float, dict[str, Any]]
"""What deciding returns: the stock vector, the seconds it took, extra JSON-able facts."""

DEFAULT_LEVEL = 0.95
DEFAULT_BOOTSTRAP_REPS = 2_000
MAX_BATCH_CELLS = 1 << 22
"""Seasons are simulated in batches of at most this many (season, product) sales cells."""
PLANNING_STREAM = 1
"""Spawn key that separates the heuristics' planning seeds from the evaluation seed."""


# ------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Interval:
    """A point estimate with its standard error and confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    se: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "se": self.se}


def _level_iv(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1); got {level!r}")
    return float(level)


def stratified_mean_ci(groups: Sequence[np.ndarray], level: float = DEFAULT_LEVEL) -> Interval:
    """Mean over groups of the group means, with the normal interval of the module docstring:
    se^2 = (1/I^2) sum_i s_i^2 / K_i (every group needs at least 2 values)."""
    level = _level_iv(level)
    if len(groups) == 0:
        raise ValueError("`groups` must hold at least one array of values; got none")
    means = []
    variance = 0.0
    for index, group in enumerate(groups):
        values = np.asarray(group, dtype=np.float64)
        if values.ndim != 1 or values.shape[0] < 2:
            raise ValueError(
                f"`groups` entry {index} has shape {values.shape}; each group needs a 1-d array of "
                "at least 2 values"
            )
        means.append(values.mean())
        variance += values.var(ddof=1) / values.shape[0]
    mean = float(np.mean(means))
    se = math.sqrt(variance) / len(groups)
    half = float(stats.norm.ppf(0.5 + level / 2)) * se
    return Interval(mean=mean, low=mean - half, high=mean + half, se=se)


def t_interval(values: Sequence[float] | np.ndarray, level: float = DEFAULT_LEVEL) -> Interval:
    """Student-t interval of the mean of S >= 2 values: mean -+ t_{S-1} sd / sqrt(S)."""
    level = _level_iv(level)
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.shape[0] < 2:
        raise ValueError(
            f"`values` has shape {data.shape}; a t-interval needs a 1-d array of at least 2 values"
        )
    mean = float(data.mean())
    se = float(data.std(ddof=1)) / math.sqrt(data.shape[0])
    half = float(stats.t.ppf(0.5 + level / 2, data.shape[0] - 1)) * se
    return Interval(mean=mean, low=mean - half, high=mean + half, se=se)


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% (``trim_mean(scores, 0.25)``)."""
    return stats.trim_mean(scores, 0.25, axis=axis)


def bootstrap_iqm(
    strata: Sequence[np.ndarray],
    *,
    reps: int = DEFAULT_BOOTSTRAP_REPS,
    level: float = DEFAULT_LEVEL,
    rng: None | int | np.random.Generator = None,
) -> Interval:
    """IQM of all scores with a stratified bootstrap percentile interval.

    ``strata`` holds one ``(runs, tasks)`` score matrix per family. A replicate draws, in every
    stratum, ``tasks`` columns with replacement and for each drawn column ``runs`` rows with
    replacement; ``se`` is the standard deviation of the replicates' IQMs.
    """
    level = _level_iv(level)
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"`reps` must be a positive integer; got {reps!r}")
    matrices = [np.asarray(s, dtype=np.float64) for s in strata]
    if not matrices or any(m.ndim != 2 or m.size == 0 for m in matrices):
        raise ValueError(
            "`strata` must be non-empty (runs, tasks) matrices; got shapes "
            f"{[m.shape for m in matrices]}"
        )
    rng = np.random.default_rng(rng)
    point = float(iqm(np.concatenate([m.ravel() for m in matrices])))
    parts = []
    for m in matrices:
        runs, tasks = m.shape
        cols = rng.integers(0, tasks, size=(reps, 1, tasks))
        rows = rng.integers(0, runs, size=(reps, runs, tasks))
        parts.append(m[rows, cols].reshape(reps, runs * tasks))
    replicates = np.asarray(iqm(np.concatenate(parts, axis=1), axis=1))
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    se = float(replicates.std(ddof=1)) if reps > 1 else 0.0
    return Interval(mean=point, low=float(low), high=float(high), se=se)


# ------------------------------------------------------------------------------- suite


@dataclass(frozen=True)
class SuiteInstance:
    """One benchmark instance with its fluid LP bound and definition hash."""

    family: str
    seed: int
    instance: Instance
    bound: float
    hash: str

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}"


def suite_instance(family: str, seed: int, instance: Instance, bound: float) -> SuiteInstance:
    """Wrap an instance; the bound must be positive (scores are profit / bound)."""
    if not math.isfinite(bound) or bound <= 0:
        raise ValueError(
            f"the fluid LP bound of {family}-{seed} is {bound!r}; normalized scores need a "
            "positive bound"
        )
    return SuiteInstance(
        family=family,
        seed=int(seed),
        instance=instance,
        bound=float(bound),
        hash=instance_hash(instance),
    )


def build_suite(
    families: Sequence[str],
    instance_seeds: Sequence[int],
    *,
    progress: Progress | None = None,
) -> tuple[SuiteInstance, ...]:
    """``families x instance_seeds`` through ``envs.families.make_family_instance``, each with
    its ``baselines.bound.fluid_lp`` value."""
    from baselines.bound import fluid_lp
    from envs.families import make_family_instance

    if not families:
        raise ValueError("`families` must name at least one instance family; got none")
    if not instance_seeds:
        raise ValueError("`instance_seeds` must name at least one seed; got none")
    suite = []
    for family in families:
        for seed in instance_seeds:
            instance = make_family_instance(family, seed)
            solution = fluid_lp(instance)
            suite.append(suite_instance(family, seed, instance, solution.value))
            _say(
                progress,
                f"suite {family}-{seed}: N={instance.n_products}, "
                f"T={instance.customers}, LP bound {solution.value:.2f} "
                f"({solution.solve_seconds:.2f} s)",
            )
    return tuple(suite)


# ------------------------------------------------------------------------------- contenders


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
            raise ValueError(f"`kind` must be 'heuristic' or 'learned'; got {self.kind!r}")
        if not self.members:
            raise ValueError(
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


def heuristic_contender(entry: str | Mapping[str, Any] | Any) -> Contender:
    """A registry heuristic from a config entry: a name, ``{name: ..., knobs: {...}}`` or an
    object with ``name`` and ``knobs`` attributes. It is solved with
    ``baselines.registry.solve(name, instance, rng=planning_seed, **knobs)``; its identity
    includes the source hash of ``baselines`` and ``envs``, so edited heuristics decide anew."""
    from baselines.registry import POLICIES, HeuristicPolicy, solve

    if isinstance(entry, str):
        name, knobs = entry, {}
    elif isinstance(entry, Mapping):
        unknown = sorted(set(entry) - {"name", "knobs"})
        if unknown or "name" not in entry:
            raise ValueError(
                f"a heuristic entry must be a name or {{name, knobs}}; got {dict(entry)!r}"
            )
        name, knobs = entry["name"], dict(entry.get("knobs") or {})
    elif hasattr(entry, "name"):
        name, knobs = entry.name, dict(getattr(entry, "knobs", {}) or {})
    else:
        raise TypeError(
            f"a heuristic entry must be a name or {{name, knobs}}; got {type(entry).__name__}"
        )
    if "rng" in knobs:
        raise ValueError(
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


def find_runs(folder: str | Path) -> list[Path]:
    """Finished run folders (holding a ``DONE`` marker) at ``folder`` or up to two levels below
    it (a run, ``<runs_dir>/<name>`` or ``<runs_dir>``), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"runs folder {str(root)!r} does not exist")
    found = [p.parent for pattern in ("DONE", "*/DONE", "*/*/DONE") for p in root.glob(pattern)]
    return sorted(set(found))


def _run_facts(run_dir: Path) -> tuple[str, int | None, int | None, str]:
    """(label, training seed, timesteps, experiment name) of a run folder
    ``<name>/<label>-seed<S>`` (the label is the algorithm unless the agent has one)."""
    algo, _, seed_text = run_dir.name.rpartition("-seed")
    seed = int(seed_text) if algo and seed_text.isdigit() else None
    try:
        done = json.loads((run_dir / "DONE").read_text())
    except (OSError, ValueError):
        done = {}
    timesteps = done.get("timesteps") if isinstance(done, dict) else None
    steps = int(timesteps) if isinstance(timesteps, (int, float)) else None
    return (algo or run_dir.name), seed, steps, run_dir.parent.name


def _file_hashes(run_dir: Path) -> dict[str, str]:
    hashes = {}
    for name in ("model.zip", "vecnormalize.pkl", "config.yaml"):
        path = run_dir / name
        if path.is_file():
            hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


# ------------------------------------------------------------------------------- run configs

IGNORED_CONFIG_KEYS = ("description", "evaluation", "train.runs_dir", "train.keep_checkpoints")
"""Dotted keys (and their subtrees) of a run's config that do not change the trained model:
free text, the leaderboard's suite, where runs live and how many checkpoints are kept."""
PATH_SUFFIXES = ("_dir", "_path", "_file", "_folder")
"""Keys whose last component ends with one of these name a location and are ignored too."""


class RunConfigMismatchError(ValueError):
    """A run folder holds a run trained with another config than the one asked for."""


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; mappings and lists of mappings are walked (``agents.0.algo``)."""
    if isinstance(data, Mapping) and data:
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, (list, tuple)) and data and all(isinstance(v, Mapping) for v in data):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


def training_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened config (dotted path -> value) without :data:`IGNORED_CONFIG_KEYS` and
    path-like keys (:data:`PATH_SUFFIXES`): everything the trained model depends on."""

    def kept(key: str) -> bool:
        ignored = any(key == k or key.startswith(k + ".") for k in IGNORED_CONFIG_KEYS)
        return not ignored and not key.rpartition(".")[2].endswith(PATH_SUFFIXES)

    return {key: value for key, value in _flatten(config).items() if kept(key)}


def saved_run_config(run_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's ``config.yaml`` as plain data, normalized through
    :func:`experiments.config.parse_config` when it still parses (so fields added later read
    as their defaults); ``None`` when the file is missing or unreadable."""
    import yaml

    from experiments.config import parse_config

    try:
        data = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return parse_config(data).to_dict()
    except (ValueError, TypeError, KeyError):
        return data


def config_differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """``"dotted.key: old -> new"`` for every training setting that differs (absent keys read
    ``<absent>``); ``old=None`` (no saved config) is one difference."""
    if old is None:
        return ["config.yaml: <absent> -> the config's run"]
    before, after = training_settings(old), training_settings(new)
    return [
        f"{key}: {before.get(key, '<absent>')!r} -> {after.get(key, '<absent>')!r}"
        for key in sorted(set(before) | set(after))
        if before.get(key, "<absent>") != after.get(key, "<absent>")
    ]


def check_run_config(run_dir: str | Path, config: ExperimentConfig, agent: Any, seed: int) -> None:
    """Raise :class:`RunConfigMismatchError` when the run folder's saved config differs from
    what ``experiments.train.run_config(config, agent, seed)`` would write, naming the keys."""
    from experiments.train import run_config

    expected = run_config(config, agent, seed).to_dict()
    differences = config_differences(saved_run_config(run_dir), expected)
    if differences:
        raise RunConfigMismatchError(
            f"run folder {str(run_dir)!r} was trained with another config than agent "
            f"{agent.label or agent.algo!r} seed {seed} of {config.name!r} asks for "
            f"({'; '.join(differences)}); retrain it with `assort train CONFIG --seed {seed} "
            "--force` or use a new runs dir (--runs-dir or train.runs_dir)"
        )


def config_fingerprint(config: Mapping[str, Any] | None) -> str:
    """Fingerprint of a run's training settings without its seed (``agents.<i>.seeds``):
    runs of one agent trained with one config share it."""
    if config is None:
        return fingerprint(None)
    settings = training_settings(config)
    return fingerprint({k: v for k, v in settings.items() if not k.endswith(".seeds")})


def learned_contenders(run_dirs: Sequence[str | Path]) -> list[Contender]:
    """One contender per (experiment, label, config fingerprint), one member per training
    seed, so runs trained with different configs are never pooled. The row is named by its
    label (``algo`` or the agent's label, the run folder's stem); when one label has several
    groups, by ``<experiment>/<label>`` if that tells them apart, else with ``@<fingerprint
    [:8]>`` appended, and the contender's ``note`` says so. A member's store label is
    ``<experiment>/<run folder>@<hash8>`` with the hash of its files (two runs folders with
    the same names never share store files); its identity is the hash of its ``model.zip``,
    ``vecnormalize.pkl`` and ``config.yaml`` (and of the ``agents`` and ``envs`` source), and
    the model is only loaded (``agents.policy.LearnedPolicy``) when a decision is not stored."""
    groups: dict[tuple[str, str, str], list[Member]] = {}
    for run in sorted(Path(r) for r in run_dirs):
        label, seed, timesteps, experiment = _run_facts(run)
        files = _file_hashes(run)
        member = Member(
            label=f"{experiment}/{run.name}@{fingerprint(files)[:8]}",
            identity={"run": run.name, "files": files, "source": source_hash("agents", "envs")},
            decide=policy_decider(lambda run=run: _load_learned(run)),
            training_seed=seed,
            timesteps=timesteps,
        )
        key = (experiment, label, config_fingerprint(saved_run_config(run)))
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
            _say(progress, f"no finished runs (folders with DONE) under {runs}")
    else:
        from experiments.train import run_dir

        pairs = [(agent, seed) for agent in config.agents for seed in agent.seeds]
        named = [run_dir(config, agent, seed) for agent, seed in pairs]
        folders = [folder for folder in named if (folder / "DONE").is_file()]
        for (agent, seed), folder in zip(pairs, named):
            if folder in folders:
                check_run_config(folder, config, agent, seed)
        for folder in named:
            if folder not in folders:
                _say(progress, f"run {folder} has not finished (no DONE); left off the leaderboard")
    return contenders + learned_contenders(folders)


def leaderboard_from_config(
    config: ExperimentConfig,
    *,
    store: ResultStore,
    runs: str | Path | None = None,
    bootstrap_reps: int = DEFAULT_BOOTSTRAP_REPS,
    progress: Progress | None = None,
) -> Leaderboard:
    """The leaderboard of an :class:`experiments.config.ExperimentConfig`: its evaluation
    suite, heuristics and runs (:func:`config_contenders`), seasons and seed."""
    evaluation = config.evaluation
    contenders = config_contenders(config, runs=runs, progress=progress)
    suite = build_suite(evaluation.families, evaluation.instance_seeds, progress=progress)
    return run_leaderboard(
        suite,
        contenders,
        seasons=evaluation.seasons,
        seed=evaluation.seed,
        store=store,
        bootstrap_reps=bootstrap_reps,
        progress=progress,
    )


def _load_learned(run_dir: Path) -> Any:
    from agents.policy import LearnedPolicy

    return LearnedPolicy.from_run(run_dir)


# ------------------------------------------------------------------------------- evaluation


def simulate_profits(
    instance: Instance,
    stock: np.ndarray,
    seasons: int,
    seed: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-season profits of ``stock`` over seasons 0..seasons-1 of ``seed`` (``envs.simulate``,
    in batches), and the mean KPIs (fill rate, lost customers, substitutions, leftover units)."""
    from envs.simulate import simulate

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
    """Decide (or load the stored decision) and evaluate (or load the stored evaluation)."""
    pseed = planning_seed(seed, item)
    decision_fp = store.decision_fingerprint(
        {"member": member.identity, "planning_seed": pseed},
        item.hash,
    )
    decision = store.get_decision(member.label, item.label, decision_fp)
    if decision is None:
        stock, seconds, info = member.decide(item.instance, pseed)
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
        counts.decisions_computed += 1
        how = f"decided in {seconds:.2f} s"
    else:
        counts.decisions_reused += 1
        how = "decision stored"
    stock = np.asarray(decision.stock, dtype=np.int64)
    key = store.evaluation_key(member.label, item.label, item.hash, stock, seed, seasons)
    record = store.get_evaluation(key)
    if record is None:
        start = time.perf_counter()
        profits, kpis = simulate_profits(item.instance, stock, seasons, seed)
        record = EvaluationRecord(key=key, profits=profits, stock=decision.stock, kpis=kpis)
        store.put_evaluation(record)
        counts.evaluations_computed += 1
        how += f", simulated {seasons} seasons in {time.perf_counter() - start:.2f} s"
    else:
        counts.evaluations_reused += 1
        how += ", evaluation stored"
    _say(
        progress,
        f"{member.label} on {item.label}: {how}; mean profit {record.mean_profit:.2f} "
        f"({100 * record.mean_profit / item.bound:.1f}% of bound)",
    )
    return Outcome(member=member, item=item, decision=decision, record=record)


# ------------------------------------------------------------------------------- tables


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

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        for name in (
            "mean_profit",
            "percent_of_bound",
            "diff_to_best",
            "diff_percent_of_bound",
            "across_seeds",
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
        }


def _family_row(
    family: str,
    contender: Contender,
    outcomes: list[list[Outcome]],
    best: list[np.ndarray] | None,
    level: float,
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
) -> Leaderboard:
    """Evaluate every member of every contender on every suite instance (reusing the store)
    and build the per-family and aggregate tables (module docstring).

    A member whose ``decide`` raises :class:`envs.one_shot.IncompatibleInstanceError` (a
    learned agent trained for another catalog size) leaves its contender out of that family;
    the reason is kept in ``counts.failures``. Any other error propagates. ``rng`` seeds the
    bootstrap.
    """
    if isinstance(seasons, bool) or not isinstance(seasons, (int, np.integer)) or seasons < 2:
        raise ValueError(
            "`seasons` must be an integer of at least 2 (intervals need two values); "
            f"got {seasons!r}"
        )
    if not suite:
        raise ValueError("`suite` must hold at least one instance; got none")
    if not contenders:
        raise ValueError("`contenders` must hold at least one policy; got none")
    names = [c.name for c in contenders]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"contender names must be unique; {duplicates} appear more than once")
    level = _level_iv(level)
    counts = Counts()
    families = list(dict.fromkeys(item.family for item in suite))
    by_family: dict[str, dict[str, list[list[Outcome]]]] = {f: {} for f in families}
    for contender in contenders:
        for family in families:
            items = [item for item in suite if item.family == family]
            try:
                by_family[family][contender.name] = [
                    [
                        evaluate_member(
                            member,
                            item,
                            seasons=seasons,
                            seed=seed,
                            store=store,
                            counts=counts,
                            progress=progress,
                        )
                        for item in items
                    ]
                    for member in contender.members
                ]
            except IncompatibleInstanceError as exc:
                message = f"{contender.name} not evaluated on family {family}: {exc}"
                counts.failures.append(message)
                _say(progress, message)
    tables: dict[str, list[FamilyRow]] = {}
    for family in families:
        results = by_family[family]
        heuristics = [c for c in contenders if c.kind == "heuristic" and c.name in results]
        best_name = max(
            heuristics,
            default=None,
            key=lambda c: np.mean([o.record.mean_profit for o in results[c.name][0]]),
        )
        best = None if best_name is None else [o.record.profits for o in results[best_name.name][0]]
        rows = [
            _family_row(family, c, results[c.name], best, level)
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


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
