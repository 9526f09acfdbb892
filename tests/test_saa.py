"""SAA LP: hand-solved LPs, builder entries, the newsvendor special case, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from baselines.fluid import round_stock
from baselines.pooled import (
    customer_values,
    pooled_assortment,
    pooled_saa_policy,
    stocking_pays,
)
from baselines.saa import (
    MAX_ITERATIONS,
    MAX_SCENARIO_CELLS,
    ascent_direction,
    auto_scenarios,
    flow_ascent,
    saa_policy,
    saa_program,
    solve_saa_program,
    spill_values,
)
from baselines.scenarios import first_choice_counts
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError


def two_product(customers: int = 14) -> object:
    """Product 0 earns 1 per unit (10 - 9), product 1 earns 3 (6 - 3); half of 0's spill goes
    to 1."""
    return make_instance(
        prices=[10.0, 6.0],
        costs=[9.0, 3.0],
        arrival=[10 / 14, 4 / 14],
        substitution=[[0.0, 0.5], [0.0, 0.0]],
        customers=customers,
    )


def test_one_scenario_two_products_hand_solved() -> None:
    # Stocking product 0 earns 1 per customer; sending her on earns 0.5 * 3 = 1.5: drop 0 and
    # stock 1 for its 4 own customers plus 5 spilled ones: x = (0, 9), value 3 * 9 = 27.
    program = saa_program(two_product(), np.array([[10, 4]]))
    solution = solve_saa_program(program)
    assert solution.status == 0
    np.testing.assert_allclose(solution.stock, [0.0, 9.0], atol=1e-7)
    assert solution.value == pytest.approx(27.0)


def test_builder_entries_two_scenarios() -> None:
    program = saa_program(two_product(), np.array([[10, 4], [7, 5]]))
    assert program.cost.shape == (10,)
    np.testing.assert_allclose(program.cost, [9, 3, -5, -3, -5, -3, 0, 0, 0, 0])
    # rows (k, i): z^k_i + w^k_i - sum_j rho_ji w^k_j = d^k_i; only rho_01 = 0.5 is non-zero.
    expected_eq = np.array(
        [
            [0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
            [0, 0, 0, 1, 0, 0, -0.5, 1, 0, 0],
            [0, 0, 0, 0, 1, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 1, 0, 0, -0.5, 1],
        ]
    )
    np.testing.assert_allclose(program.a_eq.toarray(), expected_eq)
    np.testing.assert_allclose(program.b_eq, [10, 4, 7, 5])
    expected_ub = np.array(
        [
            [-1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            [0, -1, 0, 1, 0, 0, 0, 0, 0, 0],
            [-1, 0, 0, 0, 1, 0, 0, 0, 0, 0],
            [0, -1, 0, 0, 0, 1, 0, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(program.a_ub.toarray(), expected_ub)
    np.testing.assert_allclose(program.b_ub, 0.0)
    np.testing.assert_allclose(program.upper[:2], [14.0, 14.0])
    assert np.all(np.isinf(program.upper[2:]))


def test_offer_set_caps_stock_at_zero() -> None:
    program = saa_program(two_product(), np.array([[10, 4]]), offered=np.array([False, True]))
    np.testing.assert_allclose(program.upper[:2], [0.0, 14.0])


def no_substitution(customers: int = 60, arrivals: str = "fixed") -> object:
    return make_instance(
        prices=[10.0, 8.0, 5.0],
        costs=[3.0, 6.0, 1.0],
        salvage=[1.0, 0.0, 0.5],
        arrival=[0.3, 0.2, 0.35],
        substitution=np.zeros((3, 3)),
        customers=customers,
        arrivals=arrivals,
    )


def empirical_quantiles(instance, demands: np.ndarray) -> np.ndarray:
    """Smallest x with F_K(x) >= (r - c) / (r - s): the scenario newsvendor optimum."""
    ratio = (instance.prices - instance.costs) / (instance.prices - instance.salvage)
    out = []
    for i in range(demands.shape[1]):
        values = np.sort(demands[:, i])
        cdf = np.arange(1, values.size + 1) / values.size
        out.append(values[np.flatnonzero(cdf >= ratio[i] - 1e-12)[0]])
    return np.array(out)


@pytest.mark.parametrize("arrivals", ["fixed", "poisson"])
def test_no_substitution_lp_is_the_scenario_newsvendor(arrivals: str) -> None:
    instance = no_substitution(arrivals=arrivals)
    # ratios 7/9, 2/8, 4/4.5: with K = 199 no fraction k/199 equals a ratio, so the optimum is
    # unique.
    result = saa_policy(instance, rng=3, scenarios=199, solver="lp")
    demands = first_choice_counts(instance, 199, 3)
    np.testing.assert_array_equal(result.stock, empirical_quantiles(instance, demands))
    assert result.info["status"] == 0 and result.info["solver"] == "lp"


def test_no_substitution_flow_ascent_reaches_the_newsvendor() -> None:
    instance = no_substitution()
    result = saa_policy(instance, rng=3, scenarios=199, solver="flow-ascent", iterations=600)
    expected = empirical_quantiles(instance, first_choice_counts(instance, 199, 3))
    assert np.all(np.abs(result.stock - expected) <= 1), (result.stock, expected)


def test_flow_ascent_value_never_exceeds_the_lp() -> None:
    # Greedy sales restrict the LP, so the flow-ascent in-sample value is at most the LP optimum,
    # and on this instance within 2 percent of it.
    rng = np.random.default_rng(5)
    n = 6
    rho = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    np.fill_diagonal(rho, 0.0)
    rho *= 0.7 / np.maximum(rho.sum(axis=1, keepdims=True), 1e-9)
    instance = make_instance(
        prices=rng.uniform(5, 10, n),
        costs=rng.uniform(1, 4, n),
        arrival=np.full(n, 0.12),
        substitution=rho,
        customers=200,
    )
    demands = first_choice_counts(instance, 20, 1).astype(float)
    lp = solve_saa_program(saa_program(instance, demands))
    flow = flow_ascent(instance, demands, np.ones(n, dtype=bool), iterations=400)
    assert flow.value <= lp.value + 1e-6
    assert flow.value >= 0.98 * lp.value


def test_same_seed_same_stock_and_scenarios() -> None:
    instance = two_product(customers=40)
    np.testing.assert_array_equal(
        first_choice_counts(instance, 5, 9), first_choice_counts(instance, 5, 9)
    )
    for solver in ("lp", "flow-ascent"):
        a = saa_policy(instance, rng=11, scenarios=8, solver=solver)
        b = saa_policy(instance, rng=np.random.default_rng(11), scenarios=8, solver=solver)
        np.testing.assert_array_equal(a.stock, b.stock)
        assert a.solve_seconds >= 0 and a.policy == "saa"


def test_first_choice_counts_sum_to_buyers() -> None:
    instance = no_substitution(customers=100)
    counts = first_choice_counts(instance, 400, 0)
    assert counts.shape == (400, 3) and counts.dtype == np.int64
    assert np.all(counts.sum(axis=1) <= 100)
    np.testing.assert_allclose(counts.mean(axis=0), 100 * instance.arrival, rtol=0.05)


def test_rounding_rules() -> None:
    x = np.array([0.5, 1.4999, 2.0000001, 2.9999999, 3.2])
    np.testing.assert_array_equal(round_stock(x, "nearest"), [1, 1, 2, 3, 3])
    np.testing.assert_array_equal(round_stock(x, "floor"), [0, 1, 2, 3, 3])
    np.testing.assert_array_equal(round_stock(x, "ceil"), [1, 2, 2, 3, 4])


SCENARIOS_RULE = r"`scenarios` must be an integer in \[1, 4,096\]"
ITERATIONS_RULE = r"`iterations` must be an integer in \[1, 100,000\]"
TIME_LIMIT_RULE = r"`time_limit` must be a finite number > 0"


@pytest.mark.parametrize(
    ("knobs", "error", "match"),
    [
        ({"scenarios": 0}, InputError, rf"{SCENARIOS_RULE}; got 0$"),
        ({"scenarios": 4097}, InputError, rf"{SCENARIOS_RULE}; got 4097$"),
        (
            {"rounding": "up"},
            InputError,
            r"`rounding` must be one of \['in-sample', 'nearest', 'floor', 'ceil'\]; got 'up' "
            r"\(str\)",
        ),
        ({"solver": "cplex"}, InputError, r"`solver` must be one of \[.*\]; got 'cplex' \(str\)"),
        ({"iterations": 0}, InputError, rf"{ITERATIONS_RULE}; got 0$"),
        ({"iterations": 100_001}, InputError, rf"{ITERATIONS_RULE}; got 100001$"),
        ({"scenarios": 2.0}, InputTypeError, rf"{SCENARIOS_RULE}; got 2.0 \(float\)"),
        ({"iterations": "9"}, InputTypeError, rf"{ITERATIONS_RULE}; got '9' \(str\)"),
        ({"time_limit": "a"}, InputTypeError, rf"{TIME_LIMIT_RULE}; got 'a' \(str\)"),
        ({"rng": -5}, InputError, r"`rng` must be an integer seed in \[0, 2\*\*63\); got -5"),
        (
            {"rng": 1.5},
            InputTypeError,
            r"`rng` must be None, an integer seed in \[0, 2\*\*63\) or a numpy Generator; "
            r"got 1.5 \(float\)",
        ),
        (
            {"method": "simplex", "solver": "lp"},
            InputError,
            r"`method` must be one of \[.*\]; got 'simplex' \(str\)",
        ),
        ({"time_limit": -1.0, "solver": "lp"}, InputError, rf"{TIME_LIMIT_RULE}; got -1.0"),
        ({"time_limit": float("inf")}, InputError, rf"{TIME_LIMIT_RULE}; got inf"),
    ],
)
def test_bad_knobs_raise(knobs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        saa_policy(two_product(), **{"rng": 0, **knobs})


def test_too_many_scenario_cells_are_refused() -> None:
    # K = 4,096 scenarios of N = 12,208 products is just over MAX_SCENARIO_CELLS = 50,000,000;
    # the planner refuses before drawing any scenario.
    n = 12_208
    instance = make_instance(
        prices=np.ones(n),
        costs=np.zeros(n),
        arrival=np.full(n, 1.0 / n),
        substitution=sp.csr_array((n, n)),
        customers=10,
    )
    assert 4096 * (n - 1) <= MAX_SCENARIO_CELLS < 4096 * n
    with pytest.raises(
        InputError,
        match=r"`scenarios` 4,096 times N = 12,208 products is 50,003,968 scenario cells; "
        r"the SAA holds at most 50,000,000",
    ):
        saa_policy(instance, rng=0, scenarios=4096)


@pytest.mark.parametrize(
    ("offered", "error", "match"),
    [
        (
            [1, 0],
            InputTypeError,
            r"`offered` must be a boolean mask over the 2 products; got dtype int",
        ),
        (
            np.array([True]),
            InputError,
            r"`offered` must have shape \(2,\), one entry per product; got shape \(1,\)",
        ),
    ],
)
def test_bad_offer_set_raises(offered: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        saa_program(two_product(), np.array([[10, 4]]), offered=offered)


def test_offer_set_and_scenario_kind_are_not_public_knobs() -> None:
    from baselines.registry import policy_knobs

    assert "offered" not in policy_knobs("saa") and "scenario_kind" not in policy_knobs("saa")
    assert "offered" not in policy_knobs("pooled-saa")


def test_flow_ascent_budget_is_the_same_at_every_size_and_stops_when_converged() -> None:
    # The former rule, 1.5e6 / N steps, cut the ascent at 37 steps for N = 40,005 (issue 11).
    # Now every N gets MAX_ITERATIONS steps, and the ascent stops once F stops rising.
    assert MAX_ITERATIONS == 300
    instance = no_substitution(customers=60)
    demands = first_choice_counts(instance, 50, 2).astype(float)
    result = flow_ascent(instance, demands, np.ones(3, dtype=bool), iterations=MAX_ITERATIONS)
    assert result.stopped == "converged" and result.iterations < MAX_ITERATIONS


def test_auto_scenario_count_fills_the_lp_budget() -> None:
    def sized(n: int, leak: bool = True) -> object:
        rho = np.zeros((n, n)) if leak else (np.ones((n, n)) - np.eye(n)) / (n - 1)
        return make_instance(
            prices=np.full(n, 2.0),
            costs=np.ones(n),
            arrival=np.full(n, 1.0 / n),
            substitution=rho,
            customers=5,
        )

    # K = (10,000 // N - 1) // blocks in [32, 256]; blocks = 3 with the leave column.
    assert auto_scenarios(sized(10)) == 256 and auto_scenarios(sized(20)) == 249
    assert auto_scenarios(sized(100)) == 49 and auto_scenarios(sized(100, leak=False)) == 33
    assert auto_scenarios(sized(300)) == 32
    result = saa_policy(sized(10), rng=0)
    assert result.info["scenarios"] == 256 and result.info["solver"] == "lp"
    assert result.info["lp_variables"] == 10 * (2 * 256 + 1) <= 10_000


def test_leave_column_lets_a_leak_free_chain_stock_nothing() -> None:
    # MNL without outside option (every row of rho sums to 1), both margins negative: stocking
    # nothing earns 0. Without the leave column the flow equations force every customer to buy
    # and the former LP stocked 8 units at a loss of 1.6.
    from envs.choice import mnl_instance

    instance = mnl_instance([1.0, 1.0], 0.0, prices=[1.0, 1.0], costs=[1.2, 1.5], customers=8)
    program = saa_program(instance, first_choice_counts(instance, 4, 0))
    assert program.leave and program.a_eq.shape == (8, 2 + 3 * 8)
    solution = solve_saa_program(program)
    assert solution.status == 0 and solution.value == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(solution.stock, 0.0, atol=1e-9)
    assert np.all(saa_policy(instance, rng=0).stock == 0)
    assert not saa_program(two_product(), np.array([[10, 4]])).leave


def test_in_sample_rounding_keeps_the_best_candidate() -> None:
    # One scenario, no substitution: x = d is optimal; with scores favouring the ceiling of the
    # fractional coordinate the ceiling is kept, with more than 4 fractional coordinates the
    # nearest rounding is used unscored.
    from baselines.saa import round_in_sample

    mask = np.ones(3, dtype=bool)
    stock, value = round_in_sample(np.array([1.0, 2.5, 0.2]), mask, lambda s: float(s @ [0, 1, -1]))
    np.testing.assert_array_equal(stock, [1, 3, 0])
    assert value == 3.0
    stock, value = round_in_sample(np.full(5, 0.6), np.ones(5, dtype=bool), lambda s: 0.0)
    np.testing.assert_array_equal(stock, [1, 1, 1, 1, 1])
    assert np.isnan(value)
    # The policy: its in-sample value of the rounded stock is the LP's value at that stock,
    # at most the fractional optimum.
    result = saa_policy(two_product(customers=30), rng=4, scenarios=16)
    assert result.info["rounded_value"] <= result.info["saa_value"] + 1e-9


def test_spill_into_an_unstocked_product_passes_on() -> None:
    # Chain 0 -> 1 (prob 0.5), 1 -> 2 (prob 0.8); margins (4, 3, 2); x = (3, 0, 5).
    # In the scenario product 1 gets no inflow (a_1 = 0 = x_1), product 2 is unsaturated.
    # One more customer at 1 finds nothing and walks on: v_1 = 0.8 * v_2 = 0.8 * 2 = 1.6
    # (the old rule "saturated = a > x" valued her at m_1 = 3). Products 0 and 2 have stock
    # left: v_0 = 4, v_2 = 2.
    rho = sp.csr_array(np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 0.8], [0.0, 0.0, 0.0]]))
    margin = np.array([4.0, 3.0, 2.0])
    x = np.array([3.0, 0.0, 5.0])
    inflows = np.array([[1.0, 0.0, 2.0]])
    passes = (inflows > x) | (x == 0)
    np.testing.assert_allclose(spill_values(rho, margin, passes), [[4.0, 1.6, 2.0]])
    np.testing.assert_allclose(spill_values(rho, margin, inflows > x), [[4.0, 3.0, 2.0]])
    # Saturated product 0 (a_0 = 6 > 3): one more unit earns m_0 - 0.5 v_1 - h_0, with v_1 = 0.8
    # v_2 = 1.6 (1 is unstocked, but reached by 0's spill so a_1 > 0 = x_1 anyway):
    # 4 - 0.8 - 1 = 2.2; unsaturated products earn -h.
    inflows = np.array([[6.0, 1.5, 2.0]])
    direction = ascent_direction(rho, margin, np.ones(3), inflows, x)
    np.testing.assert_allclose(direction, [2.2, 3.0 - 1.6 - 1.0, -1.0])


def test_bad_demands_raise() -> None:
    with pytest.raises(
        InputError,
        match=r"`demands` must have shape \(K, 2\) with K >= 1, one row per scenario; got \(3, 4\)",
    ):
        saa_program(two_product(), np.zeros((3, 4)))
    with pytest.raises(InputError, match=r"`demands` must have shape \(K, 2\) with K >= 1"):
        saa_program(two_product(), np.zeros((0, 2)))
    with pytest.raises(
        InputError, match=r"`demands` entry \(0, 1\) is -1.0; demands must be non-negative"
    ):
        saa_program(two_product(), np.array([[1.0, -1.0]]))
    with pytest.raises(
        InputError, match=r"`demands` entry \(0, 1\) is nan; entries must be finite numbers"
    ):
        saa_program(two_product(), np.array([[1.0, np.nan]]))
    with pytest.raises(
        InputTypeError,
        match=r"`demands` must be a 2-dimensional array of numbers .*got entries of type bool",
    ):
        saa_program(two_product(), np.array([[True, False]]))


# ------------------------------------------------------------------ pooled-assortment SAA


def test_stocking_pays_is_the_demand_threshold() -> None:
    # m = 10, h = 4, p = 3: theta = -log(1 - 4 / 7) = log(7 / 3) = 0.8473
    instance = make_instance(
        prices=[10.0, 10.0],
        costs=[4.0, 4.0],
        arrival=[0.1, 0.1],
        substitution=np.zeros((2, 2)),
        customers=10,
    )
    pass_on = np.array([3.0, 3.0])
    np.testing.assert_array_equal(
        stocking_pays(instance, np.array([0.84, 0.85]), pass_on), [False, True]
    )
    # r - c <= p: never worth a unit, whatever the demand
    np.testing.assert_array_equal(
        stocking_pays(instance, np.array([1e6, 1e6]), np.array([6.0, 6.5])), [False, False]
    )


def pooling_instance() -> object:
    """Product 1 has 0.8 expected customers and sends all of them on to product 0 (same margin);
    product 2 has 2 and no substitute. Alone, one unit of 1 would pay (10 (1 - e^-0.8) = 5.5 > 4),
    but a customer passed on to 0 is worth u_0 = 10 P(Poisson(50) <= x*_0 - 1) ~ 5.5, and
    (10 - 5.5)(1 - e^-0.8) = 2.5 < 4: pooled. One unit of 2 earns 10 (1 - e^-2) = 8.6 > 4: kept."""
    return make_instance(
        prices=[10.0, 10.0, 10.0],
        costs=[4.0, 4.0, 4.0],
        arrival=[0.5, 0.008, 0.02],
        substitution=[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        customers=100,
    )


def test_customer_values_follow_the_chain() -> None:
    values = customer_values(pooling_instance(), np.array([True, False, False]))
    np.testing.assert_allclose(values, [6.0, 6.0, 0.0])


def test_pruning_pools_the_tail_product_into_its_substitute() -> None:
    offered, rounds = pooled_assortment(pooling_instance())
    np.testing.assert_array_equal(offered, [True, False, True])
    assert rounds == 1
    result = pooled_saa_policy(pooling_instance(), rng=0, scenarios=16)
    assert result.stock[1] == 0 and result.info["assortment_size"] == 2
    assert result.policy == "pooled-saa"
    again = pooled_saa_policy(pooling_instance(), rng=0, scenarios=16)
    np.testing.assert_array_equal(result.stock, again.stock)


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"drop_fraction": 0.0}, r"`drop_fraction` must be a finite number in \(0, 1\]; got 0.0"),
        ({"drop_fraction": 1.5}, r"`drop_fraction` must be a finite number in \(0, 1\]; got 1.5"),
        ({"max_rounds": -1}, r"`max_rounds` must be an integer in \[0, 100,000\]; got -1"),
        ({"max_rounds": 100_001}, r"`max_rounds` must be an integer in \[0, 100,000\]; got 100001"),
    ],
)
def test_bad_pruning_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        pooled_saa_policy(pooling_instance(), rng=0, **knobs)


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        (
            {"drop_fraction": "a"},
            r"`drop_fraction` must be a finite number in \(0, 1\]; got 'a' \(str\)",
        ),
        (
            {"max_rounds": 2.5},
            r"`max_rounds` must be an integer in \[0, 100,000\]; got 2.5 \(float\)",
        ),
        ({"scenarios": True}, r"`scenarios` must be an integer in \[1, 4,096\]; got True \(bool\)"),
    ],
)
def test_mistyped_pruning_knobs_raise(knobs: dict, match: str) -> None:
    with pytest.raises(InputTypeError, match=match):
        pooled_saa_policy(pooling_instance(), rng=0, **knobs)
