"""RNN / LSTM / GRU language models: the model itself, tiny runs per cell, loading and generation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import toolkit
from toolkit.cli import main
from toolkit.families.rnn_lm.modeling_rnn_lm import RnnLMConfig, RnnLMForCausalLM

TINY_RNN = [
    "model.config={cell: CELL, num_layers: 2, hidden_size: 24, embedding_size: 16}",
    "data.block_size=32",
    "data.max_rows=200",
    "train.batch_size=8",
    "train.max_steps=4",
    "train.eval_every=2",
    "train.save_every=4",
    "train.log_every=1",
    "train.mixed_precision=no",
    "train.schedule.warmup_steps=0",
    "train.optimizer.lr=0.01",  # four steps must show the loss going down
    "eval.max_batches=2",
    "eval.generation.max_new_tokens=6",
]


def tiny_model(cell: str) -> RnnLMForCausalLM:
    torch.manual_seed(0)
    config = RnnLMConfig(vocab_size=40, cell=cell, num_layers=2, hidden_size=12, embedding_size=8,
                         bos_token_id=1, eos_token_id=1, pad_token_id=0)
    return RnnLMForCausalLM(config).eval()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cached_state_and_left_padding_give_the_same_logits(cell):
    model = tiny_model(cell)
    ids = torch.randint(2, 40, (2, 9))
    full = model(input_ids=ids).logits
    first = model(input_ids=ids[:, :5])
    rest = model(input_ids=ids[:, 5:], cache=first.cache)
    assert torch.allclose(torch.cat([first.logits, rest.logits], 1), full, atol=1e-5)
    padded = torch.cat([torch.zeros(2, 3, dtype=torch.long), ids], 1)
    mask = (padded != 0).long()
    mask[:, 3:] = 1
    assert torch.allclose(model(input_ids=padded, attention_mask=mask).logits[:, 3:], full, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_generate_with_cache_equals_recomputing_the_sequence(cell):
    model = tiny_model(cell)
    model.generation_config.eos_token_id = None  # no early stop, so every step is comparable
    prompt = torch.randint(2, 40, (2, 4))
    generated = model.generate(prompt, max_new_tokens=5, do_sample=False)
    expected = prompt
    for _ in range(5):
        expected = torch.cat([expected, model(input_ids=expected).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(generated, expected)
    assert model.generate(prompt, max_new_tokens=3, num_beams=3, do_sample=False).shape == (2, 7)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_return_dict_false_gives_the_tuple_transformers_models_give(cell):
    model = tiny_model(cell)
    ids = torch.randint(2, 40, (2, 6))
    as_dict = model(input_ids=ids, labels=ids)
    as_tuple = model(input_ids=ids, labels=ids, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 3  # loss, logits, cache
    for got, expected in zip(as_tuple, as_dict.to_tuple()):
        assert torch.equal(got, expected)
    model.config.return_dict = False  # the config setting is the fallback
    assert isinstance(model(input_ids=ids), tuple)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_hidden_states_are_the_embeddings_and_every_layer(cell):
    model = tiny_model(cell)
    ids = torch.randint(2, 40, (2, 6))
    plain = model(input_ids=ids)
    assert plain.hidden_states is None
    out = model(input_ids=ids, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_layers + 1
    assert torch.equal(out.hidden_states[0], model.embed_tokens(ids))
    assert [tuple(h.shape) for h in out.hidden_states[1:]] == [(2, 6, 12)] * 2
    # The layer-by-layer run matches the fused stack: same logits, same state, same top layer.
    assert torch.allclose(out.logits, plain.logits, atol=1e-6)
    assert torch.allclose(out.cache, plain.cache, atol=1e-6)
    assert torch.allclose(out.hidden_states[-1], model.rnn(model.embed_tokens(ids))[0], atol=1e-6)
    # Layer 1 alone: the stack's first layer, fed the embeddings.
    single = type(model.rnn)(8, 12, batch_first=True)
    single.load_state_dict({k: v for k, v in model.rnn.state_dict().items() if k.endswith("_l0")})
    assert torch.allclose(out.hidden_states[1], single(model.embed_tokens(ids))[0], atol=1e-6)
    model.config.output_hidden_states = True  # the config setting is the fallback
    assert len(model(input_ids=ids).hidden_states) == 3
    assert model(input_ids=ids, output_hidden_states=False).hidden_states is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_hidden_states_with_cache_and_left_padding_match_the_full_pass(cell):
    model = tiny_model(cell)
    ids = torch.randint(2, 40, (2, 9))
    full = model(input_ids=ids, output_hidden_states=True)
    first = model(input_ids=ids[:, :5], output_hidden_states=True)
    rest = model(input_ids=ids[:, 5:], cache=first.cache, output_hidden_states=True)
    for k in range(3):
        assert torch.allclose(torch.cat([first.hidden_states[k], rest.hidden_states[k]], 1), full.hidden_states[k], atol=1e-5)
    assert torch.allclose(rest.cache, full.cache, atol=1e-5)
    padded = torch.cat([torch.zeros(2, 3, dtype=torch.long), ids], 1)
    mask = torch.ones_like(padded)
    mask[:, :3] = 0
    left = model(input_ids=padded, attention_mask=mask, output_hidden_states=True)
    assert torch.allclose(left.hidden_states[-1][:, 3:], full.hidden_states[-1], atol=1e-5)
    assert torch.allclose(left.cache, full.cache, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_weight_names_stay_those_of_saved_run_folders(cell, tmp_path):
    """Run folders saved before hidden states went per layer must keep loading: same parameter names."""
    model = tiny_model(cell)
    gates = [f"{kind}_l{k}" for k in range(2) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert set(model.state_dict()) == {"embed_tokens.weight", "lm_head.weight", "proj.weight", "proj.bias",
                                       *(f"rnn.{g}" for g in gates)}
    model.save_pretrained(tmp_path)
    loaded = RnnLMForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.randint(2, 40, (1, 5))
    assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)


def test_tied_embeddings_and_labels_loss():
    model = tiny_model("lstm")
    assert model.lm_head.weight is model.embed_tokens.weight
    ids = torch.randint(2, 40, (3, 6))
    out = model(input_ids=ids, labels=ids)
    manual = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 40), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, manual)


def test_unknown_cell_is_refused_at_recipe_load():
    with pytest.raises(toolkit.RecipeError, match="cell"):
        toolkit.load_recipe("rnn_lm/tiny_lstm_pretrain", ["model.config.cell=transformer"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rnn")
    out = {}
    for cell in ("rnn", "lstm", "gru"):
        overrides = [o.replace("CELL", cell) for o in TINY_RNN] + [f"output.dir={root / cell}"]
        out[cell] = toolkit.run(f"rnn_lm/tiny_{cell}_pretrain", overrides=overrides)
    return out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_each_cell_trains_and_its_folder_loads_and_generates(runs, cell):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = runs[cell].run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 4 and metrics["final"]["perplexity"] > 1
    assert metrics["log"][-1]["loss"] < metrics["log"][0]["loss"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["cell"] == cell and config["auto_map"]["AutoModelForCausalLM"] == "modeling_rnn_lm.RnnLMForCausalLM"
    assert (run_dir / "modeling_rnn_lm.py").is_file() and (run_dir / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(run_dir)
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    assert model.config.cell == cell
    prompt = tokenizer("中国", return_tensors="pt", add_special_tokens=False)
    out = model.generate(**prompt, max_new_tokens=4, do_sample=False)
    assert out.shape == (1, prompt["input_ids"].shape[1] + 4)
    texts = toolkit.generate(run_dir, ["人民"], seed=0, max_new_tokens=3)
    assert texts[0].startswith("人民") and len(texts[0]) > 2


@pytest.mark.heavy
def test_trust_remote_code_loads_without_toolkit(runs):
    """A pushed folder carries its code: a fresh interpreter that never imports toolkit loads it."""
    code = (
        "import sys;from transformers import AutoModelForCausalLM, pipeline;"
        f"m = AutoModelForCausalLM.from_pretrained({str(runs['gru'].run_dir)!r}, trust_remote_code=True);"
        f"g = pipeline('text-generation', model={str(runs['gru'].run_dir)!r}, trust_remote_code=True);"
        "out = g('中国', max_new_tokens=3, do_sample=False)[0]['generated_text'];"
        "assert 'toolkit' not in sys.modules, 'toolkit was imported';"
        "print(type(m).__module__, out)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "transformers_modules" in done.stdout and "中国" in done.stdout


def test_compare_prints_a_table_and_plots(runs, tmp_path, capsys):
    plot = tmp_path / "curves.png"
    dirs = [str(runs[c].run_dir) for c in ("rnn", "lstm", "gru")]
    assert main(["compare", *dirs, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "rnn_lm/gru" in out and "perplexity" in out and "parameters" in out and "train_seconds" in out
    assert plot.is_file() and plot.stat().st_size > 1000
    assert main(["compare", *dirs, "--plot", "", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["rnn_lm/rnn", "rnn_lm/lstm", "rnn_lm/gru"]
    # Same width, so the LSTM has 4x and the GRU 3x the recurrent weights of the plain RNN.
    assert rows[0]["parameters"] < rows[2]["parameters"] < rows[1]["parameters"]


def _char_vectors(path, width: int, chars: str = "中国人民经济的了是在年"):
    from gensim.models import KeyedVectors

    vectors = KeyedVectors(vector_size=width)
    vectors.add_vectors(list(chars), torch.randn(len(chars), width, generator=torch.Generator().manual_seed(0)).numpy())
    vectors.save_word2vec_format(str(path), binary=True)
    return vectors


def test_embeddings_start_from_word2vec_vectors(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    vectors = _char_vectors(tmp_path / "chars.bin", 16)
    lstm = [o.replace("CELL", "lstm") for o in TINY_RNN]
    # Frozen embeddings (tied to the softmax) keep exactly the rows they started from.
    done = toolkit.run("rnn_lm/tiny_lstm_word2vec", overrides=[
        *lstm, f"model.embeddings_from={tmp_path / 'chars.bin'}", "train.freeze=[embed_tokens.]", f"output.dir={tmp_path / 'run'}"])
    tokenizer = AutoTokenizer.from_pretrained(done.run_dir)
    embeddings = AutoModelForCausalLM.from_pretrained(done.run_dir).get_input_embeddings().weight
    found = [c for c in vectors.index_to_key if c in tokenizer.get_vocab()]
    assert len(found) > 5 and done.metrics["embeddings_from"]["found"] == len(found)
    assert done.metrics["embeddings_from"]["coverage"] == pytest.approx(len(found) / done.metrics["embeddings_from"]["tokens"])
    for char in found:
        assert torch.equal(embeddings[tokenizer.convert_tokens_to_ids(char)], torch.tensor(vectors[char]))


def test_word_vectors_of_another_width_are_refused(tmp_path):
    _char_vectors(tmp_path / "wide.bin", 24)
    lstm = [o.replace("CELL", "lstm") for o in TINY_RNN]
    with pytest.raises(toolkit.ToolkitError, match="have 24 dimensions, but the model's token embeddings are 16 wide"):
        toolkit.run("rnn_lm/tiny_lstm_word2vec", overrides=[*lstm, f"model.embeddings_from={tmp_path / 'wide.bin'}",
                                                             f"output.dir={tmp_path / 'run'}"])
    with pytest.raises(toolkit.ToolkitError, match="model.embeddings_from: .*does not exist"):
        toolkit.run("rnn_lm/tiny_lstm_word2vec", overrides=[*lstm, f"model.embeddings_from={tmp_path / 'none'}",
                                                             f"output.dir={tmp_path / 'run2'}"])
    with pytest.raises(toolkit.RecipeError, match="word2vec family has no torch token embeddings"):
        toolkit.load_recipe("word2vec/skipgram_char_pd98", [f"model.embeddings_from={tmp_path / 'wide.bin'}"])
