"""The heavy-tail story: gap to the fluid bound as the catalog N grows with the season length T.

    python -m experiments.heavy_tail_study [--quick] [--family F] [--store DIR]

Instances of a family (default ``heavy-tail``: popularity rank^-1.5, 5 neighbour substitutes)
with T in ``T_VALUES`` and N = round(c T^beta) for each scaling (beta = 1: N = T / 10;
beta = 0.5: N = 10 sqrt(T)), at held-out instance seeds. The ``pooling-trap`` family (the
worst case for rounding the fluid LP, :mod:`envs.families`) is studied at its own scaling,
N = 0.4 T (so its tail keeps 30 % of the first choices at every T): there a gap linear in T and
sqrt(N T) both have slope 1, so the slope separates a linear loss from the sqrt(H T) loss of a
policy that pools the tail into its H = 5 head products (slope 0.5); the share of the bound
tells the same story (constant, or falling like T^-1/2). The policies of ``STUDIED`` are
evaluated by the leaderboard's own pipeline (:mod:`experiments.evaluation`: planning seeds
independent of the customers, the same seasons for every policy, results kept in a
:class:`~experiments.store.ResultStore` so an interrupted study resumes) and its interval
formula (:func:`experiments.statistics.stratified_mean_ci`). The *gap* is bound - mean profit
(absolute, in money); its growth is summarized by the least-squares slope of log(gap) against
log(T) over the T values (gaps averaged over instance seeds first). For reference, sqrt(N T)
grows with slope (1 + beta) / 2 and a gap linear in T has slope 1. Writes
``experiments/results/<stem>.{md,json,png}`` with stem ``heavy_tail`` (``heavy_tail_quick``
with ``--quick``; the family's name for another family).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from envs.families import FAMILIES, make_family_instance
from envs.fluid_lp import fluid_lp
from experiments.contenders import heuristic_contender
from experiments.evaluation import Counts, evaluate_member
from experiments.statistics import stratified_mean_ci
from experiments.store import ResultStore
from experiments.suite import SuiteInstance, suite_instance

RESULTS = Path(__file__).resolve().parent / "results"
EVALUATION_SEED = 20_261_124
STUDIED = ("pooled-saa", "saa", "fluid", "assortment-newsvendor", "sample-path-gradient")
SCALINGS = {"1": (0.1, 1.0), "0.5": (10.0, 0.5), "trap": (0.4, 1.0)}
FAMILY_SCALINGS = {"pooling-trap": ("trap",)}
"""Families studied at their own catalog scaling instead of the settings' scalings."""

SETTINGS = {
    "full": {
        "t_values": (1_000, 3_000, 10_000, 30_000, 100_000),
        "scalings": ("1", "0.5"),
        "instance_seeds": (1_000_000, 1_000_001),
        "seasons": 200,
    },
    "quick": {
        "t_values": (1_000, 3_000, 10_000),
        "scalings": ("1",),
        "instance_seeds": (1_000_000,),
        "seasons": 100,
    },
}


def catalog_size(customers: int, scaling: str) -> int:
    """N = round(c T^beta) (at least 2) for the scaling's (c, beta)."""
    factor, beta = SCALINGS[scaling]
    return max(2, int(round(factor * customers**beta)))


def study_instance(family: str, scaling: str, customers: int, seed: int) -> SuiteInstance:
    """The suite instance of one point, labelled ``<family>.T<T>.N<N>``."""
    n = catalog_size(customers, scaling)
    overrides = {"n_products": n, "customers": customers}
    instance = make_family_instance(family, seed, **overrides)
    label = f"{family}.T{customers}.N{n}"
    return suite_instance(label, seed, instance, fluid_lp(instance).value, overrides)


def run_study(family: str, settings: dict[str, Any], store: ResultStore) -> list[dict[str, Any]]:
    """One record per (scaling, T, policy): gap interval over the instance seeds, solve time,
    stocked products."""
    contenders = [heuristic_contender(name) for name in STUDIED]
    counts = Counts()
    records = []
    for scaling in settings["scalings"]:
        for customers in settings["t_values"]:
            items = [
                study_instance(family, scaling, customers, seed)
                for seed in settings["instance_seeds"]
            ]
            for contender in contenders:
                (member,) = contender.members
                outcomes = [
                    evaluate_member(
                        member,
                        item,
                        seasons=settings["seasons"],
                        seed=EVALUATION_SEED,
                        store=store,
                        counts=counts,
                        progress=print,
                    )
                    for item in items
                ]
                gaps = stratified_mean_ci([o.item.bound - o.record.profits for o in outcomes])
                shares = stratified_mean_ci(
                    [100 * (o.item.bound - o.record.profits) / o.item.bound for o in outcomes]
                )
                records.append(
                    {
                        "scaling": scaling,
                        "customers": customers,
                        "n_products": items[0].instance.n_products,
                        "policy": contender.name,
                        "gap": gaps.to_dict(),
                        "gap_pct": shares.to_dict(),
                        "solve_seconds": float(np.mean([o.decision.seconds for o in outcomes])),
                        "stocked_products": float(
                            np.mean([np.count_nonzero(o.decision.stock) for o in outcomes])
                        ),
                    }
                )
    return records


