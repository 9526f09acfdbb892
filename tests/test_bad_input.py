"""Every class of bad input is refused in one line, in bounded time and memory.

The explicit cases below are the classes found by fuzzing the project as a new user would
(instances, stock files, CLI arguments, configs, environment calls, run folders); the property
tests at the end generate thousands more (hypothesis, derandomized; more under ``-m slow``).
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the Assort/* ids)
from envs.families import make_family_instance
from envs.fluid_lp import fluid_lp
from envs.instance import Instance, instance_from_dict, load_instance, load_stock
from envs.simulate import evaluate, simulate
from envs.validation import InputError
from experiments.cli import main
from experiments.config import load_config, parse_yaml

HANG_GUARD_SECONDS = 60
"""Every refusal below must come well within this (a hang fails the test instead of the run)."""


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    def fail(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {HANG_GUARD_SECONDS} s: the input hangs the code")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(HANG_GUARD_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def base_instance() -> dict[str, Any]:
    return {
        "name": "three",
        "prices": [2.0, 3.0, 1.5],
        "costs": [1.0, 1.2, 0.5],
        "salvage": [0.0, 0.3, 0.1],
        "arrival": [0.3, 0.3, 0.2],
        "substitution": [[0.0, 0.5, 0.2], [0.3, 0.0, 0.3], [0.4, 0.1, 0.0]],
        "customers": 20,
        "arrivals": "fixed",
    }


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of ``assort ARGV`` (argparse's own exit 2 included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def assert_one_line_refusal(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("usage:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ---------------------------------------------------------------------------- instances


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("prices", ["2.0", 3.0, 1.5], "`prices` must be a list of numbers (real numbers within"),
        ("costs", [True, 1.0, 0.5], "entries of type bool"),
        ("arrival", [0.3, None, 0.2], "entries of type NoneType"),
        ("prices", [10**400, 3.0, 1.5], "entries of type int beyond float range"),
        (
            "prices",
            [1e308, 3.0, 1.5],
            "`prices` entry 0 is 1e+308; entries must be in [1e-06, 1,000,000,000,000]",
        ),
        (
            "costs",
            [1.0, 1e13, 0.5],
            "`costs` entry 1 is 10000000000000.0; entries must be in [0, 1,000,000,000,000]",
        ),
        ("customers", 2**31, "`customers` must be an integer in [1, 2,147,483,647]"),
        ("customers", "20", "`customers` must be an integer"),
        ("substitution", {"rows": [2**63], "cols": [0], "values": [0.1]}, "holds index"),
        ("substitution", {"rows": [0], "cols": [1.0], "values": [0.1]}, "integer indices"),
        ("substitution", [[0.0, "0.5", 0.2], [0.3, 0.0, 0.3], [0.4, 0.1, 0.0]], "substitution"),
        ("substitution", [[0.0, 0.5], [0.3, 0.0, 0.3], [0.4, 0.1, 0.0]], "one shape"),
        ("name", "x" * 1000, "`name` must be a non-empty string of at most 200 characters"),
    ],
)
def test_instance_values_that_numpy_would_coerce_are_refused(key, value, message) -> None:
    data = base_instance()
    data[key] = value
    with pytest.raises(InputError) as caught:
        instance_from_dict(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested too deeply"):
        load_instance(path)


def test_a_fifo_a_device_and_a_directory_are_refused_at_once(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    for path, problem in (
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "is not a regular file"),
        (tmp_path, "is a directory"),
        (tmp_path / "absent.json", "does not exist"),
    ):
        with pytest.raises(InputError, match=problem):
            load_instance(path)
        with pytest.raises(InputError, match=problem):
            load_stock(path, 3)
        with pytest.raises(InputError, match=problem):
            load_config(path)
        code, err = run_cli(["bound", "--instance", str(path)], capsys)
        assert_one_line_refusal(code, err, problem)


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:
        handle.truncate(2 << 20)  # sparse: 2 MiB of zeros, no disk used
    with pytest.raises(InputError, match="at most 1,048,576 are read"):
        load_config(path)


def test_extreme_but_finite_instances_keep_every_number_finite() -> None:
    data = base_instance()
    data["prices"] = [1e12, 1e-6, 5e11]
    data["costs"] = [1e12, 0.0, 1e-300]
    data["salvage"] = [0.0, 0.0, 0.0]
    data["customers"] = 2**31 - 1
    instance = instance_from_dict(data)
    bound = fluid_lp(instance)
    assert np.isfinite(bound.value) and bound.status == "optimal"
    env = gymnasium.make("Assort/OneShotTiny-v1", instance=instance, reward_scale=1e-9)
    env.reset(seed=0)
    reward = env.unwrapped.source.fixed.divisor
    assert np.isfinite(reward) and reward > 0


def test_reward_scale_that_would_overflow_is_refused() -> None:
    with pytest.raises(
        InputError, match=r"`reward_scale` must be a finite number in \[1e-09, 1e\+15\]; got 5e-324"
    ):
        gymnasium.make("Assort/OneShotTiny-v1", reward_scale=5e-324)


# ---------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["evaluate", "--family", "tiny", "--instance-seed", "0", "--seasons", str(10**12)],
            "`seasons` must be an integer in [1, 10,000,000]",
        ),
        (
            ["generate", "--family", "small", "--seed", "0", "--set", "n_products=1e7"],
            "`n_products` must be an integer in [1, 1,048,575]",
        ),
        (
            ["generate", "--family", "mnl", "--seed", "0", "--set", "n_products=100000"],
            "holds at most 2,000 products",
        ),
        (
            [
                "solve",
                "--family",
                "small",
                "--instance-seed",
                "0",
                "--policy",
                "saa",
                "--set",
                "scenarios=1e12",
            ],
            "`scenarios` must be an integer in [1, 4,096]",
        ),
        (
            ["leaderboard", "--config", "CONFIG", "--out", "OUT", "--bootstrap-reps", str(10**10)],
            "`bootstrap_reps` must be an integer in [1, 100,000]",
        ),
    ],
)
def test_sizes_have_upper_limits(argv, fragment, tmp_path, capsys) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    if "CONFIG" in argv:
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({"name": "h", "evaluation": {"heuristics": ["fluid"]}}))
        argv = [str(config) if a == "CONFIG" else a for a in argv]
    stock = tmp_path / "stock.json"
    stock.write_text("[1, 1, 1]")
    if argv[0] == "evaluate":
        argv += ["--stock", str(stock)]
    else:
        argv += [] if argv[0] != "generate" else ["--out", str(tmp_path / "x.json")]
    code, err = run_cli(argv, capsys)
    assert_one_line_refusal(code, err, fragment)


def test_simulated_customers_per_call_are_bounded() -> None:
    instance = make_family_instance("tiny", 0, customers=2**31 - 1)
    with pytest.raises(InputError, match="one call simulates at most"):
        evaluate(instance, [1, 1, 1], 1000, 0)


# ---------------------------------------------------------------------------- YAML configs


BILLION_LAUGHS = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
name: [*i]
"""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed", "is not valid YAML"),
        ("name: !!python/object:os.system echo", "is not valid YAML"),
        ("name: a\n---\nname: b\n", "is not valid YAML"),
        ("? [1, 2]\n: x\n", "is not valid YAML"),
        (BILLION_LAUGHS, "expands to more than 100,000 YAML nodes"),
        ("name: " + "[" * 200 + "]" * 200, "nests deeper than 64 levels"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_malformed_yaml_is_refused(text, fragment, tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    code, err = run_cli(
        ["leaderboard", "--config", str(path), "--out", str(tmp_path / "o")], capsys
    )
    assert_one_line_refusal(code, err, fragment)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("evaluation.seasons=[unclosed", "the value of override 'evaluation.seasons'"),
        ("evaluation.seasons=!!python/name:os.system", "is not valid YAML"),
        ("evaluation.seasons=" + "[" * 200 + "]" * 200, "nests deeper"),
        ("evaluation..seasons=3", "must look like dotted.key=value"),
        ("noequals", "must look like dotted.key=value"),
        ("evaluation.seasons.deeper=3", "`evaluation.seasons` must be an integer; got {'deeper'"),
        ("name.deeper=3", "cannot set 'deeper' inside the scalar 'h' (str)"),
    ],
)
def test_bad_overrides_are_refused(override, fragment, tmp_path, capsys) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump({"name": "h", "evaluation": {"heuristics": ["fluid"]}}))
    with pytest.raises(InputError, match=None) as caught:
        load_config(path, [override])
    assert fragment in str(caught.value)


