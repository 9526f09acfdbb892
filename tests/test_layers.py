"""The layers hold: envs <- baselines <- agents <- experiments, with no cycles.

Every import statement of every module of the four packages is read from its source (at top
level *and* inside functions, where a lazy import would hide a cycle) and checked: a module
never imports from a layer above its own, never imports a project module inside a function,
never reaches into another module's private names or modules, and the module import graph has
no cycle. The registries that name code by string (heuristics, Gymnasium entry points) are
checked to point inside their own layer.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import gymnasium
import pytest

import envs  # noqa: F401  (registers the Assort/* ids)
from baselines.registry import POLICIES

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("envs", "baselines", "agents", "experiments")
RANK = {name: index for index, name in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {
    _module_name(path): path for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))
}


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], bool, int]]:
    """(imported module, imported names, inside a function?, line) of every project import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, (), in_function, child.lineno))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = tuple(alias.name for alias in child.names)
                found.append((child.module, names, in_function, child.lineno))
            visit(child, nested)

    visit(tree, False)
    return [item for item in found if item[0].split(".")[0] in RANK]


IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def test_every_package_module_is_seen() -> None:
    assert {
        "envs.instance",
        "envs.validation",
        "baselines.registry",
        "agents.settings",
        "experiments.runs",
        "experiments.cli",
    } <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_layer_above(module: str) -> None:
    rank = RANK[module.split(".")[0]]
    for target, _, _, line in IMPORTS[module]:
        layer = target.split(".")[0]
        assert RANK[layer] <= rank, (
            f"{module}:{line} imports {target}, from the layer above ({layer} over "
            f"{module.split('.')[0]})"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_project_import_hides_inside_a_function(module: str) -> None:
    hidden = [(target, line) for target, _, in_function, line in IMPORTS[module] if in_function]
    assert not hidden, f"{module} imports project modules inside functions: {hidden}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_module_or_name_is_crossed(module: str) -> None:
    own = module.rsplit(".", 1)[0] if not MODULES[module].name == "__init__.py" else module
    for target, names, _, line in IMPORTS[module]:
        private_part = [part for part in target.split(".") if part.startswith("_")]
        assert not private_part or target.rsplit(".", 1)[0] == own, (
            f"{module}:{line} imports the private module {target}"
        )
        private_names = [n for n in names if n.startswith("_")]
        assert not private_names, f"{module}:{line} imports private names {private_names}"


def test_the_module_graph_has_no_cycle() -> None:
    graph = {
        module: sorted({_owner(target) for target, _, _, _ in IMPORTS[module]} - {module})
        for module in MODULES
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph.get(module, ()):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target in graph and target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def _owner(target: str) -> str:
    """The module an import statement loads (``from a.b import c`` loads ``a.b``; ``c`` may
    be a submodule, then that module)."""
    return target if target in MODULES else target.rsplit(".", 1)[0]


def test_registered_heuristics_live_in_baselines() -> None:
    for name, target in POLICIES.items():
        module = target.split(":")[0]
        assert module.startswith("baselines."), f"policy {name!r} points outside baselines"
        importlib.import_module(module)


def test_registered_environments_live_in_envs() -> None:
    ours = [spec for spec in gymnasium.registry.values() if spec.id.startswith("Assort/")]
    assert ours
    for spec in ours:
        assert str(spec.entry_point).startswith("envs."), spec.id


def test_a_layer_violation_is_detected(tmp_path: Path) -> None:
    """The checker itself: a module of envs that imports experiments inside a function."""
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from experiments.config import load_config\n")
    ((target, _, in_function, _),) = _imports(source)
    assert target == "experiments.config" and in_function
    assert RANK[target.split(".")[0]] > RANK["envs"]
