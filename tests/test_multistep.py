"""The multi-step online shopper: exact purchase probabilities by enumeration, the fitted MC
model against MNL and against the exact MC approximation, common random numbers."""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest

from envs.choice import markov_chain_approximation, mnl_instance
from envs.instance import profit_of
from envs.multistep import MultiStepShopper, multistep_instance
from envs.validation import InputError, InputTypeError

# A 5-product shopper: anchor by popularity, 2 more from a 3-product neighbourhood.
POPULARITY = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
WEIGHTS = np.array([1.0, 2.0, 0.5, 1.5, 3.0])
OUTSIDE = 1.2
SEARCH = 0.8
NEIGHBOURHOOD = np.array([[1, 2, 3], [0, 2, 4], [3, 4, 0], [4, 0, 1], [0, 1, 2]])


def _shopper(**changes) -> MultiStepShopper:
    arguments = dict(
        popularity=POPULARITY,
        weights=WEIGHTS,
        outside_weight=OUTSIDE,
        search_probability=SEARCH,
        consideration=3,
        neighbourhood=NEIGHBOURHOOD,
    )
    arguments.update(changes)
    return MultiStepShopper(**arguments)


def _consideration_sets(shopper: MultiStepShopper):
    """Every (probability, set) pair, by enumerating anchors and ordered draws without
    replacement (independent of the code under test)."""
    w = shopper.popularity / shopper.popularity.sum()
    k = shopper.consideration
    for a in range(shopper.n_products):
        candidates = [int(j) for j in shopper.neighbourhood[a]]
        for order in itertools.permutations(candidates, k - 1):
            p = w[a]
            left = sum(w[j] for j in candidates)
            for j in order:
                p *= w[j] / left
                left -= w[j]
            yield p, (a, *order)


def _exact_one_customer(
    shopper: MultiStepShopper, in_stock: np.ndarray
) -> dict[str, np.ndarray | float]:
    """P(buy i), P(lost) and P(substitution) of one customer facing the in-stock mask."""
    v, v0, q = shopper.weights, shopper.outside_weight, shopper.search_probability
    buy = np.zeros(shopper.n_products)
    wants = 0.0
    first_available = 0.0
    for p, members in _consideration_sets(shopper):
        members = list(members)
        total = v0 + v[members].sum()
        wants += q * p * v[members].sum() / total
        first_available += q * p * sum(v[i] for i in members if in_stock[i]) / total
        available = [i for i in members if in_stock[i]]
        for i in available:
            buy[i] += q * p * v[i] / (v0 + v[available].sum())
    return {"buy": buy, "lost": wants - buy.sum(), "substitution": buy.sum() - first_available}


def _one_customer_seasons(shopper: MultiStepShopper, in_stock: np.ndarray, seasons: int, seed: int):
    sales = np.zeros((seasons, shopper.n_products), dtype=np.int64)
    kpis = np.zeros((seasons, 3), dtype=np.int64)
    shopper.run_seasons(in_stock.astype(np.int64), seed, 0, 1, False, sales, kpis)
    return sales, kpis


@pytest.mark.parametrize(
    "in_stock",
    [[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 1, 0, 1, 0]],
)
def test_one_customer_frequencies_match_enumeration(in_stock):
    shopper = _shopper()
    mask = np.array(in_stock, dtype=bool)
    exact = _exact_one_customer(shopper, mask)
    seasons = 100_000
    sales, kpis = _one_customer_seasons(shopper, mask, seasons, seed=42)
    assert np.all(kpis[:, 0] == 1)
    assert np.all(sales[:, ~mask] == 0)
    observed = {
        "buy": sales.mean(axis=0),
        "lost": kpis[:, 1].mean(),
        "substitution": kpis[:, 2].mean(),
    }
    for key, p in exact.items():
        p = np.clip(np.atleast_1d(p), 0.0, 1.0)
        error = np.sqrt(p * (1 - p) / seasons)
        assert np.all(np.abs(np.atleast_1d(observed[key]) - p) <= 3 * error + 1e-12), (
            key,
            observed[key],
            p,
        )


