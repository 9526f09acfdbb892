"""The backends: serial and Ray give the same models and leaderboard bit for bit, a killed
command resumes from its checkpoints, the store stays atomic under several Ray workers, and the
project never imports Ray unless the Ray backend is chosen.

The Ray tests share one local Ray of 2 CPUs (started once for the module, about 10 s) and are
skipped when ray is not installed (``pip install -e ".[ray]"``); ``.ci/run`` installs it and
runs them with ``ASSORT_REQUIRE_EXTRAS=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import needs

from agents.factory import load_model
from envs.validation import InputError
from experiments.backends import SerialBackend, make_backend, run_ordered
from experiments.cli import main
from experiments.config import parse_config
from experiments.leaderboard import leaderboard_from_config
from experiments.store import Decision, EvaluationRecord, ResultStore
from experiments.train import train_all

ROOT = Path(__file__).resolve().parents[1]
needs_ray = needs("ray", "ray", "the Ray backend")

TINY = {
    "name": "tiny",
    "env": {"id": "Assort/OneShotSmallFamily-v1", "kwargs": {"reward_scale": "auto"}},
    "agents": [
        {
            "algo": "ppo",
            "total_timesteps": 256,
            "n_envs": 2,
            "seeds": [0, 1],
            "normalize": {"observation": True},
            "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 2},
            "policy_kwargs": {"net_arch": [16]},
        },
        {
            "algo": "sac",
            "total_timesteps": 200,
            "seeds": [0],
            "hyperparams": {"learning_starts": 50, "batch_size": 16},
            "policy_kwargs": {"net_arch": [16]},
        },
    ],
    "train": {"checkpoint_every": 128},
    "evaluation": {
        "families": ["small"],
        "instance_seeds": [1_000_000, 1_000_001],
        "seasons": 100,
        "seed": 3,
        "heuristics": ["fluid", "newsvendor", "saa"],
    },
}


def tiny(runs_dir: Path) -> dict:
    return {**TINY, "train": {**TINY["train"], "runs_dir": str(runs_dir)}}


# ------------------------------------------------------------------------- without Ray


def square(item: int, tick) -> int:
    tick(item, f"squared {item}")
    return item * item


def test_serial_backend_maps_in_order_and_reports_work() -> None:
    ticks = []
    finished = []
    results = run_ordered(
        SerialBackend(),
        square,
        [3, 1, 2],
        tick=lambda units, note=None: ticks.append((units, note)),
        done=lambda index, result: finished.append((index, result)),
    )
    assert results == [9, 1, 4]
    assert ticks == [(3, "squared 3"), (1, "squared 1"), (2, "squared 2")]
    assert finished == [(0, 9), (1, 1), (2, 4)]
    assert run_ordered(None, square, []) == []


def test_importing_the_project_imports_neither_ray_nor_optuna() -> None:
    code = (
        "import sys, experiments.cli, experiments.backends, experiments.tune, "
        "experiments.leaderboard, experiments.train; "
        "print(sorted(m for m in ('ray', 'optuna', 'selenium') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_backend_choices_are_checked() -> None:
    with pytest.raises(InputError, match=r"`--backend` must be one of \['serial', 'ray'\]"):
        make_backend("dask")
    with pytest.raises(InputError, match="--address and --workers go with --backend ray"):
        make_backend("serial", workers=2)


def test_ray_backend_without_ray_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**tiny(tmp_path / "runs"), "agents": []}))
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    argv = ["leaderboard", "--config", str(config), "--out", str(tmp_path / "o")]
    assert main([*argv, "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("assort leaderboard: error: --backend ray needs Ray, which is not")
    assert 'pip install -e ".[ray]"' in err and len(err.strip().splitlines()) == 1
    assert main([*argv, "--backend", "ray", "--address", "auto"]) == 2
    assert "name a folder every node reaches with --shared-dir DIR" in capsys.readouterr().err
    assert main([*argv, "--workers", "2"]) == 2
    assert "--address and --workers go with --backend ray" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--backend", "ray"]) == 2
    assert "--resume continues one run in this process" in capsys.readouterr().err


def test_tune_without_optuna_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny(tmp_path / "runs")))
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    out = tmp_path / "tune"
    assert main(["tune", str(config), "--agent", "0", "--trials", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("assort tune: error: assort tune needs Optuna, which is not installed")
    assert len(err.strip().splitlines()) == 1 and not out.exists()


# ------------------------------------------------------------------------- with Ray


@pytest.fixture(scope="module")
def ray_backend():
    import ray
    import ray.cloudpickle

    # The helpers below live in this test module, which Ray workers cannot import by name.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    backend = make_backend("ray", workers=2)
    try:
        yield backend
    finally:
        backend.close()
        ray.shutdown()


def _parameters(folder: Path) -> dict[str, torch.Tensor]:
    algo = folder.name.split("-")[0]
    return load_model(algo, folder / "model.zip").policy.state_dict()


def _numbers(board) -> dict:
    """The leaderboard without what may differ between two runs of the same numbers: wall
    times and the store labels' file hashes (the run folders' config.yaml name their folder)."""
    data = board.to_dict()
    for rows in data["families"].values():
        for row in rows:
            del row["decide_seconds"]
    for item in data["suite"]:
        if item.get("scenario"):
            del item["scenario"]["seconds"]  # the scenario bound's wall time
    return json.loads(re.sub(r"@[0-9a-f]{8}", "@", json.dumps(data, sort_keys=True)))


@pytest.mark.ray
@needs_ray
def test_serial_and_ray_give_the_same_models_and_leaderboard(tmp_path: Path, ray_backend) -> None:
    serial = parse_config(tiny(tmp_path / "serial-runs"))
    parallel = parse_config(tiny(tmp_path / "ray-runs"))
    folders = train_all(serial)
    ray_folders = train_all(parallel, backend=ray_backend)
    assert [f.name for f in folders] == [f.name for f in ray_folders]
    for a, b in zip(folders, ray_folders):
        pa, pb = _parameters(a), _parameters(b)
        assert pa.keys() == pb.keys()
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"{a.name}: {name} differs"
    board = leaderboard_from_config(serial, store=ResultStore(tmp_path / "s"), bootstrap_reps=50)
    ray_board = leaderboard_from_config(
        parallel, store=ResultStore(tmp_path / "r"), bootstrap_reps=50, backend=ray_backend
    )
    assert board.counts.evaluations_computed == 12 == ray_board.counts.evaluations_computed
    assert _numbers(board) == _numbers(ray_board)

    # The per-season profits in the two stores are the same arrays (their files are named by
    # the hash of their bytes).
    def profits(root: Path) -> list[str]:
        return sorted(p.name for p in (root / "evaluations").rglob("*.npy"))

    assert len(profits(tmp_path / "s")) == 12 and profits(tmp_path / "s") == profits(tmp_path / "r")


def _session_pids(session: int) -> list[int]:
    """Processes of the session ``session`` (the command and everything Ray started for it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields after the command: state, ppid, pgrp, session
            pids.append(int(entry.name))
    return pids


@pytest.mark.ray
@needs_ray
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the command's processes in /proc")
def test_a_killed_run_resumes_from_its_checkpoint_when_rerun(
    tmp_path: Path, ray_backend, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = {
        "algo": "ppo",
        "total_timesteps": 2048,
        "n_envs": 2,
        "seeds": [0],
        "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 4},
        "policy_kwargs": {"net_arch": [16]},
    }
    config = tmp_path / "kill.yaml"
    data = {**tiny(tmp_path / "runs"), "name": "kill", "agents": [agent]}
    data["evaluation"] = {**data["evaluation"], "heuristics": ["fluid"]}
    config.write_text(yaml.safe_dump(data))
    folder = tmp_path / "runs" / "kill" / "ppo-seed0"
    argv = ["run", str(config), "--out", str(tmp_path / "out"), "--bootstrap-reps", "50"]
    argv += ["--backend", "ray", "--progress", "lines"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "first.log").open("w")
    command = subprocess.Popen(
        [sys.executable, "-m", "experiments", *argv, "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not list((folder / "checkpoints").glob("step-*")):
            assert command.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
            time.sleep(0.2)
    finally:
        for pid in _session_pids(command.pid):  # the command, its Ray, the training task
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        command.wait(timeout=60)
        log.close()
    assert not (folder / "DONE").exists(), "training finished before it was killed"
    steps = sorted(int(p.name.removeprefix("step-")) for p in (folder / "checkpoints").iterdir())
    assert steps and 0 < steps[-1] < 2048
    # The same command again (on this module's Ray): the run resumes from its last checkpoint.
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "kill/ppo-seed0: unfinished, resuming from its last checkpoint" in err
    resumed = [int(p.name.removeprefix("resume-")) for p in (folder / "monitor").glob("resume-*")]
    assert len(resumed) == 1 and resumed[0] >= steps[-1]
    assert json.loads((folder / "DONE").read_text())["timesteps"] == 2048
    assert len((folder / "command.txt").read_text().splitlines()) == 2
    assert "| ppo | learned |" in (tmp_path / "out" / "family-small.md").read_text()


def _record(store: ResultStore, policy: str, seasons: int, value: float) -> EvaluationRecord:
    key = store.evaluation_key(policy, "small-1", "abc", np.array([1, 2]), seed=5, seasons=seasons)
    profits = np.full(seasons, value) + np.arange(seasons)
    return EvaluationRecord(key=key, profits=profits, stock=(1, 2), kpis={"fill_rate": value})


def hammer(task: tuple[str, int, int], tick) -> tuple[int, int]:
    """Write one key shared by every task (two contents, 50 and 60 seasons, under the same
    file names), one key of its own and a decision, over and over, reading the shared key
    back each time; returns (complete reads, wrong reads)."""
    root, worker, rounds = task
    store = ResultStore(root)
    shared = [_record(store, "shared", 50, 1.0), _record(store, "shared", 60, 2.0)]
    own = _record(store, f"worker{worker}", 40, float(worker))
    seen = wrong = 0
    for r in range(rounds):
        store.put_evaluation(shared[(worker + r) % 2])
        store.put_evaluation(own)
        store.put_decision(
            Decision("shared", "small-1", f"fp{worker}", (worker, r), 0.0, {"round": r})
        )
        for record in shared:
            got = store.get_evaluation(record.key)
            if got is not None:
                seen += 1
                wrong += not np.array_equal(got.profits, record.profits)
        tick(1)
    return seen, wrong


@pytest.mark.ray
@needs_ray
def test_concurrent_store_writes_from_several_ray_workers_stay_atomic(
    tmp_path: Path, ray_backend
) -> None:
    store = ResultStore(tmp_path / "store")
    shared = [_record(store, "shared", 50, 1.0), _record(store, "shared", 60, 2.0)]
    stop = threading.Event()
    reads: list[bool] = []

    def read() -> None:  # the driver reads while the workers write
        while not stop.is_set():
            for record in shared:
                got = store.get_evaluation(record.key)
                if got is not None:
                    reads.append(bool(np.array_equal(got.profits, record.profits)))

    reader = threading.Thread(target=read)
    reader.start()
    ticks = []
    try:
        tasks = [(str(store.root), worker, 60) for worker in range(6)]
        results = run_ordered(ray_backend, hammer, tasks, tick=lambda n, note=None: ticks.append(n))
    finally:
        stop.set()
        reader.join()
    assert sum(seen for seen, _ in results) > 0 and reads
    assert sum(wrong for _, wrong in results) == 0 and all(reads)
    assert sum(ticks) == 6 * 60  # every task's progress reached the driver
    # Once the writers are done, the shared key holds one complete record (the last written),
    # every worker's own record reads back exactly, and no temporary file is left.
    final = [store.get_evaluation(record.key) for record in shared]
    assert sum(record is not None for record in final) == 1
    for worker in range(6):
        own = _record(store, f"worker{worker}", 40, float(worker))
        assert np.array_equal(store.get_evaluation(own.key).profits, own.profits)
    decision = json.loads(store.decision_path("shared", "small-1").read_text())
    assert decision["fingerprint"] in {f"fp{w}" for w in range(6)}
    assert not list(store.root.rglob(".tmp-*"))


def fail_on_two(item: int, tick) -> int:
    if item == 2:
        raise InputError(f"item {item} is bad")
    return item


@pytest.mark.ray
@needs_ray
def test_a_task_error_is_raised_as_itself(ray_backend) -> None:
    with pytest.raises(InputError, match="item 2 is bad"):
        run_ordered(ray_backend, fail_on_two, [1, 2, 3])
    assert run_ordered(ray_backend, square, [4, 5]) == [16, 25]


@pytest.mark.ray
@pytest.mark.tune
@needs_ray
@needs("optuna", "tune", "assort tune")
def test_tune_trials_on_ray_match_the_serial_ones(tmp_path: Path, ray_backend) -> None:
    from experiments.tune import tune

    data = tiny(tmp_path / "runs")
    config = parse_config({**data, "agents": [{**data["agents"][0], "total_timesteps": 128}]})
    options = {"agent_index": 0, "trials": 2, "validation_instances": 1, "seasons": 20}
    serial = tune(config, out=tmp_path / "serial", **options)
    parallel = tune(config, out=tmp_path / "ray", backend=ray_backend, **options)
    assert [(r.score, s) for r, s in serial.trials] == [(r.score, s) for r, s in parallel.trials]
    assert serial.best_config == parallel.best_config


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.ray
@pytest.mark.slow
@needs_ray
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the cluster's processes in /proc")
def test_joining_a_running_cluster_with_address_and_a_shared_dir(tmp_path: Path) -> None:
    """A cluster started with `ray start --head` (on this machine), joined by `--address`:
    run folders and the store land under --shared-dir, the report under --out."""
    port = _free_port()
    ray_cli = Path(sys.executable).with_name("ray")
    # The cluster's files (and the address file `ray start` leaves behind, which a plain
    # ray.init() would try to join) stay in a private folder, not the machine's /tmp/ray; the
    # path is short because Ray's socket paths must stay under 108 characters.
    private = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    # Ray's token authentication, explicitly on for the head and the command alike (the token
    # is ~/.ray/auth_token), as Ray's docs ask of every node and driver of a cluster.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": str(private)}
    env["RAY_AUTH_MODE"] = "token"
    generate = [str(ray_cli), "get-auth-token", "--generate"]  # only when there is none yet
    subprocess.run(generate, env=env, stdout=subprocess.DEVNULL, check=True)
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=2", "--block"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        config = tmp_path / "c.yaml"
        data = tiny(tmp_path / "ignored")
        config.write_text(yaml.safe_dump({**data, "agents": data["agents"][:1]}))
        shared = tmp_path / "shared"
        argv = [sys.executable, "-m", "experiments", "run", str(config), "--backend", "ray"]
        argv += ["--address", f"127.0.0.1:{port}", "--shared-dir", str(shared)]
        argv += ["--out", str(tmp_path / "out"), "--bootstrap-reps", "20"]
        deadline = time.monotonic() + 120
        while True:  # until the head accepts the command
            done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert done.returncode == 0, done.stderr
        assert "ray backend: 2 CPUs" in done.stderr
        assert sorted(p.name for p in (shared / "runs" / "tiny").iterdir()) == [
            "ppo-seed0",
            "ppo-seed1",
        ]
        assert len(list((shared / "store" / "evaluations").rglob("*.json"))) == 10
        assert (tmp_path / "out" / "index.html").is_file() and not (tmp_path / "ignored").exists()
    finally:
        for pid in _session_pids(head.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        head.wait(timeout=60)
    try:
        # The dead cluster's address file is still there: without --address the command must
        # start a Ray of its own, not try to join the dead one.
        assert (private / "ray" / "ray_current_cluster").is_file()
        argv = [sys.executable, "-m", "experiments", "leaderboard", "--config", str(config)]
        argv += ["--out", str(tmp_path / "local"), "--backend", "ray", "--workers", "1"]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    finally:
        shutil.rmtree(private, ignore_errors=True)
