"""ELMo: the biLM, the scalar mix, frozen-biLM downstream heads, NER tags from POS, and `toolkit embed`."""

from __future__ import annotations

import json
import random

import pytest
import torch
import yaml

import toolkit
from toolkit.cli import main
from toolkit.data.ner import char_bio, chunks, entity_f1, entity_spans
from toolkit.errors import ToolkitError
from toolkit.families.elmo.modeling_elmo import ElmoConfig, ElmoForSequenceClassification, ElmoModel, ScalarMix, reverse_padded

SMALL = ["data.block_size=32", "train.batch_size=8", "train.log_every=1", "train.mixed_precision=no", "eval.max_batches=2"]
TINY_BILM = [*SMALL, "model.config={num_layers: 2, embedding_size: 16, hidden_size: 32}", "data.max_rows=200",
             "train.max_steps=4", "train.eval_every=2", "train.save_every=4", "train.schedule.warmup_steps=0",
             "train.optimizer.lr=0.01"]


def tiny_config(**extra) -> ElmoConfig:
    return ElmoConfig(vocab_size=30, embedding_size=8, hidden_size=16, num_layers=2, pad_token_id=0, **extra)


def test_backward_direction_sees_only_the_future_and_ignores_padding():
    torch.manual_seed(0)
    model = ElmoModel(tiny_config()).eval()
    ids = torch.randint(1, 30, (1, 7))
    layers = model(input_ids=ids).layers  # (3, 1, 7, 16)
    assert layers.shape == (3, 1, 7, 16)
    changed = ids.clone()
    changed[0, 6] = (ids[0, 6] % 29) + 1  # change the last token only
    other = model(input_ids=changed).layers
    width = 8
    # Forward halves before the change are untouched; backward halves change everywhere before it.
    assert torch.allclose(layers[1:, 0, :6, :width], other[1:, 0, :6, :width])
    assert not torch.allclose(layers[1:, 0, :6, width:], other[1:, 0, :6, width:])
    # Right padding does not change the real positions in either direction.
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1)
    mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 3)], 1).long()
    assert torch.allclose(model(input_ids=padded, attention_mask=mask).layers[:, :, :7], layers, atol=1e-6)


def test_return_dict_false_gives_tuples_for_the_bilm_and_the_heads():
    torch.manual_seed(0)
    ids = torch.randint(1, 30, (2, 6))
    bilm = ElmoModel(tiny_config()).eval()
    as_tuple = bilm(input_ids=ids, labels=ids, return_dict=False)
    # loss, forward_loss, backward_loss, layers, then each direction's logits (added later, so last)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 6
    assert torch.equal(as_tuple[3], bilm(input_ids=ids).layers)
    assert as_tuple[4].shape == as_tuple[5].shape == (2, 5, tiny_config().vocab_size)
    head = ElmoForSequenceClassification(tiny_config(num_labels=3)).eval()
    loss, logits = head(input_ids=ids, labels=torch.tensor([0, 2]), return_dict=False)
    assert logits.shape == (2, 3) and loss.dim() == 0
    head.config.return_dict = False  # the config setting is the fallback
    assert isinstance(head(input_ids=ids), tuple)


def test_hidden_states_are_the_embeddings_and_every_layer_for_the_bilm_and_the_heads():
    torch.manual_seed(0)
    ids = torch.randint(1, 30, (2, 6))
    bilm = ElmoModel(tiny_config()).eval()
    assert bilm(input_ids=ids).hidden_states is None
    out = bilm(input_ids=ids, output_hidden_states=True)
    assert len(out.hidden_states) == 3  # embeddings + two LSTM layers
    assert torch.equal(torch.stack(out.hidden_states), out.layers)
    bilm.config.output_hidden_states = True  # the config setting is the fallback
    assert len(bilm(input_ids=ids).hidden_states) == 3
    head = ElmoForSequenceClassification(tiny_config(num_labels=3, mix="top")).eval()
    plain = head(input_ids=ids)
    assert plain.hidden_states is None
    with_states = head(input_ids=ids, output_hidden_states=True)
    assert len(with_states.hidden_states) == 3 and torch.allclose(with_states.logits, plain.logits, atol=1e-6)
    head.config.output_hidden_states = True
    assert len(head(input_ids=ids).hidden_states) == 3


