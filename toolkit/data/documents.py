"""Document ids for sources whose rows carry none: what a card's ``documents`` / ``document_rows`` say.

Documents matter twice: next-sentence prediction pairs a segment with the true continuation from
its own document, and held-out splits take whole documents. A source without marks can declare
``document_rows: N`` (blocks of N rows, which mix articles) or a named splitter under
``documents: {split_on: NAME}`` that recovers them from the text itself:

``title_lines`` -- newspaper layout (People's Daily): an article opens with lines that are not
sentences (headline, subtitle, author: no sentence-final punctuation) and goes on with paragraphs
that end in one. A run of consecutive non-sentence rows starts a new document. A row that is only
a bracketed note -- a photo caption credit "（新华社记者樊如钧摄）", a date line -- starts nothing:
it stays with the document it follows (or with the title run it sits in). Trailing brackets and
closing quotes are looked through, so "谢谢！（新华社北京１２月３１日电）" is a sentence and
"制约美经济扩展的深层次问题（附图片１张）" a title.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

Row = dict[str, Any]

# Ends of a sentence or of a clause that goes on in the next row (a colon before a quote or list,
# a comma before a line break): such a row is running text, not a title. Full-width and ASCII,
# since splitting runs before the card's preprocess steps (NFKC turns "！" into "!").
_RUNNING_TEXT_ENDS = set("。！？!?…；;：:，,、")
_CLOSING_QUOTES = set("”’」』》\"'")
_BRACKETS = {"）": "（", ")": "("}


def line_kind(text: str) -> str:
    """'sentence' (ends as running text does), 'title' (ends without punctuation) or 'note' (only
    a bracketed remark), looking through trailing brackets and closing quotes."""
    text = text.strip()
    while text:
        if text[-1] in _BRACKETS:
            opening = text.rfind(_BRACKETS[text[-1]])
            if opening < 0:
                break  # an unmatched bracket: judge the row by it
            text = text[:opening].rstrip()
        elif text[-1] in _CLOSING_QUOTES:
            text = text[:-1].rstrip()
        else:
            break
    if not text:
        return "note"
    return "sentence" if text[-1] in _RUNNING_TEXT_ENDS else "title"


def split_on_title_lines(rows: Iterable[Row]) -> Iterator[Row]:
    """Number documents: a new one at the first row of each run of title rows (notes neither start
    nor end a run)."""
    document, previous = -1, "sentence"
    for row in rows:
        kind = line_kind(row["text"] if row.get("text") is not None else "".join(row["words"]))
        if document < 0 or (kind == "title" and previous != "title"):
            document += 1
        if kind != "note":
            previous = kind
        yield {**row, "document": document}


SPLITTERS: dict[str, Callable[[Iterable[Row]], Iterator[Row]]] = {
    "title_lines": split_on_title_lines,
}


def with_documents(rows: Iterable[Row], split_on: str | None, document_rows: int | None) -> Iterable[Row]:
    """Rows with a ``document`` id from the card's rule: a named splitter numbers every row (the card
    asked for it); ``document_rows`` numbers rows that do not already carry a document."""
    if split_on:
        return SPLITTERS[split_on](rows)
    if document_rows:
        return (row if "document" in row else {**row, "document": number // document_rows}
                for number, row in enumerate(rows))
    return rows
