"""Choice probabilities: MC absorption vs MNL closed form, the MC approximation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from envs.choice import (
    MAX_DENSE_APPROXIMATION,
    markov_chain_approximation,
    markov_chain_choice_probabilities,
    mnl_choice_probabilities,
    mnl_instance,
)
from envs.validation import InputError, InputTypeError


def _random_mnl(rng: np.random.Generator, n: int, v0: float):
    weights = rng.uniform(0.1, 3.0, n)
    inst = mnl_instance(weights, v0, prices=np.ones(n), costs=np.zeros(n), customers=5)
    return weights, inst


@pytest.mark.parametrize("v0", [0.0, 0.3, 2.0])
def test_mnl_from_markov_chain_equals_closed_form(v0: float) -> None:
    rng = np.random.default_rng(123)
    for trial in range(40):
        n = int(rng.integers(1, 9))
        weights, inst = _random_mnl(rng, n, v0)
        for _ in range(8):
            offered = rng.random(n) < rng.uniform(0.1, 1.0)
            closed = mnl_choice_probabilities(weights, v0, offered)
            dense = markov_chain_choice_probabilities(inst.arrival, inst.substitution, offered)
            sparse = markov_chain_choice_probabilities(
                inst.arrival, sp.csr_array(inst.substitution), offered
            )
            np.testing.assert_allclose(dense, closed, rtol=0, atol=1e-12)
            np.testing.assert_allclose(sparse, closed, rtol=0, atol=1e-12)


def test_mnl_closed_form_hand_values() -> None:
    # v = (1, 2, 3), v0 = 4, S = {0, 2}: pi = (1/8, 0, 3/8).
    pi = mnl_choice_probabilities([1.0, 2.0, 3.0], 4.0, np.array([True, False, True]))
    np.testing.assert_array_equal(pi, [1 / 8, 0.0, 3 / 8])


def test_mnl_map_hand_values() -> None:
    inst = mnl_instance([1.0, 2.0, 3.0], 4.0, prices=[1, 1, 1], costs=[0, 0, 0], customers=3)
    np.testing.assert_allclose(inst.arrival, [0.1, 0.2, 0.3], atol=1e-15)
    expected = np.array([[0, 2 / 9, 3 / 9], [1 / 8, 0, 3 / 8], [1 / 7, 2 / 7, 0]])
    np.testing.assert_allclose(inst.substitution, expected, atol=1e-15)


def test_markov_chain_two_product_hand_solution() -> None:
    # lambda = (0.5, 0.3), rho_10 = 0.4; S = {0}: pi_0 = 0.5 + 0.3 * 0.4 = 0.62.
    rho = np.array([[0.0, 0.2], [0.4, 0.0]])
    pi = markov_chain_choice_probabilities([0.5, 0.3], rho, np.array([True, False]))
    np.testing.assert_allclose(pi, [0.62, 0.0], atol=1e-15)


def test_markov_chain_empty_and_full_offer_sets() -> None:
    _, inst = _random_mnl(np.random.default_rng(1), 4, 0.0)
    none = markov_chain_choice_probabilities(inst.arrival, inst.substitution, np.zeros(4, bool))
    np.testing.assert_array_equal(none, np.zeros(4))
    full = markov_chain_choice_probabilities(inst.arrival, inst.substitution, np.ones(4, bool))
    np.testing.assert_array_equal(full, inst.arrival)


@pytest.mark.parametrize("v0", [0.0, 1.5])
def test_markov_chain_approximation_is_exact_for_mnl(v0: float) -> None:
    rng = np.random.default_rng(7)
    weights = rng.uniform(0.2, 2.0, 6)
    inst = mnl_instance(weights, v0, prices=np.ones(6), costs=np.zeros(6), customers=5)
    arrival, rho = markov_chain_approximation(lambda s: mnl_choice_probabilities(weights, v0, s), 6)
    np.testing.assert_allclose(arrival, inst.arrival, atol=1e-14)
    np.testing.assert_allclose(rho, inst.substitution, atol=1e-14)


def test_markov_chain_approximation_zero_probability_row() -> None:
    def choice(offered: np.ndarray) -> np.ndarray:
        p = np.where(offered, [0.5, 0.0], 0.0)
        return p

    arrival, rho = markov_chain_approximation(choice, 2)
    np.testing.assert_array_equal(arrival, [0.5, 0.0])
    np.testing.assert_array_equal(rho, np.zeros((2, 2)))


def test_bad_input_messages() -> None:
    rho = np.zeros((2, 2))
    with pytest.raises(
        InputTypeError, match=r"`offered` must be a boolean mask over the 2 products; got dtype int"
    ):
        markov_chain_choice_probabilities([0.5, 0.5], rho, np.array([1, 0]))
    with pytest.raises(
        InputError,
        match=r"`offered` must have shape \(2,\), one entry per product; got shape \(3,\)",
    ):
        markov_chain_choice_probabilities([0.5, 0.5], rho, np.ones(3, bool))
    with pytest.raises(
        InputError, match=r"`arrival` must be a list of numbers; got shape \(1, 2\)"
    ):
        markov_chain_choice_probabilities([[0.5, 0.5]], rho, np.ones(2, bool))
    with pytest.raises(
        InputError,
        match=r"`substitution` must have shape \(2, 2\) to match `arrival`; got \(3, 3\)",
    ):
        markov_chain_choice_probabilities([0.5, 0.5], np.zeros((3, 3)), np.ones(2, bool))
    with pytest.raises(InputError, match=r"`weights` entry 1 is 0.0; entries must be > 0"):
        mnl_choice_probabilities([1.0, 0.0], 1.0, np.ones(2, bool))
    with pytest.raises(
        InputTypeError, match=r"`weights` must be a list of numbers .*got entries of type str"
    ):
        mnl_choice_probabilities([1.0, "a"], 1.0, np.ones(2, bool))
    with pytest.raises(
        InputError, match=r"`weights` must list at least one product; got an empty list"
    ):
        mnl_instance([], 1.0, prices=[], costs=[], customers=1)
    with pytest.raises(
        InputError, match=r"`outside_weight` must be a finite number >= 0; got -1.0"
    ):
        mnl_instance([1.0], -1.0, prices=[1.0], costs=[0.0], customers=1)
    with pytest.raises(
        InputTypeError, match=r"`outside_weight` must be a finite number >= 0; got '1' \(str\)"
    ):
        mnl_choice_probabilities([1.0, 1.0], "1", np.ones(2, bool))
    with pytest.raises(InputError, match=r"`n` must be an integer in \[1, 5,000\]; got 0"):
        markov_chain_approximation(lambda s: s * 1.0, 0)
    with pytest.raises(InputError, match=r"`n` must be an integer in \[1, 5,000\]; got 5001"):
        markov_chain_approximation(lambda s: s * 1.0, MAX_DENSE_APPROXIMATION + 1)
    with pytest.raises(
        InputError, match=r"`choice_probabilities` must return shape \(2,\); got \(3,\)"
    ):
        markov_chain_approximation(lambda s: np.zeros(3), 2)
