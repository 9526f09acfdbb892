"""Run folders are loaded only when their manifest vouches for them, and the CLI tells bad
input (one line, exit 2) from a bug in the project (its traceback)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envs.families import make_family_instance
from envs.validation import InputError
from experiments import cli
from experiments.commands import policies
from experiments.config import parse_config
from experiments.runs import (
    CHECKPOINTS_DIR,
    MANIFEST_FILE,
    MODEL_FILE,
    VECNORMALIZE_FILE,
    checkpoints,
    learned_policy,
)
from experiments.train import resume_run, train_run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = parse_config(
        {
            "name": "manifest",
            "env": {"id": "Assort/OneShotTiny-v1"},
            "agents": [
                {
                    "algo": "ppo",
                    "total_timesteps": 128,
                    "seeds": [0],
                    "normalize": {"observation": True},
                    "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
                    "policy_kwargs": {"net_arch": [8]},
                }
            ],
            "train": {
                "checkpoint_every": 64,
                "keep_checkpoints": 5,
                "runs_dir": str(tmp_path_factory.mktemp("runs")),
            },
        }
    )
    return train_run(config)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.parent.name / folder.name
    shutil.copytree(folder, target)
    return target


def test_training_writes_a_manifest_for_every_pickled_file(run_folder: Path) -> None:
    assert (run_folder / MANIFEST_FILE).is_file()
    saved = checkpoints(run_folder / CHECKPOINTS_DIR)
    assert saved and all((c / MANIFEST_FILE).is_file() for c in saved)
    policy = learned_policy(run_folder)
    assert policy.stock_for(make_family_instance("tiny", 1_000_000)).shape == (3,)


@pytest.mark.parametrize("damage", ["edit-model", "edit-statistics", "no-manifest", "unlisted"])
def test_a_folder_training_did_not_write_is_refused(run_folder, tmp_path, damage) -> None:
    folder = copy_of(run_folder, tmp_path)
    if damage == "edit-model":
        with open(folder / MODEL_FILE, "ab") as handle:
            handle.write(b"\0")
        fragment = f"{MODEL_FILE}' changed since training wrote it"
    elif damage == "edit-statistics":
        (folder / VECNORMALIZE_FILE).write_bytes(b"not the statistics training saved")
        fragment = f"{VECNORMALIZE_FILE}' changed since training wrote it"
    elif damage == "no-manifest":
        (folder / MANIFEST_FILE).unlink()
        fragment = f"has no valid {MANIFEST_FILE}"
    else:
        (folder / MANIFEST_FILE).write_text('{"sha256": {}}')
        fragment = f"is not listed in {MANIFEST_FILE}"
    with pytest.raises(InputError) as caught:
        learned_policy(folder)
    message = str(caught.value)
    assert fragment in message and "--trust-runs" in message and "\n" not in message
    if damage in ("no-manifest", "unlisted"):
        assert learned_policy(folder, trust=True).name == folder.name


def test_the_cli_refuses_an_untrusted_run_and_the_flag_overrides(run_folder, tmp_path, capsys):
    folder = copy_of(run_folder, tmp_path)
    (folder / MANIFEST_FILE).unlink()
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: m\nevaluation: {families: [tiny], instance_seeds: [1000000], seasons: 20}\n"
    )
    argv = [
        "leaderboard",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "out"),
        "--runs",
        str(folder.parent),
        "--bootstrap-reps",
        "10",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{MODEL_FILE}' has no valid {MANIFEST_FILE}" in err and "--trust-runs" in err
    assert cli.main([*argv, "--trust-runs"]) == 0


def test_resume_checks_the_checkpoint_it_unpickles(run_folder, tmp_path) -> None:
    folder = copy_of(run_folder, tmp_path)
    (folder / "DONE").unlink()
    latest = checkpoints(folder / CHECKPOINTS_DIR)[-1]
    with open(latest / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(InputError, match="changed since training wrote it"):
        resume_run(folder)


@pytest.mark.parametrize("error", [ValueError, TypeError, KeyError, RuntimeError])
def test_a_bug_in_a_command_keeps_its_traceback(monkeypatch, capsys, error) -> None:
    def broken(args):
        raise error("an internal bug, not bad input")

    monkeypatch.setattr(policies, "run", broken)
    with pytest.raises(error, match="an internal bug"):
        cli.main(["policies"])
    assert "error:" not in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_code_2(monkeypatch, capsys) -> None:
    def refuse(args):
        raise InputError("`thing` must be a\nnumber; got 'x' (str)")

    monkeypatch.setattr(policies, "run", refuse)
    assert cli.main(["policies"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "assort policies: error: `thing` must be a\\nnumber" in err


def test_the_recorded_command_line_names_the_command_people_typed(monkeypatch) -> None:
    from experiments import runs

    monkeypatch.setattr(runs.sys, "argv", ["/venv/bin/assort", "run", "a b.yaml"])
    assert runs.command_line() == "assort run 'a b.yaml'"
    monkeypatch.setattr(runs.sys, "argv", ["/src/experiments/__main__.py", "tune", "c.yaml"])
    assert runs.command_line() == "python -m experiments tune c.yaml"
