"""Hyperparameter search for one agent of an experiment config, with Optuna.

``tune(config, agent_index=N, trials=K, out=DIR)`` searches the hyperparameters of agent N in
the documented space of its algorithm (:data:`SEARCH_SPACES`), the way rl-baselines3-zoo does
with Optuna: each trial trains the agent with the sampled setting on its training environment
(family instances drawn from seeds in [0, 1,000,000)) for the config's ``total_timesteps``, then
scores it on held-out **validation** instances of the same family, seeds from
:data:`VALIDATION_SEED_START` (2,000,000) on, which are neither training instances nor the
leaderboard's test instances (the config's ``evaluation.instance_seeds`` must not overlap them;
this is checked). The score of a trial is the normalized score of the leaderboard: mean profit
/ fluid LP bound, averaged over the validation instances (``seasons`` seasons each, the config's
customer seed, common random numbers) and the training seeds, so 1 is the bound and 0 the empty
stock. Trials are maximized with Optuna's TPE sampler seeded with ``seed``.

**Determinism.** Trials are asked from the sampler in batches of ``concurrent`` (default 2),
each batch runs on the backend (:mod:`experiments.backends`: one task per trial, so a Ray
cluster runs a batch at once), and the scores are told back in trial order. Given ``seed`` and
``concurrent``, the sampled settings and the scores are the same on every backend and every
run. Trial k trains into ``DIR/runs/<name>-trial<k>/`` and evaluates through the result store
``DIR/store``, so rerunning the same command after an interruption skips finished trials,
resumes unfinished ones and reuses their evaluations.

**What it writes** into ``DIR``: ``best.yaml``, the config with agent N's hyperparameters and
``policy_kwargs`` set to the best trial's (name ``<name>-tuned``), ready for ``assort run``;
``trials.csv`` (one row per trial: number, score, per-seed scores, setting, seconds);
``tune.json`` (the search: space, sampler seed, validation instances, every trial, the best).

Optuna is imported only when :func:`tune` runs (``pip install -e ".[tune]"``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np

from agents.settings import rollout_size
from envs.episodes import HELD_OUT_SEED_START
from envs.families import FAMILIES
from envs.validation import SEED_LIMIT, InputError, integer_iv
from experiments.backends import Backend, run_ordered
from experiments.config import AgentConfig, ExperimentConfig, SuiteFamily, parse_config
from experiments.contenders import learned_contenders
from experiments.evaluation import Cell, evaluate_cell
from experiments.progress import Progress, Tick, phase, say
from experiments.runs import run_config
from experiments.store import ResultStore, atomic_write_bytes
from experiments.suite import SuiteInstance, build_suite
from experiments.train import TrainTask, ensure_trained

VALIDATION_SEED_START = 2_000_000
"""First validation instance seed: training instances come from [0, 1,000,000), the
leaderboard's test instances from 1,000,000 on (by convention 1,000,000 + a few)."""
DEFAULT_VALIDATION_INSTANCES = 5
DEFAULT_SEASONS = 500
DEFAULT_CONCURRENT = 2
MAX_TRIALS = 10_000
MAX_VALIDATION_INSTANCES = 1_000
MAX_CONCURRENT = 1_024
MAX_SEASONS = 100_000


@dataclass(frozen=True)
class Distribution:
    """One searched setting: ``log`` (log-uniform float in [low, high]), ``uniform`` (float in
    [low, high]) or ``choice`` (one of ``choices``)."""

    kind: Literal["log", "uniform", "choice"]
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        scale = "log-uniform" if self.kind == "log" else "uniform"
        return f"{scale} in [{self.low:g}, {self.high:g}]"


def log(low: float, high: float) -> Distribution:
    return Distribution("log", low, high)


def uniform(low: float, high: float) -> Distribution:
    return Distribution("uniform", low, high)


def choice(*choices: Any) -> Distribution:
    return Distribution("choice", choices=tuple(choices))


NET_ARCHS: dict[str, list[int]] = {"small": [64, 64], "medium": [128, 128], "large": [256, 256]}
"""``policy_kwargs.net_arch`` is searched by name (Optuna's choices must be scalars)."""

