"""BERT: whole-word masking, NSP pairs, pretraining, and fine-tuning for classification and tagging."""

from __future__ import annotations

import collections
import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification

import toolkit
from toolkit.cli import main
from toolkit.data import load_corpus
from toolkit.data.char_tags import char_cws, char_pos
from toolkit.families.bert.masking import IGNORE, MaskingCollator
from toolkit.families.bert.nsp import _sentence_rows, build_nsp_pairs
from toolkit.families.bert.family import SPECIAL_TOKENS
from toolkit.recipe import TokenizerSection
from toolkit.tokenization import train_tokenizer

TINY_BERT = [
    "model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}",
    "data.max_rows=400", "data.block_size=64", "train.batch_size=8", "train.max_steps=4",
    "train.eval_every=2", "train.save_every=2", "eval.max_batches=2",
]
FINETUNE = ["data.max_rows=300", "data.block_size=64", "train.batch_size=8", "train.max_steps=4",
            "train.eval_every=2", "train.save_every=2", "eval.max_batches=2"]
WORDS = ["今天", "天气", "很", "好", "我们", "一起", "去", "公园", "散步", "吧"]


@pytest.fixture(scope="module")
def tokenizer():
    corpus = load_corpus("peoples_daily_1998", view="text", max_rows=400)
    return train_tokenizer(TokenizerSection(kind="char"), ["".join(WORDS), *corpus["train"]["text"]], SPECIAL_TOKENS)


def _example(tokenizer):
    ids = tokenizer("".join(WORDS))["input_ids"]  # [CLS] chars [SEP]
    word_ids = [-1, *[i for i, w in enumerate(WORDS) for _ in w], -1]
    assert len(ids) == len(word_ids)
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "word_ids": word_ids}


def test_whole_word_masking_on_a_known_sentence(tokenizer):
    example = _example(tokenizer)
    word_ids = torch.tensor(example["word_ids"])
    whole = MaskingCollator(tokenizer, probability=0.3, whole_word=True)
    plain = MaskingCollator(tokenizer, probability=0.3, whole_word=False)
    split_words = 0
    for seed in range(30):
        chosen = whole.choose(word_ids, torch.Generator().manual_seed(seed))
        assert not chosen[0] and not chosen[-1], "never [CLS]/[SEP]"
        for word in range(len(WORDS)):
            in_word = chosen[word_ids == word]
            assert in_word.all() or not in_word.any(), f"seed {seed}: word {WORDS[word]} partly masked"
        chars = sum(map(len, WORDS))  # 16 characters: a budget of round(16 * 0.3) = 5 tokens
        assert 1 <= int(chosen.sum()) <= round(chars * 0.3)
        token_level = plain.choose(word_ids, torch.Generator().manual_seed(seed))
        split_words += any(0 < int(token_level[word_ids == w].sum()) < len(WORDS[w]) for w in range(len(WORDS)))
    assert split_words > 5, "without whole-word masking, words are split"
    # One seed, shown: the positions (1-based characters) masked with and without it.
    chosen = whole.choose(word_ids, torch.Generator().manual_seed(0)).nonzero().flatten().tolist()
    spans = {WORDS[int(word_ids[p])] for p in chosen}
    assert spans and all(0 < p <= 16 for p in chosen)


def test_whole_words_after_whitespace_stay_aligned(tokenizer):
    """jieba's words skip the spaces; each word must still cover its own characters of the text."""
    import jieba

    sentence = "第一回 宴桃园豪杰三结义 斩黄巾英雄首立功"
    rows = _sentence_rows({"document": [0], "text": [sentence]}, tokenizer, whole_word=True)
    (ids,), (word_ids,) = rows["input_ids"], rows["word_ids"]
    chars = tokenizer.convert_ids_to_tokens(ids)
    assert len(chars) == len(sentence)  # the char tokenizer keeps the spaces as tokens
    units: dict[int, str] = {}
    for position, word in enumerate(word_ids):
        units[word] = units.get(word, "") + sentence[position]
    assert word_ids == sorted(word_ids), "a unit's characters are contiguous"
    words = [unit for unit in units.values() if unit.strip()]
    assert words == [word for part in sentence.split(" ") for word in jieba.lcut(part)]
    assert words[1:4] == ["宴", "桃园", "豪杰"]
    assert [unit for unit in units.values() if not unit.strip()] == [" ", " "]  # each space on its own


