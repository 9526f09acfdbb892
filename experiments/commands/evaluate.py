"""``assort evaluate``: simulate seasons of a stock vector and report profit and KPIs.

    assort evaluate --instance P --stock S.json [--seasons K] [--seed N] [--json]
    assort evaluate --family F --instance-seed S [--family-set KEY=VALUE ...] --stock S.json ...

The stock file is a JSON list of N non-negative integers, one per product (whole-number floats
such as 3.0 are accepted). --family/--instance-seed builds the instance in memory, which is the
only way to evaluate the multistep family's ground-truth shopper: an instance file holds only its
fitted Markov chain (files of the shock and segment families hold their process, see
envs.instance). Season k of seed N meets the same customers whatever the stock (common
random numbers), so two stock files evaluated with the same --seed are a paired comparison.

Output: mean profit with its standard error, fill rate (purchases / (purchases + lost)), lost
customers, substitutions, leftover units and mean sales per product; with --json one JSON
object (keys mean_profit, std_error, seasons, fill_rate, mean_lost, mean_sales, ...).
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from envs.instance import Instance, load_stock
from envs.simulate import Evaluation, evaluate
from experiments.commands.common import add_instance_arguments, instance_from_args

SHOWN_PRODUCTS = 30
PROCESS_NAMES = {
    "MultiStepShopper": "multistep-shopper",
    "ShockShopper": "shocked-seasons",
    "SegmentShopper": "segments",
}
"""The ``customer_process`` reported for each kind of ground-truth shopper."""
"""Without --json, catalogs above this size list only their best-selling products."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="simulate seasons of a stock vector: mean profit, standard error, KPIs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_instance_arguments(parser)
    parser.add_argument(
        "--stock",
        required=True,
        metavar="S.json",
        help="stock file: JSON list of N non-negative integers",
    )
    parser.add_argument(
        "--seasons", type=int, default=1000, metavar="K", help="seasons to simulate (default 1000)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="simulation seed (default 0)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    instance = instance_from_args(args)
    stock = load_stock(args.stock, instance.n_products)
    evaluation = evaluate(instance, stock, args.seasons, args.seed)
    process = (
        "markov-chain"
        if instance.shopper is None
        else PROCESS_NAMES.get(type(instance.shopper).__name__, "ground-truth")
    )
    if args.json:
        record = {
            "instance": instance.name,
            "n_products": instance.n_products,
            "customers": instance.customers,
            "arrivals": instance.arrivals,
            "customer_process": process,
            "seed": args.seed,
            "stock_file": args.stock,
            "total_stock": int(stock.sum()),
            **evaluation.to_dict(),
        }
        if not math.isfinite(record["std_error"]):
            record["std_error"] = None  # one season has no standard error
        print(json.dumps(record, allow_nan=False))
        return 0
    print(summary(instance, stock, evaluation, process, args))
    return 0


def summary(
    instance: Instance,
    stock: np.ndarray,
    evaluation: Evaluation,
    process: str,
    args: argparse.Namespace,
) -> str:
    """A readable report of an evaluation."""
    offered = int(np.count_nonzero(stock))
    lines = [
        f"instance         {instance.name}: {instance.n_products} products, "
        f"{instance.customers} customers ({instance.arrivals}), {process} customers",
        f"stock            {int(stock.sum())} units in {offered} of {instance.n_products} products "
        f"({args.stock})",
        f"seasons          {evaluation.seasons} (seed {args.seed})",
        f"mean profit      {evaluation.mean_profit:.4f} +- {evaluation.std_error:.4f} "
        "(standard error)",
        f"fill rate        {evaluation.fill_rate:.4f}",
        f"lost customers   {evaluation.mean_lost:.3f} per season",
        f"substitutions    {evaluation.mean_substitutions:.3f} per season",
        f"leftover units   {evaluation.mean_leftover:.3f} per season",
    ]
    order = np.arange(instance.n_products)
    if instance.n_products > SHOWN_PRODUCTS:
        order = np.argsort(-evaluation.mean_sales, kind="stable")[:SHOWN_PRODUCTS]
        lines.append(
            f"mean sales per season, the {SHOWN_PRODUCTS} best-selling of "
            f"{instance.n_products} products (--json lists all):"
        )
    else:
        lines.append("mean sales per season:")
    lines.append("  product     stock      sales")
    lines.extend(f"  {i:>7d} {stock[i]:>9d} {evaluation.mean_sales[i]:>10.3f}" for i in order)
    return "\n".join(lines)
