"""Seq2seq data: the source_target view, cards derived by a named transform (pinyin -> characters),
parallel corpora from a package and from Hub-shaped local files, and their errors."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from toolkit.data import load_card, load_corpus
from toolkit.data.pinyin import pinyin_pairs
from toolkit.data.transforms import PinyinOptions
from toolkit.errors import DataError


def write_yaml(path, card: dict) -> str:
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return str(path)


def small_parent(tmp_path, paragraphs: int = 40) -> str:
    """A People's Daily shaped (word/POS) corpus: 4 sentences a paragraph, 2 paragraphs a document."""
    lines = [f"第/m {i}/m 段/q 的/u 北京/ns 银行/n 行长/n 说/v 了/y 。/w  我们/r 今天/t 都/d 很/d 高兴/a !/w  "
             f"他/r 说/v :/w “/w 好/a 。/w ”/w  短/a 句/n 。/w" for i in range(paragraphs)]
    (tmp_path / "pd.txt").write_text("\n".join(lines), encoding="utf-8")
    return write_yaml(tmp_path / "parent.yaml", {
        "name": "parent", "description": "word/POS corpus", "source": {"files": str(tmp_path / "pd.txt"), "format": "word_pos"},
        "document_rows": 2, "splits": {"validation": 0.2, "test": 0.2, "seed": 0},
        "views": ["text", "words", "pos_tags", "documents"],
    })


def derived_card(tmp_path, parent: str, name: str = "derived.yaml", **extra) -> str:
    source = {"derived_from": parent, "transform": "pinyin_to_chars", "options": {"min_chars": 4, "max_chars": 25}}
    source.update(extra.pop("source", {}))
    return write_yaml(tmp_path / name, {"name": "derived", "description": "pinyin pairs", "source": source,
                                        "views": ["source_target"], **extra})


# --------------------------------------------------------------------------- the view


def test_card_without_source_target_is_refused_naming_its_views():
    with pytest.raises(DataError) as caught:
        load_corpus("peoples_daily_1998", view="source_target", max_rows=50)
    message = str(caught.value)
    assert "peoples_daily_1998" in message and "'source_target' view" in message
    assert "text, words, pos_tags, documents, word_documents" in message and "derived_from" in message


# --------------------------------------------------------------------------- the pinyin transform


def test_pinyin_reads_the_corpus_segmentation_and_keeps_one_token_per_character():
    rows = [{"text": "行长在1998年说了。", "words": ["行长", "在", "1998", "年", "说", "了", "。"], "document": 3},
            {"text": "行长", "words": ["行", "长"]}]  # too short: dropped by min_chars
    pairs = list(pinyin_pairs(iter(rows), PinyinOptions(min_chars=4, max_chars=25)))
    assert pairs == [{"source": "hang2 zhang3 zai4 1 9 9 8 nian2 shuo1 le5 。", "target": "行长在1998年说了。", "document": 3}]
    # The same characters cut into other words read otherwise: the segmentation is what is read.
    apart = list(pinyin_pairs(iter([{"text": "行长行长", "words": ["行", "长", "行", "长"]}]), PinyinOptions(min_chars=4)))
    assert apart[0]["source"].split()[:2] != ["hang2", "zhang3"]
    skip = PinyinOptions(min_chars=4, non_chinese="skip_sentence")
    assert list(pinyin_pairs(iter(rows[:1]), skip)) == []
    assert list(pinyin_pairs(iter([{"text": "今天很高兴"}]), PinyinOptions(min_chars=4, style="tone"))) == [
        {"source": "jīn tiān hěn gāo xìng", "target": "今天很高兴"}]


def test_pinyin_pd98_pairs_align_and_keep_documents_apart():
    corpus = load_corpus("pinyin_pd98", view="source_target", max_rows=200)
    assert set(corpus) == {"train", "validation", "test"} and corpus["train"].column_names == ["source", "target"]
    for split in corpus.values():
        for row in split:
            tokens, chars = row["source"].split(), row["target"]
            assert len(tokens) == len(chars) and 8 <= len(chars) <= 25
            for token, char in zip(tokens, chars):
                # A read syllable ends in its tone digit; an unread character stands for itself.
                assert token == char or (token[-1] in "12345" and token[:-1].isalpha() and token[:-1].isascii())
    full = load_corpus("pinyin_pd98", max_rows=200)
    documents = {split: set(ds["document"]) for split, ds in full.items()}
    assert not documents["train"] & (documents["validation"] | documents["test"])
    assert not documents["validation"] & documents["test"]


# --------------------------------------------------------------------------- derived cards


