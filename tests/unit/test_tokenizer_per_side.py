"""The recipe's tokenizer per side (tokenizer.per_side, tokenizer.source / tokenizer.target): how it
reads, what it refuses, and the check that both sides give the special tokens the same ids."""

from __future__ import annotations

import pytest
import yaml

from toolkit.errors import RecipeError, ToolkitError
from toolkit.registry import checked_recipe_from_dict, load_recipe

HSK = "transformer_seq2seq/tiny_hsk"


def _error(recipe: str, *overrides: str) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, list(overrides))
    message = str(caught.value)
    assert "\n" not in message  # one paragraph, as every recipe error
    return message


def test_a_side_takes_the_sections_settings_with_its_own_on_top_and_round_trips():
    recipe = load_recipe(HSK, ["tokenizer={kind: word_char, min_frequency: 2, target: {kind: char}}"])
    tokenizer = recipe.tokenizer
    assert tokenizer.per_side  # giving a side is asking for a tokenizer per side
    assert (tokenizer.side("source").kind, tokenizer.side("source").min_frequency) == ("word_char", 2)
    assert (tokenizer.side("target").kind, tokenizer.side("target").min_frequency) == ("char", 2)
    again = checked_recipe_from_dict(yaml.safe_load(recipe.to_yaml()))  # a run folder's recipe.yaml
    assert again.tokenizer == tokenizer

    both = load_recipe(HSK, ["tokenizer={kind: word_char, per_side: true}"]).tokenizer
    assert both.side("source") == both.side("target") and both.side("target").kind == "word_char"
    shared = load_recipe("transformer_seq2seq/tiny_pinyin").tokenizer
    assert shared.per_side is False and shared.source is None and shared.target is None


def test_per_side_misuse_is_refused_in_one_paragraph():
    message = _error(HSK, "tokenizer={per_side: false, target: {kind: char}}")
    assert "tokenizer.target" in message and "per_side" in message
    message = _error(HSK, "tokenizer={target: {knd: char}}")
    assert "tokenizer.target.knd" in message and "did you mean 'kind'" in message
    assert "'tokenizer.source.kind'" in _error(HSK, "tokenizer={source: {kind: words}}")
    message = _error("gpt2/tiny_pretrain", "tokenizer={per_side: true}")
    assert "task causal_lm reads no pairs" in message and "seq2seq" in message
    message = _error(HSK, "tokenizer={per_side: true}", "model.config={share_encoder_decoder_embeddings: true}")
    assert "model.config.share_encoder_decoder_embeddings: true" in message and "must be false" in message
    assert "model.init_from brings its own tokenizer" in _error(HSK, "model.init_from=runs/x", "tokenizer={per_side: true}")


def test_the_sides_must_give_the_special_tokens_the_same_ids():
    from toolkit.recipe import TokenizerSettings
    from toolkit.tasks.seq2seq_section import SPECIAL_TOKENS
    from toolkit.tokenization import train_tokenizer
    from toolkit.tokenizer_sides import pair, target_side

    source = train_tokenizer(TokenizerSettings(kind="word_char"), ["I like tea", "where is it"], SPECIAL_TOKENS)
    target = train_tokenizer(TokenizerSettings(kind="char"), ["我喜欢茶", "在哪儿"], SPECIAL_TOKENS)
    assert target_side(source) is source  # one shared tokenizer is its own target side
    assert target_side(pair(source, target, "test")) is target

    reordered = dict(reversed(SPECIAL_TOKENS.items()))  # the same tokens, added in another order
    other = train_tokenizer(TokenizerSettings(kind="char"), ["我喜欢茶"], reordered)
    with pytest.raises(ToolkitError, match=r"bos_token '<s>': id 0 \(source\) vs 3 \(target\)"):
        pair(source, other, "test")
