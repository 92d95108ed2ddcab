"""The import structure: no circle among toolkit's modules, and the light entry points stay light.

The walk reads every module's source (ast), including imports inside functions: an import that
runs late still closes a circle, and a circle is what makes "import recipe" pull in the stack.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit

PACKAGE_DIR = Path(toolkit.__file__).parent
HEAVY = ("torch", "transformers", "accelerate", "datasets", "optuna")  # optuna: only when a sweep runs


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def toolkit_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (the resources/ folder holds data, not modules)."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py")) if "resources" not in path.parts}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The toolkit modules that ``name`` imports anywhere in its source (top level or in functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known  # `from . import models`
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name defined in the module (or package) itself
                found.add(base)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = toolkit_modules()
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as a closed path a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest closed path through the group's first module (breadth-first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_are_walked():
    graph = import_graph()
    assert "toolkit.cli.recipes" in graph and "toolkit.api" in graph["toolkit.cli.recipes"]  # imported in cmd_run


def test_no_import_cycle_among_toolkit_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def _imported_by(statement: str) -> set[str]:
    """Top-level packages loaded by running ``statement`` in a fresh interpreter."""
    code = f"import sys; {statement}; print('MODULES', ' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE_DIR.parent)
    return set(done.stdout.rpartition("MODULES")[2].split())


@pytest.mark.parametrize("statement", [
    "import toolkit",
    "import toolkit.recipe",
    "import toolkit.registry",
    "import toolkit.cli; toolkit.cli.build_parser()",
    # a recipe without model.config overrides needs no config class: the schema and the family's table
    "from toolkit.cli import main; main(['validate', 'gpt2/tiny_pretrain'])",
    "from toolkit.cli import main; main(['validate', 'bert/tiny_pretrain'])",
    "from toolkit.cli import main; main(['validate', 'word2vec/skipgram_char_pd98'])",
    "from toolkit.cli import main; main(['recipes'])",
    "from toolkit.cli import main; main(['sweep', 'word2vec/skipgram_word_pd98', '--space', 'no-such-space.yaml'])",
    "from toolkit.cli import main; main(['data', 'list'])",
])
def test_light_entry_points_import_no_heavy_library(statement):
    heavy = _imported_by(statement) & set(HEAVY)
    assert not heavy, f"`{statement}` imports {', '.join(sorted(heavy))}"


# --------------------------------------------------------------------------- the toolkit's model types and transformers


def _run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE_DIR.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


TOOLKIT_TYPES = "from transformers import CONFIG_MAPPING; print('toolkit_rnn_lm' in CONFIG_MAPPING, 'toolkit_elmo' in CONFIG_MAPPING)"


@pytest.mark.heavy
def test_import_toolkit_registers_its_model_types_with_transformers():
    # The README: after `import toolkit`, transformers' own pipeline(model=RUN_DIR) loads an rnn_lm or elmo folder.
    assert _run_python("import toolkit; from transformers import pipeline; " + TOOLKIT_TYPES) == "True True"


@pytest.mark.heavy
def test_importing_the_model_loading_module_registers_the_types():
    assert _run_python("import toolkit.pretrained; " + TOOLKIT_TYPES) == "True True"


def _loads_model_folders(path: Path) -> bool:
    """Whether the module calls from_pretrained (on an Auto class or a model) or pipeline(...)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called == "pipeline" or (called == "from_pretrained" and ast.unparse(node.func.value) != "torch.nn.Embedding"):
                return True
    return False


def _calls_ensure_registered(path: Path) -> bool:
    return "ensure_registered()" in path.read_text(encoding="utf-8")


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_every_module_that_loads_model_folders_imports_the_registering_module():
    # Loading an rnn_lm or elmo folder needs the types registered: toolkit.pretrained does it
    # on import, or the module calls ensure_registered() itself.
    graph = import_graph()
    modules = toolkit_modules()
    loaders = [name for name, path in modules.items() if _loads_model_folders(path)]
    assert "toolkit.api" in loaders and "toolkit.cli.inspect" in loaders
    # text2text_pipeline is copied into run folders and runs without the toolkit installed.
    standalone = {"toolkit.tasks.text2text_pipeline"}
    unregistered = [name for name in loaders if "toolkit.pretrained" not in _reachable(graph, name)
                    and not _calls_ensure_registered(modules[name]) and name not in standalone]
    assert not unregistered, f"load model folders without importing toolkit.pretrained: {unregistered}"