def test_resizing_the_vocabulary_keeps_the_softmax_tied():
    model = ElmoModel(tiny_config())
    model.resize_token_embeddings(35)
    assert model.elmo.embed_tokens.weight.shape == (35, 8) and model.elmo.lm_head.weight.shape == (35, 8)
    assert model.elmo.lm_head.weight is model.elmo.embed_tokens.weight
    ids = torch.randint(1, 35, (1, 5))
    assert model(input_ids=ids, labels=ids).loss.isfinite()


def test_reverse_padded_reverses_within_each_length():
    x = torch.arange(8).view(2, 4)
    assert reverse_padded(x, torch.tensor([4, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]


def test_both_directions_have_a_loss():
    model = ElmoModel(tiny_config())
    ids = torch.randint(1, 30, (2, 6))
    out = model(input_ids=ids, labels=ids)
    assert torch.allclose(out.loss, (out.forward_loss + out.backward_loss) / 2)
    assert model.elmo.lm_head.weight is model.elmo.embed_tokens.weight


def test_scalar_mix_is_softmax_normalised_and_learns():
    mix = ScalarMix(3)
    layers = torch.stack([torch.full((2, 4), float(k)) for k in range(3)])
    assert torch.allclose(mix(layers), torch.full((2, 4), 1.0))  # plain average at the start
    torch.manual_seed(0)
    random_layers = torch.randn(3, 5, 4)
    optimizer = torch.optim.Adam(mix.parameters(), lr=0.1)
    for _ in range(100):  # learn to pick the top layer
        loss = ((mix(random_layers) - random_layers[2]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weights = mix.normalized_weights()
    assert torch.isclose(weights.sum(), torch.tensor(1.0)) and (weights > 0).all()
    assert weights[2] > 0.8  # almost all weight on the layer that fits the target


def test_mix_choices_pick_layers():
    assert tiny_config(mix="scalar").mixed_layers == [0, 1, 2]
    assert tiny_config(mix="embedding").mixed_layers == [0]
    assert tiny_config(mix="top").mixed_layers == [2]
    with pytest.raises(ValueError):
        tiny_config(mix="everything")


def test_ner_tags_from_pos():
    chars, tags = char_bio(["主席", "江", "泽民", "在", "北京", "会见", "新华社", "记者"], ["n", "nr", "nr", "p", "ns", "v", "nt", "n"])
    assert "".join(chars) == "主席江泽民在北京会见新华社记者"
    assert tags[2:5] == ["B-PER", "I-PER", "I-PER"] and tags[6:8] == ["B-LOC", "I-LOC"] and tags[10:13] == ["B-ORG", "I-ORG", "I-ORG"]
    assert entity_spans(tags) == {(2, 5, "PER"), (6, 8, "LOC"), (10, 13, "ORG")}
    assert all(not t[0].startswith("I-") for _, t in chunks(chars, tags, 4))  # never cut inside an entity
    assert sum(len(c) for c, _ in chunks(chars, tags, 4)) == len(chars)
    wrong = tags[:6] + ["O", "O"] + tags[8:]
    assert entity_f1([tags], [wrong]) == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8})


def test_entity_f1_reads_bioes_as_seqeval_does():
    # Figures checked against seqeval 1.2.2's default mode (get_entities, f1_score).
    gold, predicted = ["S-PER", "O", "B-LOC", "E-LOC"], ["S-PER", "O", "B-LOC", "I-LOC"]
    assert entity_f1([gold], [predicted]) == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0})
    assert entity_spans(["B-PER", "E-PER", "I-PER"]) == {(0, 2, "PER"), (2, 3, "PER")}  # E- ends its entity
    assert entity_spans(["S-LOC", "I-LOC", "E-LOC"]) == {(0, 1, "LOC"), (1, 3, "LOC")}  # so does S-
    assert entity_spans(["O", "E-ORG", "O"]) == {(1, 2, "ORG")}  # a stray E- starts one, like a stray I-
    assert entity_spans(["B-PER", "I-LOC", "E-LOC"]) == {(0, 1, "PER"), (1, 3, "LOC")}
    assert entity_spans(["B-PER", "B-PER", "S-PER"]) == {(0, 1, "PER"), (1, 2, "PER"), (2, 3, "PER")}
    gold = [["B-PER", "E-PER", "O", "S-LOC"], ["B-ORG", "I-ORG", "E-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "E-ORG", "S-ORG"]]  # 2 of 4 predicted are right
    assert entity_f1(gold, predicted) == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7})
    with pytest.raises(ToolkitError, match="'M-PER' is not BIO or BIOES"):
        entity_spans(["B-PER", "M-PER", "E-PER"])


