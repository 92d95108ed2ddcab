"""The rnn_lm and elmo configs: checked from their torch-free declaration, saved as transformers saves
its own (configuration_<model>.py next to modeling_<model>.py), and folders saved before still load."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

from toolkit import registry
from toolkit.paths import bundled_dir
from toolkit.families.base import PRETRAINED_CONFIG_FIELDS

# Folders saved before the configuration split held one file with config and model (this is it).
OLD_CODE = Path(__file__).parent / "saved_before_config_split"

FAMILIES = ["rnn_lm", "elmo"]


def _own_fields(config_class) -> dict[str, tuple[object, object]]:
    """The config class's own fields (not transformers' common ones): name -> (type, default)."""
    # The annotations are text (from __future__ import annotations); transformers' own need torch to
    # evaluate, so only the class's own are evaluated, as typing.get_type_hints would.
    return {f.name: (eval(f.type, {}), f.default) for f in dataclasses.fields(config_class)
            if f.name not in PRETRAINED_CONFIG_FIELDS}


@pytest.mark.parametrize("name", FAMILIES)
def test_declared_fields_are_the_config_class_fields(name):
    family = registry.family(name)
    assert family.declared_config.fields == _own_fields(family.config_class)


def test_common_fields_are_those_of_transformers_config():
    from transformers import PreTrainedConfig

    assert PRETRAINED_CONFIG_FIELDS == set(PreTrainedConfig().to_dict())


def test_rnn_cells_declared_are_the_cells_modeled():
    from toolkit.families.rnn_lm import config_fields_rnn_lm, modeling_rnn_lm

    assert tuple(modeling_rnn_lm.CELLS) == config_fields_rnn_lm.CELLS


# Values of the right types: the declaration must accept and refuse exactly what the class does.
SAME_VERDICT = [
    *[("rnn_lm", {"cell": cell}) for cell in ("rnn", "lstm", "gru", "lstmm", "LSTM", "transformer")],
    ("rnn_lm", {"embedding_size": None}), ("rnn_lm", {"embedding_size": 64, "hidden_size": 32}),
    *[("elmo", {"mix": mix}) for mix in ("scalar", "embedding", "top", "middle", "")],
    ("elmo", {"hidden_size": 64, "embedding_size": 128}), ("elmo", {"hidden_size": 128, "embedding_size": 128}),
    ("elmo", {"hidden_size": 256, "embedding_size": 128}), ("elmo", {"hidden_size": 100}),
    ("elmo", {"mix": "top", "embedding_size": 1024}),
]


def _verdict(check, fields) -> str | None:
    try:
        check(fields)
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("name", "fields"), SAME_VERDICT, ids=[f"{n}:{f}" for n, f in SAME_VERDICT])
def test_declaration_and_class_accept_and_refuse_the_same_values(name, fields):
    family = registry.family(name)
    declared = _verdict(family._check_declared_values, fields)
    built = _verdict(family._construct_config, fields)
    assert (declared is None) == (built is None), (declared, built)


def test_declaration_refuses_wrong_types_the_class_would_take():
    # The class takes any type here (its transformers base is not a strict dataclass): freeze_bilm
    # 'maybe' would silently mean true. The recipe checker refuses it by the declared type.
    family = registry.family("elmo")
    family._construct_config({"freeze_bilm": "maybe"})
    with pytest.raises(ValueError, match=r"model.config.freeze_bilm: got 'maybe'; allowed: true or false"):
        family._check_declared_values({"freeze_bilm": "maybe"})
    with pytest.raises(ValueError, match=r"model.config.cell: got 3; allowed: text"):
        registry.family("rnn_lm")._check_declared_values({"cell": 3})


def test_choice_error_names_the_key_and_suggests():
    with pytest.raises(ValueError, match=r"model.config.cell: got 'lstmm' \(did you mean 'lstm'\?\); allowed: rnn, lstm, gru"):
        registry.family("rnn_lm").check_config("tiny", {"cell": "lstmm"}, 128)


def test_checking_rnn_and_elmo_recipes_imports_no_torch():
    # What keeps `toolkit validate` on these recipes at a second instead of eight: a recipe with
    # model.config fields (and elmo's init_from head options) is checked without the config class.
    recipes = sorted(str(p) for family in FAMILIES for p in (bundled_dir("recipes") / family).glob("*.yaml"))
    code = (
        "import sys\nfrom toolkit.registry import load_recipe\n"
        f"for recipe in {recipes!r}:\n    load_recipe(recipe)\n"
        "load_recipe('rnn_lm/tiny_lstm_pretrain', ['model.config={cell: gru, embedding_size: null, tie_word_embeddings: false}'])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'accelerate', 'datasets') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- saved folders


def _save_models(root: Path) -> dict[str, tuple[Path, str, float]]:
    """Tiny rnn_lm and elmo folders saved now and the way they were saved before the split:
    name -> (folder, Auto class, sum of its output on fixed ids)."""
    from transformers import AutoModel, AutoModelForCausalLM

    from toolkit.families import ensure_registered
    from toolkit.families.elmo.modeling_elmo import ElmoConfig, ElmoModel
    from toolkit.families.rnn_lm.modeling_rnn_lm import RnnLMConfig, RnnLMForCausalLM

    ensure_registered()  # save_pretrained writes auto_map and copies the code only for registered classes
    torch.manual_seed(0)
    models = {
        "rnn_lm": (RnnLMForCausalLM(RnnLMConfig(vocab_size=20, num_layers=1, hidden_size=8, cell="gru")),
                   AutoModelForCausalLM, "modeling_rnn_lm.py"),
        "elmo": (ElmoModel(ElmoConfig(vocab_size=20, embedding_size=4, hidden_size=8, num_layers=1)),
                 AutoModel, "modeling_elmo.py"),
    }
    saved = {}
    for name, (model, auto_class, modeling) in models.items():
        figure = _output_sum(model.eval())
        for when in ("now", "before"):
            folder = root / f"{name}_{when}"
            model.save_pretrained(folder)
            if when == "before":  # one modeling file holding the config too, and auto_map pointing into it
                for code in folder.glob("*.py"):
                    code.unlink()
                shutil.copy(OLD_CODE / modeling, folder / modeling)
                config = json.loads((folder / "config.json").read_text())
                config["auto_map"]["AutoConfig"] = f"{modeling[:-3]}.{type(model.config).__name__}"
                (folder / "config.json").write_text(json.dumps(config))
            saved[f"{name}_{when}"] = (folder, auto_class.__name__, figure)
    return saved


def _output_sum(model) -> float:
    with torch.no_grad():
        out = model(torch.tensor([[1, 2, 3, 4]]))
    return float((out.logits if hasattr(out, "logits") else out.layers).sum())


LOAD_WITHOUT_TOOLKIT = """
import json, sys
sys.modules["toolkit"] = None  # any import of toolkit fails
import torch, transformers
figures = {}
for name, (folder, auto_class, _) in json.loads(sys.argv[1]).items():
    model = getattr(transformers, auto_class).from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        out = model(torch.tensor([[1, 2, 3, 4]]))
    figures[name] = float((out.logits if hasattr(out, "logits") else out.layers).sum())