def summarize(records: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """Per scaling and policy: the points in T order and the fitted slope of log(gap) on
    log(T) (over the points with a positive gap)."""
    out: dict[str, Any] = {}
    for scaling in settings["scalings"]:
        out[scaling] = {}
        for name in STUDIED:
            points = sorted(
                (r for r in records if r["scaling"] == scaling and r["policy"] == name),
                key=lambda r: r["customers"],
            )
            usable = [p for p in points if p["gap"]["mean"] > 0]
            slope = float("nan")
            if len(usable) >= 2:
                log_t = np.log([p["customers"] for p in usable])
                log_gap = np.log([p["gap"]["mean"] for p in usable])
                slope = float(np.polyfit(log_t, log_gap, 1)[0])
            out[scaling][name] = {"points": points, "slope": slope}
    return out


def markdown(summary: dict[str, Any], settings: dict[str, Any], family: str, command: str) -> str:
    lines = [
        f"# Scaling study: {family}",
        "",
        f"Command: `{command}`. Held-out instance seeds {list(settings['instance_seeds'])}, "
        f"{settings['seasons']} seasons on common random numbers (seed {EVALUATION_SEED}), "
        "default knobs (deterministic budgets), evaluated by the leaderboard's pipeline. "
        "Gap = fluid bound - mean profit; slope = least-squares slope of log(gap) on log(T).",
        "",
    ]
    for scaling, policies in summary.items():
        factor, beta = SCALINGS[scaling]
        first = next(iter(policies.values()))["points"]
        lines += [
            f"## N = {factor:g} T^{beta:g} (sqrt(N T) has slope {(1 + beta) / 2:g})",
            "",
            "| policy | slope | "
            + " | ".join(f"T={p['customers']} N={p['n_products']}" for p in first)
            + " |",
            "|---|---:|" + "---:|" * len(first),
        ]
        for name, data in policies.items():
            cells = " | ".join(
                f"{p['gap_pct']['mean']:.2f}% ({p['gap']['mean']:.0f} "
                f"±{p['gap']['high'] - p['gap']['mean']:.0f}, {p['solve_seconds']:.1f} s)"
                for p in data["points"]
            )
            lines.append(f"| {name} | {data['slope']:.3f} | {cells} |")
        lines += ["", "Cells: gap as % of the bound (absolute gap ± 95% CI, solve seconds).", ""]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path, family: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4.5), squeeze=False)
    for ax, (scaling, policies) in zip(axes[0], summary.items()):
        factor, beta = SCALINGS[scaling]
        for name, data in policies.items():
            t = np.array([p["customers"] for p in data["points"]], dtype=float)
            gap = np.array([p["gap"]["mean"] for p in data["points"]])
            ax.loglog(t, np.maximum(gap, 1e-9), "o-", label=f"{name} (slope {data['slope']:.2f})")
        first = next(iter(policies.values()))["points"]
        t = np.array([p["customers"] for p in first], dtype=float)
        n = np.array([p["n_products"] for p in first], dtype=float)
        if t.size:
            ref = np.sqrt(n * t)
            ax.loglog(t, ref * first[0]["gap"]["mean"] / ref[0], "k--", label="sqrt(N T) (scaled)")
        ax.set_xlabel("T (customers per season)")
        ax.set_ylabel("fluid bound - mean profit")
        ax.set_title(f"{family}, N = {factor:g} T^{beta:g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="T up to 10,000, N = T / 10 only, one seed"
    )
    parser.add_argument("--family", default="heavy-tail", choices=sorted(FAMILIES))
    parser.add_argument(
        "--store", default="results/study-store", help="result store (resumes a killed study)"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = {"mode": mode, "family": args.family, **SETTINGS[mode]}
    if args.family in FAMILY_SCALINGS:
        settings["scalings"] = FAMILY_SCALINGS[args.family]
    stem = args.family.replace("-", "_") + ("_quick" if args.quick else "")
    command = "python -m experiments.heavy_tail_study" + (" --quick" if args.quick else "")
    if args.family != "heavy-tail":
        command += f" --family {args.family}"
    begin = time.perf_counter()
    records = run_study(args.family, settings, ResultStore(args.store))
    summary = summarize(records, settings)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"settings": settings, "records": records, "summary": summary}
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")
    text = markdown(summary, settings, args.family, command)
    (RESULTS / f"{stem}.md").write_text(text)
    plot(summary, RESULTS / f"{stem}.png", args.family)
    print(text)
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
