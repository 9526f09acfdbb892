"""Every heuristic's gap to the exact optimum, on instances small enough for the exact DP.

    python -m experiments.exact_gaps [--quick] [--out DIR]

The exact optimum comes from :func:`baselines.exact.exact_all_stocks`: one DP over a stock box
proven to contain an optimum, which also gives the exact expected profit of every stock in the
box. Each registered heuristic (``baselines.registry.POLICIES`` except ``exact``) plans with
several planning seeds on each instance; its *gap* is (OPT - exact expected profit of its
stock) / OPT, in percent (no simulation noise anywhere: both numbers are exact). A stock
outside the box is evaluated by the DP over the box enlarged to hold it.

Instance classes (held-out instance seeds from 1,000,000; family knobs in brackets):

* ``tiny``: the tiny family (N 3, T 8, dense MC, salvage 25 % of cost);
* ``tiny-poisson``: the same with Poisson(8) customers;
* ``mnl``: the mnl family at N 3, T 8 (no-purchase share 0.2);
* ``mnl-no-outside``: the same without outside option (every customer buys while anything is
  in stock: a chain without any leak);
* ``small-4x100``, ``small-5x60``, ``small-6x40``: the small family at N 4, 5, 6 and
  T 100, 60, 40 (power-law popularity, 3 neighbour substitutes);
* ``mnl-4x100``: the mnl family at N 4, T 100;
* ``largest``: the small family at N 4, T 200 and N 5, T 100, the largest the DP solves within
  a few minutes on one core (boxes of about 2e7 states).

Each instance also gets its two upper bounds, the fluid LP bound and the scenario (MMW) bound
of :mod:`baselines.scenario_bound` with the leaderboard's budget and seed
(:func:`experiments.suite.cached_scenario_bound`), so the table checks exact optimum <= scenario
bound's upper confidence limit <= fluid bound and shows how much of the fluid bound's excess
over the optimum the scenario bound removes.

Writes ``<out>/exact_gaps.json`` (every instance, seed and stock) and ``<out>/exact_gaps.md``
(per class and heuristic: mean, median and largest gap, share of plans that are optimal; per
class: the bounds' excess over the optimum).
``--quick`` runs the tiny classes with two instances and two planning seeds (a smoke test).
``--variant LABEL=POLICY:KNOB=VALUE[,KNOB=VALUE]`` adds a row for a registered heuristic with
other knobs (values are read as YAML scalars), e.g. the gradient's former evaluation point:
``--variant gradient-randomized=sample-path-gradient:evaluate_at=randomized``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from baselines.exact import exact_all_stocks
from baselines.registry import POLICIES, solve
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import Instance
from experiments.suite import cached_scenario_bound

RESULTS = Path(__file__).resolve().parent / "results"
FIRST_SEED = 1_000_000
PLANNING_SEED = 7_000
MAX_STATES = 40_000_000
LEFT_OUT = ("exact",)
"""Registered policies that are not heuristics to measure (the oracle itself)."""

CLASSES: dict[str, dict[str, Any]] = {
    "tiny": {"family": "tiny", "overrides": {}, "instances": 10, "plans": 5},
    "tiny-poisson": {
        "family": "tiny",
        "overrides": {"arrivals": "poisson"},
        "instances": 5,
        "plans": 5,
    },
    "mnl": {
        "family": "mnl",
        "overrides": {"n_products": 3, "customers": 8},
        "instances": 5,
        "plans": 5,
    },
    "mnl-no-outside": {
        "family": "mnl",
        "overrides": {"n_products": 3, "customers": 8, "no_purchase": 0.0},
        "instances": 5,
        "plans": 5,
    },
    "small-4x100": {
        "family": "small",
        "overrides": {"n_products": 4, "customers": 100},
        "instances": 3,
        "plans": 3,
    },
    "small-5x60": {
        "family": "small",
        "overrides": {"n_products": 5, "customers": 60},
        "instances": 3,
        "plans": 3,
    },
    "small-6x40": {
        "family": "small",
        "overrides": {"n_products": 6, "customers": 40},
        "instances": 3,
        "plans": 3,
    },
    "mnl-4x100": {
        "family": "mnl",
        "overrides": {"n_products": 4, "customers": 100},
        "instances": 3,
        "plans": 3,
    },
    "largest-4x200": {
        "family": "small",
        "overrides": {"n_products": 4, "customers": 200},
        "instances": 1,
        "plans": 3,
    },
    "largest-5x100": {
        "family": "small",
        "overrides": {"n_products": 5, "customers": 100},
        "instances": 1,
        "plans": 3,
    },
}
QUICK = ("tiny", "tiny-poisson", "mnl", "mnl-no-outside")


VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {}
"""Extra rows: label -> (registered policy, knobs), from ``--variant``."""


def heuristics() -> list[str]:
    """The registered policies whose gaps are measured (the registry, not a hand-kept list),
    then the variants."""
    return [name for name in POLICIES if name not in LEFT_OUT] + list(VARIANTS)


def parse_variant(text: str) -> tuple[str, tuple[str, dict[str, Any]]]:
    """``LABEL=POLICY:KNOB=VALUE[,KNOB=VALUE]`` -> (label, (policy, knobs))."""
    label, _, rest = text.partition("=")
    policy, _, knobs = rest.partition(":")
    if not label or policy not in POLICIES:
        raise SystemExit(f"--variant {text!r}: expected LABEL=POLICY:KNOB=VALUE,...")
    pairs = [item.partition("=") for item in knobs.split(",") if item]
    return label, (policy, {key: yaml.safe_load(value) for key, _, value in pairs})


def exact_profit(instance: Instance, table: Any, stock: np.ndarray) -> float:
    """The exact expected profit of ``stock``: from the optimum's table when inside its box,
    else by the DP over the box enlarged to hold it."""
    if np.all(stock <= table.box):
        return table.profit_of(stock)
    box = np.maximum(table.box, stock)
    return exact_all_stocks(instance, box=box, max_states=MAX_STATES).profit_of(stock)


def run_class(name: str, spec: dict[str, Any], *, quick: bool, log=print) -> dict[str, Any]:
    """Every heuristic on every instance of one class, with its plans' exact gaps."""
    count = 2 if quick else spec["instances"]
    plans = 2 if quick else spec["plans"]
    instances = []
    for offset in range(count):
        seed = FIRST_SEED + offset
        instance = make_family_instance(spec["family"], seed, **spec["overrides"])
        table = exact_all_stocks(instance, max_states=MAX_STATES)
        optimum = table.best_profit
        bound, _ = cached_scenario_bound(instance, f"{name}-{seed}", None)
        record: dict[str, Any] = {
            "instance": f"{name}-{seed}",
            "seed": seed,
            "n_products": instance.n_products,
            "customers": instance.customers,
            "arrivals": instance.arrivals,
            "optimum": optimum,
            "optimal_stock": table.best_stock.tolist(),
            "box": table.box.tolist(),
            "states": int(table.profit.size),
            "dp_seconds": table.seconds,
            "fluid_bound": fluid_lp(instance).value,
            "scenario_bound": bound["scenario_bound"],
            "scenario_bound_upper": bound["scenario_bound_upper"],
            "bound_budget": [bound["scenarios"], bound["replications"]],
            "plans": {},
        }
        for policy in heuristics():
            runs = []
            target, knobs = VARIANTS.get(policy, (policy, {}))
            for plan in range(plans):
                result = solve(target, instance, rng=PLANNING_SEED + plan, **knobs)
                stock = np.asarray(result.stock, dtype=np.int64)
                value = exact_profit(instance, table, stock)
                gap = 100.0 * (optimum - value) / optimum if optimum > 0 else 0.0
                runs.append(
                    {
                        "planning_seed": PLANNING_SEED + plan,
                        "stock": stock.tolist(),
                        "profit": value,
                        "gap_pct": gap,
                        "seconds": result.solve_seconds,
                    }
                )
            record["plans"][policy] = runs
        instances.append(record)
        log(
            f"{record['instance']}: N={instance.n_products} T={instance.customers} OPT "
            f"{optimum:.4f} (box {record['box']}, {record['states']:,} states, "
            f"{table.seconds:.1f} s); mean gaps "
            + ", ".join(
                f"{p} {np.mean([r['gap_pct'] for r in runs]):.2f}%"
                for p, runs in record["plans"].items()
            )
        )
    return {"class": name, **spec, "instances": instances}


