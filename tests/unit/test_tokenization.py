"""Tokenizers: trained from the corpus, padded to a multiple of 64, loadable by AutoTokenizer."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from toolkit.data import load_corpus
from toolkit.families.gpt2.family import SPECIAL_TOKENS
from toolkit.recipe import TokenizerSection
from toolkit.tokenization import train_tokenizer, unknown_rate, unused_token_ids


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("peoples_daily_1998", view="text", max_rows=400)


@pytest.mark.parametrize("kind", ["char", "byte_bpe", "word_char"])
def test_trained_tokenizer_round_trips_and_reloads(kind, corpus, tmp_path):
    tokenizer = train_tokenizer(TokenizerSection(kind=kind, vocab_size=600 if kind == "byte_bpe" else None),
                                corpus["train"], SPECIAL_TOKENS)
    assert len(tokenizer) % 64 == 0
    # Held-out documents use characters 400 paragraphs never showed; a broken tokenizer floods [UNK].
    assert unknown_rate(tokenizer, corpus["validation"]["text"]) < 0.1
    text = corpus["train"][0]["text"]  # every character seen in training: exact round trip
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert again.eos_token == "<|endoftext|>" and again.pad_token == "[PAD]"


def test_char_tokenizer_gives_each_character_a_token(corpus):
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), corpus["train"], SPECIAL_TOKENS)
    assert tokenizer.tokenize("中国人民") == ["中", "国", "人", "民"]
    padding = unused_token_ids(tokenizer)
    assert padding and min(padding) >= len(tokenizer) - 64
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "[PAD]", "[UNK]"]) == [0, 1, 2]


def test_word_char_tokenizer_splits_words_and_characters_and_decodes_both():
    pairs = ["zhong1 guo2 ren2 min2", "中国人民，今天好。", "I like green tea, don't you?", "2026年 GDP增长"]
    tokenizer = train_tokenizer(TokenizerSection(kind="word_char"), pairs, SPECIAL_TOKENS)
    assert tokenizer.tokenize("zhong1 guo2") == ["▁zhong1", "▁guo2"]  # a pinyin syllable is one token
    assert tokenizer.tokenize("中国人民") == ["中", "国", "人", "民"]
    # A word seen only inside sentences is known at the start of one too.
    assert tokenizer.tokenize("green tea, don't") == ["▁green", "▁tea", ",", "▁don", "'", "t"]
    for text in pairs:  # spaces come back between words, never between Chinese characters
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