def test_80_10_10_rule(tokenizer):
    collator = MaskingCollator(tokenizer, probability=0.15)
    ids = torch.randint(10, len(tokenizer) - 64, (64, 128))
    masked, labels = collator.mask(ids, torch.arange(128).repeat(64, 1), torch.Generator().manual_seed(0))
    chosen = labels != IGNORE
    assert abs(chosen.float().mean().item() - 0.15) < 0.01
    share_mask = (masked[chosen] == tokenizer.mask_token_id).float().mean().item()
    share_kept = (masked[chosen] == ids[chosen]).float().mean().item()
    assert abs(share_mask - 0.8) < 0.04 and abs(share_kept - 0.1) < 0.04


def test_nsp_pairs_are_balanced_and_framed(tokenizer):
    corpus = load_corpus("peoples_daily_1998", view="word_documents", max_rows=400)
    pairs = build_nsp_pairs(corpus["train"], tokenizer, 64, whole_word=True, seed=0)
    labels = collections.Counter(pairs["next_sentence_label"])
    assert 0.4 < labels[1] / len(pairs) < 0.6
    row = pairs[0]
    sep = tokenizer.sep_token_id
    assert row["input_ids"][0] == tokenizer.cls_token_id and row["input_ids"][-1] == sep
    first_sep = row["input_ids"].index(sep)
    assert set(row["token_type_ids"][: first_sep + 1]) == {0} and set(row["token_type_ids"][first_sep + 1:]) == {1}
    assert max(len(r) for r in pairs["input_ids"]) <= 64
    real = [w for w in row["word_ids"] if w >= 0]
    assert real == sorted(real), "word ids increase: no word spans two places"


def test_a_model_that_copies_its_input_scores_at_mask_zero(tokenizer):
    """The 80/10/10 rule leaves one in ten tokens to predict unchanged, so a model that only copies
    its input scores about 0.1 mlm_accuracy; mlm_accuracy_at_mask shows it reads no context, and
    mlm_guess_at_mask is the share of the commonest token among the [MASK]ed ones."""
    from types import SimpleNamespace

    from accelerate import Accelerator

    from toolkit.families.bert.pretrain import score_pretraining

    def copying_model(input_ids, **_):
        logits = torch.nn.functional.one_hot(input_ids, len(tokenizer)).float()
        return SimpleNamespace(prediction_logits=logits, seq_relationship_logits=torch.zeros(len(input_ids), 2))

    collate = MaskingCollator(tokenizer, probability=0.15, seed=0)
    rows = [{**_example(tokenizer), "next_sentence_label": 0}] * 64
    batches = [collate(rows[i:i + 16]) for i in range(0, len(rows), 16)]
    scores = score_pretraining(Accelerator(cpu=True), copying_model, batches, None, None, tokenizer)
    assert 0.03 < scores["mlm_accuracy"] < 0.25
    assert scores["mlm_accuracy_at_mask"] == 0.0
    targets = [t for b in batches for t, i in zip(b["labels"].flatten().tolist(), b["input_ids"].flatten().tolist())
               if t != IGNORE and i == tokenizer.mask_token_id]
    assert scores["mlm_guess_at_mask"] == max(map(targets.count, set(targets))) / len(targets)


