"""The price-of-abstraction study: its price formula by hand, and a micro run end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import experiments.abstraction_study as study
from experiments.store import ResultStore


def _outcome(profits, evaluations=10):
    return SimpleNamespace(
        record=SimpleNamespace(profits=np.asarray(profits, dtype=float)),
        decision=SimpleNamespace(
            info={"evaluations": evaluations, "stopped": "converged"}, seconds=2.0
        ),
    )


def test_price_is_the_paired_gain_over_the_best_mc_heuristic_per_instance():
    outcomes = {
        # instance 0: saa is best (mean 10); instance 1: fluid is best (mean 20)
        "saa": [_outcome([9, 11, 10, 10]), _outcome([18, 18, 18, 18])],
        "fluid": [_outcome([8, 8, 8, 8]), _outcome([19, 21, 20, 20])],
        study.TRUTH: [_outcome([10, 12, 11, 11]), _outcome([20, 22, 21, 21])],
        study.AWARE: [_outcome([9.5, 11.5, 10.5, 10.5]), _outcome([19.5, 21.5, 20.5, 20.5])],
    }
    summary = study.price_summary(outcomes)
    assert summary["best_heuristic"] == ["saa", "fluid"]
    # truth - best is 1 on every season of both: 10 % and 5 % of the best's profit.
    np.testing.assert_allclose(summary["price_pct_by_instance"], [10.0, 5.0])
    price = summary["price_pct"]
    assert price["mean"] == pytest.approx(7.5) and price["se"] == pytest.approx(0.0)
    assert summary["price_pct_t"]["low"] < 7.5 < summary["price_pct_t"]["high"]
    assert summary["material_instances"] == 2
    assert summary["aware_gain_pct"]["mean"] == pytest.approx(3.75)
    assert summary["aware_share_of_price"] == pytest.approx(0.5)
    assert summary["best_profit"] == pytest.approx(15.0)
    assert summary["truth_profit"] == pytest.approx(16.0)


def test_a_micro_study_runs_through_the_pipeline_and_resumes(tmp_path, monkeypatch):
    settings = {
        "mode": "micro",
        "cells": {"market": (0.5,), "segments": (0.5,)},
        "instance_seeds": (1_000_000,),
        "seasons": 64,
        "bank": 16,
        "overrides": {"n_products": 4, "customers": 30, "neighbours": 2},
    }
    monkeypatch.setattr(study, "MC_HEURISTICS", ("fluid", "newsvendor", "saa"))
    store = ResultStore(tmp_path / "store")
    records = study.run_study(settings, store)
    assert [r["label"] for r in records] == ["market@0.5", "segments@0.5"]
    market, segments = records
    assert set(market["stocks"]) == {
        "fluid",
        "newsvendor",
        "saa",
        "truth-search",
        "shock-aware-saa",
    }
    assert "shock-aware-saa" not in segments["stocks"]
    assert market["demand_cv"] > 0.5 and segments["demand_cv"] is None
    # Every stock was simulated on the true process: the truth planner's stock is in the store.
    again = study.run_study(settings, store)
    assert json.dumps(again, sort_keys=True) == json.dumps(records, sort_keys=True)
    text = study.markdown(records, settings, "micro")
    assert "| market | cv_market | 0.5 |" in text and "| segments | loyal_share | 0.5 |" in text
    study.plot(records, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 1000
