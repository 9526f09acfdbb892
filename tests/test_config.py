"""Experiment configs: exact round trips, overrides, and every rejection message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.settings import rollout_size
from envs.validation import InputError, InputTypeError
from experiments import config as config_module
from experiments.config import (
    AgentConfig,
    ExperimentConfig,
    SuiteFamily,
    apply_overrides,
    load_config,
    parse_config,
    parse_yaml,
    run_name,
)

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "experiments" / "configs").glob("*.yaml"))


def base() -> dict[str, Any]:
    return {
        "name": "unit",
        "description": "a test",
        "env": {"id": "Assort/OneShotSmall-v1", "kwargs": {"reward_scale": "auto"}},
        "agents": [
            {
                "algo": "ppo",
                "total_timesteps": 20_000,
                "n_envs": 4,
                "seeds": [0, 1],
                "normalize": {"observation": True, "reward": False},
                "hyperparams": {"learning_rate": 3.0e-4, "n_steps": 64, "batch_size": 64},
                "policy_kwargs": {"net_arch": [64, 64]},
            },
            {"algo": "sac", "total_timesteps": 1000},
        ],
        "train": {"checkpoint_every": 5_000, "runs_dir": "runs"},
        "evaluation": {
            "families": ["small"],
            "instance_seeds": [1_000_000, 1_000_001],
            "seasons": 2_000,
            "seed": 7,
            "heuristics": ["fluid", "newsvendor"],
        },
    }


def with_change(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base())
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return data


def test_parse_reads_every_field() -> None:
    config = parse_config(base())
    assert config.agents[0] == AgentConfig(
        algo="ppo",
        total_timesteps=20_000,
        n_envs=4,
        seeds=(0, 1),
        normalize=config.agents[0].normalize,
        hyperparams={"learning_rate": 3.0e-4, "n_steps": 64, "batch_size": 64},
        policy_kwargs={"net_arch": [64, 64]},
    )
    assert config.agents[0].normalize.observation and not config.agents[0].normalize.reward
    assert config.agents[1].seeds == (0,) and config.agents[1].n_envs == 1  # defaults
    assert config.train.checkpoint_every == 5_000 and config.train.keep_checkpoints == 2
    assert config.evaluation.instance_seeds == (1_000_000, 1_000_001)
    assert config.evaluation.families == (SuiteFamily("small"),)
    assert config.agents[1].algo == "sac" and config.agents[1].total_timesteps == 1000


def test_dict_and_yaml_round_trip_exactly(tmp_path: Path) -> None:
    config = parse_config(base())
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path) == config
    assert yaml.safe_load(config.to_yaml()) == config.to_dict()
    assert load_config(path).to_yaml() == config.to_yaml()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_and_round_trip(path: Path) -> None:
    config = load_config(path)
    assert parse_config(config.to_dict()) == config


def test_yaml_1_1_number_strings_are_coerced(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: u\nenv: {id: Assort/OneShotSmall-v1}\nagents:\n"
        "  - {algo: sac, total_timesteps: 2e4,\n"
        "     hyperparams: {learning_rate: 3e-4, buffer_size: 1e5}}\n"
    )
    agent = load_config(path).agents[0]
    assert agent.total_timesteps == 20_000 and isinstance(agent.total_timesteps, int)
    assert agent.hyperparams == {"learning_rate": 3e-4, "buffer_size": 100_000}
    assert isinstance(agent.hyperparams["buffer_size"], int)  # SAC's default is an int


def test_overrides_set_dotted_paths_before_validation() -> None:
    data = apply_overrides(
        base(),
        [
            "agents.0.total_timesteps=500",
            "agents.*.n_envs=2",
            "agents.1.hyperparams.learning_rate=1e-3",
            "train.runs_dir=/tmp/x",
            "env.kwargs.reward_scale=2.5",
            "evaluation.families=[small, medium]",
        ],
    )
    config = parse_config(data)
    assert config.agents[0].total_timesteps == 500
    assert [a.n_envs for a in config.agents] == [2, 2]
    assert config.agents[1].hyperparams["learning_rate"] == 1e-3
    assert config.train.runs_dir == "/tmp/x"
    assert config.env.kwargs["reward_scale"] == 2.5
    assert config.evaluation.families == (SuiteFamily("small"), SuiteFamily("medium"))
    assert [family.name for family in config.evaluation.families] == ["small", "medium"]
    assert base()["agents"][0]["total_timesteps"] == 20_000  # input untouched


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "agents.0.total_timestep=5",
            r"unknown key `agents\.0\.total_timestep`; did you mean `total_timesteps`\?",
        ),
        ("agents.5.n_envs=2", r"override 'agents\.5\.n_envs': '5' is not an index of a list of 2"),
        ("name.x=1", r"override 'name\.x': cannot set 'x' inside the scalar 'unit'"),
        ("novalue", r"override 'novalue' must look like dotted\.key=value"),
    ],
)
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_config(apply_overrides(base(), [override]))


# (dotted path, new value, exact error class, message): a value of the wrong type raises
# InputTypeError, a value of the right type that breaks a rule raises InputError.
REJECTIONS = [
    ("trian", {}, InputError, r"unknown key `trian`; did you mean `train`\?"),
    (
        "train.checkpoint_evry",
        5,
        InputError,
        r"unknown key `train\.checkpoint_evry`; did you mean `checkpoint_every`\?",
    ),
    (
        "agents.0.normalize.obs",
        True,
        InputError,
        r"unknown key `agents\.0\.normalize\.obs`; known: observation, reward",
    ),
    (
        "agents.0.total_timesteps",
        "lots",
        InputTypeError,
        r"`agents\.0\.total_timesteps` must be an integer; got 'lots' \(str\)",
    ),
    (
        "agents.0.total_timesteps",
        "1e-3",
        InputTypeError,
        r"`agents\.0\.total_timesteps` must be an integer; got '1e-3'; write integers like "
        r"1_000_000 \(YAML reads 1e6 as a string\)",
    ),
    (
        "agents.0.total_timesteps",
        True,
        InputTypeError,
        r"`agents\.0\.total_timesteps` must be an integer; got True \(bool\)",
    ),
    (
        "agents.0.total_timesteps",
        0,
        InputError,
        r"`agents\.0\.total_timesteps` must be an integer in \[1, 10,000,000,000\]; got 0$",
    ),
    (
        "agents.0.total_timesteps",
        10**10 + 1,
        InputError,
        r"`agents\.0\.total_timesteps` must be an integer in \[1, 10,000,000,000\]; "
        r"got 10000000001$",
    ),
    (
        "agents.0.n_envs",
        0,
        InputError,
        r"`agents\.0\.n_envs` must be an integer in \[1, 256\]; got 0$",
    ),
    (
        "agents.0.n_envs",
        257,
        InputError,
        r"`agents\.0\.n_envs` must be an integer in \[1, 256\]; got 257$",
    ),
    (
        "agents.0.normalize.reward",
        "yes",
        InputTypeError,
        r"`agents\.0\.normalize\.reward` must be true or false; got 'yes' \(str\)",
    ),
    ("agents.0.seeds", 3, InputTypeError, r"`agents\.0\.seeds` must be a list; got 3 \(int\)"),
    (
        "agents.0.seeds",
        [],
        InputError,
        r"`agents\.0\.seeds` must name at least one seed; got \[\]",
    ),
    (
        "agents.0.seeds",
        [0, -1],
        InputError,
        r"`agents\.0\.seeds\.1` must be an integer in \[0, 4,294,967,295\]; got -1$",
    ),
    (
        "agents.0.seeds",
        [0, 2**32],
        InputError,
        r"`agents\.0\.seeds\.1` must be an integer in \[0, 4,294,967,295\]; got 4294967296$",
    ),
    (
        "agents.0.seeds",
        [0, 0],
        InputError,
        r"`agents\.0` repeats the run ppo-seed0; each \(label, seed\) pair names one run "
        r"folder",
    ),
    (
        "agents.0.algo",
        "ppo2",
        InputError,
        r"`agents\.0\.algo` 'ppo2' is not one of \['a2c', 'ppo', 'sac', 'td3'\]; did you mean "
        r"`ppo`\?",
    ),
    (
        "agents.0.hyperparams",
        {"n_step": 64},
        InputError,
        r"`agents\.0\.hyperparams\.n_step` is not an argument of PPO; did you mean `n_steps`\?",
    ),
    (
        "agents.0.hyperparams",
        {"seed": 3},
        InputError,
        r"`agents\.0\.hyperparams\.seed` cannot be set here: seeds come from the agent's "
        r"`seeds` list",
    ),
    (
        "agents.0.hyperparams",
        [1],
        InputTypeError,
        r"`agents\.0\.hyperparams` must be a mapping with string keys; got \[1\] \(list\)",
    ),
    (
        "agents.0.hyperparams",
        {"gamma": 1.5},
        InputError,
        r"`agents\.0\.hyperparams\.gamma` must be a finite number in \[0, 1\]; got 1.5$",
    ),
    (
        "agents.0.hyperparams",
        {"batch_size": 1},
        InputError,
        r"`agents\.0\.hyperparams\.batch_size` is 1; PPO needs minibatches of at least 2",
    ),
    (
        "agents.0.label",
        "a/b",
        InputError,
        r"`agents\.0\.label` must be a folder name of at most 100 letters, digits, '_', '-' and "
        r"'\.', starting with a letter or digit; got 'a/b'",
    ),
    (
        "agents.0.env",
        {"id": "Assort/OneShotMediumFamly-v1"},
        InputError,
        r"`agents\.0\.env\.id` 'Assort/OneShotMediumFamly-v1' is not one of this project's "
        r"environments; did you mean `Assort/OneShotMediumFamily-v1`\?",
    ),
    (
        "agents.0.env",
        "medium",
        InputTypeError,
        r"`agents\.0\.env` must be a mapping; got 'medium' \(str\)",
    ),
    (
        "agents.0.policy",
        3,
        InputTypeError,
        r"`agents\.0\.policy` must be a string; got 3 \(int\)",
    ),
    (
        "agents",
        [{"algo": "ppo"}],
        InputError,
        r"`agents\.0` is missing the required key `agents\.0\.total_timesteps`",
    ),
    ("agents", [5], InputTypeError, r"`agents\.0` must be a mapping; got 5 \(int\)"),
    (
        "env.id",
        "Assort/OneShotSmal-v1",
        InputError,
        r"`env\.id` 'Assort/OneShotSmal-v1' is not one of this project's environments; did you "
        r"mean `Assort/OneShotSmall-v1`\?",
    ),
    (
        "env.id",
        "CartPole-v1",
        InputError,
        r"`env\.id` 'CartPole-v1' is not one of this project's environments",
    ),
    (
        "name",
        "a b",
        InputError,
        r"`name` must be a folder name of at most 100 letters, digits, '_', '-' and '\.', "
        r"starting with a letter or digit; got 'a b'",
    ),
    (
        "train.checkpoint_every",
        0,
        InputError,
        r"`train\.checkpoint_every` must be an integer in \[1, 10,000,000,000\]; got 0$",
    ),
    (
        "train.checkpoint_every",
        100,
        InputError,
        r"`train\.checkpoint_every` 100 is smaller than the rollout of `agents\.0` "
        r"\(256 timesteps\); "
        r"checkpoints are taken between rollouts, .* set it to at least 256",
    ),
    (
        "train.keep_checkpoints",
        0,
        InputError,
        r"`train\.keep_checkpoints` must be an integer in \[1, 1,000\]; got 0$",
    ),
    (
        "train.keep_checkpoints",
        1001,
        InputError,
        r"`train\.keep_checkpoints` must be an integer in \[1, 1,000\]; got 1001$",
    ),
    (
        "evaluation.families",
        ["small", "medum"],
        InputError,
        r"`evaluation\.families\.1` 'medum' is not a family of envs\.families\.FAMILIES; did "
        r"you mean `medium`\?",
    ),
    (
        "evaluation.families",
        ["small", "medium", "small"],
        InputError,
        r"`evaluation\.families\.2` repeats 'small'; each suite family needs its own name "
        r"\(give families with overrides a `label`\)",
    ),
    (
        "evaluation.families",
        ["small", {"family": "small", "overrides": {"alpha": 2.0}}],
        InputError,
        r"`evaluation\.families\.1` repeats 'small'; each suite family needs its own name",
    ),
    (
        "evaluation.families",
        [{"family": "small", "label": "small strong"}],
        InputError,
        r"`evaluation\.families\.0\.label` must be a folder name",
    ),
    (
        "evaluation.families",
        [{"family": "small", "label": "strong", "overrides": {"alpha": 20.0}}],
        InputError,
        r"`evaluation\.families\.0\.overrides`: `alpha` must be a finite number in "
        r"\[0, 10\]; got 20.0$",
    ),
    (
        "evaluation.families",
        [{"family": "small", "label": "strong", "overides": {"alpha": 2.0}}],
        InputError,
        r"unknown key `evaluation\.families\.0\.overides`; did you mean `overrides`\?",
    ),
    (
        "evaluation.families",
        [{"family": "small", "overrides": {"customers": 100_000_000}}],
        InputError,
        r"`evaluation\.seasons` 2,000 of up to 100,000,000 customers is more than the "
        r"100,000,000,000 customers one evaluation may simulate",
    ),
    (
        "evaluation.heuristics",
        ["fluid", "newsvender"],
        InputError,
        r"`evaluation\.heuristics\.1` 'newsvender' is not in baselines\.registry\.POLICIES; "
        r"did you mean `newsvendor`\?",
    ),
    (
        "evaluation.heuristics",
        ["fluid", "saa", "fluid"],
        InputError,
        r"`evaluation\.heuristics` lists a heuristic twice: \['fluid', 'saa', 'fluid'\]",
    ),
    (
        "evaluation.seasons",
        1,
        InputError,
        r"`evaluation\.seasons` must be an integer in \[2, 10,000,000\]; got 1$",
    ),
    (
        "evaluation.seasons",
        10_000_001,
        InputError,
        r"`evaluation\.seasons` must be an integer in \[2, 10,000,000\]; got 10000001$",
    ),
    (
        "evaluation.seed",
        -1,
        InputError,
        r"`evaluation\.seed` must be an integer in \[0, .*\]; got -1$",
    ),
    (
        "evaluation.seed",
        2**63,
        InputError,
        r"`evaluation\.seed` must be an integer in \[0, .*\]; got 9223372036854775808$",
    ),
    (
        "evaluation.families",
        [],
        InputError,
        r"`evaluation\.families` must name at least one entry; got \[\]",
    ),
    (
        "evaluation.instance_seeds",
        [],
        InputError,
        r"`evaluation\.instance_seeds` must name at least one entry; got \[\]",
    ),
    (
        "evaluation.instance_seeds",
        [1_000_000, 999_999],
        InputError,
        r"`evaluation\.instance_seeds\.1` is 999999, but instance seeds must lie in "
        r"\[1_000_000, 2\*\*63\) \(envs\.one_shot\.HELD_OUT_SEED_START\): training instances "
        r"come from the seeds below, so 999999 may have been trained on",
    ),
    (
        "evaluation.instance_seeds",
        [1_000_000, 2**63],
        InputError,
        r"`evaluation\.instance_seeds\.1` is 9223372036854775808, but instance seeds must lie "
        r"in \[1_000_000, 2\*\*63\)",
    ),
    (
        "evaluation.instance_seeds",
        [1_000_000, 1_000_001, 1_000_000],
        InputError,
        r"`evaluation\.instance_seeds` lists a seed twice: \[1000000, 1000001, 1000000\]",
    ),
    (
        "agents.0.policy",
        "MlpPolicyy",
        InputError,
        r"`agents\.0\.policy` 'MlpPolicyy' is not a policy of PPO \(one of \['CatalogPolicy', "
        r"'CnnPolicy', "
        r"'MlpPolicy', 'MultiInputPolicy'\]\); did you mean `MlpPolicy`\?",
    ),
    (
        "agents.0.policy_kwargs",
        {"net_arc": [8]},
        InputError,
        r"`agents\.0\.policy_kwargs\.net_arc` is not an argument of ActorCriticPolicy \(ppo "
        r"MlpPolicy\); did you mean `net_arch`\?",
    ),
    (
        "agents.0.policy_kwargs",
        {"net_arch": [64, -1]},
        InputError,
        r"`agents\.0\.policy_kwargs\.net_arch\.1` must be an integer in \[1, 65,536\]; "
        r"got -1$",
    ),
    (
        "agents.0.policy_kwargs",
        {"net_arch": "big"},
        InputTypeError,
        r"`agents\.0\.policy_kwargs\.net_arch` must be a list of at most 64 layer widths",
    ),
    (
        "agents.1.policy_kwargs",
        {"n_critic": 2},
        InputError,
        r"`agents\.1\.policy_kwargs\.n_critic` is not an argument of SACPolicy \(sac "
        r"MlpPolicy\); did you mean `n_critics`\?",
    ),
    (
        "agents.0.policy_kwargs",
        {"activation_fn": "gelu"},
        InputError,
        r"`agents\.0\.policy_kwargs\.activation_fn` must be one of \['elu', 'leaky_relu', "
        r"'relu', 'tanh'\]; got 'gelu' \(str\); did you mean `elu`\?",
    ),
    (
        "env.kwargs",
        {"reward_scal": "auto"},
        InputError,
        r"`env\.kwargs\.reward_scal` is not an argument of Assort/OneShotSmall-v1 "
        r"\(OneShotStockingEnv\); did you mean `reward_scale`\?",
    ),
    (
        "env.kwargs",
        {"reward_scale": "bogus"},
        InputError,
        r"`env\.kwargs` \{'reward_scale': 'bogus'\} are rejected by Assort/OneShotSmall-v1: "
        r"`reward_scale` must be 'none', 'auto' or a number in \[1e-09, 1e\+15\]; got 'bogus'",
    ),
    (
        "agents.1.env",
        {"id": "Assort/OneShotSmall-v1", "kwargs": {"reward_scale": -1}},
        InputError,
        r"`agents\.1\.env\.kwargs` \{'reward_scale': -1\} are rejected by "
        r"Assort/OneShotSmall-v1: `reward_scale` must be a finite number in "
        r"\[1e-09, 1e\+15\]; got -1$",
    ),
    (
        "agents.1.env",
        {"id": "Assort/OneShotSmall-v1", "kwargs": {"famly": "small"}},
        InputError,
        r"`agents\.1\.env\.kwargs\.famly` is not an argument of Assort/OneShotSmall-v1 "
        r"\(OneShotStockingEnv\); did you mean `family`\?",
    ),
    (
        "agents.0.hyperparams",
        {"n_steps": "abc"},
        InputTypeError,
        r"`agents\.0\.hyperparams\.n_steps` must be an integer \(PPO's default is 2048\)[;,] "
        r"got 'abc' \(str\)",
    ),
    (
        "agents.0.hyperparams",
        {"n_steps": 64.5},
        InputTypeError,
        r"`agents\.0\.hyperparams\.n_steps` must be an integer \(PPO's default is 2048\)[;,] "
        r"got 64\.5 \(float\)",
    ),
    (
        "agents.0.hyperparams",
        {"learning_rate": "fast"},
        InputTypeError,
        r"`agents\.0\.hyperparams\.learning_rate` must be a number \(PPO's default is "
        r"0\.0003; schedules cannot be written in YAML\)[;,] got 'fast' \(str\)",
    ),
    (
        "agents.0.hyperparams",
        {"normalize_advantage": 1},
        InputTypeError,
        r"`agents\.0\.hyperparams\.normalize_advantage` must be true or false \(PPO's "
        r"default is True\)[;,] got 1 \(int\)",
    ),
    (
        "agents.1.hyperparams",
        {"ent_coef": "autox"},
        InputTypeError,
        r"`agents\.1\.hyperparams\.ent_coef` must be a number or 'auto' or 'auto_<initial "
        r"value>' \(SAC's default is 'auto'\)[;,] got 'autox' \(str\)",
    ),
    (
        "agents.1.hyperparams",
        {"train_freq": [1, "epoch"]},
        InputTypeError,
        r"`agents\.1\.hyperparams\.train_freq` must be an integer \(SAC's default is 1\)[;,] "
        r"got \[1, 'epoch'\] \(list\)",
    ),
    (
        "evaluation.seed",
        1.5,
        InputTypeError,
        r"`evaluation\.seed` must be an integer; got 1\.5; write integers",
    ),
    (
        "evaluation.seed",
        float("nan"),
        InputTypeError,
        r"`evaluation\.seed` must be a finite number; got nan \(float\)",
    ),
]


@pytest.mark.parametrize(("path", "value", "error", "message"), REJECTIONS)
def test_rejections_name_the_key(
    path: str, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        parse_config(with_change(path, value))
    assert caught.type is error


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"config file '.*nope\.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match=r"config file '.*' is a directory, not a file"):
        load_config(tmp_path)
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    message = r"config file '.*list\.yaml' must hold a mapping; got \[1, 2\] \(list\)"
    with pytest.raises(InputTypeError, match=message):
        load_config(path)
    data = base()
    del data["env"]
    with pytest.raises(
        InputError,
        match=r"`agents\.0` has no `env` and the config has none: name the training environment",
    ):
        parse_config(data)


def test_yaml_is_read_defensively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    cases = [
        ("name: a\n---\nname: b\n", r"is not valid YAML: expected a single document"),
        ("name: !!python/object:os.system x\n", r"is not valid YAML: could not determine a "),
        ("name: [unclosed\n", r"is not valid YAML"),
        ("x: " + "[" * 100 + "]" * 100 + "\n", r"nests deeper than 64 levels"),
    ]
    for text, problem in cases:
        path.write_text(text)
        with pytest.raises(InputError, match=rf"config file '.*c\.yaml' {problem}"):
            load_config(path)
    # A "billion laughs": nine levels of ten aliases each would expand to 10**9 nodes; it is
    # refused while counting, before anything is constructed.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"expands to more than 100,000 YAML nodes"):
        load_config(path)
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(InputError, match=r"config file '.*c\.yaml' is not UTF-8 text"):
        load_config(path)
    path.write_text("name: " + "x" * 100 + "\n")
    monkeypatch.setattr(config_module, "MAX_CONFIG_BYTES", 50)
    with pytest.raises(InputError, match=r"config file '.*c\.yaml' is 107 bytes; at most 50"):
        load_config(path)
    assert parse_yaml("a: [1, 2]", "text") == {"a": [1, 2]}
    assert parse_yaml("", "text") is None


def test_a_heuristics_only_config_needs_no_env() -> None:
    data = base()
    del data["env"]
    data["agents"] = []
    config = parse_config(data)
    assert config.env is None and config.agents == ()
    assert parse_config(config.to_dict()) == config


def test_suite_families_take_labels_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: u\nevaluation:\n  families:\n    - small\n"
        "    - {family: small, label: small-strong, overrides: {alpha: 2.0}}\n"
        "  instance_seeds: [1_000_000]\n"
    )
    config = load_config(path)
    plain, strong = config.evaluation.families
    assert plain == SuiteFamily("small") and plain.name == "small"
    assert strong == SuiteFamily("small", "small-strong", {"alpha": 2.0})
    assert strong.name == "small-strong"
    assert load_config(path) == parse_config(config.to_dict()) == config


def test_agents_sharing_an_algorithm_need_labels_and_may_have_their_own_env() -> None:
    data = base()
    medium = {"algo": "sac", "total_timesteps": 10, "env": {"id": "Assort/OneShotMediumFamily-v1"}}
    data["agents"].append(medium)
    message = r"`agents\.2` repeats the run sac-seed0; .*different labels"
    with pytest.raises(InputError, match=message):
        parse_config(data)
    data["agents"][2] = {**medium, "label": "sac-medium"}
    config = parse_config(data)
    assert run_name(config.agents[2], 0) == "sac-medium-seed0"
    assert run_name(config.agents[1], 4) == "sac-seed4"
    assert config.agent_env(config.agents[2]).id == "Assort/OneShotMediumFamily-v1"
    assert config.agent_env(config.agents[1]) == config.env
    assert parse_config(config.to_dict()) == config
    # Without a config-level env, every agent must bring its own.
    del data["env"]
    data["agents"] = [data["agents"][2]]
    assert parse_config(data).env is None


def test_config_is_frozen() -> None:
    config = parse_config(base())
    with pytest.raises(AttributeError):
        config.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "hyperparams",
    [
        {"ent_coef": "auto"},
        {"ent_coef": "auto_0.01"},
        {"ent_coef": 0.1},
        {"target_entropy": -2},
        {"train_freq": [1, "episode"]},
        {"learning_rate": 1},
        {"buffer_size": "1e4"},
    ],
)
def test_hyperparameter_values_sb3_accepts_pass(hyperparams: dict[str, Any]) -> None:
    assert parse_config(with_change("agents.1.hyperparams", hyperparams)).agents[1].hyperparams


def test_rollouts_need_two_steps_over_all_environment_copies() -> None:
    # PPO normalizes advantages, so n_steps * n_envs must be at least 2; n_steps = 1 is fine
    # with several copies of the environment (SB3 trains such a model).
    data = with_change("agents.0.hyperparams", {"n_steps": 1, "batch_size": 4})
    assert parse_config(data).agents[0].hyperparams["n_steps"] == 1
    data["agents"][0]["n_envs"] = 1
    with pytest.raises(
        InputError,
        match=r"`agents\.0\.hyperparams\.n_steps` times `agents\.0\.n_envs` is 1; PPO needs "
        r"rollouts of at least 2 steps",
    ):
        parse_config(data)


def test_env_kwargs_are_checked_at_load_time_through_overrides() -> None:
    with pytest.raises(InputError, match=r"`env\.kwargs` \{'reward_scale': 0\.0\} are rejected"):
        parse_config(apply_overrides(base(), ["env.kwargs.reward_scale=0.0"]))
    assert parse_config(apply_overrides(base(), ["env.kwargs.reward_scale=2"])).env.kwargs == {
        "reward_scale": 2
    }


def test_rollout_size_counts_timesteps_between_training_phases() -> None:
    config = parse_config(base())

    def rollout(agent: AgentConfig) -> int | None:
        return rollout_size(agent.algo, agent.hyperparams, agent.n_envs)

    assert rollout(config.agents[0]) == 64 * 4  # n_steps x n_envs
    assert rollout(config.agents[1]) == 1  # SAC's default train_freq, one env
    data = with_change("agents.1.hyperparams", {"train_freq": 3})
    data["agents"][1]["n_envs"] = 2
    assert rollout(parse_config(data).agents[1]) == 6
    episodes = parse_config(with_change("agents.1.hyperparams", {"train_freq": [2, "episode"]}))
    assert rollout(episodes.agents[1]) is None
    data = base()
    data["agents"][1] = {"algo": "a2c", "total_timesteps": 10}
    assert rollout(parse_config(data).agents[1]) == 5  # A2C's default n_steps
