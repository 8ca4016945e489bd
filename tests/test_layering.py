"""Nothing below imports anything above (models/ and data/ know nothing of training), and
no import circle comes back."""
import ast
import os

import pytest

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lawm_jax")

# layer -> lawm_jax modules it may import (lawm_jax.errors: the leaf every layer raises from)
ALLOWED = {
    "models": {"lawm_jax.models", "lawm_jax.errors"},
    "data": {"lawm_jax.data", "lawm_jax.errors"},
}


def imports_of(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_do_not_import_upwards(layer):
    folder = os.path.join(PKG, layer)
    files = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py")]
    assert files
    for path in files:
        for name in imports_of(path):
            if name.startswith("lawm_jax"):
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED[layer]), \
                    f"{os.path.relpath(path, PKG)} imports {name}"


def test_errors_is_a_leaf():
    assert not [name for name in imports_of(os.path.join(PKG, "errors.py")) if name.startswith("lawm_jax")]


def test_world_model_uses_only_models():
    for name in imports_of(os.path.join(PKG, "world_model.py")):
        if name.startswith("lawm_jax"):
            assert name.startswith("lawm_jax.models"), name


def test_planning_uses_the_api_not_training_or_evaluation():
    folder = os.path.join(PKG, "planning")
    for f in sorted(os.listdir(folder)):
        if f.endswith(".py"):
            for name in imports_of(os.path.join(folder, f)):
                assert not name.startswith(("lawm_jax.train", "lawm_jax.eval", "lawm_jax.main")), \
                    f"planning/{f} imports {name}"


def module_graph():
    """{module: the lawm_jax modules it imports} over every file of the package (imports
    inside functions included); `from P import name` counts as P.name when that is a module."""
    modules = {}
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PKG))[:-3].replace(os.sep, ".")
                modules[rel.removesuffix(".__init__")] = os.path.join(root, f)
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                edges |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_no_import_circles():
    graph = module_graph()

    def reaches(a, b, seen=()):
        return b in graph[a] or any(reaches(c, b, (*seen, a)) for c in graph[a] - {*seen, a})

    assert [n for n in graph if reaches(n, n)] == []


# The floors, bottom up: a module imports only from floors below its own, or from its own
# package. Siblings on one floor (models/ and data/; train/, eval/ and planning/) know
# nothing of each other.
FLOORS = [
    {"errors", "progress", "plots"},
    {"models", "data"},
    {"world_model", "checkpoint"},
    {"api", "config", "objective", "flops"},
    {"train", "eval", "planning"},
    {"cli"},
    {"main"},
]


def unit(module: str) -> str:
    """lawm_jax.train.loop -> "train"; lawm_jax.api -> "api"."""
    return module.split(".")[1]


def test_every_module_sits_on_a_floor():
    units = {unit(m) for m in module_graph() if m != "lawm_jax"}
    assert units == set().union(*FLOORS)


def wrong_imports(graph) -> list[str]:
    floor = {u: i for i, units in enumerate(FLOORS) for u in units}
    return [f"{m} imports {n}" for m, edges in graph.items() if m != "lawm_jax"
            for n in edges if n != "lawm_jax" and unit(n) != unit(m) and floor[unit(n)] >= floor[unit(m)]]


def test_nothing_imports_upwards_or_sideways():
    assert wrong_imports(module_graph()) == []


def test_an_upward_or_sideways_import_would_be_caught():
    graph = module_graph()
    graph["lawm_jax.api"] = graph["lawm_jax.api"] | {"lawm_jax.train.loop"}
    graph["lawm_jax.eval.run"] = graph["lawm_jax.eval.run"] | {"lawm_jax.train.lam"}
    assert sorted(wrong_imports(graph)) == ["lawm_jax.api imports lawm_jax.train.loop",
                                    "lawm_jax.eval.run imports lawm_jax.train.lam"]
