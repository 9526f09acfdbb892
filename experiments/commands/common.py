"""Arguments shared by several commands: how an instance is named, and KEY=VALUE settings."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envs.families import FAMILIES, make_family_instance
from envs.instance import Instance, load_instance
from envs.validation import InputError
from experiments.backends import BACKENDS, Backend, make_backend, shared_path
from experiments.config import ExperimentConfig
from experiments.progress import MODES, Reporter

MAX_SETTINGS = 100
MAX_SETTING_CHARACTERS = 10_000


def add_instance_arguments(parser: argparse.ArgumentParser) -> None:
    """--instance P, or --family F --instance-seed S [--family-set KEY=VALUE ...]."""
    parser.add_argument("--instance", metavar="P", help="instance JSON file")
    parser.add_argument(
        "--family", help=f"build the instance of a family instead: {', '.join(FAMILIES)}"
    )
    parser.add_argument(
        "--instance-seed", type=int, metavar="S", help="seed of the family instance"
    )
    parser.add_argument(
        "--family-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a family knob (with --family; repeatable)",
    )


def instance_from_args(args: argparse.Namespace) -> Instance:
    """The instance named by the arguments of :func:`add_instance_arguments`: an instance file,
    or a family instance built in memory (the only way to reach a ground-truth customer
    process, which the instance file cannot hold)."""
    if args.instance is not None:
        if args.family is not None or args.instance_seed is not None or args.family_set:
            raise InputError(
                "give either --instance P or --family F --instance-seed S [--family-set ...], "
                "not both"
            )
        return load_instance(args.instance)
    if args.family is None or args.instance_seed is None:
        raise InputError("give the instance: --instance P, or --family F with --instance-seed S")
    return make_family_instance(args.family, args.instance_seed, **parse_settings(args.family_set))


def parse_settings(pairs: list[str], flag: str = "--family-set") -> dict[str, Any]:
    """``["n_products=50", "arrivals=poisson"]`` -> ``{"n_products": 50, "arrivals": "poisson"}``.

    A value is read as JSON when it parses (numbers, true/false), otherwise kept as a string;
    the receiver then checks each setting. A repeated key is refused, and so are more than
    ``MAX_SETTINGS`` settings or one longer than ``MAX_SETTING_CHARACTERS``.
    """
    if len(pairs) > MAX_SETTINGS:
        raise InputError(f"{flag} is given {len(pairs)} times; at most {MAX_SETTINGS} settings")
    settings: dict[str, Any] = {}
    for pair in pairs:
        if len(pair) > MAX_SETTING_CHARACTERS:
            raise InputError(
                f"{flag} {pair[:40]!r}... is {len(pair):,} characters long; at most "
                f"{MAX_SETTING_CHARACTERS:,}"
            )
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"{flag} expects KEY=VALUE (e.g. n_products=50); got {pair!r}")
        if key in settings:
            raise InputError(f"{flag} gives {key!r} twice; give each setting once")
        try:
            settings[key] = json.loads(text)
        except (ValueError, RecursionError):
            settings[key] = text
    return settings


# ----------------------------------------------------------------------------- backends


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend, --address, --workers and --shared-dir (see :mod:`experiments.backends`)."""
    group = parser.add_argument_group("where the tasks run (see README: Running on a cluster)")
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="serial: one task after another in this process (default); ray: every training "
        'run and leaderboard cell a Ray task of one CPU (pip install -e ".[ray]")',
    )
    group.add_argument(
        "--address",
        metavar="ADDR",
        help="with --backend ray: join the Ray cluster at ADDR ('auto' or HOST:PORT) instead of "
        "starting a local Ray; needs --shared-dir",
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --backend ray and no --address: CPUs of the local Ray (default: all cores)",
    )
    group.add_argument(
        "--shared-dir",
        metavar="DIR",
        help="a folder every worker reaches (required with --address): run folders go to "
        "DIR/runs and the result store to DIR/store unless --runs-dir/--store say otherwise",
    )


def add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    """--progress MODE and its short form --no-progress."""
    parser.add_argument(
        "--progress",
        choices=MODES,
        default="auto",
        help="progress display: bars (one per phase, with counts and ETA), lines (a plain line "
        "every few seconds, for logs), none; auto (default): bars on a terminal, lines in a "
        "file, a pipe or under CI",
    )
    parser.add_argument("--no-progress", action="store_true", help="the same as --progress none")


def reporter_from_args(args: argparse.Namespace, prefix: str) -> Reporter:
    """The progress display the arguments ask for, on stderr."""
    return Reporter(prefix, mode="none" if args.no_progress else args.progress)


@contextlib.contextmanager
def backend_from_args(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend of :func:`add_backend_arguments`, closed (a local Ray stopped) on exit."""
    if args.address is not None and args.shared_dir is None:
        raise InputError(
            "--address joins a Ray cluster whose workers run on other machines: name a folder "
            "every node reaches with --shared-dir DIR (run folders go to DIR/runs, the result "
            "store to DIR/store)"
        )
    backend = make_backend(args.backend, address=args.address, workers=args.workers)
    try:
        yield backend
    finally:
        backend.close()


def task_path(args: argparse.Namespace, given: str | None, shared_name: str) -> str | None:
    """Where tasks read and write a folder: ``given`` (a flag's value), else
    ``--shared-dir/<shared_name>``, else None (the caller's default). With the Ray backend
    the path is made absolute, since workers do not share this process's working directory."""
    path = given
    if path is None and args.shared_dir is not None:
        path = str(Path(args.shared_dir) / shared_name)
    if path is not None and args.backend != "serial":
        path = shared_path(path)
    return path


def with_runs_dir(args: argparse.Namespace, config: ExperimentConfig) -> ExperimentConfig:
    """``config`` with ``train.runs_dir`` from --runs-dir or --shared-dir (:func:`task_path`),
    made absolute for the Ray backend."""
    runs_dir = task_path(args, getattr(args, "runs_dir", None), "runs")
    if runs_dir is None and args.backend != "serial":
        runs_dir = shared_path(config.train.runs_dir)
    if runs_dir is None:
        return config
    return dataclasses.replace(config, train=dataclasses.replace(config.train, runs_dir=runs_dir))


def store_path(args: argparse.Namespace, out: Path) -> str:
    """The result store's folder: --store, else --shared-dir/store, else ``out/store``
    (absolute with the Ray backend)."""
    given = task_path(args, args.store, "store")
    return given if given is not None else str(task_path(args, str(out / "store"), "store"))
