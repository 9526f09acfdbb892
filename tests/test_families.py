"""Named instance families: validity, determinism, the heavy tail, sparsity, error messages."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from envs.choice import mnl_choice_probabilities
from envs.families import (
    FAMILIES,
    MAX_DENSE_PRODUCTS,
    family_parameters,
    make_family_instance,
    nearest_neighbours,
)
from envs.instance import instance_from_dict, instance_to_dict
from envs.validation import InputError, InputTypeError

# Small versions of the big families keep the default run fast; `large` itself is built once.
QUICK = {
    "large": {"n_products": 5_000, "customers": 50_000},
    "multistep": {"n_products": 60, "customers": 500},
}


def _build(family: str, seed: int):
    return make_family_instance(family, seed, **QUICK.get(family, {}))


def _arrays(instance) -> list[np.ndarray]:
    rho = instance.substitution_csr
    return [
        instance.prices,
        instance.costs,
        instance.salvage,
        instance.arrival,
        rho.indptr,
        rho.indices,
        rho.data,
    ]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_builds_a_valid_instance_that_round_trips(family):
    instance = _build(family, 3)
    spec = FAMILIES[family]
    expected_n = QUICK.get(family, {}).get("n_products", spec.defaults["n_products"])
    assert instance.n_products == expected_n
    assert instance.name == f"{family}-3"
    assert instance.metadata["family"] == family and instance.metadata["seed"] == 3
    assert spec.description
    # Re-validating through the JSON dictionary checks every rule of make_instance again.
    again = instance_from_dict(instance_to_dict(instance))
    for a, b in zip(_arrays(instance), _arrays(again)):
        np.testing.assert_array_equal(a, b)
    margins = 1.0 - instance.costs / instance.prices
    # The pooling trap prices its tail products from their head's margin (own test below).
    shown = slice(None) if family != "pooling-trap" else slice(0, spec.defaults["heads"])
    spread = spec.defaults.get("vendor_cost_spread", 0.0)  # vendor families shift costs
    assert np.all(instance.prices[shown] >= 1.0) and np.all(instance.prices[shown] <= 3.0)
    assert np.all(margins[shown] >= max(0.05, 0.3 - spread) - 1e-12)
    assert np.all(margins[shown] <= min(0.95, 0.7 + spread) + 1e-12)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_instance_other_seed_other_instance(family):
    a, b, c = _build(family, 11), _build(family, 11), _build(family, 12)
    for x, y in zip(_arrays(a), _arrays(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.prices, c.prices)
    assert not np.array_equal(a.arrival, c.arrival)


def test_tiny_is_dense_with_full_substitution_and_salvage():
    instance = make_family_instance("tiny", 0)
    assert instance.n_products == 3 and 6 <= instance.customers <= 8
    rho = instance.substitution_dense()
    assert np.all(rho[~np.eye(3, dtype=bool)] > 0)
    np.testing.assert_allclose(instance.salvage, 0.25 * instance.costs)


def test_substitution_rows_follow_the_neighbour_formula():
    instance = make_family_instance("medium", 5)
    rho = instance.substitution_dense()
    row_sums = rho.sum(axis=1)
    assert np.all(row_sums >= 1 - 0.6 - 1e-12) and np.all(row_sums <= 1 - 0.2 + 1e-12)
    assert np.all((rho > 0).sum(axis=1) == 5)
    for i in (0, 17, 99):
        support = np.flatnonzero(rho[i])
        lam = instance.arrival[support]
        np.testing.assert_allclose(rho[i, support], row_sums[i] * lam / lam.sum(), rtol=1e-12)


def test_nearest_neighbours_match_brute_force():
    positions = np.random.default_rng(0).random((40, 2))
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    np.testing.assert_array_equal(
        nearest_neighbours(positions, 4), np.argsort(distance, axis=1)[:, :4]
    )


def test_heavy_tail_has_most_products_below_one_unit_of_mean_demand():
    instance = make_family_instance("heavy-tail", 0)
    assert instance.n_products == 1_000 and instance.customers == 10_000
    mean_demand = instance.customers * instance.arrival
    assert np.mean(mean_demand < 1.0) > 0.5
    # ... while the head products see hundreds of customers (a power law, not a flat catalog).
    assert mean_demand.max() > 300
    np.testing.assert_allclose(instance.arrival.sum(), 0.8)


def test_heavy_tail_grows_with_overrides():
    instance = make_family_instance("heavy-tail", 0, n_products=3_000, customers=30_000)
    assert instance.n_products == 3_000 and instance.customers == 30_000
    assert instance.is_sparse


def test_large_is_sparse_with_five_substitutes_per_product():
    instance = make_family_instance("large", 0)
    assert instance.n_products == 100_000 and instance.customers == 1_000_000
    assert isinstance(instance.substitution, sp.csr_array)
    np.testing.assert_array_equal(np.diff(instance.substitution.indptr), 5)
    assert np.mean(instance.customers * instance.arrival < 1.0) > 0.5


def test_mnl_family_is_exact_mnl():
    instance = make_family_instance("mnl", 2)
    weights = np.array(instance.metadata["weights"])
    v0 = instance.metadata["outside_weight"]
    np.testing.assert_allclose(v0 / (v0 + weights.sum()), 0.2)
    full = np.ones(instance.n_products, dtype=bool)
    np.testing.assert_allclose(
        instance.arrival, mnl_choice_probabilities(weights, v0, full), rtol=1e-12
    )


def test_overrides_are_applied_and_recorded():
    instance = make_family_instance(
        "small", 1, n_products=7, customers=33, alpha=0.0, arrivals="poisson"
    )
    assert instance.n_products == 7 and instance.customers == 33 and instance.arrivals == "poisson"
    np.testing.assert_allclose(instance.arrival, 0.8 / 7)
    assert instance.metadata["parameters"]["alpha"] == 0.0


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(
        InputError,
        match=r"unknown family 'smal'; did you mean 'small'\? known families are \['tiny', 'small'",
    ):
        make_family_instance("smal", 0)


def test_unknown_override_suggests_a_knob():
    with pytest.raises(
        InputError,
        match=r"unknown override 'n_product' for family 'small'; did you mean 'n_products'\? "
        r"its knobs are \[",
    ):
        make_family_instance("small", 0, n_product=5)
    with pytest.raises(
        InputError, match=r"unknown override 'neighbours' for family 'mnl'; its knobs are"
    ):
        family_parameters("mnl", neighbours=3)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            {"n_products": 0},
            InputError,
            r"`n_products` must be an integer in \[1, 1,048,575\]; got 0",
        ),
        (
            {"n_products": 1_048_576},
            InputError,
            r"`n_products` must be an integer in \[1, 1,048,575\]; got 1048576",
        ),
        (
            {"customers": 2.5},
            InputTypeError,
            r"`customers` must be an integer in \[1, 2,147,483,647\]; got 2.5 \(float\)",
        ),
        (
            {"neighbours": 101},
            InputError,
            r"`neighbours` must be an integer in \[0, 100\]; got 101",
        ),
        ({"alpha": "x"}, InputTypeError, r"`alpha` must be a finite number in \[0, 10\]; got 'x'"),
        (
            {"alpha": float("nan")},
            InputError,
            r"`alpha` must be a finite number in \[0, 10\]; got nan",
        ),
        ({"leak_low": 0.0}, InputError, r"`leak_low` must be a finite number in \(0, 1\]; got 0.0"),
        (
            {"price_low": 1e-7},
            InputError,
            r"`price_low` must be a finite number in \[1e-06, 1,000,000,000,000\]; got 1e-07",
        ),
        (
            {"arrivals": "daily"},
            InputError,
            r"`arrivals` must be one of \['fixed', 'poisson'\]; got 'daily' \(str\)",
        ),
        (
            {"leak_low": 0.7},
            InputError,
            r"override `leak_low` is 0.7, above `leak_high` = 0.6; "
            r"`leak_low` must be at most `leak_high`",
        ),
    ],
)
def test_bad_override_values_are_refused(overrides, error, message):
    with pytest.raises(error, match=message):
        make_family_instance("small", 0, **overrides)


def test_dense_mnl_family_refuses_large_catalogs():
    with pytest.raises(
        InputError,
        match=r"`n_products` is 2,001; the mnl family stores its substitution densely and holds "
        r"at most 2,000 products",
    ):
        make_family_instance("mnl", 0, n_products=MAX_DENSE_PRODUCTS + 1)


def test_bad_seed_is_refused():
    with pytest.raises(
        InputError, match=r"`seed` must be an integer seed in \[0, 2\*\*63\); got -1"
    ):
        make_family_instance("small", -1)
    with pytest.raises(
        InputTypeError, match=r"`seed` must be an integer seed in \[0, 2\*\*63\); got '1' \(str\)"
    ):
        make_family_instance("small", "1")


def test_multistep_family_carries_the_shopper_and_its_fitted_chain():
    from envs.multistep import MultiStepShopper

    instance = make_family_instance("multistep", 4, n_products=60, customers=500)
    shopper = instance.shopper
    assert isinstance(shopper, MultiStepShopper)
    assert shopper.consideration == 5 and shopper.neighbourhood.shape == (60, 10)
    # Planners see lambda = q E[P(first = i | C)]: total first-choice mass is below q = 0.6.
    assert 0.3 < instance.arrival.sum() < 0.6
    assert np.all(instance.arrival > 0)
    assert np.all(instance.substitution_dense().sum(axis=1) < 1)


def test_multistep_family_refuses_a_neighbourhood_smaller_than_the_consideration_set():
    with pytest.raises(
        InputError,
        match=r"override `neighbours` is 3; the neighbourhood must hold at least "
        r"`consideration` - 1 = 4 products",
    ):
        make_family_instance("multistep", 0, neighbours=3)
    with pytest.raises(
        InputError,
        match=r"override `consideration` is 9; a shopper cannot consider more than the 8 products",
    ):
        make_family_instance("multistep", 0, n_products=8, consideration=9)


def test_pooling_trap_springs_on_the_fluid_policy_and_not_on_pooling():
    # Every tail product's fluid sales are its own demand in [0.5, 1), rounded up to one unit
    # that costs 0.7 of its price and sells with probability about 1 - e^-D < 0.7; the fluid LP
    # prefers the tail by the edge, so it stocks all of them (exact knobs: module docstring).
    from baselines.registry import solve
    from envs.fluid_lp import fluid_lp
    from envs.simulate import simulate

    instance = make_family_instance("pooling-trap", 0, n_products=45, customers=100)
    heads, tails = slice(0, 5), slice(5, None)
    demand = 100 * instance.arrival[tails]
    assert np.all((demand >= 0.5) & (demand < 1.0))
    np.testing.assert_allclose(instance.costs[tails], 0.7 * instance.prices[tails])
    rho = instance.substitution_dense()
    assert np.all(rho[heads] == 0) and np.all(rho[tails, 5:] == 0)
    np.testing.assert_allclose(rho[tails].sum(axis=1), 0.999)
    owner = rho[tails].argmax(axis=1)
    head_margin = (instance.prices - instance.costs)[owner]
    np.testing.assert_allclose(
        (instance.prices - instance.costs)[tails], 1.001 * 0.999 * head_margin
    )
    assert instance.no_purchase_probability == pytest.approx(0.2)
    solution = fluid_lp(instance)
    assert np.all(solution.assortment[tails])
    fluid = solve("fluid", instance).stock
    pooled = solve("pooled-saa", instance, rng=0).stock
    assert np.all(fluid[tails] == 1) and np.all(pooled[tails] == 0)
    profit = {
        name: simulate(instance, stock, 2_000, 5).profit.mean()
        for name, stock in (("fluid", fluid), ("pooled", pooled))
    }
    assert profit["fluid"] < 0.5 * solution.value < profit["pooled"]


def test_pooling_trap_refuses_a_tail_larger_than_the_market():
    with pytest.raises(
        InputError,
        match=r"the pooling trap's 400 tail products with demand up to `tail_demand_high` = 1 "
        r"could take all \(1 - no_purchase\) T = 400\.0 first choices; use fewer products or "
        r"more customers",
    ):
        make_family_instance("pooling-trap", 0, customers=500)
    with pytest.raises(
        InputError,
        match=r"override `heads` is 405; the pooling trap needs at least one tail product",
    ):
        make_family_instance("pooling-trap", 0, heads=405)
    with pytest.raises(
        InputError, match=r"`tail_cost_fraction` must be a finite number in \[0, 1\); got 1.0"
    ):
        make_family_instance("pooling-trap", 0, tail_cost_fraction=1.0)
    with pytest.raises(InputError, match=r"override `tail_demand_low` is 2.0, above"):
        make_family_instance("pooling-trap", 0, tail_demand_low=2.0)
