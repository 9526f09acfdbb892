"""The leaderboard: statistics against hand computations, ranking, common random numbers,
reuse of stored results, resumption and the self-contained report."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.validation import InputError, InputTypeError
from experiments.config import SuiteFamily
from experiments.contenders import config_contenders, heuristic_contender, learned_contenders
from experiments.evaluation import Contender, Member, planning_seed, policy_decider
from experiments.leaderboard import run_leaderboard
from experiments.runs import (
    RunConfigMismatchError,
    check_run_config,
    config_differences,
    config_fingerprint,
    find_runs,
    run_config,
    run_dir,
    saved_run_config,
)
from experiments.statistics import bootstrap_iqm, iqm, stratified_mean_ci, t_interval
from experiments.store import ResultStore
from experiments.suite import build_suite, suite_instance

SEASONS = 200
SEED = 11


class StandIn:
    """A stocking policy from a function, counting its calls."""

    def __init__(self, name: str, rule) -> None:
        self.name = name
        self.rule = rule
        self.calls = 0

    def stock_for(self, instance) -> np.ndarray:
        self.calls += 1
        return self.rule(instance)


def fluid_rule(instance) -> np.ndarray:
    return np.round(fluid_lp(instance).sales).astype(np.int64)


def overstock_rule(instance) -> np.ndarray:
    return np.ceil(10 * instance.customers * instance.arrival).astype(np.int64)


def zero_rule(instance) -> np.ndarray:
    return np.zeros(instance.n_products, dtype=np.int64)


def contender(policy: StandIn, kind: str = "heuristic") -> Contender:
    return Contender(
        policy.name, kind, (Member(policy.name, policy.name, policy_decider(lambda: policy)),)
    )


@pytest.fixture(scope="module")
def suite():
    return build_suite(["small"], [1_000_000, 1_000_001])


# ------------------------------------------------------------------------------ statistics


def test_stratified_interval_matches_hand_computation() -> None:
    # group means 2.5 and 3; sample variances 5/3 and 2; se^2 = (5/3 / 4 + 2 / 2) / 2^2
    interval = stratified_mean_ci([np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0])])
    se = math.sqrt((5 / 3) / 4 + 2 / 2) / 2
    assert interval.mean == pytest.approx(2.75)
    assert interval.se == pytest.approx(se)
    assert interval.low == pytest.approx(2.75 - 1.959963984540054 * se)
    assert interval.high == pytest.approx(2.75 + 1.959963984540054 * se)
    ninety = stratified_mean_ci([np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0])], level=0.9)
    assert ninety.high - ninety.mean == pytest.approx(1.6448536269514722 * se)


def test_paired_difference_interval_is_the_interval_of_differences() -> None:
    rng = np.random.default_rng(3)
    common = rng.normal(100, 30, size=(2, 400))  # shared customers dominate the variance
    a = common + rng.normal(1.0, 1.0, size=common.shape)
    b = common
    paired = stratified_mean_ci(list(a - b))
    d = a - b
    by_hand = math.sqrt(sum(row.var(ddof=1) / row.size for row in d)) / 2
    assert paired.se == pytest.approx(by_hand)
    assert paired.mean == pytest.approx(d.mean())
    unpaired_se = math.hypot(stratified_mean_ci(list(a)).se, stratified_mean_ci(list(b)).se)
    assert paired.se < unpaired_se / 10


def test_iqm_and_seeded_bootstrap() -> None:
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    strata = [np.array([[0.1, 0.5, 0.9, 0.7], [0.2, 0.4, 0.8, 0.6]]), np.array([[0.3, 0.35]])]
    first = bootstrap_iqm(strata, reps=500, rng=5)
    assert first == bootstrap_iqm(strata, reps=500, rng=5)
    assert first != bootstrap_iqm(strata, reps=500, rng=6)
    assert first.mean == pytest.approx(iqm(np.concatenate([s.ravel() for s in strata])))
    assert first.low <= first.mean <= first.high
    constant = bootstrap_iqm([np.full((2, 3), 0.8)], reps=50, rng=0)
    assert (constant.low, constant.mean, constant.high) == pytest.approx((0.8, 0.8, 0.8))


# ------------------------------------------------------------------------------ leaderboard


def test_bad_policies_rank_below_fluid_and_numbers_repeat(suite, tmp_path: Path) -> None:
    policies = [StandIn("overstock", overstock_rule), StandIn("zero", zero_rule)]
    board = run_leaderboard(
        suite,
        [heuristic_contender("fluid")] + [contender(p) for p in policies],
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path / "a"),
        bootstrap_reps=200,
    )
    rows = {row.policy: row for row in board.families["small"]}
    assert [row.policy for row in board.families["small"]] == ["fluid", "zero", "overstock"]
    assert rows["fluid"].is_best_heuristic and rows["fluid"].rank == 1
    assert rows["zero"].mean_profit.mean == 0.0 and rows["zero"].percent_of_bound.mean == 0.0
    assert 50 < rows["fluid"].percent_of_bound.mean < 100  # below the bound, far above nothing
    assert rows["overstock"].diff_to_best.high < 0
    assert rows["fluid"].diff_to_best.mean == 0.0
    assert rows["fluid"].n_instances == 2 and rows["fluid"].seasons == SEASONS
    assert rows["fluid"].n_seeds == 1
    # percentage of bound is the per-instance ratio, averaged
    assert [r.policy for r in board.aggregate] == ["fluid", "zero", "overstock"]
    assert board.aggregate[0].iqm.mean == pytest.approx(rows["fluid"].percent_of_bound.mean / 100)
    # a second, independent evaluation with the same seeds gives the same numbers
    fresh = [contender(StandIn(p.name, p.rule)) for p in policies]
    again = run_leaderboard(
        suite,
        [heuristic_contender("fluid")] + fresh,
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path / "b"),
        bootstrap_reps=200,
    )
    assert again.counts.evaluations_computed == 6
    first, second = board.to_dict(), again.to_dict()
    for table in (first, second):
        for rows_ in table["families"].values():
            for row in rows_:
                row.pop("decide_seconds")
    assert first["families"] == second["families"] and first["aggregate"] == second["aggregate"]


def test_adding_a_policy_does_not_recompute_the_others(suite, tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    fluid, zero = StandIn("fluid", fluid_rule), StandIn("zero", zero_rule)
    board = run_leaderboard(
        suite, [contender(fluid)], seasons=SEASONS, seed=SEED, store=store, bootstrap_reps=50
    )
    assert (board.counts.decisions_computed, board.counts.evaluations_computed) == (2, 2)
    fluid_again = StandIn("fluid", fluid_rule)
    board2 = run_leaderboard(
        suite,
        [contender(fluid_again), contender(zero)],
        seasons=SEASONS,
        seed=SEED,
        store=store,
        bootstrap_reps=50,
    )
    assert fluid_again.calls == 0 and zero.calls == 2
    assert (board2.counts.decisions_computed, board2.counts.evaluations_computed) == (2, 2)
    assert (board2.counts.decisions_reused, board2.counts.evaluations_reused) == (2, 2)
    assert board2.families["small"][0].mean_profit == board.families["small"][0].mean_profit
    # more seasons is another number: re-evaluated, but the stored decision is reused
    board3 = run_leaderboard(
        suite,
        [contender(StandIn("fluid", fluid_rule))],
        seasons=SEASONS + 1,
        seed=SEED,
        store=store,
        bootstrap_reps=50,
    )
    assert (board3.counts.decisions_reused, board3.counts.evaluations_computed) == (2, 2)


def test_interrupted_leaderboard_resumes_from_the_store(suite, tmp_path: Path) -> None:
    store = ResultStore(tmp_path)

    def dies_on_second(instance):
        if instance.name.endswith("1000001"):
            raise KeyboardInterrupt
        return fluid_rule(instance)

    with pytest.raises(KeyboardInterrupt):
        run_leaderboard(
            suite,
            [contender(StandIn("fluid", dies_on_second))],
            seasons=SEASONS,
            seed=SEED,
            store=store,
            bootstrap_reps=50,
        )
    resumed = StandIn("fluid", fluid_rule)
    board = run_leaderboard(
        suite, [contender(resumed)], seasons=SEASONS, seed=SEED, store=store, bootstrap_reps=50
    )
    assert resumed.calls == 1
    assert board.counts.evaluations_reused == 1 and board.counts.evaluations_computed == 1


def test_learned_agent_is_aggregated_over_its_seeds(suite, tmp_path: Path) -> None:
    scale = {0: 1.0, 1: 0.5}

    def member(seed: int) -> Member:
        def rule(instance, s: int = seed) -> np.ndarray:
            return np.round(scale[s] * fluid_rule(instance)).astype(np.int64)

        policy = StandIn(f"agent-seed{seed}", rule)
        return Member(
            f"exp/agent-seed{seed}",
            {"seed": seed},
            policy_decider(lambda: policy),
            training_seed=seed,
            timesteps=500,
        )

    agent = Contender("agent", "learned", (member(0), member(1)))
    board = run_leaderboard(
        suite,
        [contender(StandIn("fluid", fluid_rule)), agent],
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path),
        bootstrap_reps=100,
    )
    rows = {row.policy: row for row in board.families["small"]}
    row = rows["agent"]
    assert row.n_seeds == 2 and row.timesteps == 500 and len(row.seed_percent_of_bound) == 2
    # seed 0 stocks exactly the fluid vector, so its per-seed score equals fluid's
    assert row.seed_percent_of_bound[0] == pytest.approx(rows["fluid"].percent_of_bound.mean)
    assert row.percent_of_bound.mean == pytest.approx(np.mean(row.seed_percent_of_bound))
    aggregate = {r.policy: r for r in board.aggregate}["agent"]
    assert aggregate.n_seeds == 2 and aggregate.n_instances == 2
    # across seeds: t-interval with 1 degree of freedom over the two per-seed scores
    q = np.array(row.seed_percent_of_bound)
    half = 12.706204736174698 * q.std(ddof=1) / math.sqrt(2)
    assert row.across_seeds.mean == pytest.approx(q.mean())
    assert row.across_seeds.high - row.across_seeds.mean == pytest.approx(half)
    # Δ vs the best heuristic (fluid): t-interval over the per-seed paired differences
    gaps = q - rows["fluid"].percent_of_bound.mean
    assert row.diff_basis == "seeds"
    assert row.diff_percent_of_bound.mean == pytest.approx(gaps.mean())
    assert row.diff_percent_of_bound.low == pytest.approx(
        gaps.mean() - 12.706204736174698 * gaps.std(ddof=1) / math.sqrt(2)
    )
    width = row.percent_of_bound.high - row.percent_of_bound.low
    assert row.across_seeds.high - row.across_seeds.low > width
    assert rows["fluid"].across_seeds is None and rows["fluid"].diff_basis == "customers"


def test_t_interval_matches_hand_computation() -> None:
    interval = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t_{2, 0.975} = 4.302652729911275
    assert interval.mean == 2.0 and interval.se == pytest.approx(1 / math.sqrt(3))
    assert interval.high == pytest.approx(2 + 4.302652729911275 / math.sqrt(3))
    with pytest.raises(InputError, match=r"`values` has shape \(1,\); a t-interval needs a 1-d"):
        t_interval([1.0])


def test_one_seed_has_no_across_seed_interval(suite, tmp_path: Path) -> None:
    from experiments.report import FAMILY_COLUMNS, family_cells

    policy = StandIn("agent-seed0", zero_rule)
    agent = Contender(
        "agent",
        "learned",
        (Member("exp/agent-seed0", 0, policy_decider(lambda: policy), training_seed=0),),
    )
    board = run_leaderboard(
        suite,
        [contender(StandIn("fluid", fluid_rule)), agent],
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path),
        bootstrap_reps=20,
    )
    row = {r.policy: r for r in board.families["small"]}["agent"]
    assert row.across_seeds is None and row.diff_basis == "customers"
    cells = dict(zip(FAMILY_COLUMNS, family_cells(row)))
    assert cells["Across seeds 95% CI (% of bound)"] == "none (1 seed)"
    assert "(seeds)" not in cells["Δ % of bound [95% CI]"]


def test_a_policy_that_cannot_play_a_family_is_left_out(suite, tmp_path: Path) -> None:
    from envs.episodes import IncompatibleInstanceError

    def wrong_size(instance):
        raise IncompatibleInstanceError("trained for 20 products, the instance has 10")

    fluid = contender(StandIn("fluid", fluid_rule))
    board = run_leaderboard(
        suite,
        [fluid, contender(StandIn("agent", wrong_size))],
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path),
        bootstrap_reps=20,
    )
    assert [row.policy for row in board.families["small"]] == ["fluid"]
    assert board.counts.failures == [
        "agent not evaluated on family small: trained for 20 products, the instance has 10"
    ]


def test_other_errors_of_a_policy_propagate(suite, tmp_path: Path) -> None:
    def broken(instance):
        raise ValueError("`stock` entry 3 is nan; a bug, not an incompatible instance")

    with pytest.raises(ValueError, match="a bug, not an incompatible instance"):
        run_leaderboard(
            suite,
            [contender(StandIn("broken", broken))],
            seasons=SEASONS,
            seed=SEED,
            store=ResultStore(tmp_path),
            bootstrap_reps=20,
        )


def test_the_environment_refuses_another_catalog_size_with_its_own_error() -> None:
    import gymnasium as gym

    from envs.episodes import IncompatibleInstanceError

    env = gym.make("Assort/OneShotSmall-v1")
    other = make_family_instance("small", 1, n_products=env.unwrapped.source.n_products + 1)
    with pytest.raises(IncompatibleInstanceError, match=r"options\['instance'\] has \d+ products"):
        env.reset(seed=0, options={"instance": other})


def test_planning_seed_is_deterministic_and_not_the_evaluation_seed(suite) -> None:
    seeds = {planning_seed(SEED, item) for item in suite}
    assert len(seeds) == 2 and SEED not in seeds
    first = planning_seed(SEED, suite[0])
    assert first == planning_seed(SEED, suite[0]) != planning_seed(SEED + 1, suite[0])


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: stratified_mean_ci([]),
            InputError,
            "`groups` must hold at least one array of values; got none",
        ),
        (
            lambda: stratified_mean_ci([np.ones(1)]),
            InputError,
            r"`groups` entry 0 has shape \(1,\); each group needs",
        ),
        (
            lambda: stratified_mean_ci([np.ones(3)], level=1.5),
            InputError,
            r"`level` must be a finite number in \(0, 1\); got 1.5$",
        ),
        (
            lambda: stratified_mean_ci([np.ones(3)], level="0.9"),
            InputTypeError,
            r"`level` must be a finite number in \(0, 1\); got '0.9' \(str\)",
        ),
        (
            lambda: bootstrap_iqm([np.ones((1, 2))], reps=0),
            InputError,
            r"`bootstrap_reps` must be an integer in \[1, 100,000\]; got 0$",
        ),
        (
            lambda: bootstrap_iqm([np.ones((1, 2))], reps=100_001),
            InputError,
            r"`bootstrap_reps` must be an integer in \[1, 100,000\]; got 100001$",
        ),
        (
            lambda: bootstrap_iqm([np.ones(3)]),
            InputError,
            r"`strata` must be non-empty \(runs, tasks\) matrices",
        ),
        (
            lambda: Contender("x", "oracle", ()),
            InputError,
            "`kind` must be 'heuristic' or 'learned'; got 'oracle'",
        ),
        (lambda: Contender("x", "learned", ()), InputError, "contender 'x' has no members"),
        (
            lambda: suite_instance("small", 1, make_family_instance("small", 1), 0.0),
            InputError,
            "the fluid LP bound of small-1 is 0.0; normalized scores need a positive bound",
        ),
        (
            lambda: build_suite([], [1]),
            InputError,
            "`families` must name at least one instance family; got none",
        ),
        (
            lambda: build_suite(["small"], []),
            InputError,
            "`instance_seeds` must name at least one seed; got none",
        ),
    ],
)
def test_bad_input_messages(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_run_leaderboard_rejects_bad_arguments(suite, tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    fluid = contender(StandIn("fluid", fluid_rule))
    rule = r"`seasons` must be an integer in \[2, 10,000,000\]"
    with pytest.raises(InputError, match=rf"{rule}; got 1$"):
        run_leaderboard(suite, [fluid], seasons=1, seed=SEED, store=store)
    with pytest.raises(InputError, match=rf"{rule}; got 10000001$"):
        run_leaderboard(suite, [fluid], seasons=10_000_001, seed=SEED, store=store)
    with pytest.raises(
        InputError, match=r"contender names must be unique; \['fluid'\] appear more than once"
    ):
        run_leaderboard(suite, [fluid, fluid], seasons=SEASONS, seed=SEED, store=store)
    with pytest.raises(InputError, match="`suite` must hold at least one instance; got none"):
        run_leaderboard((), [fluid], seasons=SEASONS, seed=SEED, store=store)
    with pytest.raises(InputError, match="`contenders` must hold at least one policy; got none"):
        run_leaderboard(suite, [], seasons=SEASONS, seed=SEED, store=store)


def test_suite_families_may_carry_overrides_and_labels() -> None:
    strong = SuiteFamily("small", "small-strong", {"alpha": 2.0})
    suite = build_suite(["small", strong], [1_000_000])
    assert [item.label for item in suite] == ["small-1000000", "small-strong-1000000"]
    plain, other = suite
    assert plain.overrides == {} and other.overrides == {"alpha": 2.0}
    expected = make_family_instance("small", 1_000_000, alpha=2.0)
    np.testing.assert_array_equal(other.instance.arrival, expected.arrival)
    assert other.hash != plain.hash and other.bound == pytest.approx(fluid_lp(expected).value)


def test_suite_scale_is_the_tightest_valid_bound_cached_in_the_store(tmp_path: Path) -> None:
    from experiments.suite import SCENARIO, bound_seed

    store = ResultStore(tmp_path / "store")
    notes: list[str] = []
    suite = build_suite(
        ["tiny"], [1_000_000, 1_000_001], store=store, scenario_bounds=True, progress=notes.append
    )
    for item in suite:
        assert item.fluid_bound == pytest.approx(fluid_lp(item.instance).value)
        upper = item.scenario_bound_upper
        assert item.scenario_bound <= upper <= item.fluid_bound
        assert item.bound == min(item.fluid_bound, upper)
        assert item.bound_name == SCENARIO
        assert item.scenario["seed"] == bound_seed(item.hash)
        assert item.scenario["scenarios"] == 128 and item.scenario["replications"] == 10
    assert all("s); scale: scenario UCL" in note for note in notes)
    # The second build reads both bounds from the store (same numbers, not recomputed).
    notes.clear()
    again = build_suite(
        ["tiny"], [1_000_000, 1_000_001], store=store, scenario_bounds=True, progress=notes.append
    )
    assert [a.bound for a in again] == [b.bound for b in suite]
    assert all("stored)" in note for note in notes)
    # The bound's seed depends on the instance only, not on the evaluation or planning seeds.
    assert bound_seed(suite[0].hash) != bound_seed(suite[1].hash)
    plain = build_suite(["tiny"], [1_000_000])[0]
    assert plain.bound == plain.fluid_bound and plain.bound_name == "fluid"
    assert plain.scenario is None


def test_scores_are_percentages_of_the_tightest_bound(tmp_path: Path) -> None:
    from experiments.report import write_report

    store = ResultStore(tmp_path / "store")
    suite = build_suite(["tiny"], [1_000_000], store=store, scenario_bounds=True)
    board = run_leaderboard(
        suite,
        [contender(StandIn("fluid", fluid_rule))],
        seasons=200,
        seed=SEED,
        store=store,
        bootstrap_reps=50,
    )
    (row,) = board.families["tiny"]
    item = suite[0]
    (outcome_profit,) = [
        store.get_evaluation(
            store.evaluation_key(
                "fluid", item.label, item.hash, fluid_rule(item.instance), SEED, 200
            )
        ).mean_profit
    ]
    assert row.percent_of_bound.mean == pytest.approx(100 * outcome_profit / item.bound)
    data = board.to_dict()["suite"][0]
    assert data["bound_name"] == "scenario UCL" and data["bound"] == item.bound
    assert data["fluid_bound"] == item.fluid_bound
    assert data["scenario_bound_upper"] == item.scenario_bound_upper
    write_report(board, tmp_path / "out")
    text = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "% of tightest bound" in text and "Scenario bound 95% UCL" in text
    assert f"{item.fluid_bound:,.2f}" in text and "(scenario UCL)" in text


# ------------------------------------------------------------------------------ report


def test_report_files_and_self_contained_page(suite, tmp_path: Path) -> None:
    from experiments.report import write_report

    def member(seed: int) -> Member:
        policy = StandIn(f"agent-seed{seed}", fluid_rule)
        return Member(
            f"exp/agent-seed{seed}",
            {"seed": seed},
            policy_decider(lambda: policy),
            training_seed=seed,
            timesteps=500,
        )

    contenders = [
        contender(StandIn("fluid", fluid_rule)),
        contender(StandIn("overstock", overstock_rule)),
        Contender("agent", "learned", (member(0), member(1)), note="agent split by config"),
    ]
    board = run_leaderboard(
        suite,
        contenders,
        seasons=SEASONS,
        seed=SEED,
        store=ResultStore(tmp_path / "store"),
        bootstrap_reps=100,
    )
    written = write_report(board, tmp_path / "out", title="Tiny <suite>")
    expected = {
        "leaderboard.md",
        "leaderboard.json",
        "family-small.md",
        "family-small.csv",
        "aggregate.md",
        "aggregate.csv",
        "bound-small.png",
        "aggregate-iqm.png",
        "index.html",
    }
    assert set(written) == expected
    assert all((tmp_path / "out" / name).is_file() for name in expected)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page
    sources = page.split('src="')[1:]
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    import base64

    png = base64.b64decode(sources[0].split('"')[0].removeprefix("data:image/png;base64,"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Tiny &lt;suite&gt;" in page  # escaped, not markup
    assert f"{SEASONS:,} seasons per instance" in page
    assert "Fewer than 3 training seeds stand behind agent" in page
    markdown = (tmp_path / "out" / "family-small.md").read_text()
    assert "| 2 × 200 |" in markdown and "2 (few)" in markdown
    assert "fluid (best heuristic)" in markdown
    assert "Across seeds 95% CI" in markdown and "(seeds) |" in markdown
    assert "t-interval (S − 1 degrees of freedom)" in page
    assert "Training configs: agent split by config." in page
    assert board.notes == ("agent split by config",)
    import csv

    rows = list(csv.DictReader((tmp_path / "out" / "family-small.csv").open()))
    fluid = next(r for r in rows if r["policy"] == "fluid")
    table_fluid = next(r for r in board.families["small"] if r.policy == "fluid")
    assert float(fluid["percent_of_bound"]) == table_fluid.percent_of_bound.mean
    assert fluid["n_instances"] == "2" and fluid["seasons"] == str(SEASONS)


# ------------------------------------------------------------------------------ runs and commands


def test_runs_are_found_and_grouped_by_algorithm(tmp_path: Path) -> None:
    runs = [
        ("exp", "ppo-seed0", 100),
        ("exp", "ppo-seed1", 100),
        ("exp", "sac-seed0", 50),
        ("other", "ppo-seed0", 70),
    ]
    for experiment, run, steps in runs:
        folder = tmp_path / experiment / run
        folder.mkdir(parents=True)
        (folder / "DONE").write_text(f'{{"timesteps": {steps}, "wall_seconds": 1.0}}')
        (folder / "model.zip").write_bytes(run.encode())
    (tmp_path / "exp" / "td3-seed0").mkdir()  # unfinished: no DONE
    assert [p.name for p in find_runs(tmp_path / "exp")] == ["ppo-seed0", "ppo-seed1", "sac-seed0"]
    assert find_runs(tmp_path / "exp" / "sac-seed0") == [tmp_path / "exp" / "sac-seed0"]
    contenders = {c.name: c for c in learned_contenders(find_runs(tmp_path))}
    assert sorted(contenders) == ["exp/ppo", "other/ppo", "sac"]
    ppo = contenders["exp/ppo"]
    assert ppo.kind == "learned" and [m.training_seed for m in ppo.members] == [0, 1]
    assert [m.timesteps for m in ppo.members] == [100, 100]
    assert re.fullmatch(r"exp/ppo-seed0@[0-9a-f]{8}", ppo.members[0].label)
    assert contenders["other/ppo"].members[0].label != ppo.members[0].label
    assert ppo.members[0].identity != ppo.members[1].identity  # different model files
    with pytest.raises(
        InputError, match="runs folder '.*nowhere' does not exist or is not a folder"
    ):
        find_runs(tmp_path / "nowhere")


def test_heuristic_entries_are_checked_up_front() -> None:
    plain = heuristic_contender("saa")
    tuned = heuristic_contender({"name": "saa", "knobs": {"scenarios": 5}})
    assert plain.name == tuned.name == "saa" and tuned.description == "scenarios=5"
    assert plain.members[0].identity != tuned.members[0].identity
    with pytest.raises(InputError, match="unknown policy 'flud'"):
        heuristic_contender("flud")
    with pytest.raises(InputError, match="policy 'saa' has no knob 'scenarioz'"):
        heuristic_contender({"name": "saa", "knobs": {"scenarioz": 5}})
    with pytest.raises(
        InputError,
        match=r"a heuristic entry must be a name or \{name, knobs\}; "
        r"got \{'nme': 'saa'\}",
    ):
        heuristic_contender({"nme": "saa"})
    with pytest.raises(
        InputError,
        match="heuristic 'saa' sets the knob 'rng'; the leaderboard seeds every heuristic",
    ):
        heuristic_contender({"name": "saa", "knobs": {"rng": 1}})
    with pytest.raises(
        InputTypeError, match=r"a heuristic entry must be a name or \{name, knobs\}; got 3 \(int\)"
    ):
        heuristic_contender(3)


CONFIG = """\
name: cli-test
env: {{id: Assort/OneShotSmallFamily-v1}}
agents: {agents}
train: {{checkpoint_every: 10_000, runs_dir: {runs}}}
evaluation:
  families: [small]
  instance_seeds: [1_000_000, 1_000_001]
  seasons: 100
  seed: 3
  heuristics: [fluid, newsvendor]
