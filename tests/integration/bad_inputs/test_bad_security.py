"""Issue 14, code execution and secrets: a downloaded folder never runs its own code unless the
person running the command opts in; pickled word vectors are never unpickled without an opt-in;
push refuses anything that looks like a Hugging Face token and never follows a symlink out of the
run folder; a file that is not a data card is named, never echoed.

The payloads below write a marker file when their code runs; every test asserts the marker's
absence (or, with the user's explicit opt-in, its presence: the opt-in is what decides).
"""

from __future__ import annotations

import builtins
import json
import pickle
import shutil
from pathlib import Path

import pytest
from integration.bad_inputs.conftest import assert_clear_error


PAYLOAD = '''
import pathlib
pathlib.Path({marker!r}).write_text("the folder's code ran")

from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast


class EvilConfig(GPT2Config):
    model_type = {model_type!r}


class EvilModel(GPT2LMHeadModel):
    config_class = EvilConfig


class EvilTokenizer(PreTrainedTokenizerFast):
    pass
'''

AUTO_CLASSES = ("AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM",
                "AutoModelForSequenceClassification", "AutoModelForTokenClassification")


@pytest.fixture(autouse=True)
def no_terminal_prompt(monkeypatch):
    """transformers asks "[y/N]" on stdin when trust_remote_code is None: the toolkit must decide."""
    def refuse(*args, **kwargs):
        pytest.fail(f"transformers asked the user to trust remote code: {args}")

    monkeypatch.setattr(builtins, "input", refuse)


def plant_payload(folder: Path, marker: Path, model_type: str | None = None) -> Path:
    """Give ``folder`` (a model folder) an ``auto_map`` to its own payload.py, for the config, every
    Auto model class and the tokenizer, and a recipe.yaml (if any) that says trust_remote_code."""
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    model_type = model_type or config["model_type"]
    config["model_type"] = model_type
    config["auto_map"] = {"AutoConfig": "payload.EvilConfig", **{name: "payload.EvilModel" for name in AUTO_CLASSES}}
    config_path.write_text(json.dumps(config))
    tokenizer_config_path = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(tokenizer_config_path.read_text())
    tokenizer_config["auto_map"] = {"AutoTokenizer": ["payload.EvilTokenizer", "payload.EvilTokenizer"]}
    tokenizer_config_path.write_text(json.dumps(tokenizer_config))
    (folder / "payload.py").write_text(PAYLOAD.format(marker=str(marker), model_type=model_type))
    recipe = folder / "recipe.yaml"
    if recipe.is_file():
        recipe.write_text(recipe.read_text().replace("trust_remote_code: false", "trust_remote_code: true"))
        assert "trust_remote_code: true" in recipe.read_text()
    return folder


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PAYLOAD_RAN"


def hostile_copy(gpt2_run: Path, tmp_path: Path, marker: Path, model_type: str | None = None) -> Path:
    """A copy of the finished tiny GPT-2 run with a payload; a unique folder name per test, since
    transformers caches a folder's modules under its name."""
    folder = tmp_path / f"hostile_{tmp_path.name}_{model_type or 'gpt2'}"
    shutil.copytree(gpt2_run, folder, ignore=shutil.ignore_patterns("checkpoints", "logs"))
    return plant_payload(folder, marker, model_type)


def tiny_rnn_lm_folder(gpt2_run: Path, folder: Path) -> Path:
    """A folder as the toolkit saves an rnn_lm model (config with auto_map + modeling file), built
    without training; the char tokenizer of the GPT-2 run fits it."""
    from toolkit.families.rnn_lm.modeling_rnn_lm import RnnLMConfig, RnnLMForCausalLM

    vocab = json.loads((gpt2_run / "config.json").read_text())["vocab_size"]
    model = RnnLMForCausalLM(RnnLMConfig(vocab_size=vocab, num_layers=1, hidden_size=16, pad_token_id=1))
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(gpt2_run / name, folder / name)
    assert "auto_map" in json.loads((folder / "config.json").read_text())
    return folder


# --------------------------------------------------------------------------- item 1: model folders


def test_eval_ignores_trust_written_in_the_folders_own_recipe(gpt2_run, tmp_path, marker, cli):
    folder = hostile_copy(gpt2_run, tmp_path, marker)
    result = cli("eval", folder, "--max-batches", "1")
    assert not marker.exists(), "eval ran the folder's code because its recipe.yaml said so"
    assert result.code == 0, result.err  # the installed GPT-2 classes load it
    assert "perplexity" in result.out


def test_eval_runs_folder_code_only_with_the_users_flag(gpt2_run, tmp_path, marker, cli):
    folder = hostile_copy(gpt2_run, tmp_path, marker)
    cli("eval", folder, "--max-batches", "1", "--trust-remote-code")
    assert marker.exists(), "--trust-remote-code is the user's opt-in: it must be what decides"


