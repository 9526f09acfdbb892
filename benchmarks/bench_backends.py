"""Wall time of ``assort run`` with the serial and the Ray backend on this machine.

    python benchmarks/bench_backends.py [--config experiments/configs/serious.yaml]
        [--timesteps-scale F] [--override KEY=VALUE ...] [--workers N]
        [--work DIR] [--out benchmarks/results_backends.md]

Runs the same command twice from scratch, each in its own folders (run folders, result store,
report) under ``--work`` (a temporary folder by default):

    python -m experiments run CONFIG --backend serial ...
    python -m experiments run CONFIG --backend ray [--workers N] ...

and writes a Markdown table (wall time of the whole command and of its training phase, the
speed-up) with what the numbers depend on: the config and overrides, the machine's cores and
its load average before and after each run (other jobs on the machine slow both runs down and
distort the ratio), the Python and Ray versions. It also checks that both runs wrote the same
leaderboard numbers. ``--timesteps-scale 0.25`` trains every agent for a quarter of its
timesteps (a shorter measurement of the same mix of runs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.config import load_config  # noqa: E402

BACKENDS = ("serial", "ray")


def scaled_overrides(config_path: str, overrides: list[str], scale: float) -> list[str]:
    """``agents.<i>.total_timesteps=...`` for every agent, scaled by ``scale``."""
    if scale == 1.0:
        return []
    config = load_config(config_path, overrides)
    return [
        f"agents.{i}.total_timesteps={max(1, round(agent.total_timesteps * scale))}"
        for i, agent in enumerate(config.agents)
    ]


def run_once(backend: str, args: argparse.Namespace, work: Path, overrides: list[str]) -> dict:
    folder = work / backend
    folder.mkdir(parents=True, exist_ok=False)
    command = [sys.executable, "-m", "experiments", "run", args.config]
    command += ["--out", str(folder / "out"), "--runs-dir", str(folder / "runs")]
    command += ["--store", str(folder / "store"), "--progress", "lines", "--backend", backend]
    if backend == "ray" and args.workers is not None:
        command += ["--workers", str(args.workers)]
    for override in overrides:
        command += ["--override", override]
    load_before = os.getloadavg()
    start = time.perf_counter()
    with open(folder / "log.txt", "w") as log:
        subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    wall = time.perf_counter() - start
    text = (folder / "log.txt").read_text()
    training = re.search(r"training finished after ([\d.]+) s", text)
    return {
        "backend": backend,
        "command": " ".join(command[1:]),
        "wall_seconds": wall,
        "training_seconds": float(training.group(1)) if training else None,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "leaderboard": folder / "out" / "leaderboard.json",
    }


def numbers(path: Path) -> str:
    """The leaderboard's numbers without wall times and file hashes."""
    data = json.loads(path.read_text())
    for rows in data["families"].values():
        for row in rows:
            row.pop("decide_seconds", None)
    return re.sub(r"@[0-9a-f]{8}", "@", json.dumps(data, sort_keys=True))


def table(results: list[dict], args: argparse.Namespace, overrides: list[str], same: bool) -> str:
    serial = results[0]["wall_seconds"]
    lines = [
        f"# Backends: wall time of `assort run` ({datetime.date.today().isoformat()})",
        "",
        f"Config `{args.config}`"
        + (f", timesteps scaled by {args.timesteps_scale}" if args.timesteps_scale != 1 else "")
        + (f", overrides `{' '.join(args.override)}`" if args.override else "")
        + f"; machine: {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}, ray {_version('ray')}.",
        "",
        "| backend | wall time | training phase | speed-up (wall) | load average before / after |",
        "|---|---:|---:|---:|---|",
    ]
    for result in results:
        training = result["training_seconds"]
        lines.append(
            f"| {result['backend']} | {result['wall_seconds']:.0f} s | "
            + (f"{training:.0f} s" if training is not None else "-")
            + f" | {serial / result['wall_seconds']:.2f}x | "
            f"{result['load_before'][0]:.1f} / {result['load_after'][0]:.1f} |"
        )
    lines += [
        "",
        "Leaderboard numbers of the two runs: "
        + ("identical." if same else "**DIFFERENT** (a bug: they must be equal)."),
        "",
        "Commands (each in fresh folders):",
        "",
    ]
    lines += [f"    {result['command']}" for result in results]
    if overrides:
        lines += ["", "Timestep overrides: " + " ".join(f"`{o}`" for o in overrides)]
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/configs/serious.yaml")
    parser.add_argument("--timesteps-scale", type=float, default=1.0)
    parser.add_argument("--override", action="append", default=[])
    parser.add_argument("--workers", type=int, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--work", help="folder for both runs (default: a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_backends.md"))
    args = parser.parse_args()
    overrides = args.override + scaled_overrides(args.config, args.override, args.timesteps_scale)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-backends-"))
    results = []
    for backend in BACKENDS:
        print(f"running {backend} in {work / backend} ...", flush=True)
        results.append(run_once(backend, args, work, overrides))
        print(f"  {results[-1]['wall_seconds']:.0f} s", flush=True)
    same = numbers(results[0]["leaderboard"]) == numbers(results[1]["leaderboard"])
    report = table(results, args, overrides, same)
    Path(args.out).write_text(report)
    print(report)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
