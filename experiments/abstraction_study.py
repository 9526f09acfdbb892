"""The price of the Markov chain abstraction, process by process and strength by strength.

    python -m experiments.abstraction_study [--quick] [--store DIR] [--only P,...]

For each ground-truth process of :mod:`envs.families` (shocked seasons: ``market``,
``popularity``, ``fashion``, ``households``, and ``fashion`` on low-margin catalogs; customer
segments: ``segments``, ``drift``), each strength of its knob and each held-out instance seed,
every Markov chain heuristic (``MC_HEURISTICS``: they plan on the fitted chain), the truth
planner (``truth-search``: pattern search on the true process, :mod:`baselines.truth_search`)
and, for shocked seasons, the shock-aware SAA (``shock-aware-saa``: it knows the demand
environment, :mod:`baselines.shock_saa`) decide a stock, and every stock is simulated on the
same ``seasons`` seasons of the *true* process (common random numbers). Everything goes through
the leaderboard's pipeline (:mod:`experiments.evaluation`: planning seeds independent of the
customers; the truth planner's bank seeds lie in [2^62, 2^63), above the evaluation seed; the
result store, so an interrupted study resumes) and its interval formulas
(:mod:`experiments.statistics`).

The **price of the abstraction** of an instance is the truth planner's profit minus the best
MC heuristic's, paired season by season, in % of the best heuristic's mean profit. The best
heuristic is picked per instance on the evaluation seasons themselves, the conservative choice
(it can only make the price smaller). Per cell: the stratified mean over instances with its
normal interval (the customers as the random part, for these instances), a t-interval over the
instances' prices (the family as the random part), their range, and how many instances have a
price of at least 3 %. The shock-aware SAA's gain over the best MC heuristic is measured the same
way, and its share of the price is the part of the price a planner recovers without learning
once it knows the demand environment. Strength 0 (``market`` cv 0, ``segments`` loyal share 1)
makes the true process a Markov chain process: the measured "price" there is the optimizer gap
between the truth planner and the best heuristic, the noise floor of every other cell.

Writes ``experiments/results/abstraction.{json,md,png}`` (``abstraction_quick.*`` with
``--quick``; ``abstraction_scale.*`` with ``--scale``: a few cells at N = 50, T = 2,000).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.shocks import ShockShopper
from experiments.contenders import heuristic_contender
from experiments.evaluation import Contender, Counts, Outcome, evaluate_member
from experiments.statistics import stratified_mean_ci, t_interval
from experiments.store import ResultStore
from experiments.suite import SuiteInstance, suite_instance

RESULTS = Path(__file__).resolve().parent / "results"
EVALUATION_SEED = 20_261_201
MC_HEURISTICS = (
    "fluid",
    "newsvendor",
    "assortment-newsvendor",
    "saa",
    "pooled-saa",
    "sample-path-gradient",
    "local-search",
)
TRUTH = "truth-search"
AWARE = "shock-aware-saa"
MATERIAL = 3.0
"""A price of at least this many % of profit is material (the issue's bar)."""
LOW_MARGIN = {"cost_fraction_low": 0.6, "cost_fraction_high": 0.85}

PROCESSES: dict[str, dict[str, Any]] = {
    "market": {"family": "market", "knobs": ("cv_market",)},
    "popularity": {"family": "popularity", "knobs": ("cv_popularity",)},
    "fashion": {"family": "fashion", "knobs": ("cv_market", "cv_popularity")},
    "households": {"family": "households", "knobs": ("batch_mean",)},
    "fashion-low-margin": {
        "family": "fashion",
        "knobs": ("cv_market", "cv_popularity"),
        "overrides": LOW_MARGIN,
    },
    "segments": {"family": "segments", "knobs": ("loyal_share",)},
    "drift": {"family": "drift", "knobs": ("drift",)},
}
"""Each studied process: its family, the knob(s) its strength sets and fixed overrides."""

SETTINGS: dict[str, dict[str, Any]] = {
    "full": {
        "cells": {
            "market": (0.0, 0.3, 0.5),
            "popularity": (0.5, 0.8),
            "fashion": (0.3, 0.4, 0.5),
            "households": (2.0, 3.0),
            "fashion-low-margin": (0.2, 0.4),
            "segments": (1.0, 0.5),
            "drift": (0.5, 1.0),
        },
        "instance_seeds": (1_000_000, 1_000_001, 1_000_002, 1_000_003, 1_000_004),
        "seasons": 4_000,
        "bank": 1_000,
        "overrides": {},
    },
    "scale": {
        "cells": {
            "market": (0.0, 0.5),
            "fashion": (0.4,),
            "segments": (0.5,),
            "drift": (1.0,),
        },
        "instance_seeds": (1_000_000, 1_000_001, 1_000_002),
        "seasons": 2_000,
        "bank": 500,
        "overrides": {"n_products": 50, "customers": 2_000},
    },
    "quick": {
        "cells": {"market": (0.0, 0.5), "segments": (0.5,), "drift": (1.0,)},
        "instance_seeds": (1_000_000,),
        "seasons": 1_000,
        "bank": 300,
        "overrides": {"n_products": 10, "customers": 200},
    },
}


def cell_label(process: str, strength: float) -> str:
    """The suite-family label of a cell, e.g. ``fashion@0.4`` (it also keys planning seeds)."""
    return f"{process}@{strength:g}"


def cell_instance(process: str, strength: float, seed: int, extra: dict[str, Any]) -> SuiteInstance:
    """The suite instance of one (process, strength, seed)."""
    spec = PROCESSES[process]
    overrides = {**spec.get("overrides", {}), **extra}
    overrides.update({knob: strength for knob in spec["knobs"]})
    instance = make_family_instance(spec["family"], seed, **overrides)
    label = cell_label(process, strength)
    return suite_instance(label, seed, instance, fluid_lp(instance).value, overrides)


def contenders(bank: int, shocked: bool) -> list[Contender]:
    """The MC heuristics, the truth planner (bank of ``bank`` seasons) and, for shocked
    seasons, the shock-aware SAA."""
    names: list[Any] = [*MC_HEURISTICS, {"name": TRUTH, "knobs": {"seasons": bank}}]
    if shocked:
        names.append(AWARE)
    return [heuristic_contender(entry) for entry in names]


def price_summary(outcomes: dict[str, list[Outcome]]) -> dict[str, Any]:
    """The cell's numbers (module docstring) from the outcomes of every contender on the same
    instances (lists in the same instance order)."""
    truth = outcomes[TRUTH]
    best_names = []
    prices, gains = [], []
    best_means, truth_means = [], []
    for index, truth_outcome in enumerate(truth):
        mc = {
            name: outcomes[name][index].record.profits for name in MC_HEURISTICS if name in outcomes
        }
        best = max(mc, key=lambda name: float(mc[name].mean()))
        reference = mc[best]
        scale = 100.0 / float(reference.mean())
        best_names.append(best)
        best_means.append(float(reference.mean()))
        truth_means.append(float(truth_outcome.record.profits.mean()))
        prices.append(scale * (truth_outcome.record.profits - reference))
        if AWARE in outcomes:
            gains.append(scale * (outcomes[AWARE][index].record.profits - reference))
    per_instance = np.array([p.mean() for p in prices])
    summary: dict[str, Any] = {
        "instances": len(prices),
        "best_heuristic": best_names,
        "best_profit": float(np.mean(best_means)),
        "truth_profit": float(np.mean(truth_means)),
        "price_pct": stratified_mean_ci(prices).to_dict(),
        "price_pct_by_instance": per_instance.tolist(),
        "price_pct_t": t_interval(per_instance).to_dict() if len(prices) > 1 else None,
        "material_instances": int(sum(stratified_mean_ci([p]).low >= MATERIAL for p in prices)),
        "truth_evaluations": [o.decision.info.get("evaluations") for o in truth],
        "truth_stopped": [o.decision.info.get("stopped") for o in truth],
        "truth_seconds": float(np.mean([o.decision.seconds for o in truth])),
    }
    if gains:
        gain = stratified_mean_ci(gains)
        summary["aware_gain_pct"] = gain.to_dict()
        summary["aware_gain_pct_by_instance"] = [float(g.mean()) for g in gains]
        price = summary["price_pct"]["mean"]
        summary["aware_share_of_price"] = gain.mean / price if price > 0.2 else None
    return summary


def demand_cv(items: list[SuiteInstance]) -> float | None:
    """Mean over products and instances of the SKU demand CV (shocked seasons only)."""
    values = []
    for item in items:
        shopper = item.instance.shopper
        if not isinstance(shopper, ShockShopper):
            return None
        cv = shopper.demand_cv(item.instance.customers)
        values.extend(cv[np.isfinite(cv)].tolist())
    return float(np.mean(values))


def run_study(
    settings: dict[str, Any], store: ResultStore, only: set[str] | None = None
) -> list[dict[str, Any]]:
    """One record per (process, strength): the settings of the cell and its summary."""
    counts = Counts()
    records = []
    for process, strengths in settings["cells"].items():
        if only and process not in only:
            continue
        for strength in strengths:
            begin = time.perf_counter()
            items = [
                cell_instance(process, strength, seed, settings["overrides"])
                for seed in settings["instance_seeds"]
            ]
            shocked = isinstance(items[0].instance.shopper, ShockShopper) and strength > 0
            outcomes: dict[str, list[Outcome]] = {}
            for contender in contenders(settings["bank"], shocked):
                (member,) = contender.members
                outcomes[contender.name] = [
                    evaluate_member(
                        member,
                        item,
                        seasons=settings["seasons"],
                        seed=EVALUATION_SEED,
                        store=store,
                        counts=counts,
                    )
                    for item in items
                ]
            summary = price_summary(outcomes)
            record = {
                "process": process,
                "family": PROCESSES[process]["family"],
                "knobs": list(PROCESSES[process]["knobs"]),
                "strength": strength,
                "label": cell_label(process, strength),
                "demand_cv": demand_cv(items),
                **summary,
                "stocks": {
                    name: [list(o.decision.stock) for o in outs] for name, outs in outcomes.items()
                },
                "mean_profits": {
                    name: [o.record.mean_profit for o in outs] for name, outs in outcomes.items()
                },
            }
            records.append(record)
            price = summary["price_pct"]
            aware = summary.get("aware_gain_pct")
            print(
                f"{record['label']}: price {price['mean']:+.2f}% "
                f"[{price['low']:+.2f}, {price['high']:+.2f}]"
                + (f", shock-aware SAA {aware['mean']:+.2f}%" if aware else "")
                + f" ({time.perf_counter() - begin:.0f} s)",
                flush=True,
            )
    return records


def _interval(data: dict[str, float] | None, digits: int = 2) -> str:
    if data is None:
        return "-"
    return f"{data['mean']:+.{digits}f} [{data['low']:+.{digits}f}, {data['high']:+.{digits}f}]"


def markdown(records: list[dict[str, Any]], settings: dict[str, Any], command: str) -> str:
    seeds = list(settings["instance_seeds"])
    lines = [
        "# The price of the Markov chain abstraction",
        "",
        f"Command: `{command}`. Held-out instance seeds {seeds[0]:,}..{seeds[-1]:,} "
        f"({len(seeds)} per cell), {settings['seasons']:,} seasons of the true process on common "
        f"random numbers (seed {EVALUATION_SEED}), evaluated by the leaderboard's pipeline. "
        f"Truth planner: `truth-search` with a bank of {settings['bank']:,} seasons (bank seeds "
        "in [2^62, 2^63)). Price = truth planner - best MC heuristic (per instance, picked on "
        "the evaluation seasons), paired by season, in % of the best heuristic's profit; "
        "[95% CI over seasons] for these instances, [t-CI over instances] for the family. "
        f"'>= {MATERIAL:g} %' counts instances whose own interval lies at or above "
        f"{MATERIAL:g} %. Shock-aware SAA: gain over the best MC heuristic, same units; 'share' "
        "is that gain over the price.",
        "",
        "| process | knob | strength | SKU demand CV | best MC heuristic | truth planner | "
        "price % [95% CI] | [t-CI, instances] | range | >= 3 % | shock-aware SAA gain % | share |",
        "|---|---|---:|---:|---:|---:|---|---|---|---:|---|---:|",
    ]
    for r in records:
        by_instance = r["price_pct_by_instance"]
        share = r.get("aware_share_of_price")
        cv = "-" if r["demand_cv"] is None else f"{r['demand_cv']:.2f}"
        lines.append(
            f"| {r['process']} | {' = '.join(r['knobs'])} | {r['strength']:g} | {cv} | "
            f"{r['best_profit']:.1f} | {r['truth_profit']:.1f} | {_interval(r['price_pct'])} | "
            f"{_interval(r['price_pct_t'])} | {min(by_instance):+.2f} .. {max(by_instance):+.2f} "
            f"| {r['material_instances']}/{r['instances']} | "
            f"{_interval(r.get('aware_gain_pct'))} | "
            f"{'-' if share is None else f'{100 * share:.0f} %'} |"
        )
    best = {}
    for r in records:
        for name in r["best_heuristic"]:
            best[name] = best.get(name, 0) + 1
    lines += [
        "",
        "Best MC heuristic per instance (counts over all cells): "
        + ", ".join(f"{name} {count}" for name, count in sorted(best.items(), key=lambda x: -x[1]))
        + ".",
        "",
        "Truth planner: "
        + f"{sum(s == 'converged' for r in records for s in r['truth_stopped'])} of "
        + f"{sum(len(r['truth_stopped']) for r in records)} runs converged; evaluations "
        + f"{min(e for r in records for e in r['truth_evaluations'])}.."
        + f"{max(e for r in records for e in r['truth_evaluations'])}, mean solve time "
        + f"{np.mean([r['truth_seconds'] for r in records]):.0f} s.",
        "",
    ]
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    processes = list(dict.fromkeys(r["process"] for r in records))
    columns = min(4, len(processes))
    rows = -(-len(processes) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.4 * rows), squeeze=False)
    for ax, process in zip(axes.ravel(), processes):
        cell = [r for r in records if r["process"] == process]
        x = np.array([r["strength"] for r in cell])
        for key, label, style in (
            ("price_pct", "price (truth planner)", "o-"),
            ("aware_gain_pct", "shock-aware SAA gain", "s--"),
        ):
            points = [(xi, r[key]) for xi, r in zip(x, cell) if r.get(key)]
            if not points:
                continue
            xs = np.array([p[0] for p in points])
            mean = np.array([p[1]["mean"] for p in points])
            low = np.array([p[1]["low"] for p in points])
            high = np.array([p[1]["high"] for p in points])
            ax.errorbar(xs, mean, yerr=[mean - low, high - mean], fmt=style, capsize=3, label=label)
        for r, xi in zip(cell, x):
            t = r["price_pct_t"]
            if t:
                ax.vlines(xi, t["low"], t["high"], colors="grey", alpha=0.4, linewidth=6)
        ax.axhline(MATERIAL, color="red", linestyle=":", linewidth=1)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_title(process)
        ax.set_xlabel(" = ".join(cell[0]["knobs"]))
        ax.set_ylabel("% of the best MC heuristic's profit")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(processes) :]:
        ax.axis("off")
    fig.suptitle(
        "Price of the Markov chain abstraction (bars: 95% CI over seasons; grey: t-CI over "
        "instances; red: 3 %)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a few cells, N = 10, one seed")
    size.add_argument(
        "--scale", action="store_true", help="a few cells at N = 50, T = 2,000 (abstraction_scale)"
    )
    parser.add_argument(
        "--store", default="results/abstraction-store", help="result store (resumes a study)"
    )
    parser.add_argument(
        "--only", default=None, help="comma-separated processes to run (fills the store only)"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "scale" if args.scale else "full"
    settings = {"mode": mode, **SETTINGS[mode]}
    only = set(args.only.split(",")) if args.only else None
    stem = "abstraction" + ("" if mode == "full" else f"_{mode}")
    command = "python -m experiments.abstraction_study" + ("" if mode == "full" else f" --{mode}")
    begin = time.perf_counter()
    records = run_study(settings, ResultStore(args.store), only)
    if only:  # a partial run fills the store; the result files are written by full runs only
        print(markdown(records, settings, command))
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"settings": settings, "command": command, "records": records}
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    text = markdown(records, settings, command)
    (RESULTS / f"{stem}.md").write_text(text)
    plot(records, RESULTS / f"{stem}.png")
    print(text)
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
