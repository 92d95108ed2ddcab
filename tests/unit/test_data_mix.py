"""Mixed cards (source.mix): parts joined split by split, held-out rows staying held out, documents
kept apart, repeat, the cache key, and the mistakes a card can make."""

from __future__ import annotations

import pytest
import yaml

from toolkit.data import load_card, load_corpus
from toolkit.data.sources import check_card_files
from toolkit.errors import DataError


def write_yaml(path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def parts(tmp_path) -> tuple[str, str]:
    """A corpus in documents (3 rows each) and a labelled corpus of one-line reviews."""
    (tmp_path / "news.txt").write_text("\n".join(f"新闻第{i}段。" for i in range(30)), encoding="utf-8")
    news = write_yaml(tmp_path / "news.yaml", {
        "name": "news", "description": "d", "source": {"files": str(tmp_path / "news.txt")}, "document_rows": 3,
        "splits": {"validation": 0.2, "test": 0.2, "seed": 0}, "views": ["text", "documents"]})
    (tmp_path / "pos.txt").write_text("\n".join(f"好评{i}" for i in range(20)), encoding="utf-8")
    (tmp_path / "neg.txt").write_text("\n".join(f"差评{i}" for i in range(20)), encoding="utf-8")
    reviews = write_yaml(tmp_path / "reviews.yaml", {
        "name": "reviews", "description": "d", "source": {"files": {"negative": str(tmp_path / "neg.txt"),
                                                                    "positive": str(tmp_path / "pos.txt")},
                                                          "format": "labelled_lines"},
        "labels": ["negative", "positive"], "splits": {"validation": 0.1, "test": 0.1, "seed": 0},
        "views": ["text", "text_label"]})
    return news, reviews


def mix_card(tmp_path, mix, name="mix.yaml", **extra) -> str:
    return write_yaml(tmp_path / name, {"name": "mix", "description": "d", "source": {"mix": mix},
                                        "views": ["text", "documents"], **extra})


def test_mix_joins_each_split_and_keeps_held_out_rows_held_out(tmp_path):
    news, reviews = parts(tmp_path)
    mixed = load_corpus(mix_card(tmp_path, [news, reviews]), view="documents")
    for split in ("train", "validation", "test"):
        expected = sorted([*load_corpus(news, view="text")[split]["text"], *load_corpus(reviews, view="text")[split]["text"]])
        assert sorted(mixed[split]["text"]) == expected
    # documents: the news part keeps its 3-row documents, each review is one; no two parts share one
    train = mixed["train"].to_dict()
    news_documents = {d for d, t in zip(train["document"], train["text"]) if t.startswith("新闻")}
    review_documents = [d for d, t in zip(train["document"], train["text"]) if not t.startswith("新闻")]
    assert len(news_documents) == sum(t.startswith("新闻") for t in train["text"]) // 3
    assert len(set(review_documents)) == len(review_documents)
    assert not news_documents & set(review_documents)


def test_repeat_reads_a_parts_train_split_more_often_and_held_out_once(tmp_path):
    news, reviews = parts(tmp_path)
    once = load_corpus(mix_card(tmp_path, [news, reviews]), view="text")
    twice = load_corpus(mix_card(tmp_path, [news, {"card": reviews, "repeat": 2}], name="m2.yaml"), view="text")
    reviews_train = len(load_corpus(reviews, view="text")["train"])
    assert len(twice["train"]) == len(once["train"]) + reviews_train
    assert len(twice["validation"]) == len(once["validation"])


def test_a_changed_part_file_rebuilds_the_mix(tmp_path):
    news, reviews = parts(tmp_path)
    card = mix_card(tmp_path, [news, reviews])
    before = load_corpus(card, view="text")["train"]["text"]
    (tmp_path / "pos.txt").write_text("\n".join(f"新的好评{i}" for i in range(20)), encoding="utf-8")
    after = load_corpus(card, view="text")["train"]["text"]
    assert any(t.startswith("新的好评") for t in after) and not any(t.startswith("新的好评") for t in before)


def test_bundled_mix_card_reads_and_its_parts_files_are_checked():
    card = check_card_files("zh_pretrain_mix")
    assert [part.card for part in card.source.mix] == ["peoples_daily_1998", "sanguo_yanyi", "product_reviews_sentiment"]


@pytest.mark.parametrize("mix, extra, message", [
    (["news.yaml"], {}, "joins two or more cards"),
    (["news.yaml", "news.yaml"], {}, "names a card twice"),
    (["news.yaml", "nowhere"], {}, "Data card 'nowhere' not found"),
    (["news.yaml", {"card": "reviews.yaml", "repeat": 0}], {}, "repeat"),
    (["news.yaml", "reviews.yaml"], {"preprocess": ["nfkc"]}, "a mixed card's rows and splits are its cards' own"),
    (["news.yaml", "reviews.yaml"], {"views": ["text_label"]}, "a mixed card gives text, documents"),
])
def test_mix_mistakes_are_clear(tmp_path, mix, extra, message):
    parts(tmp_path)
    with pytest.raises(DataError, match=message):
        load_card(mix_card(tmp_path, mix, **extra))


def test_mix_with_other_source_keys_is_refused(tmp_path):
    news, reviews = parts(tmp_path)
    path = write_yaml(tmp_path / "bad.yaml", {"name": "m", "description": "d",
                                              "source": {"mix": [news, reviews], "format": "jsonl"}})
    with pytest.raises(DataError, match="a mixed source has only mix"):
        load_card(path)


def test_a_mix_that_contains_itself_is_refused(tmp_path):
    news, _ = parts(tmp_path)
    write_yaml(tmp_path / "a.yaml", {"name": "a", "description": "d", "source": {"mix": [news, "b.yaml"]}})
    write_yaml(tmp_path / "b.yaml", {"name": "b", "description": "d", "source": {"mix": [news, "a.yaml"]}})
    with pytest.raises(DataError, match="goes round in a circle"):
        load_card(tmp_path / "a.yaml")
