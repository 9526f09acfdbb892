"""The planners that know more than the chain: the truth planner (pattern search on the true
process) and the shock-aware SAA (scenarios of the demand environment).

Known answers: on tiny Markov chain instances the truth planner finds the exact optimum of the
DP enumeration; on one product whose season is scaled by a Gamma market size, demand is
negative binomial and both planners find the newsvendor optimum of that distribution, which
the chain-only heuristics (Poisson demand) miss by a few percent.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import nbinom

from baselines.registry import solve
from baselines.saa import saa_policy
from baselines.scenarios import environment_counts, first_choice_counts
from baselines.truth_search import BANK_SEED_LOW, substitute_pairs
from envs.families import make_family_instance
from envs.instance import make_instance
from envs.shocks import DemandEnvironment, shock_instance
from envs.validation import InputError, InputTypeError


def test_truth_search_finds_the_exact_optimum_on_tiny_instances():
    for seed in (1, 2, 4):
        inst = make_family_instance("tiny", seed)
        optimum = solve("exact", inst)
        result = solve("truth-search", inst, rng=seed, seasons=4000, start="saa")
        assert result.info["stopped"] == "converged"
        np.testing.assert_array_equal(result.stock, optimum.stock)


def test_transfer_moves_leave_a_coordinate_local_optimum():
    inst = make_family_instance("tiny", 17)
    without = solve("truth-search", inst, rng=17, seasons=4000, start="saa", transfers=False)
    with_transfers = solve("truth-search", inst, rng=17, seasons=4000, start="saa")
    np.testing.assert_array_equal(without.stock, [2, 4, 0])  # coordinate moves stop here
    np.testing.assert_array_equal(with_transfers.stock, solve("exact", inst).stock)
    assert with_transfers.info["transfer_moves"] >= 1


def _one_product(cv: float):
    base = make_instance(
        prices=[2.0],
        costs=[1.2],
        salvage=[0.2],
        arrival=[0.8],
        substitution=[[0.0]],
        customers=100,
        arrivals="poisson",
    )
    return shock_instance(base, DemandEnvironment(cv_market=cv))


def _negative_binomial_profit(x: int, cv: float) -> float:
    """E[2 min(D, x) + 0.2 (x - min(D, x))] - 1.2 x with D ~ Poisson(80 G), G ~ Gamma(1/cv^2,
    cv^2): D is negative binomial with n = 1/cv^2 and p = n / (n + 80)."""
    n = 1 / cv**2
    demand = np.arange(2000)
    pmf = nbinom.pmf(demand, n, n / (n + 80))
    sold = np.minimum(demand, x)
    return float(pmf @ (2.0 * sold + 0.2 * (x - sold))) - 1.2 * x


def test_one_product_market_shock_is_the_negative_binomial_newsvendor():
    cv = 0.5
    inst = _one_product(cv)
    values = [_negative_binomial_profit(x, cv) for x in range(200)]
    optimum = max(values)
    assert int(np.argmax(values)) == 68  # below the mean 80: critical ratio 0.44
    for name in ("truth-search", "shock-aware-saa"):
        stock = int(solve(name, inst, rng=3).stock[0])
        assert values[stock] > (1 - 0.003) * optimum, (name, stock)
    for name in ("saa", "newsvendor"):  # plan for Poisson(80) demand
        stock = int(solve(name, inst, rng=3).stock[0])
        assert values[stock] < (1 - 0.02) * optimum, (name, stock)


def test_truth_search_is_seeded_and_plans_on_bank_seeds_above_evaluation_seeds():
    inst = make_family_instance("market", 0, n_products=6, customers=60, neighbours=2)
    first = solve("truth-search", inst, rng=11, seasons=200, start="fluid")
    again = solve("truth-search", inst, rng=11, seasons=200, start="fluid")
    np.testing.assert_array_equal(first.stock, again.stock)
    assert first.info["bank_seed"] == again.info["bank_seed"] >= BANK_SEED_LOW
    assert first.info["knows"] == "true process"
    assert first.info["bank_profit"] >= first.info["start_profit"]
    assert first.info["evaluations"] <= first.info["max_evaluations"]


def test_substitute_pairs_are_the_substitution_graph():
    inst = make_instance(
        prices=[1.0] * 4,
        costs=[0.5] * 4,
        arrival=[0.2] * 4,
        substitution=[[0, 0.5, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.3], [0.1, 0, 0, 0]],
        customers=5,
    )
    np.testing.assert_array_equal(substitute_pairs(inst), [[0, 1], [0, 3], [2, 3]])


@pytest.mark.parametrize(
    ("knobs", "error", "message"),
    [
        ({"start": "local-search"}, InputError, r"`start` must be one of \['best', 'fluid'"),
        ({"seasons": 0}, InputError, r"`seasons` must be an integer in \[1, 4,096\]; got 0"),
        (
            {"max_evaluations": 20_001},
            InputError,
            r"`max_evaluations` must be an integer in \[1, 20,000\]; got 20001",
        ),
        ({"transfers": 1}, InputTypeError, r"`transfers` must be True or False; got 1 \(int\)"),
        (
            {"max_passes": 2.0},
            InputTypeError,
            r"`max_passes` must be an integer in \[1, 1,000\]; got 2.0 \(float\)",
        ),
    ],
)
def test_truth_search_knobs_are_checked(knobs, error, message):
    with pytest.raises(error, match=message):
        solve("truth-search", make_family_instance("tiny", 0), **knobs)


# ------------------------------------------------------------------ shock-aware scenarios


def test_environment_scenarios_have_the_shocked_moments():
    inst = make_family_instance("fashion", 1, n_products=5, neighbours=2, batch_mean=2.0)
    counts = environment_counts(inst, 4096, np.random.default_rng(0)).astype(float)
    more = environment_counts(inst, 4096, np.random.default_rng(1)).astype(float)
    counts = np.concatenate([counts, more])
    mean = inst.customers * inst.arrival
    cv2 = inst.shopper.demand_cv(inst.customers) ** 2
    np.testing.assert_allclose(counts.mean(axis=0), mean, rtol=0.05)
    np.testing.assert_allclose(counts.var(axis=0), cv2 * mean**2, rtol=0.15)


def test_without_a_demand_environment_the_shock_aware_saa_is_the_saa():
    inst = make_family_instance("small", 3)
    np.testing.assert_array_equal(environment_counts(inst, 7, 5), first_choice_counts(inst, 7, 5))
    aware = solve("shock-aware-saa", inst, rng=9, scenarios=40)
    plain = saa_policy(inst, rng=9, scenarios=40)
    np.testing.assert_array_equal(aware.stock, plain.stock)
    assert aware.info["knows"] == "chain only"
    assert solve("shock-aware-saa", make_family_instance("market", 0), rng=1).info["knows"] == (
        "demand environment"
    )