"""


def test_leaderboard_command_writes_and_reuses(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from experiments.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(agents="[]", runs=tmp_path / "runs"))
    out = tmp_path / "board"
    assert (
        main(["leaderboard", "--config", str(config), "--out", str(out), "--bootstrap-reps", "50"])
        == 0
    )
    assert "4 evaluations computed, 0 reused" in capsys.readouterr().err
    assert (out / "index.html").is_file() and (out / "family-small.csv").is_file()
    assert (
        main(
            [
                "leaderboard",
                "--config",
                str(config),
                "--out",
                str(out),
                "--bootstrap-reps",
                "50",
                "--override",
                "evaluation.heuristics=[fluid, newsvendor, assortment-newsvendor]",
            ]
        )
        == 0
    )
    assert "2 evaluations computed, 4 reused" in capsys.readouterr().err
    assert (
        main(
            [
                "leaderboard",
                "--config",
                str(config),
                "--out",
                str(out),
                "--override",
                "evaluation.heuristics=[fluidd]",
            ]
        )
        == 2
    )
    assert "'fluidd' is not in baselines.registry.POLICIES" in capsys.readouterr().err


def test_run_command_trains_then_resumes_without_retraining(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from experiments.cli import main

    agents = (
        "[{algo: ppo, total_timesteps: 64, n_envs: 1, seeds: [0], "
        "hyperparams: {n_steps: 32, batch_size: 32}}]"
    )
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(agents=agents, runs=tmp_path / "runs"))
    out = tmp_path / "out"
    args = ["run", str(config), "--out", str(out), "--no-progress", "--bootstrap-reps", "50"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "training ppo seed 0 for 64 timesteps" in err and "6 evaluations computed" in err
    assert (tmp_path / "runs" / "cli-test" / "ppo-seed0" / "DONE").is_file()
    table = (out / "family-small.md").read_text()
    assert "| ppo | learned |" in table and "| 1 (few) | 2 × 100 | 64 |" in table
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "finished earlier (DONE), skipped" in err and "0 evaluations computed, 6 reused" in err
    (tmp_path / "runs" / "cli-test" / "ppo-seed0" / "DONE").unlink()  # as if killed before the end
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "unfinished, resuming from its last checkpoint" in err
    assert (tmp_path / "runs" / "cli-test" / "ppo-seed0" / "DONE").is_file()
    # A model file that changed since training wrote it is a new decision, and is not
    # unpickled unless the user vouches for it.
    model = tmp_path / "runs" / "cli-test" / "ppo-seed0" / "model.zip"
    model.write_bytes(model.read_bytes() + b"\0")
    board = ["leaderboard", "--config", str(config), "--out", str(out), "--bootstrap-reps", "50"]
    assert main(board) == 2
    err = capsys.readouterr().err
    assert "model.zip' changed since training wrote it" in err and "--trust-runs" in err
    assert main([*board, "--trust-runs"]) == 0
    assert "2 evaluations computed, 4 reused" in capsys.readouterr().err


def test_run_defaults_to_the_embedded_quickstart_config() -> None:
    from experiments.cli import build_parser
    from experiments.commands.run import DEFAULT_CONFIG
    from experiments.config import load_config

    args = build_parser().parse_args(["run"])
    assert Path(args.config) == DEFAULT_CONFIG and args.out is None
    assert load_config(DEFAULT_CONFIG).name == "quickstart"


# ------------------------------------------------------------------------------ run configs


RUN_CONFIG = {
    "name": "cfg-test",
    "env": {"id": "Assort/OneShotSmallFamily-v1"},
    "agents": [
        {
            "algo": "ppo",
            "total_timesteps": 64,
            "seeds": [0, 1],
            "hyperparams": {"n_steps": 32, "batch_size": 32},
        }
    ],
    "evaluation": {
        "families": ["small"],
        "instance_seeds": [1_000_000],
        "seasons": 100,
        "heuristics": ["fluid"],
    },
}


def _config(tmp_path: Path, runs: str = "runs", **agent: object):
    from experiments.config import parse_config

    data = {
        **RUN_CONFIG,
        "train": {"runs_dir": str(tmp_path / runs)},
        "agents": [{**RUN_CONFIG["agents"][0], **agent}],
    }
    return parse_config(data)


def _fake_run(config, seed: int, *, done: bool = True, model: bytes = b"model") -> Path:
    """A run folder as training leaves it, without training: config.yaml, model.zip, DONE."""
    agent = config.agents[0]
    folder = run_dir(config, agent, seed)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(run_config(config, agent, seed).to_yaml())
    (folder / "model.zip").write_bytes(model)
    if done:
        (folder / "DONE").write_text('{"timesteps": 64, "wall_seconds": 1.0}')
    return folder


def test_run_config_check_names_the_changed_keys(tmp_path: Path) -> None:
    old = _config(tmp_path)
    folder = _fake_run(old, 0)
    check_run_config(folder, old, old.agents[0], 0)  # same config: fine
    # where runs live and the evaluation suite do not change the model
    moved = _config(tmp_path, runs="elsewhere")
    check_run_config(
        folder, moved.__class__(**{**moved.__dict__, "description": "new text"}), moved.agents[0], 0
    )
    new = _config(tmp_path, total_timesteps=128, hyperparams={"n_steps": 16, "batch_size": 16})
    with pytest.raises(
        RunConfigMismatchError,
        match=(
            r"run folder '.*ppo-seed0' was trained with another config than agent 'ppo' seed 0 of "
            r"'cfg-test' asks for \(agents\.0\.hyperparams\.batch_size: 32 -> 16; "
            r"agents\.0\.hyperparams\.n_steps: 32 -> 16; "
            r"agents\.0\.total_timesteps: 64 -> 128\); retrain it with `assort train CONFIG "
            r"--seed 0 --force` or use a new runs dir"
        ),
    ):
        check_run_config(folder, new, new.agents[0], 0)
    assert config_differences(None, old.to_dict()) == ["config.yaml: <absent> -> the config's run"]
    assert (
        config_differences({"a": {"log_dir": "x", "b": 1}}, {"a": {"log_dir": "y", "b": 1}}) == []
    )


def test_run_command_refuses_a_run_trained_with_another_config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import experiments.train
    from experiments.train import train_all

    old = _config(tmp_path)
    _fake_run(old, 1, done=False)  # unfinished: would be resumed with its saved config

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be trained or resumed")

    monkeypatch.setattr(experiments.train, "train_run", never)
    monkeypatch.setattr(experiments.train, "resume_run", never)
    new = _config(tmp_path, total_timesteps=128)
    with pytest.raises(RunConfigMismatchError, match=r"agents\.0\.total_timesteps: 64 -> 128"):
        train_all(new)
    assert not (tmp_path / "runs" / "cfg-test" / "ppo-seed0").exists()


def test_run_command_reports_the_mismatch(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    import yaml

    from experiments.cli import main

    _fake_run(_config(tmp_path), 0)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_config(tmp_path, total_timesteps=128).to_dict()))
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "agents.0.total_timesteps: 64 -> 128" in err and "--force" in err
    assert (
        yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())["agents"][0][
            "total_timesteps"
        ]
        == 128
    )


def test_train_all_fails_when_training_leaves_no_done(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import experiments.train
    from experiments.train import train_all

    def no_done(config, **kwargs: object) -> Path:
        folder = run_dir(config, config.agents[0], config.agents[0].seeds[0])
        folder.mkdir(parents=True)
        return folder

    monkeypatch.setattr(experiments.train, "train_run", no_done)
    with pytest.raises(RuntimeError, match=r"training .*ppo-seed0 returned without writing DONE"):
        train_all(_config(tmp_path))


def test_leaderboard_refuses_a_config_run_trained_with_another_config(tmp_path: Path) -> None:
    old = _config(tmp_path)
    _fake_run(old, 0)
    _fake_run(old, 1, done=False)
    names = [c.name for c in config_contenders(old)]
    assert names == ["fluid", "ppo"]
    with pytest.raises(RunConfigMismatchError, match=r"agents\.0\.total_timesteps: 64 -> 128"):
        config_contenders(_config(tmp_path, total_timesteps=128))


def test_runs_with_different_configs_are_separate_rows_and_store_labels(tmp_path: Path) -> None:
    short = _config(tmp_path, runs="a")
    long = _config(tmp_path, runs="b", total_timesteps=128)
    copy = _config(tmp_path, runs="c")  # same config as `short`, another runs folder
    folders = [
        _fake_run(short, 0, model=b"s0"),
        _fake_run(short, 1, model=b"s1"),
        _fake_run(long, 0, model=b"l0"),
        _fake_run(copy, 0, model=b"c0"),
    ]
    fps = [config_fingerprint(saved_run_config(f)) for f in folders]
    assert fps[0] == fps[1] == fps[3] != fps[2]  # seed and runs_dir are not part of it
    contenders = {c.name: c for c in learned_contenders(folders)}
    assert sorted(contenders) == sorted([f"ppo@{fps[0][:8]}", f"ppo@{fps[2][:8]}"])
    pooled = contenders[f"ppo@{fps[0][:8]}"]
    assert [m.training_seed for m in pooled.members] == [0, 1, 0] and len(
        contenders[f"ppo@{fps[2][:8]}"].members
    ) == 1
    assert "trained with 2 different configs" in pooled.note
    labels = [m.label for c in contenders.values() for m in c.members]
    assert len(set(labels)) == 4 and all(label.startswith("cfg-test/ppo-seed") for label in labels)
    single = learned_contenders(folders[:2])
    assert [c.name for c in single] == ["ppo"] and single[0].note == ""
