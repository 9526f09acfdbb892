"""Training runs: artifacts, refusal to overwrite, kill-and-resume, seeding, LearnedPolicy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from agents.callbacks import checkpoints
from agents.factory import load_model
from agents.policy import LearnedPolicy
from envs.families import make_family_instance
from experiments.cli import main
from experiments.config import ExperimentConfig, load_config, parse_config
from experiments.train import resume_run, run_config, run_dir, train_experiment, train_run

ENV = {"id": "Assort/OneShotSmall-v0", "kwargs": {"reward_scale": "auto"}}
PPO = {
    "algo": "ppo",
    "total_timesteps": 256,
    "n_envs": 2,
    "seeds": [3],
    "normalize": {"observation": True, "reward": False},
    "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 2},
    "policy_kwargs": {"net_arch": [16]},
}
SAC = {
    "algo": "sac",
    "total_timesteps": 300,
    "seeds": [0],
    "hyperparams": {"learning_starts": 50, "batch_size": 16, "buffer_size": 1000},
    "policy_kwargs": {"net_arch": [16]},
}


def experiment(runs_dir: Path, *agents: dict[str, Any], checkpoint_every: int = 100) -> ExperimentConfig:
    return parse_config(
        {
            "name": "tiny",
            "env": ENV,
            "agents": list(agents),
            "train": {"checkpoint_every": checkpoint_every, "runs_dir": str(runs_dir)},
        }
    )


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = experiment(tmp_path_factory.mktemp("runs"), PPO, checkpoint_every=128)
    (folder,) = train_experiment(config, command="assort train tiny.yaml", progress=False)
    return folder


def parameters(folder: Path, algo: str) -> dict[str, torch.Tensor]:
    return load_model(algo, folder / "model.zip").policy.state_dict()


def test_run_folder_holds_every_artifact(ppo_run: Path) -> None:
    assert ppo_run.name == "ppo-seed3" and ppo_run.parent.name == "tiny"
    for name in ("config.yaml", "command.txt", "versions.json", "model.zip", "vecnormalize.pkl", "DONE"):
        assert (ppo_run / name).is_file(), name
    config = load_config(ppo_run / "config.yaml")
    assert [(a.algo, a.seeds) for a in config.agents] == [("ppo", (3,))]
    assert (ppo_run / "command.txt").read_text() == "assort train tiny.yaml\n"
    versions = json.loads((ppo_run / "versions.json").read_text())
    assert versions["packages"]["stable-baselines3"] and versions["python"]
    assert "git_commit" in versions
    done = json.loads((ppo_run / "DONE").read_text())
    assert done["timesteps"] == 256 and done["wall_seconds"] > 0
    monitors = sorted((ppo_run / "monitor").glob("*.monitor.csv"))
    assert len(monitors) == 2  # one per environment copy
    episodes = sum(len(m.read_text().splitlines()) - 2 for m in monitors)  # minus 2 header lines
    assert episodes == 256  # one-shot: one step per episode
    assert (ppo_run / "tb" / "progress.csv").is_file()
    saved = checkpoints(ppo_run / "checkpoints")
    assert [p.name for p in saved] == ["step-000000000128"]  # rollouts start at 0, 64, 128, 192
    for step in saved:
        assert {p.name for p in step.iterdir()} == {"model.zip", "vecnormalize.pkl", "meta.json"}
    assert not list((ppo_run / "checkpoints").glob(".tmp-*"))


def test_finished_or_existing_runs_are_never_overwritten(ppo_run: Path) -> None:
    config = load_config(ppo_run / "config.yaml")
    before = (ppo_run / "model.zip").read_bytes()
    with pytest.raises(ValueError, match=r"holds a finished run \(DONE exists\); refusing to overwrite it\. Pass --force"):
        train_experiment(config, progress=False)
    with pytest.raises(ValueError, match=r"already finished \(DONE exists\); nothing to resume"):
        resume_run(ppo_run, progress=False)
    assert (ppo_run / "model.zip").read_bytes() == before
    unfinished = run_dir(config, config.agents[0], 4)
    unfinished.mkdir(parents=True)
    with pytest.raises(ValueError, match=r"already exists \(an unfinished run\); continue it with `assort train --resume"):
        train_experiment(config, seed=4, progress=False)


def test_kill_after_a_checkpoint_then_resume(tmp_path: Path) -> None:
    config = experiment(tmp_path, SAC, checkpoint_every=50)
    (folder,) = train_experiment(config, command="first", progress=False)
    assert [p.name for p in checkpoints(folder / "checkpoints")] == [
        "step-000000000200",
        "step-000000000250",
    ]
    # Simulate a kill after the checkpoint at 200 steps: no DONE, no final model, no later checkpoint.
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints" / "step-000000000250")
    resume_run(folder, command="second", progress=False)
    assert json.loads((folder / "DONE").read_text())["timesteps"] == 300
    assert (folder / "model.zip").is_file()
    assert (folder / "command.txt").read_text() == "first\nsecond\n"
    latest = checkpoints(folder / "checkpoints")[-1]
    assert latest.name == "step-000000000250"
    assert json.loads((latest / "meta.json").read_text())["timesteps"] == 250
    # The replay buffer continued from the checkpoint's 200 transitions rather than restarting.
    model = load_model("sac", latest / "model.zip")
    model.load_replay_buffer(latest / "replay_buffer.pkl")
    assert model.replay_buffer.size() == 250


def test_resume_without_a_checkpoint_starts_over_in_place(tmp_path: Path) -> None:
    agent = {**PPO, "total_timesteps": 64, "normalize": {"observation": False, "reward": False}}
    (folder,) = train_experiment(experiment(tmp_path, agent, checkpoint_every=1000), progress=False)
    reference = parameters(folder, "ppo")
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    resume_run(folder, progress=False)
    assert json.loads((folder / "DONE").read_text())["timesteps"] == 64
    again = parameters(folder, "ppo")
    assert all(torch.equal(reference[k], again[k]) for k in reference)  # same seed, same start


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"is not a run folder: it has no config\.yaml"):
        resume_run(tmp_path, progress=False)


def test_same_seed_same_parameters_other_seed_differs(tmp_path: Path) -> None:
    agent = {**PPO, "total_timesteps": 128, "normalize": {"observation": False, "reward": False}}
    first = train_run(experiment(tmp_path / "a", agent), progress=False)
    second = train_run(experiment(tmp_path / "b", agent), progress=False)
    other = train_run(experiment(tmp_path / "c", {**agent, "seeds": [4]}), progress=False)
    p1, p2, p3 = (parameters(f, "ppo") for f in (first, second, other))
    assert p1.keys() == p2.keys()
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert not all(torch.equal(p1[k], p3[k]) for k in p1)


def test_learned_policy_is_a_deterministic_stocking_policy(ppo_run: Path) -> None:
    policy = LearnedPolicy.from_run(ppo_run)
    assert policy.name == "ppo-seed3" and policy.algo == "ppo" and policy.timesteps == 256
    assert policy.normalizer is not None and not policy.normalizer.training
    instance = make_family_instance("small", 1_000_000)
    stock = policy.stock_for(instance)
    assert stock.dtype == np.int64 and stock.shape == (instance.n_products,)
    assert (stock >= 0).all()
    assert np.array_equal(stock, policy.stock_for(instance))
    assert np.array_equal(stock, LearnedPolicy(ppo_run).stock_for(instance))
    assert policy.decisions == 2 and policy.inference_seconds >= policy.last_inference_seconds > 0
    other = make_family_instance("small", 1_000_001)
    assert other.n_products == instance.n_products
    too_big = make_family_instance("small", 1_000_000, n_products=instance.n_products + 1)
    with pytest.raises(ValueError, match="products"):
        policy.stock_for(too_big)


def test_learned_policy_plays_the_sequential_environment(tmp_path: Path) -> None:
    sequential = {"id": "Assort/SequentialSmall-v0", "kwargs": {}}
    agent = {**PPO, "total_timesteps": 64, "label": "ppo-seq", "env": sequential}
    config = experiment(tmp_path, agent)
    (folder,) = train_experiment(config, progress=False)
    assert folder.name == "ppo-seq-seed3"
    assert load_config(folder / "config.yaml").env.id == "Assort/SequentialSmall-v0"
    policy = LearnedPolicy(folder)
    instance = make_family_instance("small", 1_000_002)
    stock = policy.stock_for(instance)
    assert stock.shape == (instance.n_products,) and (stock >= 0).all()
    assert np.array_equal(stock, policy.stock_for(instance))


def test_run_config_is_one_agent_one_seed_with_its_own_env(tmp_path: Path) -> None:
    medium = {"id": "Assort/OneShotMediumFamily-v0", "kwargs": {"reward_scale": 2.0}}
    config = experiment(tmp_path, PPO, {**PPO, "label": "ppo-medium", "env": medium, "seeds": [1, 2]})
    single = run_config(config, config.agents[1], 2)
    assert single.env.id == "Assort/OneShotMediumFamily-v0" and single.env.kwargs == {"reward_scale": 2.0}
    assert [(a.label, a.seeds, a.env) for a in single.agents] == [("ppo-medium", (2,), None)]
    assert run_dir(config, config.agents[1], 2) == tmp_path / "tiny" / "ppo-medium-seed2"
    assert parse_config(single.to_dict()) == single


def test_learned_policy_needs_a_finished_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no DONE marker: training did not finish"):
        LearnedPolicy(tmp_path)


def test_cli_trains_one_seed_and_reports_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "cli", "env": ENV, "agents": [{**PPO, "seeds": [0, 1]}]}))
    runs = tmp_path / "runs"
    code = main(
        ["train", str(path), "--seed", "5", "--runs-dir", str(runs), "--no-progress",
         "--override", "agents.0.total_timesteps=64", "--override", "train.checkpoint_every=64"]
    )
    assert code == 0
    assert sorted(p.name for p in (runs / "cli").iterdir()) == ["ppo-seed5"]
    assert json.loads((runs / "cli" / "ppo-seed5" / "DONE").read_text())["timesteps"] == 64
    assert main(["train", "--resume", str(runs / "cli" / "ppo-seed5"), str(path)]) == 2
    assert "--resume RUN_DIR takes no CONFIG" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "give a CONFIG file to train, or --resume RUN_DIR" in capsys.readouterr().err
