"""The seq2seq metric modules shipped in toolkit/metrics: each equals sacrebleu called directly (or
a value worked out by hand) on the same inputs, and refuses empty inputs clearly."""

from __future__ import annotations

import pytest
import sacrebleu

from toolkit.metrics import available_metrics, load_metric

PREDICTIONS = ["今天天气很好。", "我爱北京", "他们两个人去年结婚了。", "The cat sat on the mat."]
REFERENCES = ["今天天气不错。", "我爱北京天安门", "他们两个去年结婚了。", "The cat is on the mat."]


def test_seq2seq_metrics_are_shipped():
    assert {"bleu", "chrf", "cer", "exact_match"} <= set(available_metrics())


def test_bleu_equals_sacrebleu_with_the_zh_tokenizer():
    result = load_metric("bleu").compute(predictions=PREDICTIONS, references=REFERENCES)
    direct = sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES], tokenize="zh")
    assert result["bleu"] == pytest.approx(direct.score) and 0 < result["bleu"] < 100
    assert result["precisions"] == pytest.approx(direct.precisions)
    assert result["brevity_penalty"] == pytest.approx(direct.bp)
    assert "tok:zh" in result["signature"] and f"version:{sacrebleu.__version__}" in result["signature"]
    # zh splits Chinese characters: 13a on unsegmented Chinese scores otherwise.
    assert result["bleu"] != pytest.approx(sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES], tokenize="13a").score)
    other = load_metric("bleu").compute(predictions=PREDICTIONS, references=REFERENCES, tokenize="13a")
    assert "tok:13a" in other["signature"]


def test_chrf_equals_sacrebleu():
    result = load_metric("chrf").compute(predictions=PREDICTIONS, references=REFERENCES)
    assert result["chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score)
    assert "nc:6" in result["signature"]


def test_cer_is_corpus_edits_over_reference_characters():
    # 很好->不错: 2 substitutions; 天安门 missing: 3 deletions; 人 extra: 1 insertion.
    predictions, references = ["今天天气很好。", "我爱北京", "他们两个人去年结婚了。"], ["今天天气不错。", "我爱北京天安门", "他们两个去年结婚了。"]
    result = load_metric("cer").compute(predictions=predictions, references=references)
    assert (result["edits"], result["reference_chars"]) == (6, 7 + 7 + 10)
    assert result["cer"] == pytest.approx(6 / 24)  # corpus level, not the mean of per-sentence rates
    assert load_metric("cer").compute(predictions=["abc"], references=["abc"])["cer"] == 0.0
    assert load_metric("cer").compute(predictions=["一二三四"], references=["一"])["cer"] == 3.0


def test_exact_match():
    result = load_metric("exact_match").compute(predictions=["一二", "三", "四 "], references=["一二", "三四", "四"])
    assert result["exact_match"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", ["bleu", "chrf", "cer", "exact_match"])
def test_empty_inputs_are_refused(name):
    with pytest.raises(ValueError, match=f"{name} needs at least one prediction and reference"):
        load_metric(name).compute(predictions=[], references=[])


def test_cer_with_only_empty_references_is_refused():
    with pytest.raises(ValueError, match="0 reference characters"):
        load_metric("cer").compute(predictions=["一"], references=[""])


def test_metrics_compute_in_memory_without_evaluates_shared_cache_file(monkeypatch):
    """A compute that wrote to evaluate's shared cache took a file lock named after the metric: a
    second process evaluating at the same time waited a second per compute (for ever when a
    compute had raised and kept the lock). The toolkit's metrics never open that file."""
    from evaluate.module import EvaluationModule

    def shared_cache_file(self, timeout=1):
        raise AssertionError(f"{self.name} opened a cache file in evaluate's shared cache")

    monkeypatch.setattr(EvaluationModule, "_create_cache_file", shared_cache_file)
    assert load_metric("accuracy").compute(predictions=[1, 0], references=[1, 1])["accuracy"] == 0.5
    with pytest.raises(ValueError, match="0 reference characters"):
        load_metric("cer").compute(predictions=["一"], references=[""])
    assert load_metric("cer").compute(predictions=["一二"], references=["一二"])["cer"] == 0
    assert load_metric("bleu").compute(predictions=PREDICTIONS, references=REFERENCES)["bleu"] > 0