def test_an_alias_bomb_in_an_override_is_refused(tmp_path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump({"name": "h", "evaluation": {"heuristics": ["fluid"]}}))
    bomb = "[" + ", ".join(["&x [1, 1, 1, 1, 1, 1, 1, 1]"] + ["[*x, *x, *x, *x, *x, *x]"] * 9) + "]"
    nested = "&a [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"
    for level in "bcdefgh":
        prev = chr(ord(level) - 1)
        nested = f"[{nested}, &{level} [" + ", ".join([f"*{prev}"] * 10) + "]]"
    for value in (bomb, nested):
        with pytest.raises(InputError):
            load_config(path, [f"description={value}"])


AGENT = {
    "algo": "ppo",
    "total_timesteps": 64,
    "n_envs": 1,
    "seeds": [0],
    "hyperparams": {"n_steps": 32, "batch_size": 32},
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            {"hyperparams": {"n_steps": 0}},
            "`agents.0.hyperparams.n_steps` must be an integer in [1,",
        ),
        ({"hyperparams": {"n_steps": 32, "batch_size": 1}}, "minibatches of at least 2"),
        ({"hyperparams": {"n_steps": 1}}, "rollouts of at least 2 steps"),
        ({"policy_kwargs": {"net_arch": [-1]}}, "`agents.0.policy_kwargs.net_arch.0` must be"),
        ({"policy_kwargs": {"net_arch": {"pi": [0]}}}, "`agents.0.policy_kwargs.net_arch.pi.0`"),
        ({"hyperparams": {"learning_rate": float("nan")}}, "`agents.0.hyperparams.learning_rate`"),
        ({"hyperparams": {"learning_rate": -1e-3}}, "`agents.0.hyperparams.learning_rate`"),
        ({"hyperparams": {"gamma": 2}}, "`agents.0.hyperparams.gamma` must be a finite number in"),
        ({"seeds": [2**32]}, "`agents.0.seeds.0` must be an integer in [0, 4,294,967,295]"),
        ({"total_timesteps": 10**11}, "`agents.0.total_timesteps` must be an integer in [1,"),
        ({"n_envs": 1000}, "`agents.0.n_envs` must be an integer in [1, 256]"),
        ({"env": {"id": "CartPole-v1"}}, "`agents.0.env.id` 'CartPole-v1' is not one of this"),
        ({"hyperparams": {"n_steps": "many"}}, "`agents.0.hyperparams.n_steps` must be an integer"),
    ],
)
def test_agent_settings_sb3_would_reject_are_refused_at_load(change, fragment, tmp_path) -> None:
    agent = {**AGENT, **change}
    data = {
        "name": "bad",
        "env": {"id": "Assort/OneShotTiny-v1"},
        "agents": [agent],
        "train": {"checkpoint_every": 64},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert fragment in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("evaluation", "fragment"),
    [
        ({"families": ["small", "small"]}, "repeats 'small'"),
        ({"instance_seeds": [1_000_000, 1_000_000]}, "lists a seed twice"),
        ({"instance_seeds": [2**63]}, "must lie in [1_000_000, 2**63)"),
        ({"heuristics": ["fluid", "fluid"]}, "lists a heuristic twice"),
        ({"seasons": 10**9}, "`evaluation.seasons` must be an integer in [2, 10,000,000]"),
        ({"seed": -1}, "`evaluation.seed` must be an integer in [0,"),
        ({"families": [{"family": "small", "overrides": {"n_products": 0}}]}, "n_products"),
    ],
)
def test_evaluation_settings_are_checked_at_load(evaluation, fragment) -> None:
    from experiments.config import parse_config

    with pytest.raises(InputError) as caught:
        parse_config({"name": "e", "evaluation": evaluation})
    assert fragment in str(caught.value), str(caught.value)


