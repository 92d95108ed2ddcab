"""bert_preln: the pre-LN layer is PyTorch's own pre-LN layer, padding and the attention paths agree,
saved folders load into every head (and without toolkit), and the bert recipes run with it."""

from __future__ import annotations

import contextlib
import json
import logging as std_logging
import os
import subprocess
import sys

import pytest
import torch

import toolkit
from toolkit.cli import main
from toolkit.errors import ToolkitError
from toolkit.families import ensure_registered
from toolkit.families.bert_preln.configuration_bert_preln import BertPreLNConfig
from toolkit.families.bert_preln.modeling_bert_preln import (
    BertPreLNForMaskedLM,
    BertPreLNForPreTraining,
    BertPreLNForSequenceClassification,
    BertPreLNLayer,
)

TINY = ["model.family=bert_preln",
        "model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, "
        "hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0}",  # as the bundled recipe
        "data.max_rows=400", "data.block_size=64", "train.batch_size=8", "train.max_steps=4",
        "train.eval_every=2", "train.save_every=2", "eval.max_batches=2"]
FINETUNE = ["data.max_rows=300", "data.block_size=64", "train.batch_size=8", "train.max_steps=4",
            "train.eval_every=2", "train.save_every=2", "eval.max_batches=2"]


def _config(**fields) -> BertPreLNConfig:
    return BertPreLNConfig(**{"vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                              "intermediate_size": 64, **fields})


def test_declared_fields_are_the_config_class_fields_and_bert_names():
    """The recipe checker reads the declaration; a bert recipe's model.config must mean the same here."""
    import dataclasses

    from transformers import BertConfig

    from toolkit import registry
    from toolkit.families.base import PRETRAINED_CONFIG_FIELDS

    declared = registry.family("bert_preln").declared_config.fields
    own = {f.name: (eval(f.type, {}), f.default) for f in dataclasses.fields(BertPreLNConfig)
           if f.name not in PRETRAINED_CONFIG_FIELDS}
    assert declared == own
    shared_with_bert = set(declared) - {"tie_word_embeddings", "classifier_pooling"}
    assert shared_with_bert <= set(BertConfig().to_dict())
    with pytest.raises(ValueError, match="must divide hidden_size"):
        BertPreLNConfig(hidden_size=30, num_attention_heads=4)


def test_layer_computes_what_pytorchs_pre_ln_encoder_layer_computes():
    """The layer the MLM benchmarks measured (nn.TransformerEncoderLayer, norm_first=True), given our weights."""
    torch.manual_seed(0)
    config = _config()
    ours = BertPreLNLayer(config).eval()
    theirs = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, activation="gelu", batch_first=True,
                                              norm_first=True).eval()
    attention = ours.attention
    with torch.no_grad():
        theirs.self_attn.in_proj_weight.copy_(torch.cat([attention.query.weight, attention.key.weight,
                                                         attention.value.weight]))
        theirs.self_attn.in_proj_bias.copy_(torch.cat([attention.query.bias, attention.key.bias, attention.value.bias]))
        theirs.self_attn.out_proj.load_state_dict(attention.output.state_dict())
        theirs.linear1.load_state_dict(ours.intermediate.state_dict())
        theirs.linear2.load_state_dict(ours.output.state_dict())
        theirs.norm1.load_state_dict(ours.attention_norm.state_dict())
        theirs.norm2.load_state_dict(ours.feed_forward_norm.state_dict())
    hidden = torch.randn(2, 7, 32)
    padding = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])
    additive = torch.zeros(2, 1, 1, 7).masked_fill(padding[:, None, None, :], torch.finfo(torch.float32).min)
    with torch.no_grad():
        mine, _ = ours(hidden, additive, output_attentions=False)
        expected = theirs(hidden, src_key_padding_mask=padding)
    assert torch.allclose(mine[0], expected[0], atol=1e-5)
    assert torch.allclose(mine[1, :5], expected[1, :5], atol=1e-5)


