"""``assort bound``: upper bounds on the expected profit of an instance.

    assort bound --instance P [--method auto|fixed-point|highs] [--json]
                 [--scenarios K] [--replications M] [--bound-seed S]
                 [--bound-method auto|lp|decomposed] [--no-scenario-bound]
    assort bound --family F --instance-seed S [--family-set KEY=VALUE ...] ...

Two bounds (DESIGN.md 5): the fluid LP bound (no stocking policy earns more in expectation) and
the sample-average (Mak-Morton-Wood) scenario bound of :mod:`baselines.scenario_bound`, a
tighter bound that accounts for demand variability: M replications of a K-scenario LP, each
certified by a Lagrangian dual, combined into a one-sided 95% upper confidence limit (valid
with 95% confidence over the bound's own scenarios, drawn from --bound-seed). K and M default
to the size rule of ``baselines.scenario_bound.default_budget``; K is at most 4,096 and M in
[2, 1,000]. With --json one JSON object with the keys lp_bound, status, method, solve_seconds,
assortment_size, n_products, customers, scenario_bound (the control-variate estimate),
scenario_bound_upper (its upper confidence limit), scenario_bound_plain_upper, scenarios,
replications, bound_seed, bound_methods, scenario_seconds, tightest_bound and
tightest_bound_name; bounds are null when not computed or when the solve failed (never NaN).
The exit code is 0 when the fluid LP's status is "optimal" and 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math

from baselines.scenario_bound import METHODS as BOUND_METHODS
from baselines.scenario_bound import scenario_bound
from envs.fluid_lp import METHODS, fluid_lp
from experiments.commands.common import add_instance_arguments, instance_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bound",
        help="the fluid LP and the scenario (MMW) upper bounds on expected profit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_instance_arguments(parser)
    parser.add_argument("--method", choices=METHODS, default="auto", help="fluid LP solver")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--scenarios", type=int, metavar="K", help="scenarios per replication (default: by size)"
    )
    parser.add_argument(
        "--replications", type=int, metavar="M", help="replications (default: by size)"
    )
    parser.add_argument(
        "--bound-seed", type=int, default=0, metavar="S", help="seed of the bound's scenarios"
    )
    parser.add_argument(
        "--bound-method",
        choices=BOUND_METHODS,
        default="auto",
        help="certificate: the K-scenario LP, its Lagrangian decomposition, or auto by size",
    )
    parser.add_argument(
        "--no-scenario-bound",
        action="store_true",
        help="skip the scenario bound (its keys are null)",
    )
    parser.set_defaults(func=run)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run(args: argparse.Namespace) -> int:
    instance = instance_from_args(args)
    solution = fluid_lp(instance, method=args.method)
    record = {
        "instance": instance.name,
        "n_products": instance.n_products,
        "customers": instance.customers,
        "lp_bound": _finite(solution.value),
        "status": solution.status,
        "method": solution.method,
        "solve_seconds": solution.solve_seconds,
        "assortment_size": int(solution.assortment.sum()),
        "scenario_bound": None,
        "scenario_bound_upper": None,
        "scenario_bound_plain_upper": None,
        "scenarios": None,
        "replications": None,
        "bound_seed": None,
        "bound_methods": None,
        "scenario_seconds": None,
        "tightest_bound": _finite(solution.value),
        "tightest_bound_name": "fluid",
    }
    if not args.no_scenario_bound and solution.status == "optimal":
        bound = scenario_bound(
            instance,
            scenarios=args.scenarios,
            replications=args.replications,
            rng=args.bound_seed,
            method=args.bound_method,
        )
        record.update(
            scenario_bound=_finite(bound.estimate),
            scenario_bound_upper=_finite(bound.upper),
            scenario_bound_plain_upper=_finite(bound.plain_upper),
            scenarios=bound.scenarios,
            replications=bound.replications,
            bound_seed=args.bound_seed,
            bound_methods=sorted(set(bound.methods)),
            scenario_seconds=bound.seconds,
        )
        if math.isfinite(bound.upper) and bound.upper < solution.value:
            record.update(tightest_bound=bound.upper, tightest_bound_name="scenario")
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
    if record["scenario_bound_upper"] is not None:
        print(
            f"scenario bound   {record['scenario_bound']:.6f}, 95% upper limit "
            f"{record['scenario_bound_upper']:.6f} (K = {record['scenarios']}, "
            f"M = {record['replications']}, seed {args.bound_seed}, "
            f"{'/'.join(record['bound_methods'])}, {record['scenario_seconds']:.1f} s)"
        )
    print(f"tightest bound   {record['tightest_bound']} ({record['tightest_bound_name']})")
    return code