@pytest.fixture(scope="module")
def bilm(tmp_path_factory):
    out = tmp_path_factory.mktemp("elmo") / "bilm"
    return toolkit.run("elmo/tiny_bilm", overrides=[*TINY_BILM, f"output.dir={out}"])


def test_bilm_trains_and_reports_both_directions(bilm):
    from transformers import AutoModel

    metrics = json.loads((bilm.run_dir / "metrics.json").read_text())
    assert metrics["final"]["forward_perplexity"] > 1 and metrics["final"]["backward_perplexity"] > 1
    assert metrics["log"][-1]["loss"] < metrics["log"][0]["loss"]
    assert type(AutoModel.from_pretrained(bilm.run_dir)).__name__ == "ElmoModel"
    assert (bilm.run_dir / "modeling_elmo.py").is_file()


def test_bilm_trains_from_a_stream_of_text_files(tmp_path):
    """data.streaming: the text files are read lazily, packed as causal_lm packs them, and the
    position in the stream is saved with the checkpoint."""
    from toolkit.data import load_corpus

    texts = load_corpus("peoples_daily_1998", view="text", max_rows=200)["train"]["text"]
    (tmp_path / "a.txt").write_text("\n".join(texts[:100]), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(texts[100:]), encoding="utf-8")
    card = tmp_path / "card.yaml"
    card.write_text(f"name: text_stream\ndescription: two text files\nsource: {{files: '{tmp_path}/*.txt'}}\n"
                    "splits: {validation: 20, test: 0}\n", encoding="utf-8")
    out = tmp_path / "run"
    result = toolkit.run("elmo/tiny_bilm", overrides=[*TINY_BILM, f"data.card={card}", "data.streaming=true",
                                                     f"output.dir={out}"])
    assert result.metrics["final"]["forward_perplexity"] > 1 and result.metrics["final"]["backward_perplexity"] > 1
    assert result.metrics["stream_passes"] == 0
    assert (out / "checkpoints" / "step-4" / "data_state_0.json").is_file()
    # `toolkit eval` of the run reads the same held-out rows of the stream, so it repeats the final result.
    again = toolkit.evaluate(out, split="validation", max_batches=2)
    assert abs(again["forward_perplexity"] - result.metrics["final"]["forward_perplexity"]) < 1e-3


@pytest.fixture(scope="module")
def sentiment_card(tmp_path_factory):
    """Two classes a biLM of People's Daily characters can separate: a tiny local labelled card."""
    root = tmp_path_factory.mktemp("card")
    rng = random.Random(0)
    good, bad = "好棒喜欢满意推荐", "差坏失望退货糟糕"
    for name, chars in (("pos", good), ("neg", bad)):
        lines = ["".join(rng.choice(chars + "的了是很") for _ in range(rng.randint(5, 12))) for _ in range(120)]
        (root / f"{name}.txt").write_text("\n".join(lines), encoding="utf-8")
    card = {"name": "tiny_sentiment", "description": "test", "source": {"files": {"negative": str(root / "neg.txt"), "positive": str(root / "pos.txt")}, "format": "labelled_lines"},
            "splits": {"validation": 0.2, "test": 0.1, "seed": 0}, "views": ["text", "text_label"], "labels": ["negative", "positive"]}
    path = root / "card.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sentiment(bilm, sentiment_card, tmp_path_factory):
    out = tmp_path_factory.mktemp("elmo") / "sentiment"
    return toolkit.run("elmo/tiny_sentiment", overrides=[
        *SMALL, f"data.card={sentiment_card}", f"model.init_from={bilm.run_dir}", "train.max_steps=100",
        "train.eval_every=100", "train.save_every=100", "train.optimizer.lr=0.02", "train.schedule.warmup_steps=0",
        "eval.max_batches=10", f"output.dir={out}"])