print(json.dumps(figures))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return _save_models(tmp_path_factory.mktemp("saved"))


@pytest.fixture(scope="module")
def loaded_without_toolkit(saved, tmp_path_factory):
    """Each folder loaded with trust_remote_code in a Python that cannot import toolkit."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(elsewhere / "modules")
    arguments = json.dumps({name: [str(folder), auto, figure] for name, (folder, auto, figure) in saved.items()})
    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_TOOLKIT, arguments], capture_output=True,
                            text=True, cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", FAMILIES)
def test_saved_folder_holds_its_code_and_no_toolkit_import(saved, name):
    folder = saved[f"{name}_now"][0]
    assert sorted(p.name for p in folder.glob("*.py")) == [f"config_fields_{name}.py", f"configuration_{name}.py",
                                                           f"modeling_{name}.py"]
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoConfig"] == f"configuration_{name}.{'RnnLMConfig' if name == 'rnn_lm' else 'ElmoConfig'}"
    for code in folder.glob("*.py"):
        for node in ast.walk(ast.parse(code.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not any(n.split(".")[0] == "toolkit" for n in names), (code.name, names)


@pytest.mark.heavy
@pytest.mark.parametrize("when", ["now", "before"])
@pytest.mark.parametrize("name", FAMILIES)
def test_saved_folder_loads_with_its_own_code_without_toolkit(saved, loaded_without_toolkit, name, when):
    assert loaded_without_toolkit[f"{name}_{when}"] == pytest.approx(saved[f"{name}_{when}"][2], rel=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_folder_saved_before_the_split_loads_with_toolkit_classes(saved, name):
    import transformers

    from toolkit.families import ensure_registered

    ensure_registered()
    folder, auto_class, figure = saved[f"{name}_before"]
    model = getattr(transformers, auto_class).from_pretrained(folder).eval()
    assert type(model).__module__ == f"toolkit.families.{name}.modeling_{name}"
    assert _output_sum(model) == pytest.approx(figure, rel=1e-5)