# ---------------------------------------------------------------------------- environments


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        (np.array(["0.5", "0.1", "0.2"]), "entries of type str"),
        (np.array([0.5 + 1j, 0.1, 0.2]), "entries of type complex"),
        ([True, False, True], "entries of type bool"),
        ([0.1, None, 0.2], "entries of type NoneType"),
        ([0.1, np.nan, 0.2], "entries must be finite"),
        ("0.5", "must be a list of numbers"),
        ([[0.1, 0.2, 0.3]], "got shape (1, 3)"),
    ],
)
def test_environment_actions_are_numbers_only(action, fragment) -> None:
    env = gymnasium.make("Assort/OneShotTiny-v1", disable_env_checker=True)
    env.reset(seed=0)
    with pytest.raises(InputError) as caught:
        env.step(action)
    assert fragment in str(caught.value), str(caught.value)


# ---------------------------------------------------------------------------- properties

SLOW_FACTOR = 10
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 2**63, 2**64, 10**400]),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
INSTANCE_KEYS = list(base_instance()) + ["substitution_sparse", "unknown"]


@st.composite
def instance_documents(draw: st.DrawFn) -> Any:
    data = base_instance()
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(INSTANCE_KEYS))
        action = draw(st.sampled_from(["replace", "delete", "element"]))
        if key == "substitution_sparse":
            size = draw(st.integers(0, 4))
            data["substitution"] = {
                "rows": draw(st.lists(JSON_SCALARS, min_size=size, max_size=size)),
                "cols": draw(st.lists(st.integers(-2, 2**64), min_size=size, max_size=size)),
                "values": draw(st.lists(JSON_SCALARS, min_size=size, max_size=size)),
            }
        elif action == "delete":
            data.pop(key, None)
        elif action == "element" and isinstance(data.get(key), list) and data[key]:
            data[key] = list(data[key])
            data[key][draw(st.integers(0, len(data[key]) - 1))] = draw(JSON_VALUES)
        else:
            data[key] = draw(JSON_VALUES)
    return draw(st.one_of(st.just(data), JSON_VALUES)) if draw(st.booleans()) else data


