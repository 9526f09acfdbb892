"""Leaderboard reports: Markdown, CSV, PNG plots and one self-contained HTML page.

:func:`write_report` writes into a folder::

    leaderboard.md          every family's table, the aggregate table and what stands behind them
    leaderboard.json        every number, as computed (``Leaderboard.to_dict``)
    family-<name>.md/.csv   one family's table
    aggregate.md/.csv       normalized scores across families
    bound-<name>.png        percentage of the tightest bound with 95% intervals, per family
    aggregate-iqm.png       interquartile mean of normalized scores with bootstrap intervals
    index.html              the whole report; CSS inline and plots embedded as data URIs, so it
                            opens offline and can be mailed as one file
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.leaderboard import AggregateRow, FamilyRow, Leaderboard
from experiments.statistics import Interval
from experiments.store import atomic_write_bytes, safe_name

FEW_SEEDS = 3
"""Learned agents with fewer training seeds than this get a warning next to their rank."""

FAMILY_COLUMNS = (
    "Rank",
    "Policy",
    "Kind",
    "Mean profit [95% CI]",
    "% of tightest bound [95% CI]",
    "Across seeds 95% CI (% of bound)",
    "Δ vs best heuristic [95% CI]",
    "Δ % of bound [95% CI]",
    "Seeds",
    "Instances × seasons",
    "Timesteps",
    "Decide s",
    "Seed range (% of bound)",
)
GAP_COLUMN = "Gap closed, myopic → full information [95% CI]"
"""Shown after :data:`FAMILY_COLUMNS` on families with an information gap."""
INFORMATION_COLUMNS = (
    "Family",
    "Full information (ceiling)",
    "Myopic re-planning",
    "Value of information, points of the bound [95% CI]",
    "Value of information, profit [95% CI]",
)
AGGREGATE_COLUMNS = (
    "Rank",
    "Policy",
    "Kind",
    "IQM score [95% bootstrap CI]",
    "Mean score",
    "Seeds",
    "Families",
    "Instances",
    "Seasons per instance",
)
_KIND_COLOURS = {"heuristic": "#4c72b0", "learned": "#dd8452"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 78em; color: #222; line-height: 1.45; padding: 0 1em; }
h1, h2 { font-weight: 600; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:nth-child(2), td:nth-child(3), th { text-align: left; }
tr.best td { background: #eef5ea; } .note { color: #555; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #eee; }
"""


# ----------------------------------------------------------------------------- formatting


def _num(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{digits}f}"


def _ci(interval: Interval | None, digits: int, signed: bool = False) -> str:
    if interval is None:
        return "—"
    sign = "+" if signed else ""
    values = (interval.mean, interval.low, interval.high)
    mean, low, high = (f"{v:{sign},.{digits}f}" for v in values)
    return f"{mean} [{low}, {high}]"


def _seed_range(row: FamilyRow) -> str:
    if row.kind != "learned":
        return "—"
    values = row.seed_percent_of_bound
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{min(values):.1f} – {max(values):.1f}"


def _across_seeds(row: FamilyRow) -> str:
    if row.kind != "learned":
        return "—"
    if row.across_seeds is None:
        return f"none ({row.n_seeds} seed)"
    return _ci(row.across_seeds, 1)


def _diff(row: FamilyRow, interval: Interval | None, digits: int) -> str:
    if row.is_best_heuristic:
        return "reference"
    text = _ci(interval, digits, signed=True)
    return f"{text} (seeds)" if interval is not None and row.diff_basis == "seeds" else text


def _gap(row: FamilyRow) -> str:
    interval = row.gap_closed
    if interval is None:
        return "—"
    scaled = Interval(100 * interval.mean, 100 * interval.low, 100 * interval.high, interval.se)
    text = _ci(scaled, 1) + " %"
    return f"{text} (seeds)" if row.diff_basis == "seeds" else text


def family_columns(rows: Sequence[FamilyRow]) -> tuple[str, ...]:
    """:data:`FAMILY_COLUMNS`, and :data:`GAP_COLUMN` when the family has an information gap."""
    has_gap = any(r.gap_closed is not None for r in rows)
    return FAMILY_COLUMNS + ((GAP_COLUMN,) if has_gap else ())


def information_cells(board: Leaderboard) -> list[list[str]]:
    """One row of :data:`INFORMATION_COLUMNS` per family with an information gap."""
    return [
        [
            family,
            gap.ceiling,
            gap.myopic,
            _ci(gap.points, 2, signed=True),
            _ci(gap.profit, 2, signed=True),
        ]
        for family, gap in board.gaps.items()
    ]