def summarize(classes: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per class (and over all classes) and heuristic: mean, median, max gap and the share of
    plans within 1e-9 of the optimum."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    pooled: dict[str, list[float]] = {}
    for data in classes:
        out[data["class"]] = {}
        for policy in heuristics():
            gaps = [r["gap_pct"] for inst in data["instances"] for r in inst["plans"][policy]]
            pooled.setdefault(policy, []).extend(gaps)
            out[data["class"]][policy] = _stats(gaps)
    out["all"] = {policy: _stats(gaps) for policy, gaps in pooled.items()}
    return out


def _stats(gaps: list[float]) -> dict[str, float]:
    values = np.asarray(gaps, dtype=np.float64)
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "max": float(values.max()),
        "optimal_share": float(np.mean(values <= 1e-7)),
        "plans": int(values.size),
    }


def markdown(classes: list[dict[str, Any]], summary: dict[str, Any], command: str) -> str:
    names = [c["class"] for c in classes]
    lines = [
        "# Exact optimality gaps",
        "",
        f"Command: `{command}`. Gap = (exact optimum - exact expected profit of the heuristic's "
        "stock) / exact optimum, in percent; both numbers exact (the DP over the proven box of "
        "baselines.exact), no simulation noise. Each heuristic planned with several planning "
        "seeds per instance (held-out instance seeds from 1,000,000).",
        "",
        "## Mean gap per class (%)",
        "",
        "| heuristic | " + " | ".join(names) + " | all: mean | median | max | optimal |",
        "|---|" + "---:|" * (len(names) + 4),
    ]
    for policy in heuristics():
        cells = " | ".join(f"{summary[c][policy]['mean']:.2f}" for c in names)
        pooled = summary["all"][policy]
        lines.append(
            f"| {policy} | {cells} | {pooled['mean']:.2f} | {pooled['median']:.2f} | "
            f"{pooled['max']:.2f} | {100 * pooled['optimal_share']:.0f}% |"
        )
    lines += ["", "## Largest gap per class (%)", ""]
    lines += ["| heuristic | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for policy in heuristics():
        cells = " | ".join(f"{summary[c][policy]['max']:.2f}" for c in names)
        lines.append(f"| {policy} | {cells} |")
    lines += ["", "## Instances and bounds", ""]
    lines += [
        "Bound excess = (bound - OPT) / OPT, averaged over the class; removed = the share of the "
        "fluid bound's excess that the scenario bound's upper limit removes (mean over instances "
        "where fluid > OPT); violations = instances with OPT above the scenario bound's upper "
        "limit (a 95% limit: about 1 in 20 may fall below OPT by chance).",
        "",
        "| class | instances | N | T | plans each | box states (largest) | DP seconds | "
        "fluid excess | scenario estimate excess | scenario UCL excess | removed | K × M | "
        "violations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for data in classes:
        items = data["instances"]
        first = items[0]
        states = max(i["states"] for i in items)
        seconds = max(i["dp_seconds"] for i in items)
        plans = len(first["plans"][heuristics()[0]])

        def excess(key: str, items=items) -> float:
            value = 100 * float(np.mean([(i[key] - i["optimum"]) / i["optimum"] for i in items]))
            return round(value, 1) + 0.0  # no "-0.0" for a round-off below the optimum

        removed = [
            (i["fluid_bound"] - i["scenario_bound_upper"]) / (i["fluid_bound"] - i["optimum"])
            for i in items
            if i["fluid_bound"] > i["optimum"] * (1 + 1e-9)
        ]
        violations = sum(i["optimum"] > i["scenario_bound_upper"] * (1 + 1e-9) for i in items)
        shown = f"{100 * np.mean(removed):.0f}%" if removed else "—"
        k, m = first["bound_budget"]
        lines.append(
            f"| {data['class']} | {len(items)} | {first['n_products']} | "
            f"{first['customers']} | {plans} | {states:,} | {seconds:.1f} | "
            f"{excess('fluid_bound'):.1f}% | {excess('scenario_bound'):.1f}% | "
            f"{excess('scenario_bound_upper'):.1f}% | {shown} | {k} × {m} | {violations} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny classes, 2 instances, 2 plans")
    parser.add_argument("--out", default=str(RESULTS), help="folder for exact_gaps.{json,md}")
    parser.add_argument(
        "--classes", nargs="*", choices=sorted(CLASSES), help="only these classes (default all)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=POLICY:KNOB=VALUE,...",
        help="also measure a registered heuristic with other knobs (repeatable)",
    )
    parser.add_argument("--stem", help="file name stem (default exact_gaps[_quick])")
    args = parser.parse_args(argv)
    VARIANTS.update(parse_variant(text) for text in args.variant)
    begin = time.perf_counter()
    chosen = args.classes or (list(QUICK) if args.quick else list(CLASSES))
    classes = [run_class(name, CLASSES[name], quick=args.quick) for name in chosen]
    summary = summarize(classes)
    command = "python -m experiments.exact_gaps" + (" --quick" if args.quick else "")
    if args.classes:
        command += " --classes " + " ".join(args.classes)
    command += "".join(f" --variant {text}" for text in args.variant)
    if args.stem:
        command += f" --stem {args.stem}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.stem or ("exact_gaps_quick" if args.quick else "exact_gaps")
    payload = {"command": command, "classes": classes, "summary": summary}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    text = markdown(classes, summary, command)
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