def _examples(request: pytest.FixtureRequest, count: int) -> int:
    return count * (SLOW_FACTOR if request.node.get_closest_marker("slow") else 1)


SCALES = [pytest.param(False, id="default"), pytest.param(True, id="slow", marks=pytest.mark.slow)]


def _settings(count: int) -> settings:
    return settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def check_refusal(exc: InputError) -> None:
    message = str(exc)
    assert message and "\n" not in message, repr(message)


@pytest.mark.parametrize("slow", SCALES)
def test_property_instance_documents(slow, request, tmp_path) -> None:
    path = tmp_path / "instance.json"

    @given(instance_documents())
    def run(document: Any) -> None:
        try:
            text = json.dumps(document)
        except (ValueError, OverflowError):
            return
        path.write_text(text)
        try:
            instance = load_instance(path)
        except InputError as exc:
            check_refusal(exc)
            return
        assert isinstance(instance, Instance)
        for name in ("prices", "costs", "salvage", "arrival"):
            assert np.all(np.isfinite(getattr(instance, name)))
        assert np.isfinite(fluid_lp(instance).value)
        assert np.all(np.isfinite(simulate(instance, np.ones(instance.n_products), 2, 0).profit))

    _settings(_examples(request, 400))(run)()


@pytest.mark.parametrize("slow", SCALES)
def test_property_stock_files(slow, request, tmp_path) -> None:
    path = tmp_path / "stock.json"
    n = 3

    @given(st.one_of(JSON_VALUES, st.lists(JSON_SCALARS, min_size=n, max_size=n)))
    def run(document: Any) -> None:
        try:
            path.write_text(json.dumps(document))
        except (ValueError, OverflowError):
            return
        try:
            stock = load_stock(path, n)
        except InputError as exc:
            check_refusal(exc)
            return
        assert stock.dtype == np.int64 and stock.shape == (n,) and stock.min() >= 0

    _settings(_examples(request, 200))(run)()


