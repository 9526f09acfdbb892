"""The exact DP against closed forms and an independent brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom, poisson

from envs.choice import mnl_instance
from envs.exact import MAX_STATES, exact_expected_profit
from envs.instance import make_instance
from envs.validation import InputError


def test_single_product_fixed_is_expected_binomial_minimum() -> None:
    # Sales = min(Binomial(T, p), x); profit = r E[sales] + s (x - E[sales]) - c x.
    p, t, x = 0.3, 12, 4
    inst = make_instance(
        prices=[5.0], costs=[2.0], salvage=[0.5], arrival=[p], substitution=[[0.0]], customers=t
    )
    k = np.arange(t + 1)
    sales = float(np.sum(np.minimum(k, x) * binom.pmf(k, t, p)))
    second = float(np.sum(np.minimum(k, x) ** 2 * binom.pmf(k, t, p)))
    result = exact_expected_profit(inst, [x])
    assert result.sales[0] == pytest.approx(sales, abs=1e-12)
    assert result.profit == pytest.approx(5.0 * sales + 0.5 * (x - sales) - 2.0 * x, abs=1e-12)
    assert result.variance == pytest.approx(4.5**2 * (second - sales**2), abs=1e-11)


def test_single_product_poisson_is_expected_poisson_minimum() -> None:
    # Thinning: buyers of the one product ~ Poisson(T p).
    p, t, x = 0.4, 15, 5
    inst = make_instance(
        prices=[3.0],
        costs=[1.0],
        arrival=[p],
        substitution=[[0.0]],
        customers=t,
        arrivals="poisson",
    )
    k = np.arange(200)
    sales = float(np.sum(np.minimum(k, x) * poisson.pmf(k, t * p)))
    second = float(np.sum(np.minimum(k, x) ** 2 * poisson.pmf(k, t * p)))
    result = exact_expected_profit(inst, [x])
    assert result.sales[0] == pytest.approx(sales, abs=1e-10)
    assert result.variance == pytest.approx(9.0 * (second - sales**2), abs=1e-9)


def _walk_choice(arrival: np.ndarray, rho: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """Choice probabilities by iterating the walk (Neumann series), not by a linear solve."""
    mass = np.where(offered, 0.0, arrival)
    bought = np.where(offered, arrival, 0.0)
    for _ in range(200):
        moved = mass @ rho
        bought += np.where(offered, moved, 0.0)
        mass = np.where(offered, 0.0, moved)
    return bought


def _brute_force_sales(arrival, rho, stock, customers, margin) -> tuple[np.ndarray, float]:
    """E[sales] and E[(margin . sales)^2] by enumerating every sequence of customer outcomes."""
    n = len(stock)
    total = np.zeros(n)
    square = 0.0
    for outcomes in itertools.product(range(n + 1), repeat=customers):
        y = np.array(stock)
        probability = 1.0
        for outcome in outcomes:
            pi = _walk_choice(arrival, rho, y > 0)
            if outcome < n:
                probability *= pi[outcome]
                if probability == 0.0:
                    break
                y[outcome] -= 1
            else:
                probability *= 1.0 - pi.sum()
        if probability > 0.0:
            total += probability * (np.array(stock) - y)
            square += probability * float(np.dot(margin, np.array(stock) - y)) ** 2
    return total, square


@pytest.mark.parametrize("stock", [[1, 1, 0], [2, 0, 1], [1, 2, 2]])
def test_three_products_match_brute_force_enumeration(stock: list[int]) -> None:
    arrival = np.array([0.3, 0.25, 0.2])
    rho = np.array([[0.0, 0.4, 0.3], [0.5, 0.0, 0.1], [0.2, 0.6, 0.0]])
    inst = make_instance(
        prices=[4.0, 3.0, 2.0],
        costs=[1.0, 1.0, 1.0],
        arrival=arrival,
        substitution=rho,
        customers=4,
    )
    expected, square = _brute_force_sales(arrival, rho, stock, 4, np.array([4.0, 3.0, 2.0]))
    result = exact_expected_profit(inst, stock)
    np.testing.assert_allclose(result.sales, expected, rtol=0, atol=1e-12)
    revenue = float(np.dot([4.0, 3.0, 2.0], expected))
    assert result.profit == pytest.approx(revenue - sum(stock), abs=1e-12)
    assert result.variance == pytest.approx(square - revenue**2, abs=1e-11)


def test_mnl_without_outside_option_sells_everything_demanded() -> None:
    # v0 = 0: every customer buys while anything is in stock, so total sales = min(T, sum x).
    inst = mnl_instance(
        [1.0, 2.0, 0.5], 0.0, prices=[2.0, 2.0, 2.0], costs=[1.0, 1.0, 1.0], customers=5
    )
    result = exact_expected_profit(inst, [1, 2, 1])
    assert result.sales.sum() == pytest.approx(4.0, abs=1e-12)
    result = exact_expected_profit(inst, [3, 2, 2])
    assert result.sales.sum() == pytest.approx(5.0, abs=1e-12)


def test_zero_stock_sells_nothing() -> None:
    inst = mnl_instance([1.0, 2.0], 1.0, prices=[2.0, 3.0], costs=[1.0, 1.0], customers=4)
    result = exact_expected_profit(inst, [0, 0])
    np.testing.assert_array_equal(result.sales, [0.0, 0.0])
    assert result.profit == 0.0


def test_refuses_large_state_space_and_shopper() -> None:
    inst = mnl_instance(np.ones(6), 1.0, prices=np.ones(6), costs=np.zeros(6), customers=4)
    with pytest.raises(InputError, match=rf"more than {MAX_STATES:,} inventory states.*MAX_STATES"):
        exact_expected_profit(inst, [20] * 6)
    big = inst.with_customers(10_000_000)
    with pytest.raises(InputError, match=r"the DP needs [\d,]+ steps .*MAX_WORK"):
        exact_expected_profit(big, [3] * 6)
    shopper = make_instance(
        prices=[1.0],
        costs=[0.0],
        arrival=[0.5],
        substitution=[[0.0]],
        customers=2,
        shopper=object(),
    )
    with pytest.raises(
        InputError, match=r"`instance` has a `shopper`.*Markov chain customers only"
    ):
        exact_expected_profit(shopper, [1])