def test_padding_and_attention_paths_agree():
    torch.manual_seed(0)
    model = BertPreLNForPreTraining(_config()).eval()
    ids = torch.randint(5, 40, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask)
        alone = model(input_ids=ids[1:, :6])
        eager = model(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
    assert torch.allclose(padded.prediction_logits[1, :6], alone.prediction_logits[0], atol=1e-5)
    assert torch.allclose(padded.seq_relationship_logits[1], alone.seq_relationship_logits[0], atol=1e-5)
    assert torch.allclose(padded.prediction_logits, eager.prediction_logits, atol=1e-5)
    assert len(eager.attentions) == 2 and len(eager.hidden_states) == 3
    weights = eager.attentions[0][1]  # (heads, query, key) of the padded row
    assert torch.allclose(weights.sum(-1), torch.ones(4, 9)) and float(weights[..., 6:].abs().max()) == 0.0


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_the_classifier_reads_only_real_tokens(pooling):
    torch.manual_seed(0)
    model = BertPreLNForSequenceClassification(_config(num_labels=3, classifier_pooling=pooling)).eval()
    ids = torch.randint(5, 40, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask).logits[1]
        alone = model(input_ids=ids[1:, :6]).logits[0]
        other_padding = model(input_ids=torch.cat([ids[1:, :6], ids[:1, :3]], 1),
                              attention_mask=mask[1:]).logits[0]
    assert torch.allclose(padded, alone, atol=1e-5) and torch.allclose(other_padding, alone, atol=1e-5)
    with torch.no_grad():  # a row of padding only still gives finite logits
        assert torch.isfinite(model(input_ids=ids, attention_mask=torch.zeros_like(mask)).logits).all()
    with pytest.raises(ValueError, match="classifier_pooling must be one of cls, mean, max"):
        _config(classifier_pooling="first")


def test_initialisation_follows_pytorch_not_bert():
    torch.manual_seed(0)
    model = BertPreLNForPreTraining(_config(hidden_size=64, intermediate_size=128))
    attention = model.bert.encoder.layer[0].attention
    packed_bound = (6 / (64 + 3 * 64)) ** 0.5  # nn.MultiheadAttention's Xavier over the (3h, h) projection
    assert attention.query.weight.abs().max() <= packed_bound and float(attention.query.bias.abs().max()) == 0.0
    assert attention.query.weight.abs().max() > 0.9 * packed_bound
    linear_bound = 1 / 64**0.5  # nn.Linear's default: kaiming_uniform(a=sqrt(5)) gives U(+-1/sqrt(fan_in))
    assert model.lm_head.weight.abs().max() <= linear_bound < 1.1 * model.lm_head.weight.abs().max()
    assert abs(float(model.bert.embeddings.word_embeddings.weight.std()) - 0.02) < 0.003
    assert model.lm_head.weight.data_ptr() != model.bert.embeddings.word_embeddings.weight.data_ptr()  # untied


def _pretraining_batch(vocab: int = 40):
    torch.manual_seed(1)
    ids = torch.randint(5, vocab, (3, 12))
    labels = torch.full_like(ids, -100)
    chosen = torch.rand(ids.shape) < 0.3
    labels[chosen] = ids[chosen]
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
            "next_sentence_label": torch.tensor([0, 1, 1])}


def _loss_and_grads(model, loss_fn):
    model.zero_grad()
    loss = loss_fn()
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("nsp_weight", [1.0, 3.0])
def test_logits_at_labels_only_give_the_dense_loss_and_gradients(nsp_weight):
    """The training loop's sparse MLM logits change the cost of a step, not what it learns."""
    from toolkit.families.bert.pretrain import weighted_pretraining_loss

    torch.manual_seed(0)
    model = BertPreLNForPreTraining(_config()).eval()
    batch = _pretraining_batch()
    sparse = model(**batch, logits_at_labels_only=True)
    assert sparse.prediction_logits.shape == ((batch["labels"] != -100).sum().item(), 40)
    if nsp_weight == 1.0:
        dense_loss, dense_grads = _loss_and_grads(model, lambda: model(**batch).loss)
        sparse_loss, sparse_grads = _loss_and_grads(model, lambda: model(**batch, logits_at_labels_only=True).loss)
    else:
        def dense_weighted():
            out = model(**{k: v for k, v in batch.items() if k not in ("labels", "next_sentence_label")})
            mlm = torch.nn.functional.cross_entropy(out.prediction_logits.reshape(-1, 40), batch["labels"].reshape(-1))
            return mlm + nsp_weight * torch.nn.functional.cross_entropy(out.seq_relationship_logits,
                                                                        batch["next_sentence_label"])
        dense_loss, dense_grads = _loss_and_grads(model, dense_weighted)
        sparse_loss, sparse_grads = _loss_and_grads(model, lambda: weighted_pretraining_loss(model, batch, nsp_weight)[0])
    assert sparse_loss == pytest.approx(dense_loss, rel=1e-6)
    assert dense_grads.keys() == sparse_grads.keys()
    for name, grad in dense_grads.items():
        torch.testing.assert_close(sparse_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_the_training_loss_asks_for_sparse_logits_where_it_pays():
    """bert_preln (bare, or under peft) takes the sparse path; transformers' BERT cannot, and a
    compiled model keeps dense logits (a data-dependent shape would break its graph each step)."""
    from peft import LoraConfig, get_peft_model
    from transformers import BertConfig, BertForPreTraining

    from toolkit.families.bert.pretrain import _takes_sparse_logits

    model = BertPreLNForPreTraining(_config())
    assert _takes_sparse_logits(model)
    assert _takes_sparse_logits(get_peft_model(model, LoraConfig(target_modules=["query", "value"])))
    assert not _takes_sparse_logits(torch.compile(BertPreLNForPreTraining(_config())))
    assert not _takes_sparse_logits(BertForPreTraining(BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=1,
                                                                  num_attention_heads=2, intermediate_size=64)))


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory):
    ensure_registered()
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("preln")
    BertPreLNForPreTraining(_config()).eval().save_pretrained(folder)
    return folder