def test_full_consideration_fit_is_the_exact_mnl_map():
    n = 5
    neighbourhood = np.array([[j for j in range(n) if j != i] for i in range(n)])
    shopper = _shopper(consideration=n, neighbourhood=neighbourhood, search_probability=1.0)
    arrival, rho = shopper.fit_markov_chain(samples_per_anchor=3, rng=0)
    mnl = mnl_instance(WEIGHTS, OUTSIDE, prices=np.ones(n), costs=np.zeros(n), customers=1)
    np.testing.assert_allclose(arrival, mnl.arrival, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rho, mnl.substitution, rtol=1e-12, atol=1e-15)
    # A search probability q scales lambda and leaves rho unchanged.
    arrival_q, rho_q = _shopper(
        consideration=n, neighbourhood=neighbourhood, search_probability=0.3
    ).fit_markov_chain(3, 0)
    np.testing.assert_allclose(arrival_q, 0.3 * mnl.arrival, rtol=1e-12)
    np.testing.assert_allclose(rho_q, mnl.substitution, rtol=1e-12, atol=1e-15)


def test_sampled_fit_approaches_the_exact_mc_approximation():
    shopper = _shopper()

    def choice_probabilities(offered: np.ndarray) -> np.ndarray:
        return _exact_one_customer(shopper, offered)["buy"]

    arrival, rho = markov_chain_approximation(choice_probabilities, shopper.n_products)
    fitted_arrival, fitted_rho = shopper.fit_markov_chain(samples_per_anchor=20_000, rng=1)
    np.testing.assert_allclose(fitted_arrival, arrival, atol=2e-3)
    np.testing.assert_allclose(fitted_rho, rho, atol=5e-3)
    assert np.all(fitted_rho.sum(axis=1) < 1)


def test_fit_is_deterministic_in_rng():
    shopper = _shopper()
    a1, r1 = shopper.fit_markov_chain(50, rng=7)
    a2, r2 = shopper.fit_markov_chain(50, rng=7)
    a3, _ = shopper.fit_markov_chain(50, rng=8)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(a1, a3)


def _seasons(shopper, stock, seed, first_season, seasons, customers=300, poisson=False):
    sales = np.zeros((seasons, shopper.n_products), dtype=np.int64)
    kpis = np.zeros((seasons, 3), dtype=np.int64)
    shopper.run_seasons(
        np.asarray(stock, dtype=np.int64), seed, first_season, customers, poisson, sales, kpis
    )
    return sales, kpis


@pytest.mark.parametrize("poisson", [False, True])
def test_run_seasons_is_deterministic_and_independent_of_batching_and_threads(poisson):
    shopper = _shopper()
    stock = [20, 30, 10, 25, 40]
    sales, kpis = _seasons(shopper, stock, 3, 0, 12, poisson=poisson)
    again_sales, again_kpis = _seasons(shopper, stock, 3, 0, 12, poisson=poisson)
    np.testing.assert_array_equal(sales, again_sales)
    np.testing.assert_array_equal(kpis, again_kpis)
    tail_sales, tail_kpis = _seasons(shopper, stock, 3, 5, 7, poisson=poisson)
    np.testing.assert_array_equal(tail_sales, sales[5:])
    np.testing.assert_array_equal(tail_kpis, kpis[5:])
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one_sales, one_kpis = _seasons(shopper, stock, 3, 0, 12, poisson=poisson)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(one_sales, sales)
    np.testing.assert_array_equal(one_kpis, kpis)
    other_sales, _ = _seasons(shopper, stock, 4, 0, 12, poisson=poisson)
    assert not np.array_equal(other_sales, sales)
    if poisson:
        assert len(set(kpis[:, 0].tolist())) > 1


def test_common_random_numbers_across_stock_vectors():
    """A customer's preference list does not depend on stock: with unlimited stock every
    customer buys her first choice, and under any stock the customers who have a first choice
    (purchases + lost) are the same ones, season by season."""
    shopper = _shopper()
    plenty, plenty_kpis = _seasons(shopper, [10**6] * 5, 9, 0, 20)
    assert np.all(plenty_kpis[:, 1:] == 0)
    wanting = plenty.sum(axis=1)
    for stock in ([5, 0, 40, 3, 0], [0, 0, 0, 0, 1], [100, 100, 0, 100, 100]):
        sales, kpis = _seasons(shopper, stock, 9, 0, 20)
        np.testing.assert_array_equal(sales.sum(axis=1) + kpis[:, 1], wanting)
        assert np.all(sales <= np.asarray(stock))
    # Without product 2 exactly its first-choice customers substitute or are lost, and the
    # other products keep all their own customers.
    sales, kpis = _seasons(shopper, [10**6, 10**6, 0, 10**6, 10**6], 9, 0, 20)
    assert np.all(sales[:, [0, 1, 3, 4]] >= plenty[:, [0, 1, 3, 4]])
    np.testing.assert_array_equal(kpis[:, 2] + kpis[:, 1], plenty[:, 2])