def test_scores_count_every_masked_token_of_a_short_last_batch(tokenizer):
    """10 pairs in batches of 4: the last batch holds 2. Accelerate cuts the last gathered batch to
    its 2 real rows, so per-token tensors gathered as they are would keep 2 of its 6 masked tokens
    (mlm_accuracy 18/26 here instead of 2/3); the scorer gathers one row per pair instead."""
    import math
    from types import SimpleNamespace

    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from toolkit.families.bert.pretrain import score_pretraining

    mask, right, wrong = tokenizer.mask_token_id, 7, 8
    row = {"input_ids": [tokenizer.cls_token_id, mask, mask, mask, tokenizer.sep_token_id],
           "labels": [IGNORE, right, right, wrong, IGNORE], "token_type_ids": [0] * 5, "attention_mask": [1] * 5,
           "next_sentence_label": 1}

    def always_right(input_ids, **_):  # the same answer at every position: right 2 times in 3
        logits = torch.nn.functional.one_hot(torch.full_like(input_ids, right), len(tokenizer)).float()
        return SimpleNamespace(prediction_logits=logits, seq_relationship_logits=torch.zeros(len(input_ids), 2))

    def stack(rows):
        return {key: torch.tensor([r[key] for r in rows]) for key in rows[0]}

    accelerator = Accelerator(cpu=True)
    loader = accelerator.prepare(DataLoader([row] * 10, batch_size=4, collate_fn=stack))
    scores = score_pretraining(accelerator, always_right, loader, None, None, tokenizer)
    assert scores["mlm_accuracy"] == pytest.approx(2 / 3)
    assert scores["mlm_accuracy_at_mask"] == pytest.approx(2 / 3)
    assert scores["mlm_guess_at_mask"] == pytest.approx(2 / 3)
    others = len(tokenizer) - 1 + math.e  # the softmax's denominator
    loss = (2 * -math.log(math.e / others) - math.log(1 / others)) / 3
    assert scores["mlm_perplexity"] == pytest.approx(math.exp(loss), rel=1e-4)
    assert scores["nsp_accuracy"] == 0.0


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("bert") / "run"
    return toolkit.run("bert/tiny_pretrain_wwm", overrides=[*TINY_BERT, f"output.dir={out}"])


def test_pretraining_reports_mlm_and_nsp_and_fills_masks(pretrained, capsys):
    final = pretrained.metrics["final"]
    assert set(final) == {"mlm_accuracy", "mlm_accuracy_at_mask", "mlm_guess_at_mask", "mlm_perplexity", "nsp_accuracy"}
    assert pretrained.metrics["whole_word_mask"] is True
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(pretrained.run_dir))
    assert len(fill("今天[MASK]气很好", top_k=3)) == 3
    assert main(["fill-mask", str(pretrained.run_dir), "今天[MASK]气很好", "--top-k", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["eval", str(pretrained.run_dir), "--split", "validation", "--max-batches", "1"]) == 0


def test_sentiment_full_and_lora(pretrained, tmp_path, capsys):
    # Dropout rates may change on top of init_from (model.config may set nothing else there).
    full = toolkit.run("bert/tiny_sentiment", overrides=[*FINETUNE, f"model.init_from={pretrained.run_dir}",
                                                          f"output.dir={tmp_path / 'full'}",
                                                          "model.config={hidden_dropout_prob: 0.2, classifier_dropout: 0.3, "
                                                          "attention_probs_dropout_prob: 0.25}"])
    config = json.loads((full.run_dir / "config.json").read_text())
    assert (config["hidden_dropout_prob"], config["classifier_dropout"]) == (0.2, 0.3)
    assert {m.p for m in AutoModelForSequenceClassification.from_pretrained(full.run_dir).modules()
            if isinstance(m, torch.nn.Dropout)} == {0.2, 0.25, 0.3}
    lora = toolkit.run("bert/tiny_sentiment_lora", overrides=[*FINETUNE, f"model.init_from={pretrained.run_dir}",
                                                               f"output.dir={tmp_path / 'lora'}"])
    assert set(full.metrics["final"]) == {"accuracy", "macro_f1"} and full.metrics["labels"] == ["negative", "positive"]
    assert lora.metrics["train"]["trainable_parameters"] < full.metrics["train"]["trainable_parameters"]
    assert main(["predict", str(full.run_dir), "这本书写得真好"]) == 0
    label, probability, _ = capsys.readouterr().out.strip().splitlines()[-1].split("\t")
    assert label in ("negative", "positive") and 0.5 <= float(probability) <= 1


def test_ner_and_pos_tagging(pretrained, tmp_path):
    ner = toolkit.run("bert/tiny_ner", overrides=[*FINETUNE, f"model.init_from={pretrained.run_dir}",
                                                  f"output.dir={tmp_path / 'ner'}"])
    assert {"f1", "precision", "recall"} <= set(ner.metrics["final"])
    assert ner.metrics["labels"][:3] == ["O", "B-PER", "I-PER"]
    pos = toolkit.run("bert/tiny_pos", overrides=[*FINETUNE, f"model.init_from={pretrained.run_dir}",
                                                  f"output.dir={tmp_path / 'pos'}"])
    assert "n" in pos.metrics["labels"] and 0 <= pos.metrics["final"]["accuracy"] <= 1
    config = json.loads((pos.run_dir / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]


def test_character_tags():
    assert char_cws(["中华人民共和国", "的", "首都"])[1] == ["B", "M", "M", "M", "M", "M", "E", "S", "B", "E"]
    assert char_pos(["北京", "是"], ["ns", "v"]) == (["北", "京", "是"], ["ns", "ns", "v"])


def test_token_classification_needs_tags():
    with pytest.raises(toolkit.RecipeError, match="data.tags"):
        toolkit.load_recipe("bert/tiny_ner", ["data.tags=null"])


def test_nsp_labels_follow_transformers_convention():
    """label 0 = B is A's continuation in the same document, 1 = B comes from another document
    (BertForPreTraining's next_sentence_label); segment A has token type 0, B (and its [SEP]) 1.
    Every sentence names its document (甲..己) and its place in it (一..十), so each pair can be
    checked against where its halves came from."""
    import datasets

    marks, places = "甲乙丙丁戊己", "一二三四五六七八九十"
    rows = {"document": [], "text": []}
    for document, mark in enumerate(marks):
        for paragraph in range(0, 10, 2):
            rows["document"].append(document)
            rows["text"].append("".join(f"{mark * 3}{places[k]}。" for k in (paragraph, paragraph + 1)))
    dataset = datasets.Dataset.from_dict(rows)
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), rows["text"], SPECIAL_TOKENS)
    pairs = build_nsp_pairs(dataset, tokenizer, 64, whole_word=False, seed=1)
    assert set(pairs["next_sentence_label"]) == {0, 1}
    for ids, types, label in zip(pairs["input_ids"], pairs["token_type_ids"], pairs["next_sentence_label"]):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        first_sep = tokens.index("[SEP]")
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        a, b = "".join(tokens[1:first_sep]), "".join(tokens[first_sep + 1:-1])
        doc_a, doc_b = {c for c in a if c in marks}, {c for c in b if c in marks}
        assert len(doc_a) == 1 and len(doc_b) == 1
        if label == 0:
            assert doc_a == doc_b
            last_a, first_b = places.index([c for c in a if c in places][-1]), places.index([c for c in b if c in places][0])
            assert first_b == last_a + 1, f"B continues A: {a} | {b}"
        else:
            assert doc_a != doc_b, f"a random B comes from another document: {a} | {b}"
    collated = MaskingCollator(tokenizer)(list(pairs.select(range(4))))
    assert collated["token_type_ids"].tolist()[0][: len(pairs[0]["token_type_ids"])] == pairs[0]["token_type_ids"]
    assert collated["next_sentence_label"].tolist() == pairs["next_sentence_label"][:4]


