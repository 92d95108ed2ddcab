"""Streaming training data: held-out rows, shards, block packing and its exact resume."""

from __future__ import annotations

import itertools
import json
import os

import pytest
import yaml

from toolkit.errors import DataError, ToolkitError


def jsonl_corpus(folder, files: int = 2, rows: int = 60) -> str:
    """``files`` jsonl files of distinct short documents; returns their glob."""
    for f in range(files):
        lines = [json.dumps({"body": f"第{f}号文件第{i}篇。" + "内容" * (i % 5)}, ensure_ascii=False) for i in range(rows)]
        (folder / f"part{f}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(folder / "part*.jsonl")


def card_file(folder, source: dict, **extra) -> str:
    card = {"name": "streamed", "description": "test corpus", "source": source, **extra}
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return str(path)


def streamed_card(tmp_path, streaming: bool = False, **extra):
    from toolkit.data import load_card

    source = {"files": jsonl_corpus(tmp_path), "format": "jsonl", "columns": {"body": "text"}, "streaming": streaming}
    return load_card(card_file(tmp_path, source, **{"splits": {"validation": 3, "test": 2}, **extra}))


def test_first_rows_are_held_out_and_never_trained_on_by_any_shard(tmp_path):
    from toolkit.data.stream import open_stream, shard

    train, held = open_stream(streamed_card(tmp_path), ["text"])
    assert [row["text"] for row in held["validation"]] == ["第0号文件第0篇。", "第0号文件第1篇。内容", "第0号文件第2篇。内容内容"]
    assert len(held["test"]) == 2
    seen = [[row["text"] for row in shard(train, rank, 2)] for rank in range(2)]
    held_texts = {row["text"] for rows in held.values() for row in rows}
    assert not set(seen[0]) & set(seen[1])
    assert not (set(seen[0]) | set(seen[1])) & held_texts
    assert len(seen[0]) + len(seen[1]) == 120 - 5  # every other row trains, on exactly one process


def test_text_files_stream_without_blank_lines(tmp_path):
    from toolkit.data import load_card
    from toolkit.data.stream import open_stream

    (tmp_path / "a.txt").write_text("  第一行。 \n\n第二行。\n第三行。\n", encoding="utf-8")
    card = load_card(card_file(tmp_path, {"files": str(tmp_path / "a.txt")}, splits={"validation": 1, "test": 0}))
    train, held = open_stream(card, ["text"])
    assert held == {"validation": [{"text": "第一行。"}]}
    assert [row["text"] for row in train] == ["第二行。", "第三行。"]


@pytest.mark.parametrize("change, says", [
    ({"splits": {"validation": 0.01, "test": 0}}, "a number of rows"),
    ({"preprocess": ["dedupe"]}, "bounded memory"),
])
def test_cards_a_stream_cannot_follow_are_refused(tmp_path, change, says):
    from toolkit.data.stream import check_streamable

    with pytest.raises(DataError, match=says):
        check_streamable(streamed_card(tmp_path, **change))


def test_a_package_card_is_not_streamed():
    from toolkit.data import load_card
    from toolkit.data.stream import check_streamable

    with pytest.raises(DataError, match="built whole"):
        check_streamable(load_card("peoples_daily_1998"))


def test_a_recipe_asking_a_task_that_cannot_stream_is_refused_at_load():
    from toolkit.errors import RecipeError
    from toolkit.registry import load_recipe

    with pytest.raises(RecipeError, match="tasks that do: bert_pretrain, bilm, causal_lm"):
        load_recipe("bert/tiny_sentiment", ["data.streaming=true"])
    assert load_recipe("gpt2/tiny_pretrain", ["data.streaming=true"]).data.streaming


def test_a_streaming_card_for_a_task_that_cannot_stream_says_which_can(tmp_path):
    """The card, not the recipe, asks for a stream: said when the run starts, before any reading."""
    from types import SimpleNamespace

    from toolkit.tasks.classify import TASK
    from toolkit.tasks.streaming import check_stream_run

    recipe = SimpleNamespace(data=SimpleNamespace(streaming=None), train=SimpleNamespace(num_workers=0))
    with pytest.raises(ToolkitError, match=r"source.streaming: true\) asks for one. Tasks that do: bert_pretrain, bilm, causal_lm"):
        check_stream_run(TASK, recipe, streamed_card(tmp_path, streaming=True))


def test_every_task_declared_streaming_can_stream():
    from toolkit import registry

    streaming = [name for name, entry in registry.task_entries().items() if entry.streams]
    assert streaming
    for name in streaming:
        assert registry.task(name).stream_encode is not None, name


def char_tokenizer():
    from toolkit.recipe import TokenizerSettings
    from toolkit.tokenization import train_tokenizer

    return train_tokenizer(TokenizerSettings(), ["第号文件篇。内容0123456789"], {"eos_token": "<eos>", "pad_token": "<eos>"})


def test_a_loader_resumed_from_any_batch_continues_with_the_same_batches(tmp_path):
    """The state after batch k (JSON round trip, as in a checkpoint) gives batches k+1... as the
    uninterrupted loader does, within a pass and across the end of one."""
    from toolkit.data.stream import open_stream
    from toolkit.tasks.causal_lm import collate_blocks
    from toolkit.tasks.stream_blocks import PackedBlocks, StreamLoader

    card, tokenizer = streamed_card(tmp_path), char_tokenizer()

    def loader(state=None):
        made = StreamLoader(PackedBlocks(open_stream(card, ["text"])[0], tokenizer, 16), 4, collate_blocks(None, None, False))
        if state is not None:
            made.load_state_dict(json.loads(json.dumps(state)))
        return made

    straight = loader()
    batches = [b["input_ids"].tolist() for b in itertools.islice(straight, 60)]
    assert straight.passes >= 2, "the stream should be gone round more than once"
    first = list(itertools.chain.from_iterable(batches[0]))
    assert tokenizer.eos_token_id in first[:40], "documents run on into the next one within a block"
    for at in (1, 9, 17, 18, 33, 45):
        stopped = loader()
        list(itertools.islice(stopped, at + 2))  # read ahead of the state asked for, as a step in progress does
        resumed = loader(stopped.state_dict(at))
        assert [b["input_ids"].tolist() for b in itertools.islice(resumed, 60 - at)] == batches[at:], at


def test_a_stream_too_short_for_a_batch_is_an_error(tmp_path):
    from toolkit.data.stream import open_stream
    from toolkit.tasks.causal_lm import collate_blocks
    from toolkit.tasks.stream_blocks import PackedBlocks, StreamLoader

    card = streamed_card(tmp_path)
    made = StreamLoader(PackedBlocks(open_stream(card, ["text"])[0], char_tokenizer(), 64), 1000, collate_blocks(None, None, False))
    with pytest.raises(ToolkitError, match="fewer than train.batch_size=1000"):
        next(iter(made))


def test_a_card_with_its_own_validation_files_streams_whatever_its_splits_say(tmp_path):
    """splits.validation (a share by default) is for carving held-out rows; given files need none."""
    from toolkit.data import load_card
    from toolkit.data.stream import check_streamable, open_stream

    jsonl_corpus(tmp_path, files=1, rows=10)
    (tmp_path / "held.jsonl").write_text(json.dumps({"body": "留出的一篇。"}, ensure_ascii=False) + "\n", encoding="utf-8")
    source = {"files": {"train": str(tmp_path / "part0.jsonl"), "validation": str(tmp_path / "held.jsonl")},
              "format": "jsonl", "columns": {"body": "text"}}
    card = load_card(card_file(tmp_path, source))
    check_streamable(card)
    train, held = open_stream(card, ["text"])
    assert held == {"validation": [{"text": "留出的一篇。"}]}
    assert len(list(train)) == 10


def test_a_stream_gets_tokenizer_threads_unless_the_user_turned_them_off(monkeypatch):
    """The CLI's own default (threads off, for forking DataLoader workers) is lifted for a stream,
    which tokenizes in the training process; a user's TOKENIZERS_PARALLELISM=false is kept."""
    from toolkit.tasks.tokenizer_threads import TOKENIZER_THREADS_DEFAULTED, allow_tokenizer_threads

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv(TOKENIZER_THREADS_DEFAULTED, "1")  # as the CLI leaves it when it chose "false"
    assert allow_tokenizer_threads() is True
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")  # the user's own choice: no marker
    assert allow_tokenizer_threads() is False
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