def family_cells(row: FamilyRow) -> list[str]:
    """The displayed cells of one family row, in :data:`FAMILY_COLUMNS` order (then the share
    of the information gap closed, when there is one); Δ intervals over training seeds are
    marked ``(seeds)``."""
    few = row.kind == "learned" and row.n_seeds < FEW_SEEDS
    gap = [] if row.gap_closed is None else [_gap(row)]
    return [
        str(row.rank),
        row.policy + (" (best heuristic)" if row.is_best_heuristic else ""),
        row.kind,
        _ci(row.mean_profit, 2),
        _ci(row.percent_of_bound, 1),
        _across_seeds(row),
        _diff(row, row.diff_to_best, 2),
        _diff(row, row.diff_percent_of_bound, 2),
        f"{row.n_seeds}{' (few)' if few else ''}",
        f"{row.n_instances} × {row.seasons:,}",
        "—" if row.timesteps is None else f"{row.timesteps:,}",
        _num(row.decide_seconds, 3),
        _seed_range(row),
        *gap,
    ]


def aggregate_cells(row: AggregateRow) -> list[str]:
    """The displayed cells of one aggregate row, in :data:`AGGREGATE_COLUMNS` order."""
    return [
        str(row.rank),
        row.policy,
        row.kind,
        _ci(row.iqm, 3),
        _num(row.mean_score, 3),
        str(row.n_seeds),
        str(row.n_families),
        str(row.n_instances),
        f"{row.seasons:,}",
    ]


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` inside cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join("---" for _ in columns) + "|"
    return "\n".join([line(columns), rule, *map(line, rows)])


def behind_the_numbers(board: Leaderboard) -> list[str]:
    """Plain sentences saying how many instances, seasons and seeds stand behind each number."""
    per_family = {f: sum(1 for s in board.suite if s.family == f) for f in board.families}
    families = ", ".join(
        f"{f} ({n} instance{'s' if n != 1 else ''})" for f, n in per_family.items()
    )
    lines = [
        f"Suite: {families}; every policy is simulated for {board.seasons:,} seasons per instance "
        f"on the same customers (common random numbers, seed {board.seed}).",
        "Heuristics: one solve per instance (planning scenarios are drawn from a seed independent "
        "of the evaluation customers). Learned agents: one trained model per training seed "
        "(column Seeds), averaged season by season; the seed range shows how far apart the seeds "
        "are.",
        f"Intervals are {round(100 * board.level)}% normal intervals over customers, stratified by "
        "instance and conditional on the suite's instances and the trained seeds; the Δ columns "
        "are paired over seasons and instances against the family's best heuristic.",
        "Across seeds: for a learned agent with S ≥ 2 training seeds, the t-interval (S − 1 "
        "degrees of freedom) over its S per-seed scores, each the % of the bound averaged over the "
        "family's instances with equal weight; it includes the spread between seeds. With one "
        "seed no across-seed interval exists ('none (1 seed)'). For learned agents with S ≥ 2 "
        "the Δ intervals are likewise t-intervals over the S per-seed paired differences to the "
        "best heuristic (marked '(seeds)'); with one seed they are conditional on that seed.",
        "Aggregate: normalized score = mean profit / tightest bound (0 = stock nothing, 1 = the "
        "bound); interquartile mean with a stratified bootstrap over instances and seeds "
        f"({board.bootstrap_reps:,} replicates).",
        bound_sentence(board),
    ]
    few = sorted(
        {
            r.policy
            for rows in board.families.values()
            for r in rows
            if r.kind == "learned" and r.n_seeds < FEW_SEEDS
        }
    )
    if few:
        lines.append(
            f"Fewer than {FEW_SEEDS} training seeds stand behind {', '.join(few)} "
            "(marked 'few'): their ranks are indicative, not settled."
        )
    if board.gaps:
        gap = next(iter(board.gaps.values()))
        lines.append(
            f"Information gap (sequential problem): the value of information is the paired "
            f"difference {gap.ceiling} (full information, the ceiling) minus {gap.myopic} "
            "(myopic re-planning, vendor by vendor), per family; a policy's share of the gap "
            "closed is its mean paired gain over the myopic reference divided by that value "
            "(percentages of the bound, equal weight per instance): 0 % is myopic, 100 % full "
            "information. Its interval is a delta-method interval over the paired seasons, or "
            "for learned agents with S ≥ 2 seeds the t-interval over the per-seed shares "
            "(marked '(seeds)')."
        )
    lines.extend(f"Training configs: {note}." for note in board.notes)
    lines.extend(f"Not evaluated: {message}" for message in board.counts.failures)
    return lines


def bound_sentence(board: Leaderboard) -> str:
    """What the percentages are percentages of."""
    names = sorted({s.bound_name for s in board.suite})
    with_scenario = sum(1 for s in board.suite if s.scenario is not None)
    text = (
        "Bound: every percentage is of the tightest valid bound of its instance, the smaller of "
        "the fluid LP bound and the scenario (Mak-Morton-Wood) bound's 95% upper confidence "
        "limit (baselines.scenario_bound; valid with 95% confidence over its own scenarios, "
        "which are seeded from the instance alone). "
    )
    if with_scenario == 0:
        return text + "The scenario bound was not computed here: the scale is the fluid LP bound."
    return text + (
        f"The scale is the {' or the '.join(names)} (per instance in the bound tables); the "
        f"scenario bound was computed for {with_scenario} of {len(board.suite)} instances."
    )


BOUND_COLUMNS = (
    "Instance",
    "N",
    "T",
    "Fluid LP bound",
    "Scenario bound (estimate)",
    "Scenario bound 95% UCL",
    "K × M",
    "Tightest (the scale)",
)


def bound_rows(board: Leaderboard, family: str) -> list[list[str]]:
    """One row per instance of ``family``: both bounds and which one is the scale."""
    rows = []
    for s in board.suite:
        if s.family != family:
            continue
        scenario = s.scenario
        rows.append(
            [
                s.label,
                f"{s.instance.n_products:,}",
                f"{s.instance.customers:,}",
                _num(s.fluid_bound, 2),
                "—" if scenario is None else _num(float(scenario["scenario_bound"]), 2),
                "—" if scenario is None else _num(float(scenario["scenario_bound_upper"]), 2),
                "—"
                if scenario is None
                else f"{scenario['scenarios']} × {scenario['replications']}",
                f"{_num(s.bound, 2)} ({s.bound_name})",
            ]
        )
    return rows


# ----------------------------------------------------------------------------- writers


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _interval_fields(name: str, interval: Interval | None) -> dict[str, float | str]:
    if interval is None:
        return {name: "", f"{name}_low": "", f"{name}_high": ""}
    return {name: interval.mean, f"{name}_low": interval.low, f"{name}_high": interval.high}


def family_csv(rows: Sequence[FamilyRow]) -> bytes:
    """One row per policy, numbers unrounded."""
    records = []
    for row in rows:
        records.append(
            {
                "family": row.family,
                "rank": row.rank,
                "policy": row.policy,
                "kind": row.kind,
                **_interval_fields("mean_profit", row.mean_profit),
                **_interval_fields("percent_of_bound", row.percent_of_bound),
                **_interval_fields("diff_to_best", row.diff_to_best),
                **_interval_fields("diff_percent_of_bound", row.diff_percent_of_bound),
                **_interval_fields("across_seeds", row.across_seeds),
                **_interval_fields("gap_closed", row.gap_closed),
                "diff_basis": row.diff_basis,
                "is_best_heuristic": row.is_best_heuristic,
                "n_seeds": row.n_seeds,
                "n_instances": row.n_instances,
                "seasons": row.seasons,
                "timesteps": "" if row.timesteps is None else row.timesteps,
                "decide_seconds": row.decide_seconds,
                "fill_rate": row.fill_rate,
                "seed_percent_of_bound": " ".join(f"{v:.6g}" for v in row.seed_percent_of_bound),
            }
        )
    header = list(records[0]) if records else ["family"]
    return _csv_bytes(header, [list(r.values()) for r in records])


def aggregate_csv(rows: Sequence[AggregateRow]) -> bytes:
    header = [
        "rank",
        "policy",
        "kind",
        "iqm",
        "iqm_low",
        "iqm_high",
        "mean_score",
        "n_seeds",
        "n_families",
        "n_instances",
        "seasons",
    ]
    return _csv_bytes(
        header,
        [
            [
                r.rank,
                r.policy,
                r.kind,
                r.iqm.mean,
                r.iqm.low,
                r.iqm.high,
                r.mean_score,
                r.n_seeds,
                r.n_families,
                r.n_instances,
                r.seasons,
            ]
            for r in rows
        ],
    )


def _bars(
    ax: Any,
    labels: list[str],
    kinds: list[str],
    intervals: list[Interval | None],
    *,
    title: str,
    xlabel: str,
    reference: float | None,
    floor: float,
    missing: str = "",
) -> None:
    """Horizontal bars with interval whiskers on ``ax``; bars below ``floor`` are cut and
    labelled with their value; ``None`` intervals show the text ``missing``."""
    y = np.arange(len(labels))[::-1]
    present = [i for i in intervals if i is not None]
    for yi, kind, interval in zip(y, kinds, intervals):
        if interval is None:
            ax.text(0.0, yi, f" {missing}", va="center", ha="left", fontsize=8)
            continue
        shown = max(interval.mean, floor)
        cut = interval.mean < floor
        below = max(0.0, interval.mean - max(interval.low, floor))
        error = None if cut else [[below], [max(0.0, interval.high - interval.mean)]]
        ax.barh([yi], [shown], xerr=error, color=_KIND_COLOURS.get(kind, "#888"), capsize=3)
        if cut:
            ax.text(floor, yi, f" {interval.mean:,.3g} (cut)", va="center", ha="left", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="black", linewidth=0.8, linestyle="--")
    ax.axvline(0.0, color="grey", linewidth=0.6)
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    if present:
        high = max([reference or 0.0] + [i.high for i in present])
        low = min(0.0, max(floor, min(i.low for i in present)))
        pad = 0.04 * max(high - low, 1e-9)
        ax.set_xlim(low - pad, high + pad)


def _png(fig: Any) -> bytes:
    from matplotlib import pyplot as plt

    try:
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _figure(panels: int, rows: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt.subplots(1, panels, figsize=(6.5 * panels, 1.2 + 0.45 * rows), squeeze=False)


def family_plot(family: str, rows: Sequence[FamilyRow], board: Leaderboard) -> bytes:
    """Left: % of the LP bound with its interval. Right: the paired difference to the best
    heuristic in percentage points of the bound (the comparison common customers make sharp)."""
    fig, axes = _figure(2, len(rows))
    labels, kinds = [r.policy for r in rows], [r.kind for r in rows]
    n = rows[0].n_instances if rows else 0
    level = round(100 * board.level)
    _bars(
        axes[0, 0],
        labels,
        kinds,
        [r.percent_of_bound for r in rows],
        title=f"{family}: % of tightest bound ({n} instances × {board.seasons:,} seasons, "
        f"{level}% CI)",
        xlabel="mean profit, % of the tightest bound (dashed: the bound)",
        reference=100.0,
        floor=-50.0,
    )
    diffs = [None if r.is_best_heuristic else r.diff_percent_of_bound for r in rows]
    _bars(
        axes[0, 1],
        labels,
        kinds,
        diffs,
        title=f"paired difference to the best heuristic ({level}% CI)",
        xlabel="percentage points of the bound",
        reference=None,
        floor=-50.0,
        missing="reference",
    )
    return _png(fig)


def aggregate_plot(rows: Sequence[AggregateRow], board: Leaderboard) -> bytes:
    """IQM of normalized scores with bootstrap intervals."""
    fig, axes = _figure(1, len(rows))
    _bars(
        axes[0, 0],
        [r.policy for r in rows],
        [r.kind for r in rows],
        [r.iqm for r in rows],
        title=f"All families: IQM normalized score ({round(100 * board.level)}% bootstrap CI)",
        xlabel="normalized score (0 = stock nothing, 1 = tightest bound)",
        reference=1.0,
        floor=-0.5,
    )
    return _png(fig)


def _html_table(columns: Sequence[str], rows: Sequence[Sequence[str]], best: Sequence[bool]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        ('<tr class="best">' if is_best else "<tr>")
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for cells, is_best in zip(rows, best)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def html_page(
    board: Leaderboard,
    plots: dict[str, bytes],
    *,
    title: str,
    description: str = "",
) -> str:
    """The self-contained page: inline CSS, tables, plots as base64 data URIs, no external
    assets."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if description:
        parts.append(f"<p>{html.escape(description)}</p>")
    parts.append("<h2>What stands behind each number</h2><ul>")
    parts.extend(f"<li>{html.escape(line)}</li>" for line in behind_the_numbers(board))
    parts.append("</ul>")
    if board.gaps:
        parts.append("<h2>Value of information</h2>")
        cells = information_cells(board)
        parts.append(_html_table(INFORMATION_COLUMNS, cells, [False] * len(cells)))
    parts.append("<h2>All families</h2>")
    parts.append(
        _html_table(
            AGGREGATE_COLUMNS,
            [aggregate_cells(r) for r in board.aggregate],
            [False] * len(board.aggregate),
        )
    )
    if "aggregate" in plots:
        parts.append(_img(plots["aggregate"], "IQM of normalized scores"))
    for family, rows in board.families.items():
        parts.append(f"<h2>Family {html.escape(family)}</h2>")
        parts.append('<p class="note">Bounds per instance:</p>')
        rows_ = bound_rows(board, family)
        parts.append(_html_table(BOUND_COLUMNS, rows_, [False] * len(rows_)))
        parts.append(
            _html_table(
                family_columns(rows),
                [family_cells(r) for r in rows],
                [r.is_best_heuristic for r in rows],
            )
        )
        if family in plots:
            parts.append(_img(plots[family], f"{family}: percentage of the tightest bound"))
    knobs = [(name, text) for name, text in board.descriptions.items() if text]
    if knobs:
        parts.append("<h2>Policy settings</h2><ul>")
        parts.extend(f"<li>{html.escape(name)}: {html.escape(text)}</li>" for name, text in knobs)
        parts.append("</ul>")
    counts = board.counts
    parts.append(
        f'<p class="note">This report: {counts.evaluations_computed} evaluations computed, '
        f"{counts.evaluations_reused} reused from the result store; "
        f"code tag {html.escape(board.code_tag)}.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def markdown_report(board: Leaderboard, *, title: str, description: str = "") -> str:
    """The whole leaderboard as one Markdown document."""
    lines = [f"# {title}", ""]
    if description:
        lines += [description, ""]
    lines += [f"* {line}" for line in behind_the_numbers(board)] + [""]
    if board.gaps:
        lines += [
            "## Value of information",
            "",
            markdown_table(INFORMATION_COLUMNS, information_cells(board)),
            "",
        ]
    lines += ["## All families", "", _aggregate_markdown(board), ""]
    for family, rows in board.families.items():
        lines += [f"## Family {family}", "", _family_markdown(rows), ""]
        lines += ["Bounds per instance:", "", _bounds_markdown(board, family), ""]
    return "\n".join(lines)


def _bounds_markdown(board: Leaderboard, family: str) -> str:
    return markdown_table(BOUND_COLUMNS, bound_rows(board, family))


def _family_markdown(rows: Sequence[FamilyRow]) -> str:
    return markdown_table(family_columns(rows), [family_cells(r) for r in rows])


def _aggregate_markdown(board: Leaderboard) -> str:
    return markdown_table(AGGREGATE_COLUMNS, [aggregate_cells(r) for r in board.aggregate])


def write_report(
    board: Leaderboard,
    out: str | Path,
    *,
    title: str = "Leaderboard",
    description: str = "",
) -> dict[str, Path]:
    """Write every file listed in the module docstring into ``out``; returns them by name."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        atomic_write_bytes(folder / name, data)
        written[name] = folder / name

    plots: dict[str, bytes] = {}
    for family, rows in board.families.items():
        stem = f"family-{safe_name(family)}"
        bounds = _bounds_markdown(board, family)
        text = (
            f"# Family {family}\n\n{_family_markdown(rows)}\n\nBounds per instance:\n\n{bounds}\n"
        )
        put(f"{stem}.md", text.encode())
        put(f"{stem}.csv", family_csv(rows))
        if rows:
            plots[family] = family_plot(family, rows, board)
            put(f"bound-{safe_name(family)}.png", plots[family])
    put("aggregate.md", f"# All families\n\n{_aggregate_markdown(board)}\n".encode())
    put("aggregate.csv", aggregate_csv(board.aggregate))
    if board.aggregate:
        plots["aggregate"] = aggregate_plot(board.aggregate, board)
        put("aggregate-iqm.png", plots["aggregate"])
    markdown = markdown_report(board, title=title, description=description)
    put("leaderboard.md", (markdown + "\n").encode())
    put("leaderboard.json", (json.dumps(board.to_dict(), indent=1, default=str) + "\n").encode())
    put("index.html", html_page(board, plots, title=title, description=description).encode())
    return written
