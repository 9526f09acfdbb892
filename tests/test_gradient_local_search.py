"""Sample-path gradient and simulation local search: known answers, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from baselines.gradient import (
    WalkTables,
    displacement_table,
    sample_path_gradient_policy,
    unit_values,
)
from baselines.local_search import bank_objective, local_search_policy
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError


def test_unit_values_follow_the_displacement_cascade() -> None:
    margin = np.array([5.0, 3.0, 2.0])
    displaced = np.array(
        [[1, 3, -1]]
    )  # 0's first late visitor bought 1; 1's left; nobody reached 2
    np.testing.assert_allclose(unit_values(margin, displaced, 1), [[2.0, 3.0, 0.0]])
    np.testing.assert_allclose(unit_values(margin, displaced, 2), [[5.0, 3.0, 0.0]])


def test_displacement_kernel_records_the_first_late_visitor() -> None:
    # Every customer wants product 0 first (lambda = (1, 0)) and moves on to 1 when 0 is out.
    instance = make_instance(
        prices=[4.0, 3.0],
        costs=[1.0, 1.0],
        arrival=[1.0, 0.0],
        substitution=[[0.0, 1.0], [0.0, 0.0]],
        customers=3,
    )
    tables = WalkTables.from_instance(instance)
    sales, displaced = displacement_table(
        instance, np.array([1, 5]), 2, 7, tables, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(sales, [[1, 2], [1, 2]])
    np.testing.assert_array_equal(displaced, [[1, -1], [1, -1]])
    # Nothing in stock: the first customer leaves, and her walk 0 -> 1 makes her the first
    # late visitor of both products (one more unit of either would have sold to her; the
    # former kernel credited product 0 only and under-valued the last unit, issue 11).
    _, displaced = displacement_table(
        instance, np.array([0, 0]), 1, 7, tables, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(displaced, [[2, 2]])
    # One unit of 0, none of 1: the first customer buys 0 without walking on; the second finds
    # the store empty and walks 0 -> 1, the first late visitor of both.
    _, displaced = displacement_table(
        instance, np.array([1, 0]), 1, 7, tables, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(displaced, [[2, 2]])


def newsvendor_instance() -> object:
    return make_instance(
        prices=[10.0, 6.0],
        costs=[3.0, 4.0],
        arrival=[0.4, 0.3],
        substitution=np.zeros((2, 2)),
        customers=100,
    )


def test_gradient_without_substitution_finds_the_newsvendor() -> None:
    instance = newsvendor_instance()
    result = sample_path_gradient_policy(
        instance, rng=4, iterations=400, seasons=8, start="newsvendor"
    )
    ratio = (instance.prices - instance.costs) / instance.prices
    expected = binom.ppf(ratio, 100, instance.arrival)
    assert np.all(np.abs(result.stock - expected) <= 2), (result.stock, expected)
    # Started far away, it still climbs to the newsvendor region.
    result = sample_path_gradient_policy(
        instance, rng=4, iterations=400, seasons=8, start="fluid", step=2.0
    )
    assert np.all(np.abs(result.stock - expected) <= 3), (result.stock, expected)


def test_gradient_is_deterministic_given_the_seed() -> None:
    instance = newsvendor_instance()
    a = sample_path_gradient_policy(instance, rng=9, iterations=30)
    b = sample_path_gradient_policy(instance, rng=np.random.default_rng(9), iterations=30)
    np.testing.assert_array_equal(a.stock, b.stock)
    assert a.info["iterations"] == 30 and a.policy == "sample-path-gradient"


def substitution_instance() -> object:
    return make_instance(
        prices=[10.0, 8.0, 6.0],
        costs=[4.0, 5.0, 2.0],
        arrival=[0.3, 0.25, 0.2],
        substitution=[[0.0, 0.5, 0.2], [0.4, 0.0, 0.3], [0.3, 0.3, 0.0]],
        customers=40,
    )


def test_local_search_ends_in_a_bank_local_optimum() -> None:
    instance = substitution_instance()
    result = local_search_policy(instance, rng=2, seasons=64)
    assert result.info["stopped"] == "converged"
    assert result.info["bank_profit"] >= result.info["start_profit"]
    objective = bank_objective(instance, 64, result.info["bank_seed"])
    best = objective(result.stock)
    assert best == pytest.approx(result.info["bank_profit"])
    for i in range(3):
        for delta in (1, -1):
            neighbour = result.stock.copy()
            neighbour[i] += delta
            if neighbour[i] >= 0:
                assert objective(neighbour) <= best
    again = local_search_policy(instance, rng=2, seasons=64)
    np.testing.assert_array_equal(result.stock, again.stock)


def test_local_search_stops_at_its_evaluation_budget() -> None:
    instance = substitution_instance()
    result = local_search_policy(instance, rng=2, seasons=64, max_evaluations=3)
    assert result.info["stopped"] == "evaluations" and result.info["evaluations"] == 3
    assert local_search_policy(instance, rng=2, seasons=64, max_passes=1).info["stopped"] in (
        "iterations",
        "converged",
    )


def test_local_search_default_evaluation_budget() -> None:
    from baselines.local_search import default_evaluations

    assert default_evaluations(32, 100_000) == 625  # N = 10,000, T = 100,000 heavy-tail: < 2 min
    assert default_evaluations(32, 10_000) == 6_250 and default_evaluations(32, 40) == 20_000
    assert default_evaluations(10**6, 10**6) == 100


@pytest.mark.parametrize("name", ["saa", "pooled-saa", "sample-path-gradient", "local-search"])
def test_default_budgets_make_seeded_heuristics_reproducible(name: str) -> None:
    # No wall-clock stopping rule by default: the same seed gives the same stock under any load.
    from baselines.registry import policy_knobs, solve

    assert policy_knobs(name)["time_limit"] is None
    instance = substitution_instance()
    first = solve(name, instance, rng=17)
    second = solve(name, instance, rng=17)
    np.testing.assert_array_equal(first.stock, second.stock)
    assert first.info["stopped"] == second.info["stopped"] != "time_limit"


def test_gradient_reports_its_planning_seed_and_stopping_rule() -> None:
    result = sample_path_gradient_policy(newsvendor_instance(), rng=9, iterations=5)
    assert result.info["stopped"] == "iterations"
    assert result.info["planning_seed"] == int(np.random.default_rng(9).integers(2**62))


TIME_LIMIT_RULE = r"`time_limit` must be a finite number > 0"
STEP_RULE = r"`step` must be a finite number in \(0, 1,000,000\]"


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"iterations": 0}, r"`iterations` must be an integer in \[1, 100,000\]; got 0"),
        ({"iterations": 100_001}, r"`iterations` must be an integer in \[1, 100,000\]; got 100001"),
        ({"seasons": 0}, r"`seasons` must be an integer in \[1, 4,096\]; got 0"),
        ({"seasons": 4097}, r"`seasons` must be an integer in \[1, 4,096\]; got 4097"),
        ({"cascade_depth": 0}, r"`cascade_depth` must be an integer in \[1, 64\]; got 0"),
        ({"cascade_depth": 65}, r"`cascade_depth` must be an integer in \[1, 64\]; got 65"),
        ({"step": 0.0}, rf"{STEP_RULE}; got 0.0"),
        ({"step": 1e7}, rf"{STEP_RULE}; got 10000000.0"),
        ({"step": float("inf")}, rf"{STEP_RULE}; got inf"),
        ({"rng": -1}, r"`rng` must be an integer seed in \[0, 2\*\*63\); got -1"),
        ({"start": "zero"}, r"`start` must be one of \[.*\]; got 'zero' \(str\)"),
        ({"rounding": "up"}, r"`rounding` must be one of \[.*\]; got 'up' \(str\)"),
        ({"time_limit": 0.0}, rf"{TIME_LIMIT_RULE}; got 0.0"),
    ],
)
def test_gradient_bad_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        sample_path_gradient_policy(newsvendor_instance(), **{"rng": 0, **knobs})


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"seasons": 0}, r"`seasons` must be an integer in \[1, 4,096\]; got 0"),
        ({"seasons": 4097}, r"`seasons` must be an integer in \[1, 4,096\]; got 4097"),
        ({"max_passes": 0}, r"`max_passes` must be an integer in \[1, 10,000\]; got 0"),
        ({"max_passes": 10_001}, r"`max_passes` must be an integer in \[1, 10,000\]; got 10001"),
        ({"start": "zero"}, r"`start` must be one of \[.*\]; got 'zero' \(str\)"),
        ({"time_limit": -2.0}, rf"{TIME_LIMIT_RULE}; got -2.0"),
        ({"max_evaluations": 0}, r"`max_evaluations` must be an integer in \[1, 20,000\]; got 0"),
        (
            {"max_evaluations": 20_001},
            r"`max_evaluations` must be an integer in \[1, 20,000\]; got 20001",
        ),
    ],
)
def test_local_search_bad_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        local_search_policy(substitution_instance(), rng=0, **knobs)


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"step": "1"}, rf"{STEP_RULE}; got '1' \(str\)"),
        (
            {"iterations": 3.0},
            r"`iterations` must be an integer in \[1, 100,000\]; got 3.0 \(float\)",
        ),
        (
            {"seasons": None},
            r"`seasons` must be an integer in \[1, 4,096\]; got None \(NoneType\)",
        ),
        ({"time_limit": "10"}, rf"{TIME_LIMIT_RULE}; got '10' \(str\)"),
    ],
)
def test_gradient_mistyped_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputTypeError, match=match):
        sample_path_gradient_policy(newsvendor_instance(), rng=0, **knobs)


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        (
            {"max_evaluations": 1.5},
            r"`max_evaluations` must be an integer in \[1, 20,000\]; got 1.5 \(float\)",
        ),
        (
            {"max_passes": "2"},
            r"`max_passes` must be an integer in \[1, 10,000\]; got '2' \(str\)",
        ),
        (
            {"rng": "seed"},
            r"`rng` must be None, an integer seed in \[0, 2\*\*63\) or a numpy Generator; "
            r"got 'seed' \(str\)",
        ),
    ],
)
def test_local_search_mistyped_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputTypeError, match=match):
        local_search_policy(substitution_instance(), **{"rng": 0, **knobs})