def test_nsp_negatives_come_from_anywhere_in_the_split_not_the_neighbours(monkeypatch):
    """A mixed card lists one part's documents, then the next part's. Documents are shuffled before
    pairing (as BERT's create_pretraining_data.py does), so a map batch of sentences holds every
    part and a random B comes from either part as often as the split has it, not only from the
    neighbouring documents of A's own part (which made training negatives harder than held-out ones)."""
    import datasets

    import toolkit.families.bert.nsp as nsp

    monkeypatch.setattr(nsp, "PAIRS_BATCH", 40)  # sentences per map batch: 20 documents of a part, unshuffled
    rows = {"document": [], "text": []}
    for document in range(80):
        mark = "甲" if document < 40 else "乙"
        rows["document"].append(document)
        rows["text"].append(f"{mark * 4}一。{mark * 4}二。")
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), rows["text"], SPECIAL_TOKENS)
    pairs = build_nsp_pairs(datasets.Dataset.from_dict(rows), tokenizer, 64, whole_word=False, seed=3)
    crossing = total = 0
    for ids, label in zip(pairs["input_ids"], pairs["next_sentence_label"]):
        if label == 1:
            tokens = tokenizer.convert_ids_to_tokens(ids)
            first_sep = tokens.index("[SEP]")
            crossing += ("甲" in tokens[:first_sep]) != ("甲" in tokens[first_sep:])
            total += 1
    assert total > 20 and 0.3 < crossing / total < 0.7


