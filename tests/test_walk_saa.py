"""Walk-scenario SAA: walks follow the chain, both LPs on hand-checkable cases, the free
assignment bounds realized sales, and the validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.walk_saa import free_program, sample_walks, tree_program, walk_saa_policy
from envs.families import make_family_instance
from envs.instance import make_instance
from envs.validation import InputError, InputTypeError


def chain() -> object:
    """Product 0 (first choice of everyone) -> 1 with probability 0.5, then leave."""
    return make_instance(
        prices=[2.0, 4.0],
        costs=[1.0, 1.0],
        arrival=[1.0, 0.0],
        substitution=[[0.0, 0.5], [0.0, 0.0]],
        customers=4_000,
    )


def test_walks_follow_the_substitution_probabilities() -> None:
    walks = sample_walks(chain(), np.random.default_rng(0), 5)
    assert walks.shape == (4_000, 5)
    assert np.all(walks[:, 0] == 0) and np.all(walks[:, 2:] == -1)
    share = np.mean(walks[:, 1] == 1)
    assert share == pytest.approx(0.5, abs=0.03)
    mnl = make_family_instance("mnl", 0, n_products=3, customers=50, no_purchase=0.0)
    assert np.all(sample_walks(mnl, np.random.default_rng(1), 7) >= 0)  # no leak: truncated


def test_tree_lp_is_the_non_anticipative_newsvendor_on_a_chain() -> None:
    # Four customers at 0; two walk on to 1. m = r - s = (2, 4), h = c - s = (1, 1). The tree
    # LP passes 0's customers on only in the observed proportion (half of the passed mass
    # reaches 1): selling all at 0 earns 4 * 2 - 4 = 4; passing all earns 2 * 4 - 2 = 6 with
    # x = (0, 2).
    walks = np.array([[0, 1], [0, 1], [0, -1], [0, -1]])
    program = tree_program(chain(), [walks])
    from scipy.optimize import linprog

    bounds = np.column_stack([np.zeros_like(program.upper), program.upper])
    result = linprog(program.cost, program.a_ub, program.b_ub, program.a_eq, program.b_eq, bounds)
    np.testing.assert_allclose(result.x[:2], [0.0, 2.0], atol=1e-9)
    assert -result.fun == pytest.approx(6.0)
    # The free assignment knows who walks on: it sells 0 to the two who would leave and 1 to
    # the two who walk on, 2 * 2 + 2 * 4 - 4 = 8: clairvoyance the tree does not have.
    program = free_program(chain(), [walks])
    bounds = np.column_stack([np.zeros_like(program.upper), program.upper])
    result = linprog(program.cost, program.a_ub, program.b_ub, bounds=bounds)
    np.testing.assert_allclose(result.x[:2], [2.0, 2.0], atol=1e-9)
    assert -result.fun == pytest.approx(8.0)


def test_free_assignment_is_above_the_first_choice_lp_in_sample() -> None:
    instance = make_family_instance("small", 0)
    tree = walk_saa_policy(instance, rng=3, scenarios=8)
    free = walk_saa_policy(instance, rng=3, scenarios=8, routing="free")
    assert free.info["saa_value"] >= tree.info["saa_value"] - 1e-6
    assert tree.info["status"] == 0 and tree.info["routing"] == "tree"
    again = walk_saa_policy(instance, rng=3, scenarios=8)
    np.testing.assert_array_equal(again.stock, tree.stock)


@pytest.mark.parametrize(
    ("knobs", "error", "match"),
    [
        (
            {"routing": "any"},
            InputError,
            r"`routing` must be one of \['tree', 'free'\]; got 'any' \(str\)",
        ),
        ({"max_steps": 0}, InputError, r"`max_steps` must be an integer in \[1, 1,000\]; got 0"),
        ({"scenarios": 0}, InputError, r"`scenarios` must be an integer in \[1, 4,096\]; got 0"),
        (
            {"scenarios": 1.5},
            InputTypeError,
            r"`scenarios` must be an integer in \[1, 4,096\]; got 1.5 \(float\)",
        ),
    ],
)
def test_bad_knobs_raise(knobs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        walk_saa_policy(chain(), rng=0, **knobs)


def test_too_many_walk_cells_raise() -> None:
    instance = make_family_instance("small", 0, customers=2_000_000)
    with pytest.raises(InputError, match=r"is more than 20,000,000 cells; use fewer steps"):
        walk_saa_policy(instance, rng=0, max_steps=64)
