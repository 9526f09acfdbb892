"""Registry, fluid, newsvendor, assortment + newsvendor and exact policies: known answers."""

from __future__ import annotations

import inspect
import itertools
import math
import re

import numpy as np
import pytest

from baselines import POLICIES, HeuristicPolicy, StockingPolicy, solve
from baselines.assortment import best_assortment
from baselines.exact import (
    MAX_STATES_LIMIT,
    InstanceTooLargeError,
    exact_all_stocks,
    exact_policy,
    sufficient_box,
)
from baselines.fluid import fluid_policy, round_stock
from baselines.newsvendor import critical_ratios, newsvendor_stock
from baselines.registry import load_policy, policy_knobs
from envs.choice import markov_chain_choice_probabilities
from envs.exact import exact_expected_profit
from envs.fluid_lp import fluid_lp
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError

SIMPLE = ("fluid", "newsvendor", "assortment-newsvendor")


def hand_instance(**overrides):
    kwargs = dict(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
    )
    kwargs.update(overrides)
    return make_instance(**kwargs)


def random_tiny(seed, n=None, customers=None, arrivals="fixed"):
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(1, 4))
    lam = rng.random(n)
    lam *= rng.uniform(0.6, 1.0) / lam.sum()
    rho = rng.random((n, n))
    np.fill_diagonal(rho, 0.0)
    rho *= (1.0 - rng.uniform(0.1, 0.6, n))[:, None] / np.maximum(rho.sum(axis=1), 1e-12)[:, None]
    prices = rng.uniform(1, 10, n)
    costs = prices * rng.uniform(0.1, 1.1, n)
    salvage = costs * rng.uniform(0, 0.5, n)
    return make_instance(
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=lam,
        substitution=rho,
        customers=customers or int(rng.integers(1, 5)),
        arrivals=arrivals,
    )


# ------------------------------------------------------------------------------- registry


def test_registry_names_are_the_agreed_ones():
    assert list(POLICIES) == [
        "fluid",
        "newsvendor",
        "assortment-newsvendor",
        "saa",
        "pooled-saa",
        "sample-path-gradient",
        "local-search",
        "exact",
        "walk-saa",
        "truth-search",
        "shock-aware-saa",
        "myopic-saa",
        "myopic-fluid",
        "lookahead-saa",
    ]


def test_unknown_policy_lists_known_names():
    with pytest.raises(
        InputError,
        match=r"unknown policy 'fluidd'; did you mean 'fluid'\? known policies: "
        r"fluid, newsvendor, assortment-newsvendor, saa, pooled-saa, "
        r"sample-path-gradient, local-search, exact, walk-saa, truth-search, shock-aware-saa, "
        r"myopic-saa, myopic-fluid, lookahead-saa",
    ):
        solve("fluidd", hand_instance())


def test_unknown_knob_is_named_with_a_suggestion():
    with pytest.raises(
        InputError,
        match=r"policy 'fluid' has no knob 'roundin'; did you mean 'rounding'\? "
        r"its knobs are: rng, rounding, method",
    ):
        solve("fluid", hand_instance(), roundin="floor")
    with pytest.raises(
        InputError, match="policy 'newsvendor' has no knob 'zzz'; its knobs are: rng"
    ):
        HeuristicPolicy("newsvendor", zzz=1)


@pytest.mark.parametrize("name", SIMPLE + ("exact",))
def test_heuristic_signature_contract(name):
    parameters = inspect.signature(load_policy(name)).parameters
    assert list(parameters)[0] == "instance"
    assert (
        parameters["rng"].kind is inspect.Parameter.KEYWORD_ONLY
        and parameters["rng"].default is None
    )
    assert "rng" in policy_knobs(name)


@pytest.mark.parametrize("name", SIMPLE)
def test_solve_times_and_names_the_result(name):
    instance = hand_instance()
    result = solve(name, instance, rng=0)
    assert result.policy == name and result.solve_seconds > 0
    assert result.stock.dtype == np.int64 and result.stock.shape == (2,)
    policy = HeuristicPolicy(name, rng=0)
    assert isinstance(policy, StockingPolicy) and policy.name == name
    np.testing.assert_array_equal(policy.stock_for(instance), result.stock)


# ---------------------------------------------------------------------------------- fluid


def test_fluid_rounding_rules_on_hand_solved_lp():
    # Fluid sales of the hand-solved LP in test_bound.py are z = (6.2, 0).
    instance = hand_instance()
    assert fluid_policy(instance).stock.tolist() == [6, 0]
    assert fluid_policy(instance, rounding="floor").stock.tolist() == [6, 0]
    assert fluid_policy(instance, rounding="ceil").stock.tolist() == [7, 0]
    assert fluid_policy(instance).info["lp_bound"] == pytest.approx(12.4)
    np.testing.assert_array_equal(
        round_stock(np.array([0.5, 1.49, 2.0, 1e-12]), "nearest"), [1, 1, 2, 0]
    )
    np.testing.assert_array_equal(
        round_stock(np.array([1e-12, 2.0, 2.1, -1e-9]), "ceil"), [0, 2, 3, 0]
    )
    with pytest.raises(
        InputError,
        match=r"`rounding` must be one of \['nearest', 'floor', 'ceil'\]; got 'up' \(str\)",
    ):
        fluid_policy(instance, rounding="up")
    with pytest.raises(
        InputError,
        match=r"`method` must be one of \['auto', 'fixed-point', 'highs'\]; got 'x' \(str\)",
    ):
        fluid_policy(instance, method="x")


