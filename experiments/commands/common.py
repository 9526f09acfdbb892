"""Arguments shared by several commands: how an instance is named, and KEY=VALUE settings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from envs.families import FAMILIES, make_family_instance
from envs.instance import Instance, load_instance
from envs.validation import InputError

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