@pytest.mark.parametrize("command, culprit", [
    # eval and embed read the model type from config.json as data and refuse a type no family
    # (embed: not ELMo) handles, so no code runs even with the flag.
    (["eval", "{folder}", "--card", "peoples_daily_1998", "--max-batches", "1"], "evil_lm"),
    (["embed", "{folder}", "中国"], "evil_lm"),
    (["generate", "{folder}", "--prompt", "中国", "--max-new-tokens", "2"], "--trust-remote-code"),
    (["predict", "{folder}", "中国"], "--trust-remote-code"),
    (["fill-mask", "{folder}", "中[MASK]"], "--trust-remote-code"),
], ids=["eval", "embed", "generate", "predict", "fill-mask"])
def test_folder_of_an_unknown_type_needs_the_users_flag(command, culprit, gpt2_run, tmp_path, marker, cli):
    folder = hostile_copy(gpt2_run, tmp_path, marker, model_type="evil_lm")
    (folder / "recipe.yaml").unlink()  # not a toolkit run: a downloaded model folder
    result = cli(*[part.format(folder=folder) for part in command])
    assert not marker.exists(), f"{command[0]} ran the folder's code without --trust-remote-code"
    assert_clear_error(result, str(folder), culprit)


def test_generate_runs_folder_code_only_with_the_users_flag(gpt2_run, tmp_path, marker, cli):
    folder = hostile_copy(gpt2_run, tmp_path, marker, model_type="evil_lm")
    cli("generate", folder, "--prompt", "中国", "--max-new-tokens", "2", "--trust-remote-code")
    assert marker.exists()


@pytest.mark.parametrize("command", [
    ["generate", "{folder}", "--prompt", "中国", "--max-new-tokens", "2", "--greedy"],
    ["generate", "{folder}", "--prompt", "中国", "--max-new-tokens", "2", "--greedy", "--trust-remote-code"],
])
def test_toolkit_family_folder_loads_through_the_installed_classes(command, gpt2_run, tmp_path, marker, cli):
    """A saved rnn_lm folder carries auto_map and its modeling file; the toolkit's registered
    classes load it, even with the flag, so a tampered copy of that file never runs."""
    folder = tiny_rnn_lm_folder(gpt2_run, tmp_path / f"rnn_{len(command)}")
    plant_payload(folder, marker)
    result = cli(*[part.format(folder=folder) for part in command])
    assert not marker.exists()
    assert result.code == 0, result.err
    assert result.out.startswith("中国")


FROM_PRETRAINED = ["tokenizer=null", "model.size=null", "model.config={}"]  # init_from brings them


def test_run_init_from_ignores_the_folders_recipe(gpt2_run, tmp_path, marker, cli, tiny_gpt2):
    folder = hostile_copy(gpt2_run, tmp_path, marker)
    result = cli("run", "gpt2/tiny_pretrain", *tiny_gpt2, *FROM_PRETRAINED, f"model.init_from={folder}", "train.max_steps=1",
                 "train.eval_every=1", "train.save_every=1", "eval.samples=[]")
    assert not marker.exists(), "run trusted the init_from folder's own recipe.yaml"
    assert result.code == 0, result.err


def test_run_init_from_unknown_type_is_refused_before_its_code_runs(gpt2_run, tmp_path, marker, cli, tiny_gpt2):
    """model.trust_remote_code in the user's recipe cannot make a gpt2 run load another model type:
    the type is read from config.json as data, before any of the folder's code."""
    folder = hostile_copy(gpt2_run, tmp_path, marker, model_type="evil_lm")
    result = cli("run", "gpt2/tiny_pretrain", *tiny_gpt2, *FROM_PRETRAINED, f"model.init_from={folder}",
                 "model.trust_remote_code=true")
    assert not marker.exists()
    assert_clear_error(result, "evil_lm", "model.family")


# --------------------------------------------------------------------------- item 2: pickled vectors