# ----------------------------------------------------------------------------- newsvendor


def brute_force_fractile(t, p, ratio, poisson):
    """Smallest x with P(D <= x) >= ratio by summing the pmf term by term."""
    cdf = 0.0
    for x in itertools.count():
        if poisson:
            cdf += math.exp(-t * p) * (t * p) ** x / math.factorial(x)
        else:
            cdf += math.comb(t, x) * p**x * (1 - p) ** (t - x) if x <= t else 0.0
        if cdf >= ratio - 1e-12 or x >= 10 * t + 50:
            return x


@pytest.mark.parametrize("arrivals", ["fixed", "poisson"])
@pytest.mark.parametrize("seed", range(4))
def test_newsvendor_equals_brute_force_fractile(seed, arrivals):
    rng = np.random.default_rng(seed)
    n = 6
    prices = rng.uniform(1, 10, n)
    costs = prices * rng.uniform(0.05, 0.95, n)
    salvage = costs * rng.uniform(0, 0.9, n)
    lam = rng.dirichlet(np.ones(n)) * 0.9
    instance = make_instance(
        prices=prices,
        costs=costs,
        salvage=salvage,
        arrival=lam,
        substitution=np.zeros((n, n)),
        customers=37,
        arrivals=arrivals,
    )
    stock = solve("newsvendor", instance).stock
    ratio = (prices - costs) / (prices - salvage)
    expected = [brute_force_fractile(37, lam[i], ratio[i], arrivals == "poisson") for i in range(n)]
    assert stock.tolist() == expected


def test_newsvendor_fractile_at_an_exact_tie():
    # r = 4, c = 1, s = 0: q = 3/4. D ~ Binomial(2, 1/2): F(0) = 1/4, F(1) = 3/4 = q, so x = 1.
    instance = make_instance(
        prices=[4.0], costs=[1.0], arrival=[0.5], substitution=[[0.0]], customers=2
    )
    assert solve("newsvendor", instance).stock.tolist() == [1]


@pytest.mark.parametrize("name", SIMPLE + ("exact",))
def test_direct_calls_report_their_solve_time(name):
    result = load_policy(name)(hand_instance(customers=3), rng=0)
    assert result.policy == name and result.solve_seconds > 0


def test_newsvendor_skips_nonpositive_margins_and_zero_demand():
    instance = make_instance(
        prices=[2.0, 2.0, 2.0],
        costs=[2.0, 3.0, 1.0],
        arrival=[0.3, 0.3, 0.0],
        substitution=np.zeros((3, 3)),
        customers=10,
    )
    assert solve("newsvendor", instance).stock.tolist() == [0, 0, 0]
    with pytest.raises(
        InputError, match=r"`probabilities` must be 3 numbers in \[0, 1\]; got shape \(2,\)"
    ):
        newsvendor_stock(instance, np.array([0.1, 0.2]))


def test_single_product_exact_optimum_is_the_newsvendor():
    # With one product there is no substitution: the newsvendor quantity is optimal.
    instance = make_instance(
        prices=[5.0], costs=[2.0], salvage=[0.5], arrival=[0.6], substitution=[[0.0]], customers=6
    )
    assert (
        exact_policy(instance).stock.tolist() == solve("newsvendor", instance).stock.tolist() == [4]
    )


# ------------------------------------------------------------------------------ assortment


@pytest.mark.parametrize("seed", range(8))
def test_best_assortment_maximizes_single_customer_margin(seed):
    instance = random_tiny(seed + 100, n=5)
    m = instance.prices - instance.costs
    values = [
        float(
            m
            @ markov_chain_choice_probabilities(
                instance.arrival, instance.substitution, np.array(mask)
            )
        )
        for mask in itertools.product([False, True], repeat=5)
    ]
    offered = best_assortment(instance)
    chosen = float(
        m @ markov_chain_choice_probabilities(instance.arrival, instance.substitution, offered)
    )
    assert chosen == pytest.approx(max(max(values), 0.0), rel=1e-12, abs=1e-15)
    assert not np.any(offered & (m <= 0))


def test_best_assortment_with_given_margins():
    instance = hand_instance()
    # Margins (1, 3): g_2 = 3 > 0.4 * ..., g_1 = max(1, 0.5 * 3) = 1.5 -> offer only product 2.
    assert best_assortment(instance, np.array([1.0, 3.0])).tolist() == [False, True]
    with pytest.raises(
        InputError, match=r"`margins` has 3 entries; `instance.prices` has 2, they must match"
    ):
        best_assortment(instance, np.ones(3))


