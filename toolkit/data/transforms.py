"""Named transforms that derive a card's rows from another card's rows (``source.derived_from``).

A transform reads the parent corpus split by split, so a derived row stays in the split of the
row it came from (and so of its document). The table is small and closed: a card names a
transform and gives its options, which are checked here when the card is read. The code that does
the work is imported only when rows are made (pypinyin is not needed to read a card).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import did_you_mean

Row = dict[str, Any]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PinyinOptions(_Options):
    """Options of pinyin_to_chars (see toolkit.data.pinyin)."""

    min_chars: int = Field(8, ge=1, description="Shortest sentence kept, in characters (punctuation included).")
    max_chars: int = Field(25, ge=1, description="Longest sentence kept, in characters.")
    style: Literal["tone3", "tone", "normal"] = Field(
        "tone3", description="tone3: ASCII syllable + tone digit 1-5 (zhong1); tone: tone marks (zhōng); normal: no tone."
    )
    non_chinese: Literal["keep", "skip_sentence"] = Field(
        "keep", description="keep: a character without a reading (digit, letter, punctuation) is its own syllable; "
        "skip_sentence: drop sentences holding one."
    )

    @model_validator(mode="after")
    def _range(self) -> PinyinOptions:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) is above max_chars ({self.max_chars})")
        return self


@dataclass(frozen=True)
class Transform:
    description: str
    options: type[_Options]
    needs: tuple[str, ...]  # columns the parent card's views must provide
    views: tuple[str, ...]  # views the derived rows can give
    function: str  # "module:function" inside toolkit.data, called as function(rows, options)

    def run(self, rows: Iterator[Row], options: dict[str, Any]) -> Iterator[Row]:
        module, _, name = self.function.partition(":")
        fn: Callable[[Iterator[Row], Any], Iterator[Row]] = getattr(
            importlib.import_module(f"{__package__}.{module}"), name
        )
        return fn(rows, self.options.model_validate(options))


TRANSFORMS: dict[str, Transform] = {
    "pinyin_to_chars": Transform(
        description="sentences of the parent -> (toned pinyin syllables, the characters), one syllable per character",
        options=PinyinOptions,
        needs=("text",),
        views=("source_target",),
        function="pinyin:pinyin_pairs",
    ),
}


def check_transform(name: str, options: dict[str, Any]) -> Transform:
    """The named transform, after checking its options; ValueError naming what is wrong."""
    if name not in TRANSFORMS:
        raise ValueError(
            f"unknown transform '{name}'{did_you_mean(name, TRANSFORMS)}; transforms: {', '.join(TRANSFORMS)}"
        )
    transform = TRANSFORMS[name]
    try:
        transform.options.model_validate(options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
        allowed = ", ".join(transform.options.model_fields)
        raise ValueError(f"transform {name} options: {problems} (its options: {allowed})") from None
    return transform
