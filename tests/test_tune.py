"""Hyperparameter sweeps: deterministic given the sampler seed, scored on validation instances
distinct from training and test instances, resumable, and the best setting written as a ready
experiment file. Skipped without optuna (``pip install -e ".[tune]"``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from conftest import needs

from envs.validation import InputError
from experiments.cli import main
from experiments.config import load_config, parse_config
from experiments.tune import (
    NET_ARCHS,
    SEARCH_SPACES,
    VALIDATION_SEED_START,
    apply_setting,
    tune,
)

pytestmark = [pytest.mark.tune, needs("optuna", "tune", "assort tune")]

CONFIG = {
    "name": "tunetest",
    "env": {"id": "Assort/OneShotSmallFamily-v1", "kwargs": {"reward_scale": "auto"}},
    "agents": [
        {
            "algo": "ppo",
            "total_timesteps": 128,
            "n_envs": 2,
            "seeds": [0, 1],
            "normalize": {"observation": True},
            "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 2, "gamma": 0.0},
            "policy_kwargs": {"net_arch": [16]},
        },
        {
            "algo": "sac",
            "total_timesteps": 100,
            "hyperparams": {"learning_starts": 10},
            "policy_kwargs": {"net_arch": [16]},
        },
    ],
    "train": {"checkpoint_every": 64},
    "evaluation": {
        "families": ["small"],
        "instance_seeds": [1_000_000],
        "seasons": 100,
        "seed": 3,
        "heuristics": ["fluid"],
    },
}


def config(tmp_path: Path):
    return parse_config({**CONFIG, "train": {**CONFIG["train"], "runs_dir": str(tmp_path / "r")}})


def run(tmp_path: Path, out: str, **kwargs):
    options = {"agent_index": 0, "trials": 3, "validation_instances": 2, "seasons": 40}
    return tune(config(tmp_path), out=tmp_path / out, **{**options, **kwargs})


def rows(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_tune_writes_the_best_setting_as_a_ready_experiment_file(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run(tmp_path, "a", progress=lines.append)
    assert len(result.trials) == 3
    scores = [r.score for r, _ in result.trials]
    assert result.best.score == max(scores) and all(0 < s < 1 for s in scores)
    # The setting of every trial lies in the documented space (batch fitted to the rollout).
    for _, setting in result.trials:
        assert set(setting) == set(SEARCH_SPACES["ppo"])
        assert setting["batch_size"] <= setting["n_steps"] * 2
        assert 1e-5 <= setting["learning_rate"] <= 1e-3
        assert setting["policy_kwargs.net_arch"] in NET_ARCHS
    # best.yaml is a config that loads, named -tuned, with the best setting on agent 0 only.
    best = load_config(result.written["best.yaml"])
    assert best.name == "tunetest-tuned"
    agent = best.agents[0]
    expected = apply_setting(config(tmp_path).to_dict()["agents"][0], result.best_setting)
    assert agent.hyperparams == expected["hyperparams"]
    assert agent.policy_kwargs == expected["policy_kwargs"]
    assert agent.seeds == (0, 1) and best.agents[1] == config(tmp_path).agents[1]
    assert best.train.checkpoint_every >= agent.hyperparams["n_steps"] * agent.n_envs
    text = result.written["best.yaml"].read_text()
    assert text.startswith("# Written by `assort tune` from the experiment 'tunetest'")
    assert f"Validation score {result.best.score:.4f}" in text
    # Trials train on the family (seeds < 1e6) and are scored on validation instances only.
    summary = json.loads(result.written["tune.json"].read_text())
    assert summary["validation"]["instance_seeds"] == [VALIDATION_SEED_START, 2_000_001]
    assert summary["training_seeds"] == [0] and summary["sampler_seed"] == 0
    assert summary["best"]["trial"] == result.best.number
    table = rows(result.written["trials.csv"])
    assert [int(r["trial"]) for r in table] == [0, 1, 2]
    assert [float(r["score"]) for r in table] == scores
    assert sum(int(r["best"]) for r in table) == 1
    assert sorted(p.name for p in (tmp_path / "a" / "runs").iterdir()) == [
        "tunetest-trial000",
        "tunetest-trial001",
        "tunetest-trial002",
    ]
    assert any(line.startswith("best trial") for line in lines)


def test_tune_is_deterministic_given_the_seed_and_resumes(tmp_path: Path) -> None:
    first = run(tmp_path, "a", trials=2, seed=7)
    again = run(tmp_path, "b", trials=2, seed=7)
    assert [(r.score, s) for r, s in first.trials] == [(r.score, s) for r, s in again.trials]
    other = run(tmp_path, "c", trials=2, seed=8)
    assert [s for _, s in other.trials] != [s for _, s in first.trials]
    # The same command again reuses every run and evaluation (and gives the same numbers).
    lines: list[str] = []
    repeat = run(tmp_path, "a", trials=2, seed=7, progress=lines.append)
    assert [(r.score, s) for r, s in repeat.trials] == [(r.score, s) for r, s in first.trials]
    assert all(r.seconds < first.trials[0][0].seconds for r, _ in repeat.trials)


def test_tune_refuses_validation_seeds_that_are_test_seeds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"overlap the leaderboard's test seeds .* at \[1000000\]"):
        run(tmp_path, "x", validation_seed_start=1_000_000)
    with pytest.raises(InputError, match=r"`--validation-seed-start` must be an integer in"):
        run(tmp_path, "x", validation_seed_start=5)
    with pytest.raises(InputError, match=r"`--agent` must be an integer in \[0, 1\]; got 2"):
        run(tmp_path, "x", agent_index=2)
    with pytest.raises(InputError, match=r"`--trials` must be an integer in \[1, 10,000\]; got 0"):
        run(tmp_path, "x", trials=0)
    assert not (tmp_path / "x").exists()


def test_tune_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path).to_dict()))
    out = tmp_path / "out"
    argv = ["tune", str(path), "--agent", "1", "--trials", "2", "--seasons", "20"]
    argv += ["--validation-instances", "1", "--out", str(out), "--progress", "lines"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out / "best.yaml")
    assert "[tune] tuning: finished, 2/2 trials" in captured.err
    best = load_config(out / "best.yaml")
    assert best.agents[1].algo == "sac" and best.agents[1].hyperparams["learning_starts"] <= 50
    assert main(["tune", str(path), "--agent", "0", "--trials", "1", "--seed", "-1"]) == 2
    assert "`--seed` must be an integer in [0, 4,294,967,295]; got -1" in capsys.readouterr().err