def test_derived_rows_stay_in_their_parent_documents_split(tmp_path):
    parent = load_corpus(small_parent(tmp_path), max_rows=None)
    derived = load_corpus(derived_card(tmp_path, "parent.yaml"))  # a parent file next to the card
    assert set(derived) == set(parent) == {"train", "validation", "test"}
    for split in derived:
        assert set(derived[split]["document"]) <= set(parent[split]["document"])
    targets = derived["train"]["target"]
    assert "他说:“好。”" in targets  # the closing quote stays with its sentence
    assert "短句。" not in targets  # 3 characters, below min_chars 4


def test_derived_card_with_its_own_splits_resplits_by_document(tmp_path):
    parent = small_parent(tmp_path)
    derived = load_corpus(derived_card(tmp_path, parent, splits={"validation": 0.5, "test": 0.1, "seed": 1}))
    documents = {split: set(ds["document"]) for split, ds in derived.items()}
    assert len(documents["validation"]) == 10 and len(documents["test"]) == 2  # of 20 documents
    assert not documents["train"] & (documents["validation"] | documents["test"])


def test_derived_cache_is_keyed_on_options_and_parent_files(tmp_path):
    parent = small_parent(tmp_path)
    first = load_corpus(derived_card(tmp_path, parent))
    again = load_corpus(derived_card(tmp_path, parent))
    assert again["train"].cache_files == first["train"].cache_files  # read back from the cache
    longer = load_corpus(derived_card(tmp_path, parent, source={"options": {"min_chars": 8}}))
    assert longer["train"].cache_files != first["train"].cache_files
    assert min(map(len, longer["train"]["target"])) >= 8 > min(map(len, first["train"]["target"]))
    with open(tmp_path / "pd.txt", "a", encoding="utf-8") as handle:
        handle.write("\n新/a 段/q 落/v 的/u 句子/n 。/w")
    changed = load_corpus(derived_card(tmp_path, parent))
    assert sum(map(len, changed.values())) == sum(map(len, first.values())) + 1


