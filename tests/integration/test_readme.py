"""Every `toolkit` command and recipe shown in README.md parses and validates; cheap ones run.

The quick start itself (a full run) is exercised by tests/slow/test_slow_recipes.py (-m slow); the
generate/eval/push commands are run on a real run folder in test_causal_lm.py.
"""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import REPO
from toolkit.cli import build_parser, main
from toolkit.registry import load_recipe

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
COMMANDS = [line.split("  #")[0].strip() for block in BLOCKS for line in block.splitlines() if line.strip()]
TOOLKIT = [shlex.split(c[c.index("toolkit "):] if "-m toolkit" not in c else "toolkit " + c.split("-m toolkit ", 1)[1])
           for c in COMMANDS if "toolkit " in c]
CHEAP = {"recipes", "validate", "--help"}


def test_readme_shows_commands():
    assert any(c[:2] == ["toolkit", "run"] for c in TOOLKIT)
    assert "pip install -e . && toolkit run recipes/gpt2/tiny_pretrain.yaml" in COMMANDS


@pytest.mark.parametrize("argv", TOOLKIT, ids=lambda a: " ".join(a[:3]))
def test_command_parses_and_its_recipe_validates(argv):
    args = build_parser().parse_args(argv[1:]) if argv[1:] != ["--help"] else None
    if args is not None and args.command in ("run", "validate"):
        load_recipe(args.recipe, args.overrides)
    if args is not None and args.command == "sweep":  # the space (given or next to the recipe) fits the recipe
        from toolkit.recipe import SWEEP_SPACE_SUFFIX
        from toolkit.sweep.space import check_against_recipe, load_space
        from toolkit.sweep.study import recipe_data

        path, base = recipe_data(args.recipe, args.overrides)
        space = args.space or path.with_name(path.name.removesuffix(".yaml") + SWEEP_SPACE_SUFFIX)
        check_against_recipe(load_space(space), base, str(path))


@pytest.mark.parametrize("argv", [a for a in TOOLKIT if a[1] in CHEAP and a[1] != "--help"], ids=lambda a: " ".join(a[:3]))
def test_cheap_commands_run(argv):
    assert main(argv[1:]) == 0


def test_cluster_script_names_real_files():
    """The SLURM example (an sbatch file, not run here): its launch config exists and its recipe validates."""
    block = next(b for b in re.findall(r"```sh\n(.*?)```", README, flags=re.S) if "srun" in b)
    assert (REPO / re.search(r"--config_file (\S+)", block).group(1)).is_file()
    load_recipe(re.search(r"-m toolkit run (\S+?\.yaml)", block).group(1), [])


def test_python_examples_compile():
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        compile(block, "README.md", "exec")


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->" in README


def test_benchmark_scripts_shown_exist_and_compile():
    scripts = re.findall(r"python (benchmarks/\S+\.py)", README)
    assert scripts
    for script in scripts:
        compile((REPO / script).read_text(encoding="utf-8"), script, "exec")
