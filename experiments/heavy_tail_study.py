"""The heavy-tail story: gap to the fluid bound as the catalog N grows with the season length T.

    python -m experiments.heavy_tail_study [--quick]

Heavy-tail family instances (popularity rank^-1.5, 5 neighbour substitutes) with
T in ``T_VALUES`` and N = round(c T^beta) for each scaling (beta = 1: N = T / 10; beta = 0.5:
N = 10 sqrt(T)). Each policy in ``STUDIED`` plans with its own seed and is simulated on the same
seasons (common random numbers). The *gap* is bound - mean profit (absolute, in money); its
growth is summarized by the least-squares slope of log(gap) against log(T) over the T values
(averaged over instance seeds first). For reference, sqrt(N T) grows with slope (1 + beta) / 2
and a gap linear in T has slope 1. Writes ``experiments/results/heavy_tail.{md,json,png}``
(``heavy_tail_quick.*`` with ``--quick``); resumable like :mod:`experiments.heuristics_study`.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from baselines.bound import fluid_lp
from envs.families import make_family_instance
from experiments.heuristics_study import (
    EVALUATION_SEED,
    PLANNING_SEED,
    RESULTS,
    load_records,
    mean_ci,
    plan,
    save_json,
    season_profits,
)

STUDIED = ("pooled-saa", "saa", "fluid", "assortment-newsvendor", "sample-path-gradient")
SCALINGS = {"1": (0.1, 1.0), "0.5": (10.0, 0.5)}

SETTINGS = {
    "full": {
        "t_values": (1_000, 3_000, 10_000, 30_000, 100_000),
        "scalings": ("1", "0.5"),
        "instance_seeds": (0, 1),
        "seasons": 200,
    },
    "quick": {
        "t_values": (1_000, 3_000, 10_000),
        "scalings": ("1",),
        "instance_seeds": (0,),
        "seasons": 100,
    },
}


def catalog_size(customers: int, scaling: str) -> int:
    factor, beta = SCALINGS[scaling]
    return max(2, int(round(factor * customers**beta)))


def run_point(
    scaling: str,
    customers: int,
    seed: int,
    settings: dict[str, Any],
    records: dict[str, dict[str, Any]],
    save,
) -> None:
    n = catalog_size(customers, scaling)
    pending = [p for p in STUDIED if f"{scaling}/{customers}/{seed}/{p}" not in records]
    if not pending:
        return
    instance = make_family_instance("heavy-tail", seed, n_products=n, customers=customers)
    bound = fluid_lp(instance).value
    for name in pending:
        key = f"{scaling}/{customers}/{seed}/{name}"
        planned = plan(name, instance, PLANNING_SEED + seed)
        profits = season_profits(instance, planned["stock"], settings["seasons"])
        mean, half = mean_ci(profits)
        records[key] = {
            "key": key,
            "scaling": scaling,
            "customers": customers,
            "n_products": n,
            "seed": seed,
            "policy": name,
            "lp_bound": bound,
            "mean_profit": mean,
            "ci95": half,
            "gap": bound - mean,
            "gap_pct": 100 * (bound - mean) / bound,
            "solve_seconds": planned["solve_seconds"],
            "info": planned["info"],
            "stocked_products": int((planned["stock"] > 0).sum()),
            "lp_tail_share": float(np.mean(instance.customers * instance.arrival < 1.0)),
        }
        save()
        print(
            f"{key}: gap {100 * (bound - mean) / bound:.2f}% in {planned['solve_seconds']:.1f} s",
            flush=True,
        )


def summarize(records: dict[str, dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """Per scaling and policy: mean gap per T and the fitted slope of log(gap) on log(T)."""
    out: dict[str, Any] = {}
    for scaling in settings["scalings"]:
        out[scaling] = {}
        for name in STUDIED:
            points = []
            for t in settings["t_values"]:
                found = [
                    r
                    for r in records.values()
                    if r["scaling"] == scaling and r["customers"] == t and r["policy"] == name
                ]
                if found:
                    points.append(
                        {
                            "customers": t,
                            "n_products": found[0]["n_products"],
                            "gap": float(np.mean([r["gap"] for r in found])),
                            "gap_pct": float(np.mean([r["gap_pct"] for r in found])),
                            "ci95": math.sqrt(sum(r["ci95"] ** 2 for r in found)) / len(found),
                            "solve_seconds": float(np.mean([r["solve_seconds"] for r in found])),
                            "stocked_products": float(
                                np.mean([r["stocked_products"] for r in found])
                            ),
                        }
                    )
            usable = [p for p in points if p["gap"] > 0]
            slope = float("nan")
            if len(usable) >= 2:
                log_t = np.log([p["customers"] for p in usable])
                slope = float(np.polyfit(log_t, np.log([p["gap"] for p in usable]), 1)[0])
            out[scaling][name] = {"points": points, "slope": slope}
    return out


def markdown(summary: dict[str, Any], settings: dict[str, Any], mode: str) -> str:
    lines = [
        f"# Heavy-tail study ({mode})",
        "",
        f"Command: `python -m experiments.heavy_tail_study{' --quick' if mode == 'quick' else ''}`. "
        f"Family heavy-tail, instance seeds {list(settings['instance_seeds'])}, {settings['seasons']} "
        f"CRN seasons (seed {EVALUATION_SEED}), default knobs (deterministic budgets, no time "
        "limits). Gap = fluid bound - mean profit; slope = least-squares slope of log(gap) on log(T).",
        "",
    ]
    for scaling, policies in summary.items():
        factor, beta = SCALINGS[scaling]
        lines += [
            f"## N = {factor:g} T^{beta:g} (sqrt(N T) has slope {(1 + beta) / 2:g})",
            "",
            "| policy | slope | "
            + " | ".join(
                f"T={p['customers']} N={p['n_products']}"
                for p in next(iter(policies.values()))["points"]
            )
            + " |",
            "|---|---:|" + "---:|" * len(next(iter(policies.values()))["points"]),
        ]
        for name, data in policies.items():
            cells = " | ".join(
                f"{p['gap_pct']:.2f}% ({p['gap']:.0f} ±{p['ci95']:.0f}, {p['solve_seconds']:.1f} s)"
                for p in data["points"]
            )
            lines.append(f"| {name} | {data['slope']:.3f} | {cells} |")
        lines += ["", "Cells: gap as % of the bound (absolute gap ± 95% CI, solve seconds).", ""]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4.5), squeeze=False)
    for ax, (scaling, policies) in zip(axes[0], summary.items()):
        factor, beta = SCALINGS[scaling]
        for name, data in policies.items():
            t = np.array([p["customers"] for p in data["points"]], dtype=float)
            gap = np.array([p["gap"] for p in data["points"]])
            ax.loglog(t, np.maximum(gap, 1e-9), "o-", label=f"{name} (slope {data['slope']:.2f})")
        t = np.array([p["customers"] for p in next(iter(policies.values()))["points"]], dtype=float)
        n = np.array(
            [p["n_products"] for p in next(iter(policies.values()))["points"]], dtype=float
        )
        if t.size:
            ref = np.sqrt(n * t)
            first_gap = next(iter(policies.values()))["points"][0]["gap"]
            ax.loglog(t, ref * first_gap / ref[0], "k--", label="sqrt(N T) (scaled)")
        ax.set_xlabel("T (customers per season)")
        ax.set_ylabel("fluid bound - mean profit")
        ax.set_title(f"heavy-tail, N = {factor:g} T^{beta:g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="T up to 10,000, N = T / 10 only, one seed"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = {"mode": mode, **SETTINGS[mode]}
    stem = "heavy_tail_quick" if args.quick else "heavy_tail"
    json_path = RESULTS / f"{stem}.json"
    records = load_records(json_path, settings)
    begin = time.perf_counter()
    for scaling in settings["scalings"]:
        for customers in settings["t_values"]:
            for seed in settings["instance_seeds"]:
                run_point(
                    scaling,
                    customers,
                    seed,
                    settings,
                    records,
                    lambda: save_json(json_path, settings, records),
                )
    summary = summarize(records, settings)
    save_json(json_path, settings, records, summary=summary)
    text = markdown(summary, settings, mode)
    (RESULTS / f"{stem}.md").write_text(text)
    plot(summary, RESULTS / f"{stem}.png")
    print(text)
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