def test_downstream_head_learns_with_the_bilm_frozen(bilm, sentiment):
    from transformers import AutoModel, AutoModelForSequenceClassification

    metrics = json.loads((sentiment.run_dir / "metrics.json").read_text())
    assert metrics["final"]["accuracy"] > 0.8, metrics["final"]
    weights = metrics["layer_weights"]
    assert set(weights) == {"embedding", "lstm_1", "lstm_2", "gamma"}
    assert sum(v for k, v in weights.items() if k != "gamma") == pytest.approx(1.0)
    assert weights["embedding"] != pytest.approx(1 / 3, abs=1e-4), "the mix did not move"
    assert metrics["train"]["trainable_parameters"] < metrics["train"]["parameters"] / 5
    # The saved biLM weights are exactly the pretrained ones: the biLM was frozen.
    before = AutoModel.from_pretrained(bilm.run_dir).elmo.state_dict()
    model = AutoModelForSequenceClassification.from_pretrained(sentiment.run_dir)
    assert isinstance(model, ElmoForSequenceClassification)
    after = model.elmo.state_dict()
    assert set(after) == set(before) - {"lm_head.weight"}
    assert all(torch.equal(after[k], before[k]) for k in after)
    model.train()
    assert not model.elmo.training and model.head.training  # frozen biLM stays in eval mode (no dropout)


def test_embedding_only_baseline_mixes_layer_zero(bilm, sentiment_card, tmp_path):
    done = toolkit.run("elmo/tiny_sentiment_layer0", overrides=[
        *SMALL, f"data.card={sentiment_card}", f"model.init_from={bilm.run_dir}", "train.max_steps=2",
        "train.eval_every=2", "train.save_every=2", f"output.dir={tmp_path / 'base'}"])
    assert set(done.metrics["layer_weights"]) == {"embedding", "gamma"}


def test_ner_head_trains(bilm, tmp_path):
    done = toolkit.run("elmo/tiny_ner", overrides=[
        *SMALL, "data.max_rows=200", f"model.init_from={bilm.run_dir}", "train.max_steps=3",
        "train.eval_every=3", "train.save_every=3", f"output.dir={tmp_path / 'ner'}"])
    assert {"precision", "recall", "f1"} <= set(done.metrics["final"])
    assert json.loads((done.run_dir / "config.json").read_text())["id2label"]["1"] == "B-PER"


def test_downstream_needs_a_bilm(tmp_path, sentiment):
    with pytest.raises(toolkit.ToolkitError, match="model.init_from to a bilm run folder"):
        toolkit.run("elmo/tiny_sentiment", overrides=[*SMALL, "model.init_from=null", f"output.dir={tmp_path / 'x'}"])
    # A folder of another model type (here: the rnn_lm family's) is named as such.
    with pytest.raises(toolkit.ToolkitError, match="is a toolkit_rnn_lm model"):
        toolkit.run("elmo/tiny_sentiment", overrides=[*SMALL, f"model.init_from={_rnn_folder(tmp_path)}",
                                                       f"output.dir={tmp_path / 'y'}"])


def _rnn_folder(tmp_path):
    from toolkit.families.rnn_lm.modeling_rnn_lm import RnnLMConfig, RnnLMForCausalLM

    folder = tmp_path / "rnn"
    RnnLMForCausalLM(RnnLMConfig(vocab_size=32, hidden_size=8, num_layers=1)).save_pretrained(folder)
    return folder


def test_downstream_recipe_sets_head_options_only():
    with pytest.raises(toolkit.RecipeError, match="may set only mix, freeze_bilm, head_hidden, head_dropout here; got hidden_size"):
        toolkit.load_recipe("elmo/tiny_sentiment", ["model.config.hidden_size=64"])
    with pytest.raises(toolkit.RecipeError, match=r"model.config.mix: got 'middle'; allowed: scalar, embedding, top"):
        toolkit.load_recipe("elmo/tiny_sentiment", ["model.config.mix=middle"])


