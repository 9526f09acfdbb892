"""``assort solve``: run a registered heuristic on an instance and report its stock vector.

    assort solve --instance P --policy NAME [--set KNOB=VALUE ...] [--seed S] [--out S.json]
                 [--json]
    assort solve --family F --instance-seed S [--family-set KEY=VALUE ...] --policy NAME ...

--set passes a knob to the heuristic (a value is read as JSON when it parses, else kept as a
string; unknown knobs are refused with the list of known ones, and every knob's type and range
is checked by the heuristic); --seed is its ``rng``, an integer in [0, 2**63). --out
writes the stock file (a JSON list of N integers) that ``assort evaluate --stock`` reads. With
--json one JSON object with at least policy, stock, solve_seconds and lp_bound (the fluid LP
bound, for scale), plus the heuristic's own facts. ``assort policies`` lists the names.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from baselines.registry import POLICIES, solve
from envs.fluid_lp import fluid_lp
from envs.instance import save_stock
from envs.validation import InputError, seed_iv
from experiments.commands.common import add_instance_arguments, instance_from_args, parse_settings

SHOWN_PRODUCTS = 30


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="run a heuristic policy on an instance (stock vector, solve time, LP bound)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_instance_arguments(parser)
    parser.add_argument(
        "--policy", required=True, metavar="NAME", help=f"one of: {', '.join(POLICIES)}"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="set a knob of the policy (repeatable)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="S", help="seed of the policy's randomness (its rng)"
    )
    parser.add_argument("--out", metavar="S.json", help="write the stock vector as a JSON list")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _plain(value: Any) -> Any:
    """JSON-ready copies of numpy scalars and arrays; non-finite floats become None."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args: argparse.Namespace) -> int:
    knobs = parse_settings(args.set, "--set")
    if "rng" in knobs:
        raise InputError("give the policy's seed with --seed S, not --set rng=...")
    if args.seed is not None:
        knobs["rng"] = seed_iv("--seed", args.seed)
    instance = instance_from_args(args)
    result = solve(args.policy, instance, **knobs)
    record = _plain(result.to_dict())
    if "lp_bound" not in record:
        record["lp_bound"] = _plain(fluid_lp(instance).value)
    record = {
        "instance": instance.name,
        "n_products": instance.n_products,
        "seed": args.seed,
        "knobs": _plain({k: v for k, v in knobs.items() if k != "rng"}),
        **record,
    }
    if args.out is not None:
        save_stock(result.stock, args.out)
    if args.json:
        print(json.dumps(record, allow_nan=False))
        return 0
    stock = result.stock
    offered = np.flatnonzero(stock)
    print(f"policy           {args.policy} {record['knobs'] or ''}".rstrip())
    print(
        f"instance         {instance.name}: {instance.n_products} products, "
        f"{instance.customers} customers"
    )
    print(
        f"stock            {int(stock.sum())} units in {offered.size} of "
        f"{instance.n_products} products"
    )
    print(f"solve time       {result.solve_seconds:.4f} s")
    print(f"lp bound         {record['lp_bound']}")
    shown = offered[:SHOWN_PRODUCTS]
    print(
        "stocked products (product: units): "
        + ", ".join(f"{i}: {stock[i]}" for i in shown)
        + (" ..." if offered.size > SHOWN_PRODUCTS else "")
    )
    if args.out is not None:
        print(f"stock file       {args.out}")
    return 0