SEARCH_SPACES: dict[str, dict[str, Distribution]] = {
    "ppo": {
        "learning_rate": log(1e-5, 1e-3),
        "n_steps": choice(16, 32, 64, 128),
        "batch_size": choice(32, 64, 128, 256),
        "n_epochs": choice(5, 10, 20),
        "clip_range": choice(0.1, 0.2, 0.3),
        "ent_coef": log(1e-8, 1e-2),
        "policy_kwargs.net_arch": choice(*NET_ARCHS),
        "policy_kwargs.log_std_init": uniform(-3.0, 0.0),
    },
    "a2c": {
        "learning_rate": log(1e-5, 1e-2),
        "n_steps": choice(5, 8, 16, 32),
        "ent_coef": log(1e-8, 1e-2),
        "policy_kwargs.net_arch": choice(*NET_ARCHS),
        "policy_kwargs.log_std_init": uniform(-3.0, 0.0),
    },
    "sac": {
        "learning_rate": log(1e-5, 1e-3),
        "batch_size": choice(64, 128, 256),
        "tau": choice(0.005, 0.01, 0.02),
        "train_freq": choice(1, 2, 4),
        "learning_starts": choice(100, 500, 1000),
        "policy_kwargs.net_arch": choice(*NET_ARCHS),
    },
    "td3": {
        "learning_rate": log(1e-5, 1e-3),
        "batch_size": choice(64, 128, 256),
        "tau": choice(0.005, 0.01, 0.02),
        "train_freq": choice(1, 2, 4),
        "learning_starts": choice(100, 500, 1000),
        "policy_kwargs.net_arch": choice(*NET_ARCHS),
    },
}
"""The searched settings per algorithm (names as in the config; ``policy_kwargs.`` ones go to
``policy_kwargs``). Every other setting (``gamma``, ``gae_lambda``, ``n_envs``, timesteps,
normalization, ...) is kept from the config: the one-shot environments are contextual bandits
whose ``gamma`` is 0. Two settings are fitted to the config after sampling, and the fitted
value is what the trial trains with and records: PPO's ``batch_size`` is at most the rollout
``n_steps * n_envs``, and ``learning_starts`` is at most half of ``total_timesteps``."""


@dataclass(frozen=True)
class Trial:
    """One trial as a backend task."""

    number: int
    setting: dict[str, Any]
    """The trial's values of the searched settings (after fitting; see SEARCH_SPACES)."""
    config: ExperimentConfig
    """The trial's experiment: one agent (the tuned one with the setting, the tuning seeds)."""
    suite: tuple[SuiteInstance, ...]
    seasons: int
    seed: int
    store: ResultStore
    command: str = ""


@dataclass(frozen=True)
class TrialResult:
    number: int
    score: float
    """Mean normalized score (mean profit / LP bound) over training seeds and instances."""
    seed_scores: tuple[float, ...]
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    best: TrialResult
    best_setting: dict[str, Any]
    best_config: ExperimentConfig
    trials: list[tuple[TrialResult, dict[str, Any]]]
    written: dict[str, Path]


def run_trial(trial: Trial, tick: Tick) -> TrialResult:
    """Train the trial's runs (skipping finished ones, resuming unfinished ones), then score
    them on the validation suite through the store."""
    start = time.perf_counter()
    config = trial.config
    agent = config.agents[0]
    folders = [
        ensure_trained(TrainTask(run_config(config, agent, s), command=trial.command), tick).folder
        for s in agent.seeds
    ]
    (contender,) = learned_contenders(folders)
    seed_scores = []
    for member in contender.members:
        scores = []
        for item in trial.suite:
            result = evaluate_cell(Cell(member, item, trial.seasons, trial.seed, trial.store))
            if result.incompatible is not None or result.record is None:
                raise InputError(
                    f"trial {trial.number} cannot play the validation instance {item.label}: "
                    f"{result.incompatible}"
                )
            scores.append(result.record.mean_profit / item.bound)
        seed_scores.append(float(np.mean(scores)))
    return TrialResult(
        number=trial.number,
        score=float(np.mean(seed_scores)),
        seed_scores=tuple(seed_scores),
        seconds=time.perf_counter() - start,
    )


