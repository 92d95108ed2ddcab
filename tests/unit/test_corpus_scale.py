"""Large local corpora: held-out documents chosen over Arrow, packing over Arrow batches, and
benchmarks/corpus_scale.py's stages on a tiny synthetic corpus (so the script keeps working)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import datasets
import pytest

from conftest import load_benchmark

from toolkit.data import load_corpus
from toolkit.families.gpt2.family import SPECIAL_TOKENS
from toolkit.recipe import TokenizerSettings
from toolkit.tasks.causal_lm import pack_blocks
from toolkit.tokenization import train_tokenizer

from .test_data import write_card



def test_held_out_documents_are_a_seeded_shuffle_of_the_sorted_documents(tmp_path):
    # Document ids with gaps and out of order, several rows each: the rule the splits keep is
    # "shuffle the sorted distinct ids with Random(seed), validation first, then test".
    ids = [7, 7, 3, 3, 3, 40, 12, 12, 5, 99, 99, 41, 8, 8, 8, 21, 30, 30, 2, 17]
    lines = [f'{{"text": "第{number}行。", "document": {doc}}}' for number, doc in enumerate(ids)]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines), encoding="utf-8")
    card = write_card(tmp_path, {"files": str(tmp_path / "rows.jsonl"), "format": "jsonl"},
                      views=["documents"], splits={"validation": 2, "test": 3, "seed": 4})
    corpus = load_corpus(card, view="documents")
    order = sorted(set(ids))
    random.Random(4).shuffle(order)
    expected = {"validation": set(order[:2]), "test": set(order[2:5])}
    expected["train"] = set(ids) - expected["validation"] - expected["test"]
    for split, documents in expected.items():
        rows = [(n, d) for n, d in enumerate(ids) if d in documents]
        assert corpus[split]["document"] == [d for _, d in rows]
        assert corpus[split]["text"] == [f"第{n}行。" for n, _ in rows]  # every row of a document, in order


def test_pack_blocks_ends_rows_with_eos_and_cuts_the_stream_per_batch():
    texts = [f"第{i}段" + "文" * (i % 7) for i in range(4100)]  # three packing batches of up to 2000 rows
    rows = datasets.Dataset.from_dict({"text": texts})
    tokenizer = train_tokenizer(TokenizerSettings(kind="char"), rows, SPECIAL_TOKENS)
    blocks = pack_blocks(rows, tokenizer, SimpleNamespace(data=SimpleNamespace(block_size=16)))
    expected = []
    for start in range(0, len(texts), 2000):  # what was packed with Python lists before
        ids = tokenizer(texts[start : start + 2000], add_special_tokens=False)["input_ids"]
        stream = [t for row in ids for t in row + [tokenizer.eos_token_id]]
        expected += [stream[i : i + 16] for i in range(0, len(stream) // 16 * 16, 16)]
    assert [row.tolist() for row in blocks["input_ids"]] == expected


@pytest.fixture(scope="module")
def corpus_scale():
    return load_benchmark("corpus_scale")


def test_benchmark_stages_run_on_a_tiny_corpus(corpus_scale, tmp_path, capsys):
    rows = corpus_scale.main(["--sizes", "0.1", "--in-process", "--markdown", "--workdir", str(tmp_path / "work")])
    assert [row["stage"] for row in rows] == ["build", "tokenizer (char)", "tokenizer (byte_bpe)", "pack"]
    assert 0.1 <= rows[0]["size_mb"] < 0.11
    assert all(n > 0 for n in rows[0]["rows"].values()) and set(rows[0]["rows"]) == {"train", "validation", "test"}
    assert rows[1]["vocab"] > 1000 and rows[3]["blocks"]["train"] > 100
    table = capsys.readouterr().out
    assert table.startswith("| corpus MB | stage |") and "anon MB peak" in table and table.count("\n| 0.1 |") == 4
    assert not (tmp_path / "work").exists()  # the corpus and caches are removed (no --keep)


def test_unknown_stage_is_refused(corpus_scale, capsys):
    with pytest.raises(SystemExit):
        corpus_scale.main(["--stages", "build,tokenise"])
    assert "--stages takes some of build, tokenizer, pack" in capsys.readouterr().err


def test_synthetic_corpus_is_shuffled_people_s_daily(corpus_scale, tmp_path):
    paths = corpus_scale.write_corpus(tmp_path, 0.05, seed=1)
    lines = paths[0].read_text(encoding="utf-8").splitlines()
    source = corpus_scale.source_lines()
    assert set(lines) <= set(source) and lines != list(source[: len(lines)])
