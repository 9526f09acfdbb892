"""Counter-based streams (numba = plain Python), alias tables and the packed ChoiceTables."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit

from envs import tables as tables_module
from envs.choice import mnl_instance
from envs.instance import MAX_PRODUCTS, make_instance
from envs.streams import (
    alias_table,
    customer_key,
    draw,
    mix,
    py_customer_key,
    py_draw,
    py_mix,
    py_season_key,
    py_table_sample,
    py_to_uniform,
    season_key,
    table_sample,
    to_uniform,
)
from envs.tables import ChoiceTables, alias_rows
from envs.validation import InputError


@njit
def _numba_stream(seed, season, customer, step):
    ckey = customer_key(season_key(seed, season), customer)
    u = draw(ckey, step)
    return mix(seed), ckey, u, to_uniform(u)


def test_numba_streams_equal_plain_python() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        seed, season, customer, step = (int(v) for v in rng.integers(0, 2**63, 4, dtype=np.uint64))
        mixed, ckey, u, uniform = _numba_stream(
            np.uint64(seed), np.uint64(season), np.uint64(customer), np.uint64(step)
        )
        py_ckey = py_customer_key(py_season_key(seed, season), customer)
        assert int(mixed) == py_mix(seed)
        assert int(ckey) == py_ckey
        assert int(u) == py_draw(py_ckey, step)
        assert uniform == py_to_uniform(int(u))


def test_splitmix_known_value() -> None:
    # SplitMix64 with state 0: first output is mix(0x9E3779B97F4A7C15) = 0xE220A8397B1DCDAF.
    assert py_mix(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF


def test_alias_table_encodes_the_distribution() -> None:
    rng = np.random.default_rng(1)
    for k in (1, 2, 5, 17):
        p = rng.dirichlet(np.ones(k))
        threshold, alias = alias_table(p)
        encoded = threshold.astype(np.float64) / 2**32
        np.add.at(encoded, alias, 1.0 - threshold.astype(np.float64) / 2**32)
        np.testing.assert_allclose(encoded / k, p, atol=k * 2.0**-32)


def test_vectorized_alias_rows_equal_alias_table() -> None:
    rng = np.random.default_rng(2)
    lengths = rng.integers(1, 12, 50)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    probabilities = rng.random(starts[-1]) * (rng.random(starts[-1]) < 0.8)
    probabilities[starts[1:] - 1] += 0.01  # no all-zero row
    keep, alias = alias_rows(starts, probabilities)
    for r in range(50):
        lo, hi = starts[r], starts[r + 1]
        threshold, row_alias = alias_table(probabilities[lo:hi])
        np.testing.assert_array_equal(
            np.minimum(np.round(keep[lo:hi] * 2.0**32), 2.0**32), threshold
        )
        np.testing.assert_array_equal(alias[lo:hi] - lo, row_alias)


@njit
def _table_sample(u, start, n_columns, slots):
    return table_sample(u, start, n_columns, slots)


@pytest.mark.parametrize("sparse", [False, True])
def test_choice_tables_encode_the_instance(sparse: bool) -> None:
    rng = np.random.default_rng(3)
    n = 12
    rho = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    np.fill_diagonal(rho, 0.0)
    rho *= 0.8 / np.maximum(rho.sum(axis=1, keepdims=True), 1e-9)
    arrival = rng.dirichlet(np.ones(n + 1))[:n]
    inst = make_instance(
        prices=np.full(n, 2.0),
        costs=np.ones(n),
        arrival=arrival,
        substitution=sp.csr_array(rho) if sparse else rho,
        customers=10,
    )
    tables = ChoiceTables.from_instance(inst)
    np.testing.assert_allclose(
        tables.outcome_probabilities(),
        np.append(arrival, inst.no_purchase_probability),
        atol=2.0**-24,
    )
    for i in range(n):
        expected = np.append(rho[i], inst.leave_probability[i])
        np.testing.assert_allclose(tables.outcome_probabilities(i), expected, atol=2.0**-24)
    # The numba sampler equals the plain-Python one, and both follow the spec by hand.
    slots = tables.slots.tolist()
    for u in rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + np.uint64(1):
        start, stop = int(tables.row_start[3]), int(tables.row_start[4])
        for lo, m in ((0, n + 1), (start, stop - start)):
            column = lo + ((int(u) >> 32) * m >> 32)
            kept = ((int(u) >> 8) & 0xFFFFFF) < int(tables.threshold[column])
            by_hand = int(tables.kept[column] if kept else tables.alias[column])
            assert (
                _table_sample(u, lo, m, tables.slots)
                == py_table_sample(int(u), lo, m, slots)
                == by_hand
            )


def test_certain_columns_never_move() -> None:
    # A two-outcome table (0.5, 0.5) keeps both columns with certainty.
    inst = make_instance(
        prices=[1.0], costs=[0.0], arrival=[0.5], substitution=[[0.0]], customers=1
    )
    tables = ChoiceTables.from_instance(inst)
    np.testing.assert_array_equal(tables.threshold[:2], [2**24 - 1, 2**24 - 1])
    np.testing.assert_array_equal(tables.kept[:2], tables.alias[:2])


def test_too_many_products_is_refused() -> None:
    # The tables code a product (or "leave") in OUTCOME_BITS bits; make_instance refuses any
    # catalog larger than that, so every instance fits the tables.
    assert MAX_PRODUCTS == (1 << tables_module.OUTCOME_BITS) - 1
    n = MAX_PRODUCTS + 1
    with pytest.raises(
        InputError, match=r"`prices` must list between 1 and 1,048,575 products; got 1,048,576"
    ):
        make_instance(
            prices=np.ones(n),
            costs=np.zeros(n),
            arrival=np.zeros(n),
            substitution=sp.csr_array((n, n)),
            customers=1,
        )


def test_tables_of_mnl_without_outside_option_never_leave() -> None:
    inst = mnl_instance([1.0, 2.0, 3.0], 0.0, prices=[1.0] * 3, costs=[0.0] * 3, customers=4)
    tables = ChoiceTables.from_instance(inst)
    assert tables.outcome_probabilities()[-1] == 0.0
    for i in range(3):
        assert tables.outcome_probabilities(i)[-1] == 0.0


def test_tiny_probabilities_keep_their_outcome_so_a_valid_chain_stays_valid() -> None:
    # A leak of 1e-8 and an MNL weight of 1e-9 lie below the tables' 2^-24 resolution; dropping
    # them would turn valid chains into traps (a customer cycling forever between products 0 and 1).
    rho = [[0.0, 1.0 - 1e-8, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    inst = make_instance(
        prices=[1.0] * 3, costs=[0.0] * 3, arrival=[0.5, 0.2, 0.2], substitution=rho, customers=3
    )
    tables = ChoiceTables.from_instance(inst)
    assert 0.0 < tables.outcome_probabilities(0)[-1] <= 2.0**-24
    mnl = mnl_instance([1.0, 1.0, 1e-9], 0.0, prices=[1.0] * 3, costs=[0.0] * 3, customers=3)
    tables = ChoiceTables.from_instance(mnl)
    for i in (0, 1):
        assert tables.outcome_probabilities(i)[2] > 0.0
    assert tables.outcome_probabilities()[2] > 0.0


def test_tables_are_cached_per_instance_and_read_only() -> None:
    inst = mnl_instance([1.0, 2.0], 1.0, prices=[1.0] * 2, costs=[0.0] * 2, customers=4)
    first = ChoiceTables.for_instance(inst)
    assert ChoiceTables.for_instance(inst) is first
    assert ChoiceTables.from_instance(inst) is not first
    with pytest.raises(ValueError, match="read-only"):
        first.slots[0] = 0


@pytest.mark.slow
def test_large_sparse_tables_build_fast() -> None:
    """N = 100,000 with 20 substitutes per row: well under a second (a Python loop took ~3 s).

    Timed, so kept out of the default run (a busy machine makes it flaky); the benchmark script
    reports the build time of every instance it measures.
    """
    n, k = 100_000, 20
    rng = np.random.default_rng(4)
    rows = np.repeat(np.arange(n), k)
    cols = (rows + 1 + np.tile(np.arange(k), n) * 997) % n
    values = rng.uniform(0.01, 0.03, n * k)
    inst = make_instance(
        prices=np.full(n, 2.0),
        costs=np.ones(n),
        arrival=np.full(n, 0.9 / n),
        substitution=sp.csr_array((values, (rows, cols)), shape=(n, n)),
        customers=1000,
    )
    inst.substitution_csr, inst.leave_probability  # noqa: B018 (instance-side caches, not timed)
    ChoiceTables.from_instance(mnl_instance([1.0], 1.0, prices=[1.0], costs=[0.0], customers=1))
    start = time.perf_counter()
    tables = ChoiceTables.from_instance(inst)
    seconds = time.perf_counter() - start
    assert tables.slots.shape == (n + 1 + n * (k + 1),)
    assert seconds < 1.0, f"building the tables took {seconds:.2f} s"