CONFIG_PATHS = [
    "name",
    "description",
    "env",
    "env.id",
    "env.kwargs",
    "agents",
    "train",
    "train.checkpoint_every",
    "train.runs_dir",
    "evaluation",
    "evaluation.families",
    "evaluation.instance_seeds",
    "evaluation.seasons",
    "evaluation.seed",
    "evaluation.heuristics",
    "unknown.key",
]


@pytest.mark.parametrize("slow", SCALES)
def test_property_config_overrides(slow, request, tmp_path) -> None:
    """A heuristics-only config with random overrides (any YAML flow value at any path) loads or
    is refused in one line; the same holds for the YAML text itself."""
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump({"name": "h", "evaluation": {"families": ["tiny"], "heuristics": ["fluid"]}})
    )

    @given(
        st.sampled_from(CONFIG_PATHS),
        st.one_of(
            JSON_VALUES.map(lambda v: json.dumps(v) if _dumpable(v) else "x"), st.text(max_size=30)
        ),
    )
    def run(key: str, value: str) -> None:
        try:
            load_config(path, [f"{key}={value}"])
        except InputError as exc:
            check_refusal(exc)

    _settings(_examples(request, 200))(run)()


@pytest.mark.parametrize("slow", SCALES)
def test_property_yaml_text(slow, request) -> None:
    @given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#,.?% \n\t1")), max_size=60))
    def run(text: str) -> None:
        try:
            parse_yaml(text, "text")
        except InputError as exc:
            check_refusal(exc)

    _settings(_examples(request, 200))(run)()


CLI_WORDS = [
    "generate",
    "evaluate",
    "bound",
    "solve",
    "policies",
    "--family",
    "tiny",
    "small",
    "nope",
    "--seed",
    "--instance-seed",
    "0",
    "-1",
    "1e3",
    "18446744073709551616",
    "--set",
    "--family-set",
    "customers=5",
    "n_products=0",
    "alpha=nan",
    "--policy",
    "fluid",
    "newsvendor",
    "saa",
    "--json",
    "--seasons",
    "3",
    "--stock",
    "STOCK",
    "--instance",
    "INSTANCE",
    "--out",
    "OUT",
    "--method",
    "highs",
    "scenarios=2",
    "rounding=up",
]


@pytest.mark.parametrize("slow", SCALES)
def test_property_cli_arguments(slow, request, tmp_path, capsys) -> None:
    instance = tmp_path / "instance.json"
    instance.write_text(json.dumps(base_instance()))
    stock = tmp_path / "stock.json"
    stock.write_text("[1, 2, 3]")
    replace = {"STOCK": str(stock), "INSTANCE": str(instance), "OUT": str(tmp_path / "out.json")}

    @given(st.lists(st.sampled_from(CLI_WORDS), min_size=1, max_size=9))
    def run(words: list[str]) -> None:
        argv = [replace.get(w, w) for w in words]
        code, err = run_cli(argv, capsys)
        assert code in (0, 1, 2), (argv, code, err)
        assert "Traceback" not in err, (argv, err)
        if code == 2 and not err.startswith("usage:"):
            assert len([line for line in err.splitlines() if line.strip()]) == 1, err

    _settings(_examples(request, 150))(run)()


@pytest.mark.parametrize("slow", SCALES)
def test_property_environment_actions(slow, request) -> None:
    env = gymnasium.make("Assort/OneShotTiny-v1", disable_env_checker=True)

    @given(
        st.one_of(
            JSON_VALUES,
            st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
            st.lists(st.complex_numbers(), min_size=3, max_size=3).map(np.array),
        )
    )
    def run(action: Any) -> None:
        env.reset(seed=0)
        try:
            _, reward, terminated, _, info = env.step(action)
        except InputError as exc:
            check_refusal(exc)
            return
        assert terminated and np.isfinite(reward) and info["stock"].min() >= 0

    _settings(_examples(request, 200))(run)()


def _dumpable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (ValueError, OverflowError):
        return False
    return True
