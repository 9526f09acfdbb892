"""The result store: round trips, fingerprints that catch changed inputs, crash safety."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import experiments.store as store_module
from envs.instance import make_instance
from experiments.store import (
    Decision,
    EvaluationRecord,
    ResultStore,
    fingerprint,
    instance_hash,
    safe_name,
    stock_hash,
)


def _instance(price: float = 2.0, name: str = "two", metadata: dict | None = None):
    return make_instance(
        name=name,
        prices=[price, 1.5],
        costs=[1.0, 0.5],
        arrival=[0.4, 0.3],
        substitution=[[0.0, 0.5], [0.2, 0.0]],
        customers=10,
        metadata=metadata,
    )


def _record(
    store: ResultStore, profits: np.ndarray, *, stock=(3, 2), seed: int = 7, policy: str = "fluid"
):
    key = store.evaluation_key(
        policy, "two-1", instance_hash(_instance()), np.array(stock), seed, profits.shape[0]
    )
    return EvaluationRecord(key=key, profits=profits, stock=tuple(stock), kpis={"fill_rate": 0.9})


def test_evaluation_round_trip_is_exact(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    profits = np.random.default_rng(0).normal(size=50)
    record = _record(store, profits)
    store.put_evaluation(record)
    loaded = ResultStore(tmp_path).get_evaluation(record.key)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.profits, profits)
    assert loaded.stock == (3, 2) and loaded.kpis == {"fill_rate": 0.9}
    assert loaded.mean_profit == profits.mean()
    assert loaded.std_error == pytest.approx(profits.std(ddof=1) / np.sqrt(50))
    mode = os.stat(store.evaluation_paths(record.key)[0]).st_mode & 0o777
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert mode == os.stat(plain).st_mode & 0o777  # like open(), not mkstemp's 0o600
    data = json.loads(store.evaluation_paths(record.key)[0].read_text())
    assert data["mean_profit"] == profits.mean() and data["seed"] == 7


def test_lookup_with_another_fingerprint_misses(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = _record(store, np.arange(4.0))
    store.put_evaluation(record)
    key = record.key
    changed = [
        store.evaluation_key(
            "fluid", "two-1", instance_hash(_instance(price=2.5)), np.array([3, 2]), 7, 4
        ),
        store.evaluation_key("fluid", "two-1", key.instance_hash, np.array([3, 1]), 7, 4),
        store.evaluation_key("fluid", "two-1", key.instance_hash, np.array([3, 2]), 7, 5),
        ResultStore(tmp_path, code_tag="other-code").evaluation_key(
            "fluid", "two-1", key.instance_hash, np.array([3, 2]), 7, 4
        ),
    ]
    for other in changed:
        assert other.fingerprint != key.fingerprint
        assert store.get_evaluation(other) is None
    assert store.get_evaluation(key) is not None
    # another seed is another file, and does not disturb the first
    assert (
        store.get_evaluation(
            store.evaluation_key("fluid", "two-1", key.instance_hash, np.array([3, 2]), 8, 4)
        )
        is None
    )


def test_instance_and_stock_hashes() -> None:
    assert instance_hash(_instance()) == instance_hash(_instance())
    assert instance_hash(_instance(metadata={"family": "x"})) == instance_hash(_instance())
    assert instance_hash(_instance(name="renamed")) == instance_hash(_instance())
    assert instance_hash(_instance(price=2.0 + 1e-12)) != instance_hash(_instance())
    dense = _instance()
    sparse = make_instance(
        name="two",
        prices=dense.prices,
        costs=dense.costs,
        arrival=dense.arrival,
        substitution=sp.csr_array(dense.substitution),
        customers=10,
    )
    assert sparse.is_sparse and instance_hash(sparse) == instance_hash(dense)
    assert instance_hash(dense.with_customers(11)) != instance_hash(dense)
    assert stock_hash(np.array([1.0, 2.0])) == stock_hash([1, 2])
    assert stock_hash([1, 2]) != stock_hash([2, 1])
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint([1, 2]) != fingerprint([[1], 2])
    assert fingerprint(1) != fingerprint(1.0) != fingerprint("1")


def test_corrupted_and_partial_files_read_as_absent(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = _record(store, np.arange(6.0))
    store.put_evaluation(record)
    json_path, npy_path = store.evaluation_paths(record.key)
    # a stray temp file left by a killed writer is ignored
    (json_path.parent / f".tmp-{json_path.name}.abc").write_text('{"fingerpri')
    assert store.get_evaluation(record.key) is not None
    good = npy_path.read_bytes()
    npy_path.write_bytes(good[: len(good) // 2])  # truncated array
    assert store.get_evaluation(record.key) is None
    npy_path.write_bytes(good)
    text = json_path.read_text()
    json_path.write_text(text[: len(text) // 2])  # truncated JSON
    assert store.get_evaluation(record.key) is None
    store.put_evaluation(record)  # recomputing repairs it
    assert store.get_evaluation(record.key) is not None


def test_interrupted_write_keeps_the_earlier_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path)
    first = _record(store, np.arange(5.0))
    store.put_evaluation(first)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.put_evaluation(_record(store, np.arange(5.0) + 100))
    monkeypatch.undo()
    loaded = store.get_evaluation(first.key)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.profits, np.arange(5.0))
    folder = store.evaluation_paths(first.key)[0].parent
    leftovers = [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_concurrent_writers_never_expose_a_broken_record(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = _record(store, np.linspace(0, 1, 2_000))
    stop = threading.Event()
    seen: list[bool] = []

    def write() -> None:
        for _ in range(30):
            store.put_evaluation(record)

    def read() -> None:
        while not stop.is_set():
            loaded = store.get_evaluation(record.key)
            if loaded is not None:
                seen.append(bool(np.array_equal(loaded.profits, record.profits)))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert seen and all(seen)
    assert store.get_evaluation(record.key) is not None


def test_decision_round_trip_and_fingerprint(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    fp = store.decision_fingerprint({"heuristic": "fluid", "knobs": {}}, "abc")
    assert fp != store.decision_fingerprint({"heuristic": "fluid", "knobs": {"k": 1}}, "abc")
    assert fp != store.decision_fingerprint({"heuristic": "fluid", "knobs": {}}, "abd")
    decision = Decision(
        policy="fluid",
        instance="small-1",
        fingerprint=fp,
        stock=(1, 0, 4),
        seconds=0.5,
        info={"status": "optimal"},
    )
    store.put_decision(decision)
    assert store.get_decision("fluid", "small-1", fp) == decision
    assert store.get_decision("fluid", "small-1", "other") is None
    assert store.get_decision("fluid", "small-2", fp) is None


def test_safe_names_keep_policies_apart() -> None:
    assert safe_name("quickstart/ppo-seed0") == "quickstart_ppo-seed0"
    assert safe_name("local-search") == "local-search"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: safe_name(""), ValueError, "a store label must be a non-empty string; got ''"),
        (
            lambda: safe_name("///"),
            ValueError,
            "store label '///' has no file-name-safe characters",
        ),
        (
            lambda: ResultStore("x", code_tag=""),
            ValueError,
            "`code_tag` must be a non-empty string; got ''",
        ),
        (
            lambda: instance_hash("two"),
            TypeError,
            "`instance` must be an envs.instance.Instance; got str",
        ),
        (lambda: fingerprint({1, 2}), TypeError, "cannot fingerprint an object of type set"),
    ],
)
def test_bad_input_messages(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_put_rejects_profits_of_the_wrong_length(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = _record(store, np.arange(4.0))
    bad = EvaluationRecord(key=record.key, profits=np.arange(3.0), stock=record.stock, kpis={})
    with pytest.raises(
        ValueError, match=r"`record.profits` has shape \(3,\); expected \(4,\), one per season"
    ):
        store.put_evaluation(bad)
    assert not os.path.exists(store.evaluation_paths(record.key)[0])


def test_source_hash_follows_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fakepkg_for_store"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "solver.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    store_module.source_hash.cache_clear()
    before = store_module.source_hash("fakepkg_for_store")
    module_only = store_module.source_hash("fakepkg_for_store.solver")
    (package / "solver.py").write_text("X = 2\n")
    store_module.source_hash.cache_clear()
    assert store_module.source_hash("fakepkg_for_store") != before
    assert store_module.source_hash("fakepkg_for_store.solver") != module_only
    assert store_module.source_hash("no_such_module_anywhere") == store_module.source_hash()
    assert store_module.CODE_TAG.startswith("assort-testbed-") and "/sim-" in store_module.CODE_TAG