def test_saved_pretraining_folder_loads_into_every_head(saved_folder):
    from transformers import (AutoModelForMaskedLM, AutoModelForPreTraining, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification)

    ids = torch.tensor([[1, 7, 8, 9, 2]])
    with torch.no_grad():
        pretrained = AutoModelForPreTraining.from_pretrained(saved_folder).eval()
        masked = AutoModelForMaskedLM.from_pretrained(saved_folder).eval()
        assert isinstance(masked, BertPreLNForMaskedLM)
        assert torch.equal(pretrained(input_ids=ids).prediction_logits, masked(input_ids=ids).logits)
        classifier = AutoModelForSequenceClassification.from_pretrained(saved_folder, num_labels=3)
        assert isinstance(classifier, BertPreLNForSequenceClassification)
        assert torch.equal(classifier.bert.pooler.weight, pretrained.bert.pooler.weight)
        out = classifier(input_ids=ids, labels=torch.tensor([2]))
        assert out.logits.shape == (1, 3) and out.loss > 0
        tagger = AutoModelForTokenClassification.from_pretrained(saved_folder, num_labels=5)
        assert tagger(input_ids=ids, labels=torch.tensor([[-100, 1, 2, 3, -100]])).logits.shape == (1, 5, 5)
    assert sorted(p.name for p in saved_folder.glob("*.py")) == [
        "config_fields_bert_preln.py", "configuration_bert_preln.py", "modeling_bert_preln.py"]


@contextlib.contextmanager
def _load_report_messages():
    """The messages transformers' loading logger emits (its LOAD REPORT among them) while inside."""
    from transformers.utils import logging

    report_logger, logged = logging.get_logger("transformers.modeling_utils"), []
    handler = std_logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    report_logger.addHandler(handler)
    try:
        yield logged
    finally:
        report_logger.removeHandler(handler)


def test_a_fine_tune_load_says_in_one_line_what_it_left_out_and_started_afresh(saved_folder, monkeypatch):
    import transformers.core_model_loading as loading
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers import AutoModelForPreTraining, AutoModelForSequenceClassification
    from transformers.utils import logging

    from toolkit import registry
    from toolkit.pretrained import load_pretrained

    # Whether each load would draw its "Loading weights" bar (tests set TQDM_DISABLE, so none shows).
    bars = []
    monkeypatch.setattr(loading, "tqdm", lambda items, **_: bars.append(logging.is_progress_bar_enabled()) or items)
    bars_were_on = logging.is_progress_bar_enabled() and not are_progress_bars_disabled()
    logging.enable_progress_bar()  # an earlier command in this process may have turned them off
    try:
        report_logger = logging.get_logger("transformers.modeling_utils")
        with _load_report_messages() as logged:
            AutoModelForSequenceClassification.from_pretrained(saved_folder, num_labels=2)
            assert any("LOAD REPORT" in message for message in logged)  # transformers' own table, a dozen lines
            assert bars == [True]  # and its bar
            logged.clear()
            filters, said, family = list(report_logger.filters), [], registry.family("bert_preln")
            model = load_pretrained(str(saved_folder), AutoModelForSequenceClassification, family, say=said.append,
                                    num_labels=2)
            assert bars == [True, False]  # a local folder loads without the bar ...
            assert logging.is_progress_bar_enabled()  # ... which is back on afterwards
            assert isinstance(model, BertPreLNForSequenceClassification)
            assert not any("LOAD REPORT" in message for message in logged)
            assert report_logger.filters == filters  # put back
        assert said == [f"Loaded {saved_folder}; not used here: lm_head, nsp_head (4 tensors); "
                        f"newly initialised: classifier (2 tensors)."]
        said.clear()
        load_pretrained(str(saved_folder), AutoModelForPreTraining, family, say=said.append)
        assert said == []  # an exact load says nothing
    finally:
        if not bars_were_on:
            logging.disable_progress_bar()


