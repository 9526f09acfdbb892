"""``assort generate`` and ``assort evaluate`` in-process: happy paths and every refusal."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from envs import instance as instance_module
from envs.families import make_family_instance
from envs.instance import load_instance, load_stock, save_instance, save_stock
from envs.simulate import evaluate
from envs.validation import InputError
from experiments.cli import main


@pytest.fixture()
def small_files(tmp_path):
    instance_path = tmp_path / "small.json"
    assert main(["generate", "--family", "small", "--seed", "3", "--out", str(instance_path)]) == 0
    stock_path = tmp_path / "stock.json"
    stock_path.write_text(json.dumps([4, 0, 6, 2, 3, 3, 0, 8, 1, 5]))
    return instance_path, stock_path


def test_generate_round_trips_the_family_instance(tmp_path, capsys):
    instance_path = tmp_path / "small.json"
    assert main(["generate", "--family", "small", "--seed", "3", "--out", str(instance_path)]) == 0
    assert (
        "wrote small-3 (10 products, 200 customers, dense substitution)" in capsys.readouterr().out
    )
    loaded = load_instance(instance_path)
    expected = make_family_instance("small", 3)
    assert loaded.name == "small-3" and loaded.customers == expected.customers
    for field in ("prices", "costs", "salvage", "arrival", "substitution"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(expected, field))


def test_generate_applies_settings_and_writes_sparse_substitution(tmp_path, capsys):
    path = tmp_path / "ht.json"
    code = main(
        [
            "generate",
            "--family",
            "heavy-tail",
            "--seed",
            "1",
            "--set",
            "n_products=1500",
            "--set",
            "customers=2e4",
            "--set",
            "arrivals=poisson",
            "--out",
            str(path),
        ]
    )
    assert code == 0
    data = json.loads(path.read_text())
    assert set(data["substitution"]) == {"rows", "cols", "values"}
    loaded = load_instance(path)
    assert loaded.n_products == 1500 and loaded.customers == 20_000 and loaded.arrivals == "poisson"
    assert "sparse substitution" in capsys.readouterr().out


def test_generate_multistep_says_the_file_holds_the_fitted_chain(tmp_path, capsys):
    path = tmp_path / "m.json"
    assert (
        main(
            [
                "generate",
                "--family",
                "multistep",
                "--seed",
                "2",
                "--set",
                "n_products=40",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "holds the fitted Markov chain approximation of the multi-step shopper" in err
    assert "--family multistep --instance-seed 2 --family-set n_products=40" in err
    # The note's arguments work as given: evaluate runs the ground truth with them.
    hint = err.split("evaluate the ground truth with ", 1)[1].split()
    stock_path = tmp_path / "stock.json"
    stock_path.write_text(json.dumps([1] * 40))
    argv = ["evaluate", *hint, "--stock", str(stock_path), "--seasons", "5", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["customer_process"] == "multistep-shopper"
    loaded = load_instance(path)
    assert loaded.shopper is None
    np.testing.assert_array_equal(
        loaded.arrival, make_family_instance("multistep", 2, n_products=40).arrival
    )


def test_evaluate_json_matches_the_simulator(small_files, capsys):
    instance_path, stock_path = small_files
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "--instance",
            str(instance_path),
            "--stock",
            str(stock_path),
            "--seasons",
            "300",
            "--seed",
            "7",
            "--json",
        ]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("mean_profit", "std_error", "seasons", "fill_rate", "mean_lost", "mean_sales"):
        assert key in record
    expected = evaluate(load_instance(instance_path), json.loads(stock_path.read_text()), 300, 7)
    assert record["seasons"] == 300 and record["customer_process"] == "markov-chain"
    assert (
        record["mean_profit"] == expected.mean_profit and record["std_error"] == expected.std_error
    )
    assert record["mean_sales"] == expected.mean_sales.tolist()


def test_evaluate_summary_is_readable(small_files, capsys):
    instance_path, stock_path = small_files
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--instance",
                str(instance_path),
                "--stock",
                str(stock_path),
                "--seasons",
                "50",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for label in (
        "mean profit",
        "standard error",
        "fill rate",
        "lost customers",
        "mean sales per season",
    ):
        assert label in out
    assert "32 units in 8 of 10 products" in out
    assert (
        len([line for line in out.splitlines() if line.startswith("  ")]) == 11
    )  # header + 10 products


def test_evaluate_family_runs_the_multistep_ground_truth(tmp_path, capsys):
    stock_path = tmp_path / "stock.json"
    stock_path.write_text(json.dumps([3] * 40))
    argv = ["--stock", str(stock_path), "--seasons", "40", "--seed", "1", "--json"]
    settings = ["--family-set", "n_products=40", "--family-set", "customers=200"]
    assert (
        main(["evaluate", "--family", "multistep", "--instance-seed", "2", *settings, *argv]) == 0
    )
    truth = json.loads(capsys.readouterr().out)
    assert truth["customer_process"] == "multistep-shopper" and truth["instance"] == "multistep-2"
    instance_path = tmp_path / "m.json"
    save_instance(make_family_instance("multistep", 2, n_products=40, customers=200), instance_path)
    assert main(["evaluate", "--instance", str(instance_path), *argv]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["customer_process"] == "markov-chain"
    assert fitted["mean_sales"] != truth["mean_sales"]


STOCK_RULE = r"; a stock file must be a JSON list of 10 non-negative integers, one per product$"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2", r"is not valid JSON: Expecting ',' delimiter: line 1 column 6 \(char 5\)$"),
        ("[1, NaN, 3]", r"is not valid JSON: NaN is not a number JSON allows$"),
        ("[" * 100_000 + "]" * 100_000, r"is nested too deeply to be JSON we read$"),
        (b"[1, \xff]", r"is not valid JSON: .*utf-8"),
        ('{"stock": [1]}', r"holds \{'stock': \[1\]\} \(dict\), not a list" + STOCK_RULE),
        ('"12"', r"holds '12' \(str\), not a list" + STOCK_RULE),
        ("[1, 2, 3]", r"lists 3 entries but the instance has 10 products" + STOCK_RULE),
        ("[1, 2, 3, 4, 5, 6, 7, 8, 9, -1]", r"entry 9 is -1, a negative number" + STOCK_RULE),
        ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 1.5]", r"entry 9 is 1.5, not a whole number" + STOCK_RULE),
        ('[1, 2, 3, "4", 5, 6, 7, 8, 9, 10]', r'entry 3 is "4", not a number' + STOCK_RULE),
        ("[1, 2, 3, true, 5, 6, 7, 8, 9, 10]", r"entry 3 is true, not a number" + STOCK_RULE),
        ("[1, 2, 3, null, 5, 6, 7, 8, 9, 10]", r"entry 3 is null, not a number" + STOCK_RULE),
        (
            "[1, 2, 3, 4, 5, 6, 7, 8, 9, 3000000000]",
            r"entry 9 is 3000000000, above the limit 2\*\*31 - 1" + STOCK_RULE,
        ),
    ],
)
def test_evaluate_refuses_bad_stock_files(small_files, tmp_path, capsys, content, problem):
    instance_path, _ = small_files
    stock_path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        stock_path.write_bytes(content)
    else:
        stock_path.write_text(content)
    capsys.readouterr()
    code = main(
        ["evaluate", "--instance", str(instance_path), "--stock", str(stock_path), "--seasons", "5"]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"assort evaluate: error: stock file '{stock_path}' ")
    assert re.search(problem, err), err


def test_stock_files_round_trip_and_are_read_with_a_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "stock.json"
    save_stock(np.array([3, 0, 7]), path)
    assert json.loads(path.read_text()) == [3, 0, 7]
    loaded = load_stock(path, 3)
    assert loaded.dtype == np.int64 and loaded.tolist() == [3, 0, 7]
    size = path.stat().st_size
    monkeypatch.setattr(instance_module, "MAX_STOCK_BYTES", size - 1)
    with pytest.raises(
        InputError, match=rf"stock file '.*stock.json' is {size:,} bytes; at most {size - 1:,}"
    ):
        load_stock(path, 3)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"stock file '.*fifo' is not a regular file"):
        load_stock(fifo, 3)  # refused at once: nothing blocks on the FIFO's writer


def test_evaluate_accepts_whole_number_floats(small_files, tmp_path, capsys):
    instance_path, _ = small_files
    stock_path = tmp_path / "floats.json"
    stock_path.write_text(json.dumps([2.0] * 10))
    assert (
        main(
            [
                "evaluate",
                "--instance",
                str(instance_path),
                "--stock",
                str(stock_path),
                "--seasons",
                "5",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["total_stock"] == 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stock", "{missing}"], r"stock file '{missing}' does not exist$"),
        (["--stock", "{tmp}"], r"stock file '{tmp}' is a directory, not a file$"),
        (["--stock", "{fifo}"], r"stock file '{fifo}' is not a regular file"),
        (["--instance", "{tmp}"], r"instance file '{tmp}' is a directory, not a file$"),
        (["--instance", "{fifo}"], r"instance file '{fifo}' is not a regular file"),
        (["--instance", "{missing}"], r"instance file '{missing}' does not exist"),
        (["--instance", "{broken}"], r"instance file '{broken}' is not valid JSON"),
        (
            ["--instance", "{listfile}"],
            r"instance file '{listfile}': an instance must be a JSON object; got \[\] \(list\)",
        ),
        (
            ["--family", "small"],
            r"give the instance: --instance P, or --family F with --instance-seed S",
        ),
        (
            ["--family", "small", "--instance-seed", "1", "--instance", "{instance}"],
            r"give either --instance P or --family F --instance-seed S \[--family-set \.\.\.\], "
            r"not both",
        ),
        (
            ["--family", "smal", "--instance-seed", "1"],
            r"unknown family 'smal'; did you mean 'small'\?",
        ),
        (
            ["--family", "small", "--instance-seed", "1", "--family-set", "n_product=3"],
            r"unknown override 'n_product' for family 'small'; did you mean 'n_products'\?",
        ),
        (
            ["--family", "small", "--instance-seed", "1", "--family-set", "alpha"],
            r"--family-set expects KEY=VALUE \(e.g. n_products=50\); got 'alpha'",
        ),
        (
            [
                "--family",
                "small",
                "--instance-seed",
                "1",
                "--family-set",
                "alpha=1",
                "--family-set",
                "alpha=2",
            ],
            r"--family-set gives 'alpha' twice; give each setting once",
        ),
        (
            ["--family", "small", "--instance-seed", "1", "--family-set", "alpha=" + "1" * 10_000],
            r"--family-set 'alpha=1111.*'\.\.\. is 10,006 characters long; at most 10,000",
        ),
        (
            ["--family", "small", "--instance-seed", "1"] + ["--family-set", "alpha=1"] * 101,
            r"--family-set is given 101 times; at most 100 settings",
        ),
        (
            ["--family", "small", "--instance-seed", "1", "--family-set", "n_products=2000000"],
            r"`n_products` must be an integer in \[1, 1,048,575\]; got 2000000",
        ),
        (["--seasons", "0"], r"`seasons` must be an integer in \[1, 10,000,000\]; got 0$"),
        (
            ["--seasons", "10000001"],
            r"`seasons` must be an integer in \[1, 10,000,000\]; got 10000001$",
        ),
    ],
)
def test_evaluate_refuses_bad_arguments(small_files, tmp_path, capsys, argv, message):
    instance_path, stock_path = small_files
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    listfile = tmp_path / "list.json"
    listfile.write_text("[]")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    names = {
        "fifo": str(fifo),
        "missing": str(tmp_path / "missing.json"),
        "tmp": str(tmp_path),
        "broken": str(broken),
        "listfile": str(listfile),
        "instance": str(instance_path),
    }
    argv = [part.format(**names) for part in argv]
    for key, value in names.items():
        message = message.replace("{" + key + "}", re.escape(value))
    defaults = ["--seasons", "5"] if "--seasons" not in argv else []
    if "--instance" not in argv and "--family" not in argv:
        defaults += ["--instance", str(instance_path)]
    if "--stock" not in argv:
        defaults += ["--stock", str(stock_path)]
    capsys.readouterr()
    assert main(["evaluate", *argv, *defaults]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--family", "bogus"], r"unknown family 'bogus'; known families are \['tiny', 'small'"),
        (
            ["--family", "small", "--set", "alpha=-1"],
            r"`alpha` must be a finite number in \[0, 10\]; got -1$",
        ),
        (
            ["--family", "small", "--set", 'alpha="big"'],
            r"`alpha` must be a finite number in \[0, 10\]; got 'big' \(str\)$",
        ),
        (
            ["--family", "mnl", "--set", "n_products=2001"],
            r"`n_products` is 2,001; the mnl family stores its substitution densely",
        ),
        (["--family", "small", "--set", "=3"], r"--set expects KEY=VALUE"),
        (
            ["--family", "small", "--set", "alpha=1", "--set", "alpha=2"],
            r"--set gives 'alpha' twice; give each setting once",
        ),
    ],
)
def test_generate_refuses_bad_arguments(tmp_path, capsys, argv, message):
    out = tmp_path / "x.json"
    assert main(["generate", *argv, "--seed", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("assort generate: error: ") and "\n" not in err
    assert re.search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize("command", ["generate", "evaluate-instance", "evaluate-stock"])
def test_operating_system_errors_are_one_line_not_a_traceback(
    small_files, tmp_path, capsys, command
):
    instance_path, stock_path = small_files
    too_long = str(tmp_path / ("x" * 300 + ".json"))
    argv = {
        "generate": ["generate", "--family", "small", "--seed", "0", "--out", too_long],
        "evaluate-instance": ["evaluate", "--instance", too_long, "--stock", str(stock_path)],
        "evaluate-stock": ["evaluate", "--instance", str(instance_path), "--stock", too_long],
    }[command]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert re.search(r"error: .*(File name too long|x{300}\.json)", err), err


def test_errors_that_are_not_bad_input_keep_their_traceback(small_files, monkeypatch):
    # Only InputError and OSError become one line and exit code 2; a plain ValueError (or any
    # other exception) from our code is a bug and propagates with its traceback.
    instance_path, stock_path = small_files
    import experiments.commands.evaluate as evaluate_command

    def broken(*args, **kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr(evaluate_command, "evaluate", broken)
    argv = ["evaluate", "--instance", str(instance_path), "--stock", str(stock_path)]
    with pytest.raises(ValueError, match="a bug, not bad input"):
        main(argv)
