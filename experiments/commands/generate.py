"""``assort generate``: write a seeded instance of a named family as JSON.

    assort generate --family F --seed S [--set KEY=VALUE ...] --out PATH

The file uses the instance JSON format (envs.instance); the same family, seed and --set values
always give the same file. Files of the shock families (market, popularity, fashion, households)
and the segment families (segments, drift) hold their ground-truth process in a process block.
For the multistep family the file holds the *fitted Markov chain approximation* only: the format
has no place for the shopper itself, so a simulation of the file runs Markov chain customers.
Evaluate the ground truth with ``assort evaluate --family multistep --instance-seed S``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from envs.families import FAMILIES, make_family_instance
from envs.instance import process_block, save_instance
from experiments.commands.common import parse_settings


def family_epilog() -> str:
    """The families and their knobs, for ``--help``."""
    lines = ["families (knob defaults in brackets; change them with --set):"]
    for name, spec in FAMILIES.items():
        knobs = ", ".join(f"{key}={value}" for key, value in spec.defaults.items())
        lines.append(
            textwrap.fill(
                spec.description, 92, initial_indent=f"  {name}: ", subsequent_indent="      "
            )
        )
        lines.append(
            textwrap.fill(f"[{knobs}]", 92, initial_indent="      ", subsequent_indent="       ")
        )
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a seeded instance of a named family as JSON",
        description=__doc__,
        epilog=family_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--family", required=True, help=f"one of: {', '.join(FAMILIES)}")
    parser.add_argument(
        "--seed", type=int, required=True, help="instance seed (non-negative integer)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a family knob, e.g. n_products=50 (repeatable)",
    )
    parser.add_argument("--out", required=True, help="path of the JSON file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    instance = make_family_instance(args.family, args.seed, **parse_settings(args.set, "--set"))
    save_instance(instance, args.out)
    storage = "sparse" if instance.is_sparse else "dense"
    print(
        f"wrote {instance.name} ({instance.n_products} products, {instance.customers} customers, "
        f"{storage} substitution) to {args.out}"
    )
    if instance.shopper is not None and process_block(instance) is None:
        sets = "".join(f" --family-set {pair}" for pair in args.set)
        print(
            f"note: {args.out} holds the fitted Markov chain approximation of the multi-step "
            "shopper, not the shopper itself (the instance format has no place for it); evaluate "
            f"the ground truth with --family {args.family} --instance-seed {args.seed}{sets}",
            file=sys.stderr,
        )
    return 0
