"""Every registered heuristic on every studied family, as a percentage of the fluid LP bound.

    python -m experiments.heuristics_study [--quick]

For each family (small, medium, heavy-tail, mnl) and instance seed, every policy of
:data:`baselines.registry.POLICIES` plans with its own planning seed (``PLANNING_SEED`` + the
instance seed; never the evaluation seed) and its stock is simulated on the *same* seasons
(:func:`envs.simulate.simulate` with ``EVALUATION_SEED``: common random numbers). Reported per
family and policy: mean profit as % of the bound with a 95% CI (1.96 standard errors of the
season mean, combined over instances), the paired difference to the fluid policy in % of the
bound with its 95% CI (season-by-season differences on the same customers, far tighter than
the unpaired CIs), and the mean solve time. Policies that refuse an instance (``exact`` outside
tiny instances) are listed as refusing.

Writes ``experiments/results/heuristics.md`` and ``.json`` (``heuristics_quick.*`` with
``--quick``). Resumable: finished (family, seed, policy) records are kept in the JSON and not
recomputed. Deterministic given the seeds (solve times aside).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from baselines.bound import fluid_lp
from baselines.exact import InstanceTooLargeError
from baselines.registry import POLICIES, solve
from envs.families import make_family_instance
from envs.instance import Instance
from envs.simulate import simulate

RESULTS = Path(__file__).resolve().parent / "results"
FAMILY_NAMES = ("small", "medium", "heavy-tail", "mnl")
EVALUATION_SEED = 20_261_124
PLANNING_SEED = 1_000
REFERENCE = "fluid"
Z95 = 1.96

SETTINGS = {
    "full": {"instance_seeds": (0, 1, 2), "seasons": 1_000},
    "quick": {"instance_seeds": (0,), "seasons": 200},
}


def load_records(path: Path, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records of a previous run with the same settings, keyed by ``family/seed/policy``."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("settings") != _jsonable(settings):
        return {}
    return {record["key"]: record for record in data.get("records", [])}


def save_json(
    path: Path, settings: dict[str, Any], records: dict[str, dict[str, Any]], **extra: Any
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"settings": _jsonable(settings), "records": list(records.values()), **extra}
    path.write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def plan(name: str, instance: Instance, planning_seed: int) -> dict[str, Any]:
    """Run policy ``name`` with its default (deterministic) budgets; returns stock and solve
    time, or the refusal message of a policy that refuses the instance's size."""
    try:
        result = solve(name, instance, rng=planning_seed)
    except InstanceTooLargeError as exc:
        return {"refused": str(exc)}
    info = {k: v for k, v in result.info.items() if isinstance(v, (int, float, str, bool))}
    return {
        "stock": np.asarray(result.stock, dtype=np.int64),
        "solve_seconds": result.solve_seconds,
        "info": info,
    }