class _Payload:
    """Unpickling this writes the marker: what a hostile vectors.kv does."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "the pickle ran"))


@pytest.fixture
def hostile_vectors(tmp_path, marker):
    """A folder that looks like a word2vec run (vectors.kv only) and a bare .kv file."""
    folder = tmp_path / "vectors_run"
    folder.mkdir()
    for path in (folder / "vectors.kv", tmp_path / "bare.kv"):
        path.write_bytes(pickle.dumps(_Payload(marker)))
    return folder, tmp_path / "bare.kv"


@pytest.mark.parametrize("which", ["folder", "file"])
@pytest.mark.parametrize("command", [
    ["neighbors", "{vectors}", "中国"],
    ["analogy", "{vectors}", "北京", "中国", "东京"],
    ["word2vec-eval", "{vectors}", "--no-record"],
])
def test_word2vec_commands_do_not_unpickle(command, which, hostile_vectors, marker, cli):
    vectors = hostile_vectors[0] if which == "folder" else hostile_vectors[1]
    result = cli(*[part.format(vectors=vectors) for part in command])
    assert not marker.exists(), f"{command[0]} unpickled {vectors}"
    assert_clear_error(result, str(vectors))
    if which == "file":
        assert "--allow-pickle" in result.err


def test_allow_pickle_is_the_opt_in(hostile_vectors, marker):
    from toolkit.cli import main

    with pytest.raises(AttributeError):  # the payload unpickles to no KeyedVectors: gensim trips on it
        main(["neighbors", str(hostile_vectors[1]), "中国", "--allow-pickle"])
    assert marker.exists()


@pytest.mark.parametrize("which", ["folder", "file"])
def test_embeddings_from_does_not_unpickle(which, hostile_vectors, marker, cli, tiny_gpt2):
    vectors = hostile_vectors[0] if which == "folder" else hostile_vectors[1]
    result = cli("run", "gpt2/tiny_pretrain", *tiny_gpt2, f"model.embeddings_from={vectors}")
    assert not marker.exists()
    assert_clear_error(result, "model.embeddings_from", str(vectors))


def test_a_run_folder_prefers_the_word2vec_binary(tmp_path, marker):
    """An older run folder holds vectors.kv next to vectors.bin: the .bin is read, the pickle never."""
    from gensim.models import KeyedVectors
    import numpy as np

    from toolkit.embeddings import load_vectors

    folder = tmp_path / "old_run"
    folder.mkdir()
    vectors = KeyedVectors(vector_size=4)
    vectors.add_vectors(["中国", "北京"], np.eye(2, 4, dtype=np.float32))
    vectors.save_word2vec_format(str(folder / "vectors.bin"), binary=True)
    (folder / "vectors.kv").write_bytes(pickle.dumps(_Payload(marker)))
    assert load_vectors(folder).index_to_key == ["中国", "北京"]
    assert not marker.exists()


def test_no_pickle_is_uploaded(tmp_path):
    from toolkit.hub import files_to_upload

    for name in ("vectors.kv", "vectors.kv.vectors.npy", "vectors.bin", "config.json"):
        (tmp_path / name).write_bytes(b"x")
    assert files_to_upload(tmp_path) == ["config.json", "vectors.bin"]


# --------------------------------------------------------------------------- item 3: push


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    uploads = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kwargs):
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **kwargs):
            uploads.append(kwargs)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_theCurrentTokenOfTheUser000000000000")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return uploads


@pytest.fixture
def small_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "README.md", "recipe.yaml"):
        (run / name).write_text("{}")
    return run


OTHER_TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-16"])
def test_push_refuses_any_token_pattern(encoding, small_run, fake_hub, cli):
    (small_run / "notes.txt").write_bytes(f"my old token: {OTHER_TOKEN}\n".encode(encoding))
    result = cli("push", small_run, "--repo-id", "someone/model")
    assert_clear_error(result, "notes.txt", "token")
    assert OTHER_TOKEN not in result.err and not fake_hub


def test_push_never_follows_a_symlink_out_of_the_run_folder(small_run, tmp_path, fake_hub, cli):
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "id_rsa").write_text("PRIVATE KEY")
    (small_run / "link_dir").symlink_to(outside, target_is_directory=True)
    (small_run / "key").symlink_to(outside / "id_rsa")
    result = cli("push", small_run, "--repo-id", "someone/model", "--dry-run")
    assert "id_rsa" not in result.out and "key" not in result.out.split("files from")[-1].split()
    from toolkit.hub import files_to_upload

    assert files_to_upload(small_run) == ["README.md", "config.json", "recipe.yaml"]
    result = cli("push", small_run, "--repo-id", "someone/model")
    assert_clear_error(result, "key", "outside")
    assert not fake_hub


def test_push_accepts_checkpoints_linked_to_another_disk(small_run, tmp_path, fake_hub, cli):
    """Checkpoints stay local anyway, so a checkpoints folder on another disk is no reason to refuse."""
    (tmp_path / "scratch").mkdir()
    (small_run / "checkpoints").symlink_to(tmp_path / "scratch", target_is_directory=True)
    result = cli("push", small_run, "--repo-id", "someone/model")
    assert result.code == 0, result.err
    assert fake_hub[0]["allow_patterns"] == ["README.md", "config.json", "recipe.yaml"]


# --------------------------------------------------------------------------- item 4: data show


@pytest.mark.parametrize("content", [
    "root:$6$SECRETHASHvalue:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "password: [SECRETHASHvalue\n",
    "- SECRETHASHvalue\n",
])
def test_data_show_never_echoes_a_non_card_file(content, tmp_path, cli):
    path = tmp_path / "shadow"
    path.write_text(content)
    result = cli("data", "show", path)
    assert_clear_error(result, str(path))
    assert "SECRETHASH" not in result.err + result.out
