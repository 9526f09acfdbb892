"""``assort policies``: the names of the registered heuristic policies, one a line.

    assort policies [--json]

With --json a JSON list of the names. ``assort solve --policy NAME`` runs one.
"""

from __future__ import annotations

import argparse
import json

from baselines.registry import POLICIES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "policies",
        help="list the registered heuristic policies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(list(POLICIES)))
    else:
        print("\n".join(POLICIES))
    return 0