def validation_family(config: ExperimentConfig, agent: AgentConfig) -> SuiteFamily:
    """The family (with its overrides) of the agent's training environment: validation
    instances come from it, so the agent can play them."""
    env = config.agent_env(agent)
    kwargs = {**gymnasium.spec(env.id).kwargs, **env.kwargs}
    family = kwargs.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise InputError(
            f"the environment {env.id} of the tuned agent names no instance family; tuning "
            "scores trials on held-out instances of the training family"
        )
    return SuiteFamily(
        family=family,
        label=f"{family}-validation",
        overrides=dict(kwargs.get("family_kwargs") or {}),
    )


def sample_setting(trial: Any, agent: AgentConfig, space: Mapping[str, Distribution]) -> dict:
    """The searched settings of an Optuna trial, fitted to the agent (see SEARCH_SPACES)."""
    setting: dict[str, Any] = {}
    for name, distribution in space.items():
        if distribution.kind == "choice":
            setting[name] = trial.suggest_categorical(name, list(distribution.choices))
        else:
            setting[name] = trial.suggest_float(
                name, distribution.low, distribution.high, log=distribution.kind == "log"
            )
    if agent.algo == "ppo" and "batch_size" in setting:
        n_steps = setting.get("n_steps", agent.hyperparams.get("n_steps", 2048))
        setting["batch_size"] = min(setting["batch_size"], n_steps * agent.n_envs)
    if "learning_starts" in setting:
        setting["learning_starts"] = min(setting["learning_starts"], agent.total_timesteps // 2)
    return setting


def apply_setting(agent: Mapping[str, Any], setting: Mapping[str, Any]) -> dict[str, Any]:
    """A plain agent dict (from ``AgentConfig`` via ``to_dict``) with ``setting`` applied."""
    hyperparams = dict(agent.get("hyperparams") or {})
    policy_kwargs = dict(agent.get("policy_kwargs") or {})
    for name, value in setting.items():
        if name == "policy_kwargs.net_arch":
            policy_kwargs["net_arch"] = list(NET_ARCHS[value])
        elif name.startswith("policy_kwargs."):
            policy_kwargs[name.removeprefix("policy_kwargs.")] = value
        else:
            hyperparams[name] = value
    return {**agent, "hyperparams": hyperparams, "policy_kwargs": policy_kwargs}


def tune(
    config: ExperimentConfig,
    *,
    agent_index: int,
    trials: int,
    out: str | Path,
    seed: int = 0,
    concurrent: int = DEFAULT_CONCURRENT,
    validation_instances: int = DEFAULT_VALIDATION_INSTANCES,
    validation_seed_start: int = VALIDATION_SEED_START,
    seasons: int = DEFAULT_SEASONS,
    training_seeds: Sequence[int] | None = None,
    command: str = "",
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> TuneResult:
    """Search agent ``agent_index``'s hyperparameters in ``trials`` trials (module docstring);
    ``training_seeds`` (default: the agent's first seed) are the seeds each trial trains."""
    if not config.agents:
        raise InputError("the config has no agents to tune")
    agent_index = integer_iv("--agent", agent_index, low=0, high=len(config.agents) - 1)
    trials = integer_iv("--trials", trials, low=1, high=MAX_TRIALS)
    seed = integer_iv("--seed", seed, low=0, high=2**32 - 1)
    concurrent = integer_iv("--concurrent-trials", concurrent, low=1, high=MAX_CONCURRENT)
    count = integer_iv(
        "--validation-instances", validation_instances, low=1, high=MAX_VALIDATION_INSTANCES
    )
    start = integer_iv(
        "--validation-seed-start",
        validation_seed_start,
        low=HELD_OUT_SEED_START,
        high=SEED_LIMIT - MAX_VALIDATION_INSTANCES,
    )
    seasons = integer_iv("--seasons", seasons, low=2, high=MAX_SEASONS)
    agent = config.agents[agent_index]
    seeds = tuple(agent.seeds[:1] if training_seeds is None else training_seeds)
    if not seeds:
        raise InputError("--training-seeds must name at least one seed")
    validation = tuple(range(start, start + count))
    overlap = sorted(set(validation) & set(config.evaluation.instance_seeds))
    if overlap:
        raise InputError(
            f"validation instance seeds [{validation[0]:_}, {validation[-1]:_}] overlap the "
            f"leaderboard's test seeds (evaluation.instance_seeds) at {overlap}: tuning on test "
            "instances would bias the leaderboard; move them with --validation-seed-start"
        )
    space = SEARCH_SPACES[agent.algo]
    optuna = _optuna()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "store")
    family = validation_family(config, agent)
    say(
        progress,
        f"tuning agent {agent_index} ({agent.label or agent.algo}) of {config.name}: {trials} "
        f"trials, {concurrent} at a time, {len(seeds)} training seed(s) of "
        f"{agent.total_timesteps:,} timesteps each; validation on {family.family} instances "
        f"{validation[0]:_}..{validation[-1]:_}, {seasons} seasons",
    )
    suite = build_suite([family], validation, progress=progress, backend=backend)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    base = config.to_dict()
    agent_data = {**base["agents"][agent_index], "seeds": list(seeds), "env": None}
    results: list[tuple[TrialResult, dict[str, Any]]] = []
    with phase(
        progress,
        "tuning",
        total=trials * len(seeds) * agent.total_timesteps,
        unit="timesteps",
        tasks=trials,
        task_unit="trials",
    ) as bar:
        while len(results) < trials:
            asked = [study.ask() for _ in range(min(concurrent, trials - len(results)))]
            batch = []
            for optuna_trial in asked:
                setting = sample_setting(optuna_trial, agent, space)
                trial_data = {
                    **base,
                    "name": f"{config.name}-trial{optuna_trial.number:03d}",
                    "env": dataclasses.asdict(config.agent_env(agent)),
                    "agents": [apply_setting(agent_data, setting)],
                    "train": {**base["train"], "runs_dir": str(out / "runs")},
                }
                trial_config = parse_config(_fit_checkpoints(trial_data))
                batch.append(
                    Trial(
                        number=optuna_trial.number,
                        setting=setting,
                        config=trial_config,
                        suite=suite,
                        seasons=seasons,
                        seed=config.evaluation.seed,
                        store=store,
                        command=command,
                    )
                )
            best_so_far = [max((r for r, _ in results), key=lambda r: r.score, default=None)]

            def report(index: int, result: TrialResult) -> None:
                if best_so_far[0] is None or result.score > best_so_far[0].score:
                    best_so_far[0] = result
                bar.task_done(f"best {best_so_far[0].score:.4f} (trial {best_so_far[0].number})")
                say(
                    progress,
                    f"trial {result.number}: score {result.score:.4f} "
                    f"({_text(batch[index].setting)}) in {result.seconds:.1f} s",
                )

            finished = run_ordered(backend, run_trial, batch, tick=bar.tick, done=report)
            for optuna_trial, trial, result in zip(asked, batch, finished):
                study.tell(optuna_trial, result.score)
                results.append((result, trial.setting))
    best, best_setting = max(results, key=lambda pair: (pair[0].score, -pair[0].number))
    agents = list(base["agents"])
    agents[agent_index] = apply_setting(base["agents"][agent_index], best_setting)
    best_config = parse_config(
        _fit_checkpoints({**base, "name": f"{config.name}-tuned", "agents": agents})
    )
    written = _write(
        out,
        config=config,
        best_config=best_config,
        agent_index=agent_index,
        results=results,
        best=best,
        space=space,
        facts={
            "config": config.name,
            "agent": agent_index,
            "algo": agent.algo,
            "trials": trials,
            "sampler": "optuna.samplers.TPESampler",
            "sampler_seed": seed,
            "concurrent_trials": concurrent,
            "training_seeds": list(seeds),
            "total_timesteps": agent.total_timesteps,
            "validation": {
                "family": family.family,
                "overrides": dict(family.overrides),
                "instance_seeds": list(validation),
                "seasons": seasons,
                "customer_seed": config.evaluation.seed,
                "bounds": [item.bound for item in suite],
            },
            "command": command,
        },
    )
    say(
        progress,
        f"best trial {best.number}: score {best.score:.4f} ({_text(best_setting)}); "
        f"experiment file {written['best.yaml']}",
    )
    return TuneResult(best, best_setting, best_config, results, written)


def _fit_checkpoints(data: dict[str, Any]) -> dict[str, Any]:
    """Raise ``train.checkpoint_every`` of a plain config to its largest agent rollout when a
    sampled setting made a rollout longer (the config would be refused otherwise)."""
    rollouts = [
        rollout_size(agent["algo"], agent.get("hyperparams") or {}, agent.get("n_envs", 1))
        for agent in data["agents"]
    ]
    train = dict(data.get("train") or {})
    every = max([train.get("checkpoint_every", 10_000), *(r for r in rollouts if r)])
    return {**data, "train": {**train, "checkpoint_every": every}}


def _text(setting: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{name.removeprefix('policy_kwargs.')}={_short(value)}" for name, value in setting.items()
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _write(
    out: Path,
    *,
    config: ExperimentConfig,
    best_config: ExperimentConfig,
    agent_index: int,
    results: list[tuple[TrialResult, dict[str, Any]]],
    best: TrialResult,
    space: Mapping[str, Distribution],
    facts: dict[str, Any],
) -> dict[str, Path]:
    names = list(space)
    seeds = facts["training_seeds"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["trial", "score", *[f"score_seed{s}" for s in seeds], *names, "seconds", "best"]
    )
    for result, setting in results:
        writer.writerow(
            [
                result.number,
                repr(result.score),
                *[repr(v) for v in result.seed_scores],
                *[setting[name] for name in names],
                f"{result.seconds:.2f}",
                int(result.number == best.number),
            ]
        )
    trials_csv = out / "trials.csv"
    atomic_write_bytes(trials_csv, buffer.getvalue().encode())
    summary = {
        **facts,
        "space": {name: distribution.describe() for name, distribution in space.items()},
        "best": {"trial": best.number, "score": best.score, "setting": _setting_of(results, best)},
        "trial_results": [
            {
                "trial": result.number,
                "score": result.score,
                "seed_scores": list(result.seed_scores),
                "setting": setting,
                "seconds": round(result.seconds, 3),
            }
            for result, setting in results
        ],
    }
    tune_json = out / "tune.json"
    atomic_write_bytes(tune_json, (json.dumps(summary, indent=1) + "\n").encode())
    validation = facts["validation"]
    header = [
        f"# Written by `assort tune` from the experiment {config.name!r}: agent {agent_index} "
        f"({facts['algo']}) with the setting of trial {best.number},",
        f"# the best of {len(results)} trials (Optuna TPE, sampler seed "
        f"{facts['sampler_seed']}, {facts['concurrent_trials']} trials at a time).",
        f"# Validation score {best.score:.4f} = mean profit / fluid LP bound on "
        f"{validation['family']} instances {validation['instance_seeds'][0]:_}.."
        f"{validation['instance_seeds'][-1]:_}",
        f"# ({validation['seasons']} seasons each), training seeds {seeds}. Every other setting "
        "is the original config's.",
        f"# Run it with: assort run {out / 'best.yaml'}",
    ]
    if facts["command"]:
        header.append(f"# Command: {facts['command']}")
    text = "\n".join(header) + "\n" + best_config.to_yaml()
    best_yaml = out / "best.yaml"
    atomic_write_bytes(best_yaml, text.encode())
    return {"best.yaml": best_yaml, "trials.csv": trials_csv, "tune.json": tune_json}


def _setting_of(results: list[tuple[TrialResult, dict[str, Any]]], best: TrialResult) -> dict:
    return next(setting for result, setting in results if result.number == best.number)


def _optuna() -> Any:
    """Optuna, imported only now (it is an optional extra), with its per-trial log quiet."""
    try:
        import optuna  # third-party and optional: imported only when tuning
    except ImportError as error:
        raise InputError(
            'assort tune needs Optuna, which is not installed: pip install -e ".[tune]" '
            "(or pip install 'optuna>=3.4')"
        ) from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