def test_assortment_newsvendor_uses_choice_probabilities_of_the_assortment():
    # Hand instance: S = {1}, pi_1(S) = 0.5 + 0.3 * 0.4 = 0.62; demand ~ Binomial(10, 0.62),
    # critical ratio (3 - 1) / 3 = 2/3.
    instance = hand_instance()
    expected = brute_force_fractile(10, 0.62, 2.0 / 3.0, poisson=False)
    assert solve("assortment-newsvendor", instance).stock.tolist() == [expected, 0]


# ----------------------------------------------------------------------------------- exact


@pytest.mark.parametrize("seed", range(8))
def test_exact_optimum_below_bound_and_above_heuristics(seed):
    if seed % 4 == 3:  # Poisson customers: the search box reaches the 1 - 1e-6 quantile
        instance = random_tiny(seed, n=2, customers=2, arrivals="poisson")
    else:
        instance = random_tiny(seed)
    best = exact_policy(instance)
    optimum = best.info["exact_profit"]
    assert exact_expected_profit(instance, best.stock).profit == pytest.approx(optimum)
    assert optimum <= fluid_lp(instance).value + 1e-9
    for name in SIMPLE:
        stock = solve(name, instance).stock
        assert exact_expected_profit(instance, stock).profit <= optimum + 1e-9


def test_exact_refuses_large_instances():
    instance = random_tiny(0, n=3, customers=40)
    box = sufficient_box(instance).tolist()
    states = math.prod(k + 1 for k in box)
    with pytest.raises(
        InstanceTooLargeError,
        match=rf"the exact DP's stock box 0\.\.{re.escape(str(box))} has {states:,} states; "
        r"it handles at most max_states = 100",
    ):
        exact_policy(instance, max_states=100)
    rule = r"`max_states` must be an integer in \[1, 50,000,000\]"
    with pytest.raises(InputError, match=rf"{rule}; got 0$"):
        exact_policy(instance, max_states=0)
    with pytest.raises(InputError, match=rf"{rule}; got 50000001$"):
        exact_policy(instance, max_states=MAX_STATES_LIMIT + 1)
    with pytest.raises(InputTypeError, match=rf"{rule}; got 1e\+30 \(float\)"):
        exact_policy(instance, max_states=1e30)
    with pytest.raises(
        InstanceTooLargeError,
        match=r"the exact DP handles at most 16 products \(it solves the choice model for all "
        r"2\^N offer sets\); the instance has N = 200",
    ):
        exact_policy(random_tiny(0, n=200, customers=200))


@pytest.mark.parametrize("seed", range(4))
def test_the_box_optimum_is_the_optimum_over_every_stock(seed):
    # The box of the theorem (baselines.exact docstring) loses nothing: the best stock over
    # [0, T]^N (every stock that can matter with fixed T) has the same value, and the DP's
    # table agrees with the one-stock DP of envs.exact everywhere.
    instance = random_tiny(seed, n=3, customers=6)
    small = exact_all_stocks(instance)
    full = exact_all_stocks(instance, box=np.full(3, instance.customers))
    assert np.all(small.box <= instance.customers)
    assert small.best_profit == pytest.approx(full.best_profit, rel=1e-12, abs=1e-12)
    for stock in itertools.product(*(range(k + 1) for k in small.box)):
        expected = exact_expected_profit(instance, np.array(stock)).profit
        assert small.profit_of(np.array(stock)) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    with pytest.raises(InputError, match=r"`stock` \[9, 0, 0\] lies outside the box"):
        small.profit_of(np.array([9, 0, 0]))


def test_critical_ratio_is_zero_when_price_equals_salvage():
    # r = s = c for product 0: (r - c) / (r - s) = 0/0 -> 0 by definition (no unit can earn).
    # pytest turns RuntimeWarning (invalid value in divide) into an error.
    instance = make_instance(
        prices=[2.0, 4.0],
        costs=[2.0, 1.0],
        salvage=[2.0, 0.0],
        arrival=[0.3, 0.3],
        substitution=np.zeros((2, 2)),
        customers=10,
    )
    np.testing.assert_allclose(critical_ratios(instance), [0.0, 0.75])
    assert solve("newsvendor", instance).stock[0] == 0


@pytest.mark.parametrize("name", SIMPLE + ("exact",))
def test_deterministic_policies_validate_the_seed(name):
    with pytest.raises(
        InputError, match=r"`rng` must be an integer seed in \[0, 2\*\*63\); got -5"
    ):
        solve(name, hand_instance(customers=3), rng=-5)
    with pytest.raises(
        InputTypeError,
        match=r"`rng` must be None, an integer seed in \[0, 2\*\*63\) or a numpy Generator; "
        r"got 'x' \(str\)",
    ):
        solve(name, hand_instance(customers=3), rng="x")
