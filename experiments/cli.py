"""The ``assort`` command line: one sub-command per module in :mod:`experiments.commands`.

Each command module defines ``add_parser(subparsers)`` (which registers its arguments and sets
``func``) and returns a process exit code from ``func(args)``. Bad input, that is the
project's :class:`~envs.validation.InputError` family and any ``OSError`` (a denied permission,
a name too long, a full disk), is printed as one line on stderr with exit code 2, never as a
traceback. Every other exception is a bug in this project and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from envs.validation import InputError
from experiments.commands import (
    bound,
    evaluate,
    generate,
    leaderboard,
    policies,
    run,
    solve,
    train,
    tune,
)

COMMANDS = (generate, evaluate, bound, solve, policies, train, tune, leaderboard, run)
"""The command modules, in the order ``assort --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assort",
        description="Joint assortment and inventory planning under dynamic substitution.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"assort {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        message = str(exc).replace("\n", "\\n")  # one line, whatever the input held
        print(f"assort {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