def test_static_word2vec_baseline_uses_the_vectors_as_layer_zero(bilm, sentiment_card, tmp_path):
    """The same head over frozen word vectors: the saved embedding rows are the vectors themselves."""
    from gensim.models import KeyedVectors
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    chars = list("好棒喜欢满意差坏失望的了是很")
    vectors = KeyedVectors(vector_size=16)
    vectors.add_vectors(chars, torch.randn(len(chars), 16, generator=torch.Generator().manual_seed(0)).numpy())
    vectors.save_word2vec_format(str(tmp_path / "chars.bin"), binary=True)
    done = toolkit.run("elmo/tiny_sentiment_word2vec", overrides=[
        *SMALL, f"data.card={sentiment_card}", f"model.init_from={bilm.run_dir}", f"model.embeddings_from={tmp_path / 'chars.bin'}",
        "train.max_steps=2", "train.eval_every=2", "train.save_every=2", f"output.dir={tmp_path / 'w2v'}"])
    assert set(done.metrics["layer_weights"]) == {"embedding", "gamma"}
    tokenizer = AutoTokenizer.from_pretrained(done.run_dir)
    found = [c for c in chars if c in tokenizer.get_vocab()]
    assert done.metrics["embeddings_from"]["found"] == len(found) > 5
    embeddings = AutoModelForSequenceClassification.from_pretrained(done.run_dir).elmo.embed_tokens.weight
    for char in found:
        assert torch.equal(embeddings[tokenizer.convert_tokens_to_ids(char)], torch.tensor(vectors[char]))
    assert "initialised from the word vectors" in (done.run_dir / "README.md").read_text(encoding="utf-8")


def test_embed_cli(bilm, sentiment, capsys):
    assert main(["embed", str(bilm.run_dir), "今天天气很好"]) == 0
    assert "(3, 6, 32)" in capsys.readouterr().out
    assert main(["embed", str(sentiment.run_dir), "今天天气很好", "--layer-weights"]) == 0
    out = capsys.readouterr().out
    assert "scalar mix: (6, 32)" in out and "learned layer weights: embedding" in out and "gamma" in out


def test_the_shared_encoders_give_elmo_one_id_per_character_and_the_ner_tags_of_char_bio():
    """ELMo's char tokenizer has no [CLS]/[SEP] template: the shared tasks' encode gives the ids of
    ELMo's former private encoder (convert_tokens_to_ids of each character, unknown ones too) and
    cuts long NER rows at data.block_size characters with char_bio's labels."""
    from datasets import Dataset

    from toolkit.data.ner import NER_LABELS
    from toolkit.families.elmo.family import SPECIAL_TOKENS
    from toolkit.recipe import TokenizerSection
    from toolkit.tasks import classify, token_classify
    from toolkit.tokenization import train_tokenizer

    tokenizer = train_tokenizer(TokenizerSection(kind="char"), ["今天 天气很好，江泽民在北京会见新华社记者"], SPECIAL_TOKENS)
    assert tokenizer.num_special_tokens_to_add() == 0
    recipe = toolkit.load_recipe("elmo/tiny_sentiment", ["data.block_size=8"])
    texts = ["今天 天气很好龘龘龘", "好"]  # a space, an unknown character, and a row longer than block_size
    rows = Dataset.from_dict({"text": texts, "label": [1, 0]})
    encoded = classify.encode(rows, tokenizer, recipe, ["negative", "positive"])
    assert encoded["input_ids"] == [tokenizer.convert_tokens_to_ids(list(text[:8])) for text in texts]
    assert encoded["labels"] == [1, 0]

    recipe = toolkit.load_recipe("elmo/tiny_ner", ["data.block_size=8"])
    words, pos = ["主席", "江泽民", "在", "北京", "会见", "新华社", "记者"], ["n", "nr", "p", "ns", "v", "nt", "n"]
    rows = Dataset.from_dict({"words": [words], "pos": [pos]})
    labels = token_classify.label_list(recipe, None, rows)
    assert labels == NER_LABELS
    encoded = token_classify.encode(rows, tokenizer, recipe, labels)
    pieces = list(chunks(*char_bio(words, pos), 8))
    assert [len(chars) for chars, _ in pieces] == [8, 7]  # the whole block: no room kept for [CLS]/[SEP]
    assert encoded["input_ids"] == [tokenizer.convert_tokens_to_ids(chars) for chars, _ in pieces]
    assert encoded["labels"] == [[NER_LABELS.index(tag) for tag in tags] for _, tags in pieces]
