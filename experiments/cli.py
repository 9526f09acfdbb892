"""The ``assort`` command line: one sub-command per module in :mod:`experiments.commands`.

Each command module defines ``add_parser(subparsers)`` (which registers its arguments and sets
``func``) and returns a process exit code from ``func(args)``. Input errors (``ValueError``,
``TypeError``, ``KeyError`` and any ``OSError`` such as a missing file, a directory, a denied
permission or a name too long) are printed as one line on stderr with exit code 2, never as a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("generate", "evaluate", "bound", "solve", "policies", "train", "leaderboard", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assort",
        description="Joint assortment and inventory planning under dynamic substitution.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"experiments.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"experiments.commands.{name}":
                raise
            continue
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
    except (ValueError, TypeError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"assort {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
