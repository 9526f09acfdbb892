"""Training runs: artifacts, refusal to overwrite, kill-and-resume, seeding, LearnedPolicy."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from agents.callbacks import CheckpointCallback
from agents.factory import load_model, make_model
from envs.episodes import IncompatibleInstanceError
from envs.families import make_family_instance
from envs.validation import InputError
from experiments import train as train_module
from experiments.cli import main
from experiments.config import AgentConfig, EnvConfig, ExperimentConfig, load_config, parse_config
from experiments.runs import (
    checkpoints,
    learned_policy,
    prune_checkpoints,
    run_config,
    run_dir,
    save_checkpoint,
)
from experiments.train import make_env, resume_run, train_experiment, train_run

ENV = {"id": "Assort/OneShotSmall-v1", "kwargs": {"reward_scale": "auto"}}
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


def experiment(
    runs_dir: Path, *agents: dict[str, Any], checkpoint_every: int = 100
) -> ExperimentConfig:
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
    (folder,) = train_experiment(config, command="assort train tiny.yaml")
    return folder


def parameters(folder: Path, algo: str) -> dict[str, torch.Tensor]:
    return load_model(algo, folder / "model.zip").policy.state_dict()


def test_run_folder_holds_every_artifact(ppo_run: Path) -> None:
    assert ppo_run.name == "ppo-seed3" and ppo_run.parent.name == "tiny"
    artifacts = ("config.yaml", "command.txt", "versions.json", "model.zip", "vecnormalize.pkl")
    for name in (*artifacts, "DONE"):
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
    assert list((ppo_run / "tb").glob("**/events.out.tfevents.*"))  # TensorBoard
    saved = checkpoints(ppo_run / "checkpoints")
    assert [p.name for p in saved] == ["step-000000000128"]  # rollouts start at 0, 64, 128, 192
    for step in saved:
        assert {p.name for p in step.iterdir()} == {
            "model.zip",
            "vecnormalize.pkl",
            "meta.json",
            "MANIFEST.json",
        }
        manifest = json.loads((step / "MANIFEST.json").read_text())["sha256"]
        assert set(manifest) == {"model.zip", "vecnormalize.pkl"}
    manifest = json.loads((ppo_run / "MANIFEST.json").read_text())["sha256"]
    assert set(manifest) == {"model.zip", "vecnormalize.pkl"}
    assert not list((ppo_run / "checkpoints").glob(".tmp-*"))


def test_finished_or_existing_runs_are_never_overwritten(ppo_run: Path) -> None:
    config = load_config(ppo_run / "config.yaml")
    before = (ppo_run / "model.zip").read_bytes()
    message = r"holds a finished run \(DONE exists\); refusing to overwrite it\. Pass --force to"
    with pytest.raises(InputError, match=message):
        train_experiment(config)
    with pytest.raises(InputError, match=r"already finished \(DONE exists\); nothing to resume"):
        resume_run(ppo_run)
    assert (ppo_run / "model.zip").read_bytes() == before
    unfinished = run_dir(config, config.agents[0], 4)
    unfinished.mkdir(parents=True)
    message = r"already exists \(an unfinished run\); continue it with `assort train --resume"
    with pytest.raises(InputError, match=message):
        train_experiment(config, seed=4)
    with pytest.raises(InputError, match="--force starts runs over and --continue resumes them"):
        train_experiment(config, force=True, resume=True)
    # --continue skips the finished run and leaves it as it is.
    assert train_experiment(config, resume=True) == [ppo_run]
    assert (ppo_run / "model.zip").read_bytes() == before


def test_kill_after_a_checkpoint_then_resume(tmp_path: Path) -> None:
    config = experiment(tmp_path, SAC, checkpoint_every=50)
    (folder,) = train_experiment(config, command="first")
    assert [p.name for p in checkpoints(folder / "checkpoints")] == [
        "step-000000000200",
        "step-000000000250",
    ]
    first_log = (folder / "tb" / "progress.csv").read_text()
    # Simulate a kill after the checkpoint at 200 steps: no DONE, no final model, no later
    # checkpoint.
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints" / "step-000000000250")
    twin = tmp_path / "twin"
    shutil.copytree(folder, twin)
    resume_run(folder, command="second")
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
    # Logs: the first segment is kept, the resume logs into its own segment.
    assert (folder / "tb" / "progress.csv").read_text() == first_log
    assert (folder / "tb" / "resume-200" / "progress.csv").is_file()
    assert list((folder / "tb" / "resume-200").glob("events.out.tfevents.*"))
    # Monitor: the first segment is cut back to the checkpoint's 200 one-step episodes, the
    # resume segment holds the replayed 100, so every timestep is counted once.
    assert monitor_rows(folder / "monitor") == 200
    assert monitor_rows(folder / "monitor" / "resume-200") == 100
    # Resuming is deterministic given (seed, checkpoint).
    resume_run(twin)
    a, b = parameters(folder, "sac"), parameters(twin, "sac")
    assert all(torch.equal(a[k], b[k]) for k in a)


def monitor_rows(segment: Path) -> int:
    """Episodes recorded in the Monitor CSVs directly inside ``segment``."""
    files = list(segment.glob("*.monitor.csv"))
    assert files
    return sum(len(m.read_text().splitlines()) - 2 for m in files)  # minus 2 header lines


def test_resume_truncates_every_earlier_monitor_segment(tmp_path: Path) -> None:
    agent = {**SAC, "n_envs": 2, "total_timesteps": 250}
    (folder,) = train_experiment(experiment(tmp_path, agent, checkpoint_every=50))
    assert [p.name for p in checkpoints(folder / "checkpoints")] == [
        "step-000000000150",
        "step-000000000200",
    ]
    assert monitor_rows(folder / "monitor") == 250
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints" / "step-000000000200")
    # A stale segment from an earlier resume at or after the checkpoint is dropped.
    (folder / "monitor" / "resume-150").mkdir()
    resume_run(folder)
    assert monitor_rows(folder / "monitor") == 150
    assert monitor_rows(folder / "monitor" / "resume-150") == 100


def test_a_failed_start_leaves_no_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings SB3 would refuse are refused when the config loads (PPO normalizes advantages,
    # so batch_size 1 cannot work), before anything is written.
    with pytest.raises(InputError, match=r"`agents\.0\.hyperparams\.batch_size` is 1"):
        experiment(tmp_path, {**PPO, "hyperparams": {"n_steps": 32, "batch_size": 1}})
    # A start that fails anyway (here the model cannot be built) leaves nothing behind.
    config = experiment(tmp_path, PPO)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no model today")

    monkeypatch.setattr(train_module, "make_model", refuse)
    with pytest.raises(RuntimeError, match="no model today"):
        train_experiment(config)
    assert list((tmp_path / "tiny").iterdir()) == []  # no run folder, no staging folder
    monkeypatch.undo()
    agent = {**PPO, "total_timesteps": 64}
    (folder,) = train_experiment(experiment(tmp_path, agent))
    assert (folder / "DONE").is_file()


def model_for(agent: AgentConfig, env: Any, seed: int) -> Any:
    """The model the trainer builds for ``agent`` on ``env``."""
    return make_model(
        agent.algo,
        env,
        seed=seed,
        total_timesteps=agent.total_timesteps,
        policy=agent.policy,
        hyperparams=agent.hyperparams,
        policy_kwargs=agent.policy_kwargs,
    )


def test_off_policy_buffer_defaults_to_the_training_length(tmp_path: Path) -> None:
    env = make_env(EnvConfig(ENV["id"], ENV["kwargs"]), parse_agent(SAC), 0, tmp_path / "m")
    unset = {k: v for k, v in SAC["hyperparams"].items() if k != "buffer_size"}
    assert model_for(parse_agent({**SAC, "hyperparams": unset}), env, 0).buffer_size == 300
    assert model_for(parse_agent(SAC), env, 0).buffer_size == 1000  # set by the config
    big = {**SAC, "algo": "td3", "total_timesteps": 5_000_000, "hyperparams": unset}
    assert model_for(parse_agent(big), env, 0).buffer_size == 1_000_000
    env.close()


def parse_agent(agent: dict[str, Any]) -> AgentConfig:
    return experiment(Path("unused"), agent).agents[0]


class StopAfter(BaseCallback):
    """Tracks the timesteps a kill would lose at every step (timesteps since the latest
    checkpoint) and stops learning at ``stop`` timesteps, as a kill would."""

    def __init__(self, directory: Path, stop: int) -> None:
        super().__init__()
        self.directory, self.stop, self.worst = directory, stop, 0

    def _on_step(self) -> bool:
        saved = checkpoints(self.directory)
        latest = int(saved[-1].name.removeprefix("step-")) if saved else 0
        self.worst = max(self.worst, self.model.num_timesteps - latest)
        return self.model.num_timesteps < self.stop


@pytest.mark.parametrize(("every", "stop"), [(100, 190), (128, 250), (96, 252)])
def test_an_interrupted_learn_loses_at_most_checkpoint_every(
    tmp_path: Path, every: int, stop: int
) -> None:
    # Rollouts of 64 timesteps (n_steps 32 x 2 envs); checkpoint_every need not be a multiple.
    agent = parse_agent({**PPO, "total_timesteps": 512})
    env = make_env(EnvConfig(ENV["id"], ENV["kwargs"]), agent, 3, tmp_path / "monitor")
    model = model_for(agent, env, 3)
    probe = StopAfter(tmp_path / "checkpoints", stop)
    saved_at: list[int] = []

    def save(trained: Any) -> None:
        saved_at.append(trained.num_timesteps)
        save_checkpoint(trained, tmp_path / "checkpoints")

    checkpoint = CheckpointCallback(every, save)
    model.learn(512, callback=CallbackList([checkpoint, probe]))
    env.close()
    assert model.num_timesteps == stop  # interrupted
    latest = checkpoints(tmp_path / "checkpoints")[-1]
    lost = model.num_timesteps - json.loads((latest / "meta.json").read_text())["timesteps"]
    assert 0 <= lost <= every
    assert probe.worst <= every
    steps = [int(p.name.removeprefix("step-")) for p in checkpoints(tmp_path / "checkpoints")]
    assert all(b - a <= every for a, b in zip([0, *steps], steps, strict=False))
    assert all(s % 64 == 0 for s in steps)  # rollout boundaries
    assert steps == saved_at  # one folder per call of `save`, named by its timesteps
    prune_checkpoints(tmp_path / "checkpoints", keep=1)
    assert checkpoints(tmp_path / "checkpoints") == [latest]


def test_resume_without_a_checkpoint_starts_over_in_place(tmp_path: Path) -> None:
    agent = {**PPO, "total_timesteps": 64, "normalize": {"observation": False, "reward": False}}
    (folder,) = train_experiment(experiment(tmp_path, agent, checkpoint_every=1000))
    reference = parameters(folder, "ppo")
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    resume_run(folder)
    assert json.loads((folder / "DONE").read_text())["timesteps"] == 64
    again = parameters(folder, "ppo")
    assert all(torch.equal(reference[k], again[k]) for k in reference)  # same seed, same start


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is not a run folder: it has no config\.yaml"):
        resume_run(tmp_path)


def test_same_seed_same_parameters_other_seed_differs(tmp_path: Path) -> None:
    agent = {**PPO, "total_timesteps": 128, "normalize": {"observation": False, "reward": False}}
    first = train_run(experiment(tmp_path / "a", agent))
    second = train_run(experiment(tmp_path / "b", agent))
    other = train_run(experiment(tmp_path / "c", {**agent, "seeds": [4]}))
    p1, p2, p3 = (parameters(f, "ppo") for f in (first, second, other))
    assert p1.keys() == p2.keys()
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert not all(torch.equal(p1[k], p3[k]) for k in p1)


def test_learned_policy_is_a_deterministic_stocking_policy(ppo_run: Path) -> None:
    policy = learned_policy(ppo_run)
    assert policy.name == "ppo-seed3" and policy.algo == "ppo" and policy.timesteps == 256
    assert policy.seed == 3
    assert policy.normalizer is not None and not policy.normalizer.training
    instance = make_family_instance("small", 1_000_000)
    stock = policy.stock_for(instance)
    assert stock.dtype == np.int64 and stock.shape == (instance.n_products,)
    assert (stock >= 0).all()
    assert np.array_equal(stock, policy.stock_for(instance))
    assert np.array_equal(stock, learned_policy(ppo_run).stock_for(instance))
    assert policy.decisions == 2 and policy.inference_seconds >= policy.last_inference_seconds > 0
    other = make_family_instance("small", 1_000_001)
    assert other.n_products == instance.n_products
    too_big = make_family_instance("small", 1_000_000, n_products=instance.n_products + 1)
    with pytest.raises(IncompatibleInstanceError, match="products"):
        policy.stock_for(too_big)


def test_a_refused_first_instance_does_not_break_the_next_decision(ppo_run: Path) -> None:
    # The leaderboard shows every family to every agent: a first reset refused for its size must
    # leave the policy able to play the next instance (gymnasium's passive checker could not).
    policy = learned_policy(ppo_run)
    instance = make_family_instance("small", 1_000_000)
    with pytest.raises(IncompatibleInstanceError):
        policy.stock_for(make_family_instance("medium", 1_000_000))
    assert np.array_equal(policy.stock_for(instance), learned_policy(ppo_run).stock_for(instance))


def test_learned_policy_plays_the_sequential_environment(tmp_path: Path) -> None:
    sequential = {"id": "Assort/SequentialSmall-v1", "kwargs": {}}
    agent = {**PPO, "total_timesteps": 64, "label": "ppo-seq", "env": sequential}
    config = experiment(tmp_path, agent)
    (folder,) = train_experiment(config)
    assert folder.name == "ppo-seq-seed3"
    assert load_config(folder / "config.yaml").env.id == "Assort/SequentialSmall-v1"
    policy = learned_policy(folder)
    instance = make_family_instance("vendors-small", 1_000_002)
    stock = policy.stock_for(instance)
    assert stock.shape == (instance.n_products,) and (stock >= 0).all()
    assert np.array_equal(stock, policy.stock_for(instance))


def test_run_config_is_one_agent_one_seed_with_its_own_env(tmp_path: Path) -> None:
    medium = {"id": "Assort/OneShotMediumFamily-v1", "kwargs": {"reward_scale": 2.0}}
    labelled = {**PPO, "label": "ppo-medium", "env": medium, "seeds": [1, 2]}
    config = experiment(tmp_path, PPO, labelled)
    single = run_config(config, config.agents[1], 2)
    assert single.env.id == "Assort/OneShotMediumFamily-v1"
    assert single.env.kwargs == {"reward_scale": 2.0}
    assert [(a.label, a.seeds, a.env) for a in single.agents] == [("ppo-medium", (2,), None)]
    assert run_dir(config, config.agents[1], 2) == tmp_path / "tiny" / "ppo-medium-seed2"
    assert parse_config(single.to_dict()) == single


def test_learned_policy_needs_a_finished_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"has no DONE marker: training did not finish"):
        learned_policy(tmp_path)


def test_pickled_files_load_only_when_the_manifest_vouches_for_them(
    ppo_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "tiny" / "ppo-seed3"
    shutil.copytree(ppo_run, copy)
    instance = make_family_instance("small", 1_000_000)
    expected = learned_policy(ppo_run).stock_for(instance)
    assert np.array_equal(learned_policy(copy).stock_for(instance), expected)  # a faithful copy
    stats = copy / "vecnormalize.pkl"
    stats.write_bytes(stats.read_bytes() + b"\0")
    with pytest.raises(
        InputError,
        match=r"vecnormalize\.pkl' changed since training wrote it .*refusing to unpickle it; "
        r"pass --trust-runs",
    ):
        learned_policy(copy)
    shutil.copy(ppo_run / "vecnormalize.pkl", stats)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    del manifest["sha256"]["model.zip"]
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"model\.zip' is not listed in MANIFEST\.json"):
        learned_policy(copy)
    (copy / "MANIFEST.json").unlink()
    with pytest.raises(InputError, match=r"model\.zip' has no valid MANIFEST\.json"):
        learned_policy(copy)
    assert np.array_equal(learned_policy(copy, trust=True).stock_for(instance), expected)


def test_resume_checks_the_checkpoint_manifest(tmp_path: Path) -> None:
    agent = {**PPO, "total_timesteps": 128}
    (folder,) = train_experiment(experiment(tmp_path, agent, checkpoint_every=64))
    for name in ("DONE", "model.zip"):
        (folder / name).unlink()
    latest = checkpoints(folder / "checkpoints")[-1]
    (latest / "model.zip").write_bytes((latest / "model.zip").read_bytes() + b"\0")
    with pytest.raises(InputError, match=r"model\.zip' changed since training wrote it"):
        resume_run(folder)
    assert not (folder / "DONE").exists()
    # The zip archive still reads with a trailing byte; trusting it finishes the run.
    resume_run(folder, trust=True)
    assert json.loads((folder / "DONE").read_text())["timesteps"] == 128


def test_cli_trains_one_seed_and_reports_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiny.yaml"
    agents = [{**PPO, "seeds": [0, 1]}]
    path.write_text(yaml.safe_dump({"name": "cli", "env": ENV, "agents": agents}))
    runs = tmp_path / "runs"
    code = main(
        [
            "train",
            str(path),
            "--seed",
            "5",
            "--runs-dir",
            str(runs),
            "--no-progress",
            "--override",
            "agents.0.total_timesteps=64",
            "--override",
            "train.checkpoint_every=64",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (runs / "cli").iterdir()) == ["ppo-seed5"]
    assert json.loads((runs / "cli" / "ppo-seed5" / "DONE").read_text())["timesteps"] == 64
    assert main(["train", "--resume", str(runs / "cli" / "ppo-seed5"), str(path)]) == 2
    assert "--resume RUN_DIR takes no CONFIG" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "give a CONFIG file to train, or --resume RUN_DIR" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_cli_refuses_a_training_seed_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    # A training seed lies in [0, 2**32), as in the config's `seeds`: bad input, not a crash.
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "cli", "env": ENV, "agents": [PPO]}))
    runs = tmp_path / "runs"
    argv = ["train", str(path), "--seed", str(seed), "--runs-dir", str(runs), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(rf"seed` must be an integer in \[0, 4,294,967,295\]; got {seed}$", err), err
    assert not (runs / "cli").exists() or not list((runs / "cli").iterdir())


def test_the_model_is_built_and_trained_on_one_torch_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numba and torch share one OpenMP runtime, and a numba kernel on 2 threads can set torch
    back to 2 threads (seen on this machine after a kernel's compilation). A run must not
    inherit that: a Ray worker runs on 1 thread, and the two backends must train the same
    weights (the fluid-anchored graph agent differed in its float32 sums before). So the whole
    run, model construction included, holds torch at 1 thread whatever the process left."""
    seen: list[int] = []
    new_model = train_module._new_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return new_model(*args, **kwargs)

    monkeypatch.setattr(train_module, "_new_model", spy)
    agent = {**PPO, "total_timesteps": 64, "normalize": {"observation": False, "reward": False}}
    config = experiment(tmp_path, agent)
    torch.set_num_threads(2)  # what such a kernel leaves behind
    try:
        train_run(config)
    finally:
        torch.set_num_threads(1)
    assert seen == [1]