def test_multistep_instance_evaluates_through_the_simulator():
    from envs.simulate import evaluate, simulate

    shopper = _shopper()
    instance = multistep_instance(
        shopper,
        prices=[2.0, 1.5, 3.0, 2.5, 1.0],
        costs=[1.0, 0.5, 1.0, 1.0, 0.6],
        customers=300,
        rng=0,
    )
    assert instance.shopper is shopper
    stock = np.array([40, 50, 20, 30, 60])
    result = simulate(instance, stock, 16, seed=5)
    sales, kpis = _seasons(shopper, stock, 5, 0, 16)
    np.testing.assert_array_equal(result.sales, sales)
    np.testing.assert_array_equal(result.lost, kpis[:, 1])
    evaluation = evaluate(instance, stock, 16, seed=5)
    np.testing.assert_allclose(
        evaluation.mean_profit, np.mean(profit_of(instance, stock, sales)), rtol=1e-12
    )
    # The fitted MC model is a different customer process: the same seed gives other sales.
    from dataclasses import replace

    markov = simulate(replace(instance, shopper=None), stock, 16, seed=5)
    assert not np.array_equal(markov.sales, result.sales)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"popularity": [0.5, 0.5, 0.0, 0.1, 0.1]},
            r"`popularity` entry 2 is 0.0; entries must be > 0",
        ),
        ({"weights": [1.0, 2.0]}, r"`weights` has 2 entries; `popularity` has 5, they must match"),
        ({"outside_weight": 0.0}, r"`outside_weight` must be a finite number > 0; got 0.0"),
        (
            {"search_probability": 1.5},
            r"`search_probability` must be a finite number in \[0, 1\]; got 1.5",
        ),
        ({"consideration": 6}, r"`consideration` must be an integer in \[1, 5\]; got 6"),
        (
            {"consideration": 5},
            r"`neighbourhood` lists 3 candidates per anchor; `consideration` = 5 needs at least 4",
        ),
        (
            {"neighbourhood": NEIGHBOURHOOD[:3]},
            r"`neighbourhood` must be an integer array of shape \(5, m\)",
        ),
        ({"neighbourhood": NEIGHBOURHOOD + 3}, r"`neighbourhood` holds an index outside \[0, 5\)"),
        (
            {"neighbourhood": [[1, 2, 3], [0, 2, 4], [3, 4, 2], [4, 0, 1], [0, 1, 2]]},
            r"`neighbourhood` row 2 lists product 2 itself",
        ),
        (
            {"neighbourhood": [[1, 2, 2], [0, 2, 4], [3, 4, 0], [4, 0, 1], [0, 1, 2]]},
            r"`neighbourhood` row 0 lists a product twice",
        ),
    ],
)
def test_bad_shopper_arguments_are_refused(changes, message):
    with pytest.raises(InputError, match=message):
        _shopper(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"consideration": 2.0},
            r"`consideration` must be an integer in \[1, 5\]; got 2.0 \(float\)",
        ),
        (
            {"search_probability": "0.5"},
            r"`search_probability` must be a finite number in \[0, 1\]; got '0.5' \(str\)",
        ),
    ],
)
def test_shopper_arguments_of_the_wrong_type_are_refused(changes, message):
    with pytest.raises(InputTypeError, match=message):
        _shopper(**changes)


def test_bad_fit_and_instance_arguments_are_refused():
    with pytest.raises(
        InputError, match=r"`samples_per_anchor` must be an integer in \[1, 65,536\]; got 0"
    ):
        _shopper().fit_markov_chain(0)
    with pytest.raises(
        InputTypeError, match=r"`shopper` must be a MultiStepShopper; got \{\} \(dict\)"
    ):
        multistep_instance({}, prices=[1.0], costs=[0.5], customers=3)


def test_run_seasons_refuses_wrong_buffers():
    # run_seasons is the simulator's internal hook: wrong buffers are a bug of the caller, caught
    # by assertions before the kernel writes out of bounds.
    shopper = _shopper()
    with pytest.raises(AssertionError):
        shopper.run_seasons(
            np.zeros(4, dtype=np.int64),
            0,
            0,
            10,
            False,
            np.zeros((2, 5), dtype=np.int64),
            np.zeros((2, 3), dtype=np.int64),
        )
    with pytest.raises(AssertionError):
        shopper.run_seasons(
            np.zeros(5, dtype=np.int64),
            0,
            0,
            10,
            False,
            np.zeros((2, 5), dtype=np.int64),
            np.zeros((2, 2), dtype=np.int64),
        )
