"""The sample-average (Mak-Morton-Wood) bound: exact optimum <= scenario bound <= fluid bound on
tiny instances (MC, MNL with and without outside option, Poisson), the Lagrangian certificate
equals the LP value, v_K <= dbar . g* pathwise, the decomposed certificate is valid, and every
validation message."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.exact import exact_policy
from baselines.saa import saa_program, solve_saa_program
from baselines.scenario_bound import (
    BOUND_LP_LIMIT,
    decomposed_certificate,
    default_budget,
    lagrangian_bound,
    lp_certificate,
    project_multipliers,
    scenario_bound,
)
from baselines.scenarios import first_choice_counts
from envs.choice import mnl_instance
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError


def random_mc(seed: int, arrivals: str = "fixed") -> object:
    rng = np.random.default_rng(seed)
    n = 3
    rho = rng.random((n, n))
    np.fill_diagonal(rho, 0.0)
    rho *= rng.uniform(0.4, 0.9, n)[:, None] / rho.sum(axis=1, keepdims=True)
    prices = rng.uniform(1, 3, n)
    return make_instance(
        prices=prices,
        costs=prices * rng.uniform(0.3, 0.7, n),
        salvage=prices * rng.uniform(0.0, 0.2, n),
        arrival=rng.dirichlet(np.ones(n)) * 0.8,
        substitution=rho,
        customers=8,
        arrivals=arrivals,
        name=f"mc-{arrivals}-{seed}",
    )


def random_mnl(seed: int, outside: bool) -> object:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 2.0, 3)
    prices = rng.uniform(1, 3, 3)
    return mnl_instance(
        weights,
        0.25 * weights.sum() if outside else 0.0,
        prices=prices,
        costs=prices * rng.uniform(0.3, 0.7, 3),
        customers=8,
    )


TINY = {
    "tiny-family": lambda: make_family_instance("tiny", 0),
    "mc": lambda: random_mc(1),
    "poisson": lambda: random_mc(2, arrivals="poisson"),
    "mnl": lambda: random_mnl(3, outside=True),
    "mnl-no-outside": lambda: random_mnl(4, outside=False),
}


@pytest.mark.parametrize("case", list(TINY))
def test_exact_optimum_below_scenario_bound_below_fluid_bound(case: str) -> None:
    instance = TINY[case]()
    optimum = exact_policy(instance).info["exact_profit"]
    bound = scenario_bound(instance, scenarios=32, replications=8, rng=0)
    assert bound.methods == ("lp",) * 8
    assert optimum <= bound.upper + 1e-9
    assert optimum <= bound.plain_upper + 1e-9
    assert bound.upper <= bound.fluid + 1e-12 and bound.tightest == bound.upper
    assert bound.fluid == pytest.approx(fluid_lp(instance).value)
    # Each replication's certificate is its LP value and at most dbar . g* (Theorem 2 (c)).
    np.testing.assert_allclose(bound.values, bound.primal, rtol=1e-8, atol=1e-9)
    assert np.all(bound.values <= bound.controls + 1e-9)
    if case != "mnl-no-outside":
        # The bound removes most of the fluid bound's excess over the optimum (measured 84 %
        # on average with K = 128; at least half here with K = 32).
        assert bound.fluid - bound.upper >= 0.5 * (bound.fluid - optimum)
    else:
        # Every customer buys while anything is in stock: the optimum is the fluid bound.
        assert bound.upper == pytest.approx(optimum, rel=1e-9)


@pytest.mark.parametrize("family", ["tiny", "small", "mnl"])
def test_certificate_equals_the_lp_value_and_stays_below_the_sample_fluid_bound(
    family: str,
) -> None:
    instance = make_family_instance(family, 0)
    demands = first_choice_counts(instance, 16, 3).astype(float)
    certified, value = lp_certificate(instance, demands)
    solution = solve_saa_program(saa_program(instance, demands), method="highs-ds")
    assert value == pytest.approx(solution.value, rel=1e-9)
    assert certified == pytest.approx(value, rel=1e-8)
    # Pathwise v_K <= dbar . g*, and mu^k = h for every k gives exactly dbar . g*.
    sample_fluid = float(demands.mean(axis=0) @ fluid_lp(instance).dual)
    assert value <= sample_fluid + 1e-8
    holding = instance.costs - instance.salvage
    at_holding, _ = lagrangian_bound(instance, demands, np.tile(holding, (16, 1)))
    assert at_holding == pytest.approx(sample_fluid, rel=1e-9)


def test_any_multiplier_certifies_and_the_decomposition_is_close_to_the_lp() -> None:
    instance = make_family_instance("small", 1)
    demands = first_choice_counts(instance, 16, 5).astype(float)
    _, value = lp_certificate(instance, demands)
    rng = np.random.default_rng(0)
    for _ in range(5):
        mu = rng.uniform(0.0, 2.0, demands.shape)
        assert lagrangian_bound(instance, demands, mu)[0] >= value - 1e-9
        assert lagrangian_bound(instance, demands, mu, project=False)[0] >= value - 1e-9
    certified, primal = decomposed_certificate(instance, demands, polish=30)
    assert primal <= value + 1e-9 <= certified + 2e-9
    assert certified <= 1.03 * value


def test_projection_lands_in_the_multiplier_set() -> None:
    rng = np.random.default_rng(1)
    holding = np.array([0.5, 1.0, 0.0])
    mu = rng.normal(1.0, 1.0, (6, 3))
    projected = project_multipliers(mu, holding)
    assert np.all(projected >= 0)
    assert np.all(projected.mean(axis=0) <= holding + 1e-12)
    np.testing.assert_allclose(project_multipliers(projected, holding), projected, atol=1e-12)
    inside = np.full((6, 3), 0.1) * holding
    np.testing.assert_allclose(project_multipliers(inside, holding), inside)


def test_leave_column_makes_the_leak_free_bound_exact() -> None:
    # MNL without outside option and negative margins: stocking nothing is optimal (0).
    instance = mnl_instance([1.0, 1.0], 0.0, prices=[1.0, 1.0], costs=[1.2, 1.5], customers=8)
    bound = scenario_bound(instance, scenarios=8, replications=3, rng=0)
    assert bound.upper == pytest.approx(0.0, abs=1e-9) and bound.fluid == pytest.approx(0.0)


def test_same_seed_same_bound_and_default_budget() -> None:
    instance = make_family_instance("tiny", 1)
    a = scenario_bound(instance, scenarios=8, replications=3, rng=7)
    b = scenario_bound(instance, scenarios=8, replications=3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.values, b.values)
    assert a.to_dict()["scenario_bound_upper"] == a.upper
    assert default_budget(instance) == (128, 10)
    assert default_budget(make_family_instance("medium", 0)) == (64, 5)
    heavy = make_family_instance("heavy-tail", 0, n_products=1_000, customers=2_000)
    assert default_budget(heavy) == (8, 5)
    assert 1_000 * (2 * 8 + 1) <= BOUND_LP_LIMIT < 1_000 * (2 * 16 + 1)
    large = make_family_instance("heavy-tail", 0, n_products=3_000, customers=6_000)
    assert default_budget(large) == (16, 3)


def test_decomposed_method_on_request() -> None:
    instance = make_family_instance("small", 2)
    bound = scenario_bound(instance, scenarios=8, replications=2, rng=0, method="decomposed")
    assert bound.methods == ("decomposed", "decomposed")
    assert np.all(bound.values >= bound.primal - 1e-9)


@pytest.mark.parametrize(
    ("knobs", "error", "match"),
    [
        ({"scenarios": 0}, InputError, r"`scenarios` must be an integer in \[1, 4,096\]; got 0"),
        (
            {"replications": 1},
            InputError,
            r"`replications` must be an integer in \[2, 1,000\]; got 1",
        ),
        (
            {"replications": 2.5},
            InputTypeError,
            r"`replications` must be an integer in \[2, 1,000\]; got 2.5 \(float\)",
        ),
        (
            {"method": "simplex"},
            InputError,
            r"`method` must be one of \['auto', 'lp', 'decomposed'\]; got 'simplex' \(str\)",
        ),
        ({"polish": -1}, InputError, r"`polish` must be an integer in \[0, 10,000\]; got -1"),
        ({"level": 1.0}, InputError, r"`level` must be a finite number in \[0.5, 1\); got 1.0"),
        ({"rng": -1}, InputError, r"`rng` must be an integer seed in \[0, 2\*\*63\); got -1"),
    ],
)
def test_bad_knobs_raise(knobs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        scenario_bound(make_family_instance("tiny", 0), **knobs)


def test_bad_instance_and_too_many_cells_raise() -> None:
    with pytest.raises(
        InputTypeError, match=r"`instance` must be an envs.instance.Instance; got 3 \(int\)"
    ):
        scenario_bound(3)
    wide = make_family_instance("heavy-tail", 0, n_products=20_000, customers=20_000)
    with pytest.raises(
        InputError,
        match=r"`scenarios` 4,096 times N = 20,000 products is 81,920,000 scenario cells; the "
        r"bound holds at most 50,000,000",
    ):
        scenario_bound(wide, scenarios=4096)