def test_a_load_whose_shapes_differ_keeps_the_report_and_fails_clearly(saved_folder, tmp_path):
    from transformers import AutoModelForSequenceClassification

    from toolkit import registry
    from toolkit.pretrained import load_pretrained

    two_labels = tmp_path / "two-labels"
    AutoModelForSequenceClassification.from_pretrained(saved_folder, num_labels=2).save_pretrained(two_labels)
    with _load_report_messages() as logged:
        with pytest.raises(ToolkitError, match="other shapes"):
            load_pretrained(str(two_labels), AutoModelForSequenceClassification, registry.family("bert_preln"),
                            say=print, num_labels=3)
    assert any("LOAD REPORT" in message and "MISMATCH" in message for message in logged)  # the rows it points to


@pytest.mark.heavy
def test_saved_folder_loads_without_toolkit(saved_folder, tmp_path):
    code = ("import sys\nsys.modules['toolkit'] = None\nimport torch, transformers\n"
            "m = transformers.AutoModelForMaskedLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
            "print(float(m(input_ids=torch.tensor([[1, 7, 8, 9, 2]])).logits.sum()))\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run([sys.executable, "-c", code, str(saved_folder)], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    with torch.no_grad():
        expected = float(BertPreLNForMaskedLM.from_pretrained(saved_folder)(input_ids=torch.tensor([[1, 7, 8, 9, 2]]))
                         .logits.sum())
    assert float(result.stdout.split()[-1]) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("bert_preln") / "run"
    return toolkit.run("bert_preln/tiny_pretrain_mix", overrides=[*TINY, f"output.dir={out}"])


def test_pretraining_reports_mlm_and_nsp_and_fills_masks(pretrained, capsys):
    final = pretrained.metrics["final"]
    assert set(final) == {"mlm_accuracy", "mlm_accuracy_at_mask", "mlm_guess_at_mask", "mlm_perplexity", "nsp_accuracy"}
    config = json.loads((pretrained.run_dir / "config.json").read_text())
    assert config["model_type"] == "toolkit_bert_preln" and config["architectures"] == ["BertPreLNForPreTraining"]
    assert main(["fill-mask", str(pretrained.run_dir), "今天[MASK]气很好", "--top-k", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["eval", str(pretrained.run_dir), "--split", "validation", "--max-batches", "1"]) == 0


def test_sentiment_full_and_lora_and_ner(pretrained, tmp_path):
    init = f"model.init_from={pretrained.run_dir}"
    # Dropout rates may change on top of init_from (the bundled model is pretrained without any).
    full = toolkit.run("bert_preln/tiny_sentiment", overrides=[*FINETUNE, init, f"output.dir={tmp_path / 'full'}",
                                                               "model.config.hidden_dropout_prob=0.1"])
    assert json.loads((pretrained.run_dir / "config.json").read_text())["hidden_dropout_prob"] == 0.0
    assert json.loads((full.run_dir / "config.json").read_text())["hidden_dropout_prob"] == 0.1
    rates = {module.p for module in BertPreLNForSequenceClassification.from_pretrained(full.run_dir).modules()
             if isinstance(module, torch.nn.Dropout)}
    assert rates == {0.1}
    lora = toolkit.run("bert/tiny_sentiment_lora", overrides=[*FINETUNE, init, "model.family=bert_preln",
                                                               f"output.dir={tmp_path / 'lora'}"])
    assert set(full.metrics["final"]) == {"accuracy", "macro_f1"}
    assert lora.metrics["train"]["trainable_parameters"] < full.metrics["train"]["trainable_parameters"]
    ner = toolkit.run("bert/tiny_ner", overrides=[*FINETUNE, init, "model.family=bert_preln",
                                                  f"output.dir={tmp_path / 'ner'}"])
    assert {"f1", "precision", "recall"} <= set(ner.metrics["final"])
    config = json.loads((ner.run_dir / "config.json").read_text())
    assert config["architectures"] == ["BertPreLNForTokenClassification"]


def test_fine_tuning_sets_head_options_and_dropout_only():
    with pytest.raises(toolkit.RecipeError, match="may set only classifier_pooling, classifier_dropout, "
                                                  "hidden_dropout_prob, attention_probs_dropout_prob here; got hidden_size"):
        toolkit.load_recipe("bert_preln/tiny_sentiment", ["model.config.hidden_size=64"])
    with pytest.raises(toolkit.RecipeError, match=r"model.config.attention_probs_dropout_prob"):
        toolkit.load_recipe("bert_preln/tiny_sentiment", ["model.config.attention_probs_dropout_prob=1.5"])


def test_a_bert_run_folder_is_refused_as_bert_preln_init(tmp_path):
    from transformers import BertConfig, BertForPreTraining

    BertForPreTraining(BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=64)).save_pretrained(tmp_path / "bert")
    with pytest.raises(ToolkitError, match="is a bert model, but model.family is bert_preln"):
        toolkit.run("bert_preln/tiny_sentiment", overrides=[*FINETUNE, f"model.init_from={tmp_path / 'bert'}",
                                                            f"output.dir={tmp_path / 'out'}"])
