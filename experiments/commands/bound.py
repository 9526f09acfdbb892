"""``assort bound``: the fluid LP upper bound on expected profit of an instance.

    assort bound --instance P [--method auto|fixed-point|highs] [--json]
    assort bound --family F --instance-seed S [--family-set KEY=VALUE ...] ...

No stocking policy earns more in expectation than the bound (DESIGN.md 5). With --json one JSON
object with the keys lp_bound, status, method, solve_seconds, assortment_size, n_products,
customers; lp_bound is null when the solve failed (never NaN). The exit code is 0 when the
status is "optimal" and 1 otherwise, with or without --json.
"""

from __future__ import annotations

import argparse
import json
import math

from envs.fluid_lp import METHODS, fluid_lp
from experiments.commands.common import add_instance_arguments, instance_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bound",
        help="the fluid LP upper bound on expected profit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_instance_arguments(parser)
    parser.add_argument("--method", choices=METHODS, default="auto", help="solver (default auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    instance = instance_from_args(args)
    solution = fluid_lp(instance, method=args.method)
    record = {
        "instance": instance.name,
        "n_products": instance.n_products,
        "customers": instance.customers,
        "lp_bound": solution.value if math.isfinite(solution.value) else None,
        "status": solution.status,
        "method": solution.method,
        "solve_seconds": solution.solve_seconds,
        "assortment_size": int(solution.assortment.sum()),
    }
    code = 0 if solution.status == "optimal" else 1
    if args.json:
        print(json.dumps(record, allow_nan=False))
        return code
    print(
        f"instance         {instance.name}: {instance.n_products} products, "
        f"{instance.customers} customers"
    )
    print(
        f"lp bound         {solution.value:.6f} ({solution.status}, {solution.method}, "
        f"{solution.solve_seconds:.3f} s)"
    )
    print(f"fluid assortment {record['assortment_size']} of {instance.n_products} products")
    return code