def test_unknown_transform_and_bad_options_are_named(tmp_path):
    with pytest.raises(DataError, match=r"unknown transform 'pinyin_to_char' \(did you mean 'pinyin_to_chars'\?\); transforms: pinyin_to_chars"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", source={"transform": "pinyin_to_char"}))
    with pytest.raises(DataError, match=r"transform pinyin_to_chars options: max_chr: Extra inputs.*its options: min_chars, max_chars"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", source={"options": {"max_chr": 9}}))
    with pytest.raises(DataError, match=r"min_chars \(30\) is above max_chars \(25\)"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", source={"options": {"min_chars": 30}}))


def test_derived_card_mistakes_are_clear(tmp_path):
    with pytest.raises(DataError, match="a derived source has only derived_from, transform and options; format"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", source={"format": "jsonl"}))
    with pytest.raises(DataError, match="document_rows: a derived card's rows come from its parent's"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", document_rows=5))
    with pytest.raises(DataError, match=r"transform pinyin_to_chars gives source_target, not text"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", views=["source_target", "text"]))
    with pytest.raises(DataError, match=r"preprocess: \['nfkc'\] work on the text column"):
        load_card(derived_card(tmp_path, "peoples_daily_1998", preprocess=["nfkc", "dedupe"]))
    with pytest.raises(DataError, match="needs source.transform"):
        load_card(write_yaml(tmp_path / "t.yaml", {"name": "t", "description": "d", "source": {"derived_from": "x"}}))
    write_yaml(tmp_path / "a.yaml", {"name": "a", "description": "d", "views": ["source_target"],
                                     "source": {"derived_from": "b.yaml", "transform": "pinyin_to_chars"}})
    write_yaml(tmp_path / "b.yaml", {"name": "b", "description": "d", "views": ["source_target"],
                                     "source": {"derived_from": "a.yaml", "transform": "pinyin_to_chars"}})
    with pytest.raises(DataError, match="goes round in a circle"):
        load_card(tmp_path / "a.yaml")
    with pytest.raises(DataError, match=r"reads column\(s\) text, which parent card 'hsk_en_zh' does not give \(its views: source_target\)"):
        load_corpus(derived_card(tmp_path, "hsk_en_zh"))


# --------------------------------------------------------------------------- parallel corpora


def test_hsk_sentences_from_the_package():
    card = load_card("hsk_en_zh")
    assert "CC-BY-SA-4.0" in card.license
    corpus = load_corpus(card, view="source_target")
    assert {split: len(ds) for split, ds in corpus.items()} == {"train": 3916, "validation": 218, "test": 218}
    assert corpus["test"]["source"] == load_corpus(card, view="source_target")["test"]["source"]  # seeded
    row = corpus["train"][0]
    assert row["source"].isascii() and not row["target"].isascii()


def hub_card_on_local_files(tmp_path, name: str, files, fmt: str) -> str:
    """A bundled Hub card whose source is local files of the same format (through the same code)."""
    card = load_card(name).model_dump(exclude_none=True)
    card["source"] = {"files": files, "format": fmt, "columns": card["source"]["columns"]}
    return write_yaml(tmp_path / f"{name}.yaml", card)


def test_news_commentary_card_reads_translation_pairs(tmp_path):
    pairs = [{"en": f"Sentence {i}.", "zh": f"第{i}句。"} for i in range(2010)] + [{"en": "Orphan line.", "zh": ""}]
    path = tmp_path / "nc.jsonl"
    path.write_text("\n".join(json.dumps({"id": str(i), "translation": p}, ensure_ascii=False) for i, p in enumerate(pairs)),
                    encoding="utf-8")
    corpus = load_corpus(hub_card_on_local_files(tmp_path, "news_commentary_en_zh", str(path), "jsonl"), view="source_target")
    assert {split: len(ds) for split, ds in corpus.items()} == {"train": 10, "validation": 1000, "test": 1000}
    row = corpus["train"][0]
    assert row["source"].startswith("Sentence ") and row["target"] == f"第{row['source'].split()[1][:-1]}句。"


def test_wmt19_card_reads_parquet_with_given_splits(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split, n in (("train", 6), ("validation", 2)):
        rows = [{"zh": f"{split}第{i}句。", "en": f"{split} sentence {i}."} for i in range(n)]
        pq.write_table(pa.table({"translation": rows}), tmp_path / f"{split}-00000.parquet")
    files = {split: str(tmp_path / f"{split}-*.parquet") for split in ("train", "validation")}
    corpus = load_corpus(hub_card_on_local_files(tmp_path, "wmt19_zh_en", files, "parquet"), view="source_target")
    assert {split: len(ds) for split, ds in corpus.items()} == {"train": 6, "validation": 2}
    assert corpus["validation"][1] == {"source": "validation第1句。", "target": "validation sentence 1."}


@pytest.mark.parametrize("name, hub_id", [("news_commentary_en_zh", "Helsinki-NLP/news_commentary"), ("wmt19_zh_en", "wmt/wmt19")])
def test_parallel_hub_cards_offline_error_is_clear(name, hub_id):
    assert load_card(name).views == ["source_target"]
    with pytest.raises(DataError) as caught:
        load_corpus(name, view="source_target")
    message = str(caught.value)
    assert hub_id in message and "offline" in message and "\n" not in message


def test_missing_nested_field_is_named(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"zh": "一", "translation": {"en": "one"}}, {"zh": "二", "translation": {"de": "zwei"}}]),
                    encoding="utf-8")
    card = write_yaml(tmp_path / "c.yaml", {
        "name": "c", "description": "d", "views": ["source_target"], "splits": {"validation": 0, "test": 0},
        "source": {"files": str(path), "format": "json_records", "columns": {"translation.en": "source", "zh": "target"}}})
    with pytest.raises(DataError, match=r"r.json, row 1: no field 'translation.en': translation has no 'en' \(it has de\)"):
        load_corpus(card)


def test_streaming_card_reads_nested_columns(tmp_path):
    from toolkit.data import load_streaming_corpus

    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps({"translation": {"en": f"s{i}", "zh": f"句{i}"}}, ensure_ascii=False) for i in range(5)),
                    encoding="utf-8")
    card = write_yaml(tmp_path / "c.yaml", {
        "name": "c", "description": "d", "views": ["source_target"], "splits": {"validation": 1, "test": 1},
        "source": {"files": str(path), "format": "jsonl", "streaming": True,
                   "columns": {"translation.en": "source", "translation.zh": "target"}}})
    splits = load_streaming_corpus(card, view="source_target")
    assert list(splits["validation"]) == [{"source": "s0", "target": "句0"}] and len(list(splits["train"])) == 3


def test_data_show_prints_sample_pairs_and_list_names_the_parent(capsys):
    from toolkit.cli import main
    from toolkit.data.sources import check_card_files

    assert check_card_files("pinyin_pd98").source.derived_from == "peoples_daily_1998"
    assert main(["data", "show", "hsk_en_zh", "--samples", "2"]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"^columns +source, target$", shown, re.M)
    assert len(re.findall(r"^ +[12]  source  \S", shown, re.M)) == 2 and len(re.findall(r"^ {5}target  \S", shown, re.M)) == 2
    assert main(["data", "list"]) == 0
    assert "pinyin_to_chars(peoples_daily_1998)" in capsys.readouterr().out
