"""Progress people can read: a bar per phase on a terminal, a plain line every few seconds in
a log (no carriage returns), and the training ticks that feed both."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml

from envs.validation import InputError
from experiments.cli import main
from experiments.config import parse_config
from experiments.progress import Reporter, duration, phase, resolve_mode
from experiments.train import train_run


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_auto_mode_is_bars_on_a_terminal_and_lines_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert resolve_mode("auto", Terminal()) == "bars"
    assert resolve_mode("auto", io.StringIO()) == "lines"  # a file or a pipe
    assert resolve_mode("lines", Terminal()) == "lines" and resolve_mode("none", io.StringIO())
    monkeypatch.setenv("CI", "true")
    assert resolve_mode("auto", Terminal()) == "lines"
    monkeypatch.delenv("CI")
    monkeypatch.setenv("TERM", "dumb")
    assert resolve_mode("auto", Terminal()) == "lines"
    with pytest.raises(InputError, match=r"`--progress` must be one of \['auto', 'bars'"):
        resolve_mode("fancy", Terminal())


def test_durations_read_as_people_write_them() -> None:
    assert [duration(s) for s in (8.2, 75.4, 3725, float("nan"))] == [
        "8s",
        "1m15s",
        "1h02m05s",
        "?",
    ]


def test_lines_mode_writes_a_plain_line_every_interval_with_counts_and_eta() -> None:
    stream, clock = io.StringIO(), Clock()
    reporter = Reporter("[run] ", mode="lines", stream=stream, interval=5.0, clock=clock)
    with reporter.phase(
        "training", 1000, "timesteps", tasks=4, task_unit="runs", initial=250, tasks_done=1
    ) as bar:
        for second in range(1, 31):  # 25 timesteps a second for 30 seconds
            clock.now += 1
            bar.tick(25, "ppo-seed1 profit 1.5" if second == 12 else None)
            if second == 20:
                bar.task_done()
                reporter("[2/4] runs/x/ppo-seed1: done (20.0 s)")
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "[run] training: started, 1/4 runs, 250/1,000 timesteps"
    status = [line for line in lines if "ETA" in line]
    assert len(status) == 6  # one every 5 s of 30 s, not one per tick
    assert status[0] == ("[run] training: 1/4 runs, 375/1,000 timesteps (38%), 5s elapsed, ETA 25s")
    # 750 of 1,000 after 30 s at 25 a second: 10 s left; the last note is shown.
    assert status[-1] == (
        "[run] training: 2/4 runs, 1,000/1,000 timesteps (100%), 30s elapsed, ETA 0s; "
        "ppo-seed1 profit 1.5"
    )
    assert "[run] [2/4] runs/x/ppo-seed1: done (20.0 s)" in lines
    assert lines[-1] == "[run] training: finished, 2/4 runs, 1,000/1,000 timesteps in 30s"


def test_a_phase_ended_by_an_error_says_it_stopped() -> None:
    stream = io.StringIO()
    reporter = Reporter(mode="lines", stream=stream, clock=Clock())
    with pytest.raises(RuntimeError), reporter.phase("evaluation", 10, "cells", tasks=10):
        raise RuntimeError("boom")
    assert stream.getvalue().splitlines()[-1] == "evaluation: stopped, 0/10 cells in 0s"


def test_bars_mode_draws_one_bar_per_phase_with_counts_and_eta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    stream = Terminal()
    reporter = Reporter("[run] ", stream=stream)
    assert reporter.mode == "bars"
    with reporter.phase("training", 100, "timesteps", tasks=2, task_unit="runs") as bar:
        for _ in range(10):
            bar.tick(10, "ppo-seed0 profit 2")
        bar.task_done()
        reporter("a message line")
    with reporter.phase("evaluation", 6, "cells", tasks=6) as bar:
        for _ in range(6):
            bar.tick(1)
            bar.task_done()
    text = stream.getvalue()
    assert "\r" in text  # redrawn in place
    final = [part for part in re.split(r"[\r\n]", text) if part.strip()]
    training = [p for p in final if p.startswith("training:")][-1]
    assert "100/100 timesteps" in training and "1/2 runs, ppo-seed0 profit 2" in training
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", training), training  # elapsed < remaining (ETA)
    assert "[run] a message line" in final
    evaluation = [p for p in final if p.startswith("evaluation:")][-1]
    assert "6/6 cells" in evaluation


def test_a_plain_callable_gets_a_silent_phase() -> None:
    lines: list[str] = []
    with phase(lines.append, "suite", 3, "instances") as bar:
        bar.tick(3)
        bar.task_done()
    assert lines == [] and bar.done == 3


def test_training_ticks_add_up_to_the_timesteps(tmp_path: Path) -> None:
    config = parse_config(
        {
            "name": "ticks",
            "env": {"id": "Assort/OneShotSmall-v1", "kwargs": {"reward_scale": "auto"}},
            "agents": [
                {
                    "algo": "ppo",
                    "total_timesteps": 100,
                    "n_envs": 2,
                    "hyperparams": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
                    "policy_kwargs": {"net_arch": [8]},
                }
            ],
            "train": {"checkpoint_every": 64, "runs_dir": str(tmp_path)},
        }
    )
    ticks: list[tuple[int, str | None]] = []
    train_run(config, tick=lambda units, note=None: ticks.append((units, note)))
    # PPO collects 128 timesteps (two rollouts of 64) but the run counts 100 of them.
    assert sum(units for units, _ in ticks) == 100
    notes = [note for _, note in ticks if note]
    assert notes and all(re.fullmatch(r"ppo-seed0 profit -?[\d.e+-]+", n) for n in notes)


def test_a_redirected_run_log_has_plain_lines_per_phase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    agent = {
        "algo": "ppo",
        "total_timesteps": 64,
        "hyperparams": {"n_steps": 32, "batch_size": 32},
        "policy_kwargs": {"net_arch": [8]},
    }
    data = {
        "name": "log",
        "env": {"id": "Assort/OneShotSmallFamily-v1"},
        "agents": [agent],
        "train": {"checkpoint_every": 64, "runs_dir": str(tmp_path / "runs")},
        "evaluation": {
            "families": ["small"],
            "instance_seeds": [1_000_000],
            "seasons": 20,
            "seed": 1,
            "heuristics": ["fluid"],
        },
    }
    config.write_text(yaml.safe_dump(data))
    argv = ["run", str(config), "--out", str(tmp_path / "o"), "--bootstrap-reps", "20"]
    assert main(argv) == 0  # captured stderr is not a terminal: lines mode
    err = capsys.readouterr().err
    assert "\r" not in err
    for expected in (
        "[run] training: started, 0/1 runs, 0/64 timesteps",
        "[run] training: finished, 1/1 runs, 64/64 timesteps in",
        "[run] suite: started, 0/1 instances",
        "[run] suite: finished, 1/1 instances in",
        "[run] evaluation: started, 0/2 cells",
        "[run] evaluation: finished, 2/2 cells in",
    ):
        assert expected in err, err
    assert len(err.splitlines()) < 25
    assert main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "started" not in err and "finished earlier (DONE), skipped" in err