def season_profits(instance: Instance, stock: np.ndarray, seasons: int) -> np.ndarray:
    return simulate(instance, stock, seasons, EVALUATION_SEED).profit


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95% half-width (1.96 standard errors)."""
    return float(values.mean()), float(Z95 * values.std(ddof=1) / math.sqrt(values.size))


def run_instance(
    family: str,
    seed: int,
    settings: dict[str, Any],
    records: dict[str, dict[str, Any]],
    save: Callable[[], None],
) -> None:
    instance = make_family_instance(family, seed)
    bound = fluid_lp(instance).value
    seasons = settings["seasons"]
    reference = None
    for name in [REFERENCE] + [p for p in POLICIES if p != REFERENCE]:
        key = f"{family}/{seed}/{name}"
        if key in records and name != REFERENCE:
            continue
        if key in records:
            stock = np.asarray(records[key].get("stock", []), dtype=np.int64)
            reference = season_profits(instance, stock, seasons)
            continue
        planned = plan(name, instance, PLANNING_SEED + seed)
        record: dict[str, Any] = {
            "key": key,
            "family": family,
            "seed": seed,
            "policy": name,
            "n_products": instance.n_products,
            "customers": instance.customers,
            "lp_bound": bound,
        }
        if "refused" in planned:
            record["refused"] = planned["refused"]
        else:
            profits = season_profits(instance, planned["stock"], seasons)
            if name == REFERENCE:
                reference = profits
            mean, half = mean_ci(profits)
            diff, diff_half = mean_ci(profits - reference)
            record.update(
                {
                    "stock": planned["stock"].tolist(),
                    "solve_seconds": planned["solve_seconds"],
                    "info": planned["info"],
                    "mean_profit": mean,
                    "ci95": half,
                    "pct_bound": 100 * mean / bound,
                    "pct_ci95": 100 * half / bound,
                    "paired_diff_pct": 100 * diff / bound,
                    "paired_ci95_pct": 100 * diff_half / bound,
                    "stocked_products": int((planned["stock"] > 0).sum()),
                }
            )
        records[key] = record
        save()
        print(f"{key}: {record.get('pct_bound', 'refused')}", flush=True)


def summarize(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per family and policy: averages over the instance seeds."""
    rows = []
    for family in FAMILY_NAMES:
        for name in POLICIES:
            found = [r for r in records.values() if r["family"] == family and r["policy"] == name]
            if not found:
                continue
            done = [r for r in found if "refused" not in r]
            if not done:
                rows.append(
                    {"family": family, "policy": name, "instances": len(found), "refused": True}
                )
                continue
            k = len(done)
            rows.append(
                {
                    "family": family,
                    "policy": name,
                    "instances": k,
                    "refused": False,
                    "n_products": done[0]["n_products"],
                    "customers": done[0]["customers"],
                    "pct_bound": sum(r["pct_bound"] for r in done) / k,
                    "pct_ci95": math.sqrt(sum(r["pct_ci95"] ** 2 for r in done)) / k,
                    "paired_diff_pct": sum(r["paired_diff_pct"] for r in done) / k,
                    "paired_ci95_pct": math.sqrt(sum(r["paired_ci95_pct"] ** 2 for r in done)) / k,
                    "solve_seconds": sum(r["solve_seconds"] for r in done) / k,
                    "stocked_products": sum(r["stocked_products"] for r in done) / k,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]], settings: dict[str, Any], mode: str) -> str:
    lines = [
        f"# Heuristics as % of the fluid LP bound ({mode})",
        "",
        f"Command: `python -m experiments.heuristics_study{' --quick' if mode == 'quick' else ''}`. "
        f"Instance seeds {list(settings['instance_seeds'])}, {settings['seasons']} evaluation seasons "
        f"per instance on common random numbers (seed {EVALUATION_SEED}), planning seed "
        f"{PLANNING_SEED} + instance seed, default knobs (deterministic budgets, no time limits). "
        "CI: 95% over seasons (combined over instances). Paired: difference to the fluid policy on "
        "the same customers, % of the bound, 95% CI.",
        "",
        "| family | N | T | policy | % of bound | 95% CI | paired vs fluid | solve s | stocked |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row["refused"]:
            lines.append(
                f"| {row['family']} | | | {row['policy']} | refused (tiny instances only) | | | | |"
            )
            continue
        lines.append(
            f"| {row['family']} | {row['n_products']} | {row['customers']} | {row['policy']} | "
            f"{row['pct_bound']:.2f} | ±{row['pct_ci95']:.2f} | {row['paired_diff_pct']:+.2f} ± "
            f"{row['paired_ci95_pct']:.2f} | {row['solve_seconds']:.2f} | {row['stocked_products']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one instance seed, 200 seasons")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = {"mode": mode, **SETTINGS[mode]}
    stem = "heuristics_quick" if args.quick else "heuristics"
    json_path = RESULTS / f"{stem}.json"
    records = load_records(json_path, settings)
    begin = time.perf_counter()
    for family in FAMILY_NAMES:
        for seed in settings["instance_seeds"]:
            run_instance(
                family, seed, settings, records, lambda: save_json(json_path, settings, records)
            )
    rows = summarize(records)
    save_json(json_path, settings, records, summary=rows)
    (RESULTS / f"{stem}.md").write_text(markdown(rows, settings, mode))
    print(markdown(rows, settings, mode))
    print(f"done in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