def test_nsp_weight_scales_only_the_next_sentence_loss(tokenizer):
    """mlm.nsp_weight: weight 1 is BertForPreTraining's own loss, weight 0 is MLM alone, and the
    weight multiplies exactly the NSP part."""
    from transformers import BertConfig, BertForPreTraining

    from toolkit.families.bert.pretrain import make_pretraining_loss, weighted_pretraining_loss
    from toolkit.tasks.base import token_loss

    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                          num_attention_heads=2, intermediate_size=64)).eval()
    corpus = load_corpus("peoples_daily_1998", view="word_documents", max_rows=200)
    pairs = build_nsp_pairs(corpus["train"], tokenizer, 64, whole_word=False, seed=0)
    batch = MaskingCollator(tokenizer, seed=0)(list(pairs.select(range(8))))
    with torch.no_grad():
        own = model(**batch).loss
        one, tokens = weighted_pretraining_loss(model, batch, 1.0)
        zero, _ = weighted_pretraining_loss(model, batch, 0.0)
        three, _ = weighted_pretraining_loss(model, batch, 3.0)
        # MLM and NSP computed here from the logits, independently of the loss under test
        out = model(**{k: v for k, v in batch.items() if k not in ("labels", "next_sentence_label")})
        mlm = torch.nn.functional.cross_entropy(out.prediction_logits.reshape(-1, len(tokenizer)),
                                                batch["labels"].reshape(-1), ignore_index=IGNORE)
        nsp = torch.nn.functional.cross_entropy(out.seq_relationship_logits, batch["next_sentence_label"])
    assert torch.allclose(one, own, atol=1e-5) and tokens == int(batch["attention_mask"].sum())
    assert nsp > 0 and torch.allclose(zero, mlm, atol=1e-5) and torch.allclose(three, mlm + 3 * nsp, atol=1e-5)
    plain = make_pretraining_loss(toolkit.load_recipe("bert/tiny_pretrain"))  # weight 1: the model's own loss
    with torch.no_grad():
        assert torch.allclose(plain(model, batch)[0], token_loss(model, batch)[0], atol=1e-6)


def stream_documents(folder, count: int = 40):
    """jsonl documents of a few People's Daily sentences each, and a streaming card for them."""
    texts = load_corpus("peoples_daily_1998", view="text", max_rows=400)["train"]["text"]
    lines = [json.dumps({"text": "".join(texts[i * 3 : i * 3 + 3])}, ensure_ascii=False) for i in range(count)]
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    card = folder / "card.yaml"
    card.write_text(f"name: doc_stream\ndescription: documents\nsource: {{files: '{folder}/docs.jsonl', format: jsonl, "
                    "streaming: true}\nsplits: {validation: 6, test: 0}\n", encoding="utf-8")
    return card


def test_nsp_pairs_from_a_stream_resume_exactly_across_buffers_and_passes(tmp_path, tokenizer):
    import itertools

    from toolkit.data import load_card
    from toolkit.data.stream import open_stream
    from toolkit.families.bert.nsp_stream import NspPairs
    from toolkit.tasks.stream_blocks import StreamLoader

    card = load_card(stream_documents(tmp_path))

    def loader(state=None):
        rows = open_stream(card, ["text"])[0]
        made = StreamLoader(NspPairs(rows, tokenizer, 64, whole_word=True, seed=1, buffer_documents=8), 4,
                            MaskingCollator(tokenizer, whole_word=True, seed=3))  # fixed masks: batches comparable
        if state is not None:
            made.load_state_dict(json.loads(json.dumps(state)))
        return made

    straight = loader()
    batches = [b["input_ids"].tolist() for b in itertools.islice(straight, 40)]
    assert straight.passes >= 1
    labels = [b["next_sentence_label"].tolist() for b in itertools.islice(loader(), 10)]
    assert {0, 1} <= {label for row in labels for label in row}
    for at in (5, 23):  # inside a buffer; in the second pass
        stopped = loader()
        list(itertools.islice(stopped, at + 1))
        resumed = loader(stopped.state_dict(at))
        assert [b["input_ids"].tolist() for b in itertools.islice(resumed, 40 - at)] == batches[at:], at


def test_bert_pretrains_from_a_stream_of_documents(tmp_path):
    out = tmp_path / "run"
    result = toolkit.run("bert/tiny_pretrain", overrides=[*TINY_BERT, f"data.card={stream_documents(tmp_path)}",
                                                         f"output.dir={out}"])
    assert set(result.metrics["final"]) == {"mlm_accuracy", "mlm_accuracy_at_mask", "mlm_guess_at_mask", "mlm_perplexity", "nsp_accuracy"}
    assert (out / "checkpoints" / "step-4" / "data_state_0.json").is_file()
