"""Instance validation (every rule and its message), the JSON round trip, stock_iv, profit_of."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from envs import instance as instance_module
from envs.choice import mnl_instance
from envs.instance import (
    instance_from_dict,
    instance_to_dict,
    load_instance,
    make_instance,
    profit_of,
    save_instance,
    stock_iv,
)
from envs.validation import InputError, InputTypeError


def _kwargs(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prices": [3.0, 2.0],
        "costs": [1.0, 1.0],
        "arrival": [0.4, 0.3],
        "substitution": [[0.0, 0.5], [0.2, 0.0]],
        "customers": 10,
    }
    base.update(changes)
    return base


def _random_instance(rng: np.random.Generator, n: int, sparse: bool, arrivals: str = "fixed"):
    rho = rng.uniform(0.0, 1.0, (n, n)) * (rng.random((n, n)) < 0.5)
    np.fill_diagonal(rho, 0.0)
    rho /= np.maximum(rho.sum(axis=1, keepdims=True), 1e-300) / rng.uniform(0.1, 0.9, (n, 1))
    arrival = rng.dirichlet(np.ones(n + 1))[:n]
    costs = rng.uniform(0.5, 2.0, n)
    return make_instance(
        name="random",
        prices=costs * rng.uniform(1.1, 3.0, n),
        costs=costs,
        salvage=costs * rng.uniform(0.0, 1.0, n),
        arrival=arrival,
        substitution=sp.csr_array(rho) if sparse else rho,
        customers=int(rng.integers(1, 1000)),
        arrivals=arrivals,
    )


# ------------------------------------------------------------------------------ validation

NAME_RULE = r"`name` must be a non-empty string of at most 200 characters"
CUSTOMERS_RULE = r"`customers` must be an integer in \[1, 2,147,483,647\]"
PRICE_RANGE = r"\[1e-06, 1,000,000,000,000\]"
MONEY_RANGE = r"\[0, 1,000,000,000,000\]"
NUMBERS = r"\(real numbers within float range\)"

# (changes, exact error class, message): a wrong type raises InputTypeError, a value of the
# right type that breaks a rule raises InputError (and not InputTypeError).
VALIDATION_CASES = [
    (dict(name=""), InputError, rf"{NAME_RULE}; got '' \(str\)"),
    (dict(name="x" * 201), InputError, rf"{NAME_RULE}; got 'xxx.*\.\.\. \(str\)"),
    (dict(name=3), InputTypeError, rf"{NAME_RULE}; got 3 \(int\)"),
    (dict(prices="1,2"), InputTypeError, r"`prices` must be a list of numbers; got '1,2' \(str\)"),
    (dict(costs=None), InputTypeError, r"`costs` must be a list of numbers; got None \(NoneType\)"),
    (
        dict(arrival=["a", "b"]),
        InputTypeError,
        rf"`arrival` must be a list of numbers {NUMBERS}; got entries of type str",
    ),
    (
        dict(prices=[3.0, True]),
        InputTypeError,
        rf"`prices` must be a list of numbers {NUMBERS}; got entries of type bool",
    ),
    (
        dict(prices=[[3.0, 2.0]]),
        InputError,
        r"`prices` must be a list of numbers; got shape \(1, 2\)",
    ),
    (
        dict(prices=[], costs=[], arrival=[], substitution=np.zeros((0, 0))),
        InputError,
        r"`prices` must list between 1 and 1,048,575 products; got 0",
    ),
    (dict(costs=[1.0]), InputError, r"`costs` has 1 entries; `prices` has 2, they must match"),
    (
        dict(salvage=[0.0, 0.0, 0.0]),
        InputError,
        r"`salvage` has 3 entries; `prices` has 2, they must match",
    ),
    (
        dict(arrival=[0.4, float("nan")]),
        InputError,
        r"`arrival` entry 1 is nan; entries must be finite numbers",
    ),
    (
        dict(prices=[float("inf"), 2.0]),
        InputError,
        r"`prices` entry 0 is inf; entries must be finite numbers",
    ),
    (
        dict(prices=[3.0, 0.0]),
        InputError,
        rf"`prices` entry 1 is 0.0; entries must be in {PRICE_RANGE}",
    ),
    (
        dict(prices=[3.0, 1e-7], costs=[1.0, 0.0]),
        InputError,
        rf"`prices` entry 1 is 1e-07; entries must be in {PRICE_RANGE}",
    ),
    (
        dict(prices=[3.0, 2e12]),
        InputError,
        rf"`prices` entry 1 is 2000000000000.0; entries must be in {PRICE_RANGE}",
    ),
    (
        dict(costs=[1.0, -1.0]),
        InputError,
        rf"`costs` entry 1 is -1.0; entries must be in {MONEY_RANGE}",
    ),
    (
        dict(costs=[1.0, 2e12]),
        InputError,
        rf"`costs` entry 1 is 2000000000000.0; entries must be in {MONEY_RANGE}",
    ),
    (
        dict(salvage=[-0.5, 0.0]),
        InputError,
        rf"`salvage` entry 0 is -0.5; entries must be in {MONEY_RANGE}",
    ),
    (
        dict(arrival=[-0.1, 0.3]),
        InputError,
        r"`arrival` entry 0 is -0.1; entries must be in \[0, 1\]",
    ),
    (
        dict(arrival=[1.5, 0.0]),
        InputError,
        r"`arrival` entry 0 is 1.5; entries must be in \[0, 1\]",
    ),
    (
        dict(salvage=[0.5, 1.5]),
        InputError,
        r"`salvage` of product 1 is 1.5, above its cost 1.0; salvage must satisfy 0 <= s_i <= c_i",
    ),
    (
        dict(arrival=[0.7, 0.4]),
        InputError,
        r"`arrival` sums to 1.1\d*; arrival probabilities must sum to at most 1",
    ),
    (
        dict(substitution="rho"),
        InputTypeError,
        r"`substitution` must be a 2-dimensional array of numbers; got 'rho' \(str\)",
    ),
    (
        dict(substitution=None),
        InputTypeError,
        r"`substitution` must be a 2-dimensional array of numbers; got None \(NoneType\)",
    ),
    (
        dict(substitution=[["a", 0.0], [0.0, 0.0]]),
        InputTypeError,
        rf"`substitution` must be a 2-dimensional array of numbers {NUMBERS}; "
        r"got entries of type str",
    ),
    (
        dict(substitution=np.zeros((3, 3))),
        InputError,
        r"`substitution` must have shape \(2, 2\) to match `prices`; got \(3, 3\)",
    ),
    (
        dict(substitution=np.zeros(2)),
        InputError,
        r"`substitution` must be a 2-dimensional array of numbers; got shape \(2,\)",
    ),
    (
        dict(substitution=sp.csr_array(np.zeros((3, 3)))),
        InputError,
        r"`substitution` must have shape \(2, 2\) to match `prices`; got \(3, 3\)",
    ),
    (
        dict(substitution=[[0.0, np.inf], [0.0, 0.0]]),
        InputError,
        r"`substitution` entry \(0, 1\) is inf; entries must be finite numbers",
    ),
    (
        dict(substitution=sp.csr_array(np.array([[0.0, np.nan], [0.0, 0.0]]))),
        InputError,
        r"`substitution` has a non-finite entry; entries must be finite",
    ),
    (
        dict(substitution=[[0.0, 0.5], [-0.2, 0.0]]),
        InputError,
        r"`substitution` entry \(1, 0\) is -0.2; entries must be non-negative",
    ),
    (
        dict(substitution=sp.csr_array(np.array([[0.0, 0.5], [-0.2, 0.0]]))),
        InputError,
        r"`substitution` entry \(1, 0\) is -0.2; entries must be non-negative",
    ),
    (
        dict(substitution=[[0.0, 0.5], [0.2, 0.1]]),
        InputError,
        r"`substitution` diagonal entry \(1, 1\) is 0.1; rho_ii must be 0",
    ),
    (
        dict(substitution=sp.csr_array(np.array([[0.3, 0.5], [0.2, 0.0]]))),
        InputError,
        r"`substitution` diagonal entry \(0, 0\) is 0.3; rho_ii must be 0",
    ),
    (
        dict(substitution=[[0.0, 1.2], [0.2, 0.0]]),
        InputError,
        r"`substitution` row 0 sums to 1.2; rows must sum to at most 1",
    ),
    (dict(customers=2.5), InputTypeError, rf"{CUSTOMERS_RULE}; got 2.5 \(float\)"),
    (dict(customers="10"), InputTypeError, rf"{CUSTOMERS_RULE}; got '10' \(str\)"),
    (dict(customers=True), InputTypeError, rf"{CUSTOMERS_RULE}; got True \(bool\)"),
    (dict(customers=0), InputError, rf"{CUSTOMERS_RULE}; got 0$"),
    (dict(customers=10**30), InputError, rf"{CUSTOMERS_RULE}; got 1{'0' * 30}$"),
    (dict(customers=2**31), InputError, rf"{CUSTOMERS_RULE}; got 2147483648$"),
    (
        dict(arrivals="binomial"),
        InputError,
        r"`arrivals` must be one of \['fixed', 'poisson'\]; got 'binomial' \(str\)",
    ),
]


@pytest.mark.parametrize(("changes", "error", "message"), VALIDATION_CASES)
def test_validation_messages(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        make_instance(**_kwargs(**changes))
    assert caught.type is error


def test_valid_instance_normalizes_and_freezes() -> None:
    inst = make_instance(**_kwargs(customers=7.0, arrival=[0.6, 0.4 + 1e-12]))
    assert inst.customers == 7 and isinstance(inst.customers, int)
    np.testing.assert_array_equal(inst.salvage, [0.0, 0.0])
    with pytest.raises(ValueError, match="read-only"):
        inst.prices[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        inst.substitution[0, 1] = 0.1
    np.testing.assert_allclose(inst.leave_probability, [0.5, 0.8])
    assert inst.no_purchase_probability == 0.0


def test_sparse_input_is_canonical_csr() -> None:
    rho = sp.coo_array(([0.5, 0.0, 0.2], ([0, 1, 1], [1, 1, 0])), shape=(2, 2))
    inst = make_instance(**_kwargs(substitution=rho))
    assert isinstance(inst.substitution, sp.csr_array) and inst.is_sparse
    assert inst.substitution.nnz == 2 and inst.substitution.has_sorted_indices
    np.testing.assert_array_equal(inst.substitution_dense(), [[0.0, 0.5], [0.2, 0.0]])


def test_sparse_duplicates_are_summed_and_the_input_is_not_modified() -> None:
    # CSR built from (data, indices, indptr) may repeat an index; scipy keeps both entries.
    rho = sp.csr_array(([0.25, 0.25, 0.0, 0.2], [1, 1, 0, 0], [0, 3, 4]), shape=(2, 2))
    inst = make_instance(**_kwargs(substitution=rho))
    np.testing.assert_array_equal(inst.substitution_dense(), [[0.0, 0.5], [0.2, 0.0]])
    assert rho.nnz == 4  # the caller's matrix keeps its explicit zero and duplicates
    too_much = sp.csr_array(([0.6, 0.6], [1, 1], [0, 2, 2]), shape=(2, 2))
    with pytest.raises(
        InputError, match=r"`substitution` row 0 sums to 1.2; rows must sum to at most 1"
    ):
        make_instance(**_kwargs(substitution=too_much))


# ----------------------------------------------------------------------------- trap rule


def test_mnl_without_outside_option_loads() -> None:
    inst = mnl_instance(
        [1.0, 2.0, 3.0, 4.0], 0.0, prices=np.ones(4), costs=np.zeros(4), customers=5
    )
    np.testing.assert_allclose(inst.substitution.sum(axis=1), np.ones(4), atol=1e-15)
    again = instance_from_dict(json.loads(json.dumps(instance_to_dict(inst))))
    np.testing.assert_array_equal(again.substitution, inst.substitution)


@pytest.mark.parametrize("sparse", [False, True])
def test_closed_two_cycle_inside_bigger_catalog_is_rejected(sparse: bool) -> None:
    rho = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with pytest.raises(
        InputError, match=r"`substitution` traps customers: products \[1, 2\] form a closed class"
    ):
        make_instance(
            prices=[1.0] * 3,
            costs=[0.0] * 3,
            arrival=[0.3] * 3,
            substitution=sp.csr_array(rho) if sparse else rho,
            customers=3,
        )


def test_trap_message_lists_at_most_ten_members() -> None:
    n = 13
    rho = np.zeros((n, n))
    for i in range(1, n):
        rho[i, 1 + i % (n - 1)] = 1.0  # cycle 1 -> 2 -> ... -> 12 -> 1, product 0 outside
    with pytest.raises(InputError, match=r"products \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, \.\.\.\]"):
        make_instance(
            prices=[1.0] * n, costs=[0.0] * n, arrival=[0.05] * n, substitution=rho, customers=3
        )


def test_rows_summing_to_one_are_fine_when_the_chain_drains() -> None:
    # A cycle that leaks somewhere, and a chain of full rows ending in a leaking product.
    leaky_cycle = [[0.0, 1.0, 0.0], [0.9, 0.0, 0.0], [0.5, 0.5, 0.0]]
    make_instance(
        prices=[1.0] * 3, costs=[0.0] * 3, arrival=[0.3] * 3, substitution=leaky_cycle, customers=3
    )
    draining = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    make_instance(
        prices=[1.0] * 3, costs=[0.0] * 3, arrival=[0.3] * 3, substitution=draining, customers=3
    )
    single = make_instance(
        prices=[1.0], costs=[0.0], arrival=[1.0], substitution=[[0.0]], customers=3
    )
    assert single.n_products == 1


# ------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("arrivals", ["fixed", "poisson"])
def test_json_round_trip_is_exact(tmp_path: Path, sparse: bool, arrivals: str) -> None:
    inst = _random_instance(np.random.default_rng(5), 9, sparse, arrivals)
    path = tmp_path / "inst.json"
    save_instance(inst, path)
    again = load_instance(path)
    assert set(json.loads(path.read_text())) == {
        "name",
        "prices",
        "costs",
        "salvage",
        "arrival",
        "substitution",
        "customers",
        "arrivals",
    }
    for field in ("prices", "costs", "salvage", "arrival"):
        np.testing.assert_array_equal(getattr(again, field), getattr(inst, field))
    assert again.is_sparse == sparse
    if sparse:
        for part in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(
                getattr(again.substitution, part), getattr(inst.substitution, part)
            )
    else:
        np.testing.assert_array_equal(again.substitution, inst.substitution)
    assert (again.name, again.customers, again.arrivals) == (
        inst.name,
        inst.customers,
        inst.arrivals,
    )
    save_instance(again, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_json_optional_keys_default() -> None:
    data = {
        "name": "x",
        "prices": [2.0],
        "costs": [1.0],
        "arrival": [0.5],
        "substitution": [[0.0]],
        "customers": 4,
    }
    inst = instance_from_dict(data)
    assert inst.arrivals == "fixed"
    np.testing.assert_array_equal(inst.salvage, [0.0])


def _json(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "x",
        "prices": [2.0, 3.0],
        "costs": [1.0, 1.0],
        "arrival": [0.5, 0.2],
        "substitution": {"rows": [0], "cols": [1], "values": [0.5]},
        "customers": 4,
    }
    data.update(changes)
    return data


JSON_CASES = [
    ([1, 2], InputTypeError, r"an instance must be a JSON object; got \[1, 2\] \(list\)"),
    (_json(price=[1.0]), InputError, r"unknown instance key 'price'; did you mean 'prices'\?"),
    (_json(zzz=1), InputError, r"unknown instance key 'zzz'; known keys are \['name', 'prices'"),
    (
        {k: v for k, v in _json().items() if k != "costs"},
        InputError,
        r"instance is missing the required key 'costs'",
    ),
    (
        _json(substitution={"rows": [0], "cols": [1]}),
        InputError,
        r"sparse `substitution` must have exactly the keys \['rows', 'cols', 'values'\]; "
        r"got \['cols', 'rows'\]",
    ),
    (
        _json(substitution={"rows": [0], "cols": [1], "values": [0.5], "n": 2}),
        InputError,
        r"sparse `substitution` must have exactly the keys",
    ),
    (
        _json(substitution={"rows": 0, "cols": [1], "values": [0.5]}),
        InputTypeError,
        r"sparse `substitution` 'rows' must be a list; got 0 \(int\)",
    ),
    (
        _json(substitution={"rows": [0, 1], "cols": [1], "values": [0.5]}),
        InputError,
        r"sparse `substitution` lists must have equal lengths; "
        r"got \{'rows': 2, 'cols': 1, 'values': 1\}",
    ),
    (
        _json(substitution={"rows": [0], "cols": [1.5], "values": [0.5]}),
        InputTypeError,
        r"sparse `substitution` 'cols' must hold integer indices in \[0, 2\); got 1.5 \(float\)",
    ),
    (
        _json(substitution={"rows": [2], "cols": [1], "values": [0.5]}),
        InputError,
        r"sparse `substitution` 'rows' holds index 2; indices must lie in \[0, 2\)",
    ),
    (
        _json(substitution={"rows": [0], "cols": [-1], "values": [0.5]}),
        InputError,
        r"sparse `substitution` 'cols' holds index -1; indices must lie in \[0, 2\)",
    ),
    (
        _json(substitution={"rows": [0, 0], "cols": [1, 1], "values": [0.2, 0.3]}),
        InputError,
        r"sparse `substitution` lists an entry twice",
    ),
    (
        _json(substitution={"rows": [0], "cols": [1], "values": ["a"]}),
        InputTypeError,
        r"`substitution values` must be a list of numbers",
    ),
    (_json(prices="abc"), InputTypeError, r"`prices` must be a list of numbers; got 'abc' \(str\)"),
]


@pytest.mark.parametrize(("data", "error", "message"), JSON_CASES)
def test_json_validation_messages(data: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        instance_from_dict(data)
    assert caught.type is error


def test_load_instance_rejects_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"instance file '.*bad.json' is not valid JSON"):
        load_instance(path)
    path.write_text('{"prices": [NaN]}')
    with pytest.raises(InputError, match=r"instance file '.*bad.json' is not valid JSON: NaN"):
        load_instance(path)


def test_load_instance_names_the_file_in_rule_errors(tmp_path: Path) -> None:
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(_json(customers=0)))
    with pytest.raises(
        InputError,
        match=r"instance file '.*inst.json': `customers` must be an integer in "
        r"\[1, 2,147,483,647\]; got 0",
    ):
        load_instance(path)
    path.write_text(json.dumps(_json(customers="4")))
    with pytest.raises(InputTypeError, match=r"instance file '.*inst.json': `customers`"):
        load_instance(path)


def test_load_instance_reads_only_regular_files_of_bounded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match=r"instance file '.*missing.json' does not exist"):
        load_instance(tmp_path / "missing.json")
    with pytest.raises(InputError, match=r"instance file '.*' is a directory, not a file"):
        load_instance(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"instance file '.*fifo' is not a regular file"):
        load_instance(fifo)  # refused at once: the open does not block on a FIFO
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(_json()))
    size = path.stat().st_size
    monkeypatch.setattr(instance_module, "MAX_INSTANCE_BYTES", size - 1)
    with pytest.raises(
        InputError, match=rf"instance file '.*inst.json' is {size:,} bytes; at most {size - 1:,}"
    ):
        load_instance(path)
    monkeypatch.setattr(instance_module, "MAX_INSTANCE_BYTES", size)
    assert load_instance(path).n_products == 2


# ------------------------------------------------------------------------------ stock_iv

STOCK_RULE = r"`stock` must be a list of 2 non-negative integers"
STOCK_CASES = [
    ("1,2", InputTypeError, rf"{STOCK_RULE}; got '1,2' \(str\)"),
    (None, InputTypeError, rf"{STOCK_RULE}; got None \(NoneType\)"),
    ({"a": 1}, InputTypeError, rf"{STOCK_RULE}; got \{{'a': 1\}} \(dict\)"),
    ([[1], [1, 2]], InputError, rf"{STOCK_RULE}; got \[\[1\], \[1, 2\]\] \(list\)"),
    ([1, 2, 3], InputError, rf"{STOCK_RULE}, one per product; got shape \(3,\)"),
    ([[1, 2]], InputError, rf"{STOCK_RULE}, one per product; got shape \(1, 2\)"),
    ([True, False], InputTypeError, rf"{STOCK_RULE}; got entries of dtype bool"),
    (["1", "2"], InputTypeError, rf"{STOCK_RULE}; got entries of dtype <U1"),
    ([1.5, 2.0], InputError, r"`stock` entry 0 is 1.5; stock must be a whole number of units"),
    (
        [1.0, float("nan")],
        InputError,
        r"`stock` entry 1 is nan; stock must be a whole number of units",
    ),
    ([1, -1], InputError, r"`stock` entry 1 is -1; stock must be non-negative"),
    ([1, 2**31], InputError, r"`stock` entry 1 is 2147483648; stock must be below 2\*\*31"),
]


@pytest.mark.parametrize(("stock", "error", "message"), STOCK_CASES)
def test_stock_iv_messages(stock: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        stock_iv(stock, 2)
    assert caught.type is error


def test_stock_iv_accepts_integral_floats_and_names_label() -> None:
    out = stock_iv([3.0, 0.0], 2)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [3, 0])
    with pytest.raises(InputError, match=r"`x` entry 0 is -2; stock must be non-negative"):
        stock_iv(np.array([-2, 1], dtype=np.int32), 2, label="x")


def test_profit_of_hand_value() -> None:
    # r = (3, 2), c = (1, 1), s = (0.5, 0): x = (4, 2), sales = (3, 2):
    # 3*3 + 2*2 + 0.5*(4-3) - (4 + 2) = 7.5
    inst = make_instance(**_kwargs(salvage=[0.5, 0.0]))
    assert profit_of(inst, np.array([4, 2]), np.array([3, 2])) == pytest.approx(7.5, abs=1e-12)
    batch = profit_of(inst, np.array([4, 2]), np.array([[3, 2], [0, 0]]))
    np.testing.assert_allclose(batch, [7.5, 2.0 - 6.0], atol=1e-12)


def test_with_customers_keeps_everything_else() -> None:
    inst = _random_instance(np.random.default_rng(2), 4, True, "poisson")
    other = inst.with_customers(77)
    assert other.customers == 77 and other.arrivals == "poisson"
    np.testing.assert_array_equal(other.substitution.toarray(), inst.substitution.toarray())
