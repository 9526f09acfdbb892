"""``assort bound``, ``assort solve`` and ``assort policies`` end to end (in-process)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baselines import POLICIES
from envs.instance import load_stock, make_instance, save_instance
from experiments.cli import main


@pytest.fixture
def hand_file(tmp_path):
    # The 2-product LP of tests/test_bound.py: bound 12.4, fluid sales z = (6.2, 0).
    instance = make_instance(
        prices=[3.0, 2.0],
        costs=[1.0, 1.5],
        arrival=[0.5, 0.3],
        substitution=[[0.0, 0.5], [0.4, 0.0]],
        customers=10,
        name="hand",
    )
    path = tmp_path / "hand.json"
    save_instance(instance, path)
    return str(path)


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_policies_lists_the_registry(capsys):
    assert main(["policies"]) == 0
    assert capsys.readouterr().out.split() == list(POLICIES)
    assert run_json(capsys, ["policies", "--json"]) == list(POLICIES)


@pytest.mark.parametrize("method", ["auto", "fixed-point", "highs"])
def test_bound_json_is_the_hand_solved_value(capsys, hand_file, method):
    record = run_json(capsys, ["bound", "--instance", hand_file, "--method", method, "--json"])
    assert record["lp_bound"] == pytest.approx(12.4, rel=1e-9)
    assert record["status"] == "optimal"


def test_bound_text(capsys, hand_file):
    assert main(["bound", "--instance", hand_file]) == 0
    out = capsys.readouterr().out
    assert "lp bound         12.4" in out and "scenario bound   " in out


def test_bound_json_has_the_scenario_bound_beside_the_fluid_bound(capsys, hand_file):
    argv = ["bound", "--instance", hand_file, "--json", "--scenarios", "16"]
    record = run_json(capsys, [*argv, "--replications", "4", "--bound-seed", "3"])
    assert record["scenarios"] == 16 and record["replications"] == 4
    assert record["bound_seed"] == 3 and record["bound_methods"] == ["lp"]
    assert record["scenario_bound"] <= record["scenario_bound_upper"] <= record["lp_bound"]
    assert record["tightest_bound"] == min(record["lp_bound"], record["scenario_bound_upper"])
    assert record["tightest_bound_name"] in ("fluid", "scenario")
    again = run_json(capsys, [*argv, "--replications", "4", "--bound-seed", "3"])
    assert again["scenario_bound_upper"] == record["scenario_bound_upper"]
    skipped = run_json(capsys, ["bound", "--instance", hand_file, "--json", "--no-scenario-bound"])
    assert skipped["scenario_bound"] is None and skipped["tightest_bound_name"] == "fluid"


def test_bound_refuses_bad_scenario_knobs_in_one_line(capsys, hand_file):
    assert main(["bound", "--instance", hand_file, "--replications", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("`replications` must be an integer in [2, 1,000]; got 1")
    assert main(["bound", "--instance", hand_file, "--scenarios", "5000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("`scenarios` must be an integer in [1, 4,096]; got 5000")


def test_solve_json_and_stock_file_round_trip(capsys, hand_file, tmp_path):
    out = tmp_path / "stock.json"
    record = run_json(
        capsys,
        [
            "solve",
            "--instance",
            hand_file,
            "--policy",
            "fluid",
            "--set",
            "rounding=ceil",
            "--seed",
            "3",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert record["policy"] == "fluid" and record["stock"] == [7, 0]
    assert record["lp_bound"] == pytest.approx(12.4)
    assert (
        record["solve_seconds"] > 0
        and record["knobs"] == {"rounding": "ceil"}
        and record["seed"] == 3
    )
    np.testing.assert_array_equal(load_stock(out, 2), [7, 0])
    evaluation = run_json(
        capsys,
        ["evaluate", "--instance", hand_file, "--stock", str(out), "--seasons", "50", "--json"],
    )
    assert evaluation["total_stock"] == 7


@pytest.mark.parametrize("name", ["newsvendor", "assortment-newsvendor", "exact"])
def test_solve_reports_lp_bound_for_every_simple_policy(capsys, name):
    record = run_json(
        capsys, ["solve", "--family", "tiny", "--instance-seed", "0", "--policy", name, "--json"]
    )
    assert record["policy"] == name and len(record["stock"]) == record["n_products"]
    assert record["lp_bound"] > 0


def test_solve_text_output(capsys, hand_file):
    assert main(["solve", "--instance", hand_file, "--policy", "fluid"]) == 0
    output = capsys.readouterr().out
    assert "stock            6 units in 1 of 2 products" in output and "0: 6" in output


def test_unknown_policy_exits_2_with_known_names(capsys, hand_file):
    assert main(["solve", "--instance", hand_file, "--policy", "optimal"]) == 2
    assert capsys.readouterr().err.strip() == (
        "assort solve: error: unknown policy 'optimal'; known policies: fluid, newsvendor, "
        "assortment-newsvendor, saa, pooled-saa, sample-path-gradient, local-search, exact, "
        "walk-saa, truth-search, shock-aware-saa, myopic-saa, myopic-fluid, lookahead-saa"
    )


def test_unknown_knob_and_rng_knob_are_refused(capsys, hand_file):
    assert (
        main(["solve", "--instance", hand_file, "--policy", "fluid", "--set", "roundng=floor"]) == 2
    )
    assert (
        "policy 'fluid' has no knob 'roundng'; did you mean 'rounding'?" in capsys.readouterr().err
    )
    assert main(["solve", "--instance", hand_file, "--policy", "fluid", "--set", "rng=1"]) == 2
    assert "give the policy's seed with --seed S, not --set rng=..." in capsys.readouterr().err


def test_missing_instance_file_exits_2(capsys, tmp_path):
    assert main(["bound", "--instance", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(POLICIES))
def test_solve_validates_the_seed_for_every_policy(capsys, hand_file, name):
    assert main(["solve", "--instance", hand_file, "--policy", name, "--seed", "-5"]) == 2
    assert "`--seed` must be an integer seed in [0, 2**63); got -5" in capsys.readouterr().err
    assert main(["solve", "--instance", hand_file, "--policy", name, "--seed", str(2**63)]) == 2
    assert f"`--seed` must be an integer seed in [0, 2**63); got {2**63}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("policy", "knob", "message"),
    [
        (
            "pooled-saa",
            'drop_fraction="a"',
            "`drop_fraction` must be a finite number in (0, 1]; got 'a' (str)",
        ),
        ("saa", "scenarios=2.5", "`scenarios` must be an integer in [1, 4,096]; got 2.5 (float)"),
        ("saa", "scenarios=5000", "`scenarios` must be an integer in [1, 4,096]; got 5000"),
        (
            "sample-path-gradient",
            'step="big"',
            "`step` must be a finite number in (0, 1,000,000]; got 'big' (str)",
        ),
        (
            "local-search",
            "max_evaluations=true",
            "`max_evaluations` must be an integer in [1, 20,000]; got True (bool)",
        ),
        (
            "exact",
            'max_states="9"',
            "`max_states` must be an integer in [1, 50,000,000]; got '9' (str)",
        ),
        (
            "fluid",
            "rounding=3",
            "`rounding` must be one of ['nearest', 'floor', 'ceil']; got 3 (int)",
        ),
    ],
)
def test_solve_type_checks_knobs(capsys, hand_file, policy, knob, message):
    assert main(["solve", "--instance", hand_file, "--policy", policy, "--set", knob]) == 2
    assert message in capsys.readouterr().err


def test_bound_json_never_prints_nan(capsys, hand_file, monkeypatch):
    # A failed solve: lp_bound is null, and the exit code is 1 with and without --json.
    import experiments.commands.bound as bound_command
    from envs.fluid_lp import fluid_lp

    def failed(instance, *, method="auto"):
        solution = fluid_lp(instance)
        return type(solution)(
            **{**solution.__dict__, "value": float("nan"), "status": "numerical_error"}
        )

    monkeypatch.setattr(bound_command, "fluid_lp", failed)
    assert main(["bound", "--instance", hand_file, "--json"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["lp_bound"] is None and record["status"] == "numerical_error"
    assert main(["bound", "--instance", hand_file]) == 1
