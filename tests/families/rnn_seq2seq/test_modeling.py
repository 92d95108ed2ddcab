"""The rnn_seq2seq model: generation (cache, beams, options), attention maps, loss, scheduled
sampling, loading from a saved folder without toolkit, the family declaration, and a toy task on
which attention must beat the plain encoder-decoder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from toolkit.families.rnn_seq2seq.configuration_rnn_seq2seq import ATTENTIONS, RnnSeq2SeqConfig
from toolkit.families.rnn_seq2seq.family import FAMILY
from toolkit.families.rnn_seq2seq.modeling_rnn_seq2seq import RnnSeq2SeqForConditionalGeneration

PAD, BOS, EOS, UNK = 0, 1, 2, 3
CELLS = ("gru", "lstm")
WITH_ATTENTION = tuple(kind for kind in ATTENTIONS if kind != "none")


def tiny_model(cell="gru", attention="luong_general", **overrides) -> RnnSeq2SeqForConditionalGeneration:
    torch.manual_seed(0)
    fields = dict(vocab_size=30, cell=cell, attention=attention, num_layers=2, hidden_size=16, embedding_size=8,
                  bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    model = RnnSeq2SeqForConditionalGeneration(RnnSeq2SeqConfig(**{**fields, **overrides})).eval()
    model.generation_config.eos_token_id = None  # never stop early, so every step is compared
    return model


def padded_sources():
    """Three sources: full, right-padded (last 2) and left-padded (first 3), no special ids inside."""
    torch.manual_seed(1)
    ids = torch.randint(4, 30, (3, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, :3] = 0
    return ids.masked_fill(mask == 0, PAD), mask


def generate(model, ids, mask, **kwargs):
    return model.generate(ids, attention_mask=mask, max_new_tokens=6, **kwargs)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_generation_with_cache_equals_without_for_greedy_and_beams(cell, attention):
    """The cache (recurrent state + input feed) and its beam reordering change nothing but speed."""
    model = tiny_model(cell, attention)
    ids, mask = padded_sources()
    greedy = generate(model, ids, mask, do_sample=False)
    assert torch.equal(greedy, generate(model, ids, mask, do_sample=False, use_cache=False))
    beams = dict(num_beams=3, num_return_sequences=2, do_sample=False)
    cached = generate(model, ids, mask, **beams)
    assert cached.shape == (6, 7)
    assert torch.equal(cached, generate(model, ids, mask, use_cache=False, **beams))


@pytest.mark.parametrize("cell", CELLS)
def test_greedy_is_the_argmax_of_full_passes_and_beam_search_with_one_beam(cell):
    model = tiny_model(cell, "bahdanau")
    ids, mask = padded_sources()
    expected = torch.full((3, 1), BOS)
    for _ in range(6):
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=expected).logits[:, -1]
        expected = torch.cat([expected, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(generate(model, ids, mask, do_sample=False), expected)
    assert torch.equal(generate(model, ids, mask, do_sample=False, num_beams=1), expected)
    from_embeds = model.generate(inputs_embeds=model.get_input_embeddings()(ids), attention_mask=mask, max_new_tokens=6,
                                 do_sample=False)
    assert torch.equal(from_embeds, expected)


@pytest.mark.parametrize("cell", CELLS)
def test_beam_scores_are_those_of_the_returned_sequences(cell):
    """Each returned beam's score is its own log-probability (over length ** length_penalty),
    recomputed from scratch: a beam that kept another beam's state would not match."""
    model = tiny_model(cell, "luong_concat")
    ids, mask = padded_sources()
    out = generate(model, ids, mask, num_beams=4, num_return_sequences=4, length_penalty=0.7,
                   return_dict_in_generate=True, output_scores=True)
    sequences = out.sequences
    logits = model(input_ids=ids.repeat_interleave(4, 0), attention_mask=mask.repeat_interleave(4, 0),
                   decoder_input_ids=sequences[:, :-1]).logits
    log_probs = torch.log_softmax(logits.float(), -1).gather(-1, sequences[:, 1:, None]).squeeze(-1)
    assert torch.allclose(out.sequences_scores, log_probs.sum(1) / 6**0.7, atol=1e-5)
    assert len({tuple(row) for row in sequences[:4].tolist()}) == 4  # four distinct beams per source


def test_sampling_no_repeat_ngrams_and_length_penalty():
    model = tiny_model("lstm", "luong_dot")
    ids, mask = padded_sources()
    torch.manual_seed(3)
    first = generate(model, ids, mask, do_sample=True, top_k=5, num_return_sequences=2)
    torch.manual_seed(3)
    assert torch.equal(first, generate(model, ids, mask, do_sample=True, top_k=5, num_return_sequences=2))
    assert first.shape == (6, 7)
    plain = generate(model, ids, mask, do_sample=False, num_beams=3)
    unrepeated = generate(model, ids, mask, do_sample=False, num_beams=3, no_repeat_ngram_size=2)
    for row in unrepeated.tolist():
        pairs = list(zip(row[1:], row[2:]))
        assert len(pairs) == len(set(pairs))
    assert not all(len(set(zip(r[1:], r[2:]))) == len(r) - 2 for r in plain.tolist())  # the option had work to do


@pytest.mark.parametrize("attention", WITH_ATTENTION)
def test_attention_rows_sum_to_one_and_put_no_weight_on_padding(attention):
    model = tiny_model("gru", attention)
    ids, mask = padded_sources()
    out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.randint(4, 30, (3, 5)),
                output_attentions=True)
    (weights,) = out.cross_attentions
    assert weights.shape == (3, 1, 5, 7)  # (batch, head, target, source): one layer, one head
    assert torch.allclose(weights.sum(-1), torch.ones(3, 1, 5), atol=1e-6)
    padding = (mask == 0)[:, None, None, :].expand_as(weights)
    assert weights[padding].abs().max() == 0
    assert weights[~padding].min() > 0


def test_no_attention_has_no_maps():
    model = tiny_model("gru", "none")
    ids, mask = padded_sources()
    assert model(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :3], output_attentions=True).cross_attentions is None


@pytest.mark.parametrize("cell", CELLS)
def test_padding_on_either_side_gives_the_unpadded_result(cell):
    """Padding never enters the recurrence (packed, left padding moved first), nor the attention."""
    model = tiny_model(cell, "bahdanau")
    source = torch.randint(4, 30, (1, 5))
    target = torch.randint(4, 30, (1, 4))
    alone = model(input_ids=source, decoder_input_ids=target).logits
    pad = torch.full((1, 3), PAD)
    for ids, mask in ((torch.cat([source, pad], 1), torch.tensor([[1] * 5 + [0] * 3])),
                      (torch.cat([pad, source], 1), torch.tensor([[0] * 3 + [1] * 5]))):
        assert torch.allclose(model(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits, alone, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_cache_continues_a_pass_exactly(cell):
    model = tiny_model(cell, "luong_general")
    ids, mask = padded_sources()
    target = torch.randint(4, 30, (3, 6))
    full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits
    first = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target[:, :4])
    rest = model(encoder_outputs=model.get_encoder()(input_ids=ids, attention_mask=mask), attention_mask=mask,
                 decoder_input_ids=target[:, 4:], cache=first.cache)
    assert torch.equal(torch.cat([first.logits, rest.logits], 1), full)


def test_loss_ignores_minus_100_and_labels_shift_into_decoder_inputs():
    model = tiny_model("gru", "luong_general")
    ids, mask = padded_sources()
    labels = torch.randint(4, 30, (3, 5))
    labels[:, -1] = EOS
    labels[1, 3:] = -100
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    decoder_input_ids = torch.cat([torch.full((3, 1), BOS), labels[:, :-1].masked_fill(labels[:, :-1] == -100, PAD)], 1)
    explicit = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_input_ids)
    assert torch.equal(out.logits, explicit.logits)
    kept = labels != -100
    expected = torch.nn.functional.cross_entropy(explicit.logits[kept], labels[kept])
    assert torch.allclose(out.loss, expected)
    changed = labels.clone()
    changed[1, 3:] = -100
    assert torch.allclose(model(input_ids=ids, attention_mask=mask, labels=changed).loss, out.loss)


def test_teacher_forcing_ratio_zero_reads_the_models_own_predictions():
    """Training with ratio 0 (and no dropout) feeds back the argmax: its logits are greedy decoding's."""
    model = tiny_model("lstm", "luong_general", dropout=0.0)
    ids, mask = padded_sources()
    labels = torch.randint(4, 30, (3, 6))
    greedy = generate(model, ids, mask, do_sample=False)
    model.train()
    free = model(input_ids=ids, attention_mask=mask, labels=labels, teacher_forcing_ratio=0.0)
    assert torch.equal(free.logits.argmax(-1), greedy[:, 1:])
    free.loss.backward()  # the loss still trains the model
    assert model.decoder.combine.weight.grad is not None
    forced = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert torch.equal(model(input_ids=ids, attention_mask=mask, labels=labels, teacher_forcing_ratio=1.0).logits, forced.logits)
    model.eval()  # evaluation always reads the given inputs
    assert torch.equal(model(input_ids=ids, attention_mask=mask, labels=labels, teacher_forcing_ratio=0.0).logits,
                       model(input_ids=ids, attention_mask=mask, labels=labels).logits)


def test_return_dict_false_and_hidden_states():
    model = tiny_model("lstm", "bahdanau")
    ids, mask = padded_sources()
    out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :4], output_hidden_states=True)
    assert len(out.decoder_hidden_states) == len(out.encoder_hidden_states) == 3  # embeddings + 2 layers
    assert out.decoder_hidden_states[-1].shape == out.encoder_hidden_states[-1].shape[:1] + (4, 16)
    as_tuple = model(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :4], return_dict=False)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], out.logits)


def test_tied_output_layer_and_separate_target_vocabulary():
    model = tiny_model("gru", "luong_general", decoder_vocab_size=11, embedding_size=8)
    assert model.lm_head.weight is model.decoder.embed_tokens.weight
    assert model.encoder.embed_tokens.weight.shape[0] == 30 and model.lm_head.weight.shape[0] == 11
    ids, mask = padded_sources()
    assert model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.randint(4, 11, (3, 2))).logits.shape == (3, 2, 11)
    untied = tiny_model("gru", "luong_general", tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.decoder.embed_tokens.weight and untied.proj is None


def test_config_refuses_what_it_cannot_build():
    for fields, words in ((dict(attention="luong"), "attention must be one of"),
                          (dict(cell="rnn"), "cell must be one of"),
                          (dict(hidden_size=15), "must be even"),
                          (dict(attention="bahdanau", input_feeding=True), "input_feeding")):
        with pytest.raises(ValueError, match=words):
            RnnSeq2SeqConfig(**fields)
    assert RnnSeq2SeqConfig(attention="luong_dot").input_feeding is True
    assert RnnSeq2SeqConfig(attention="bahdanau").input_feeding is False
    assert RnnSeq2SeqConfig(bos_token_id=5).decoder_start_token_id == 5


def test_family_sizes_freeze_groups_and_lora_targets_match_the_model():
    for size in FAMILY.sizes:
        FAMILY.check_config(size, {}, block_size=64)
    with pytest.raises(ValueError, match="attention must be one of"):
        FAMILY.check_config("tiny", {"attention": "luong"}, block_size=64)
    with pytest.raises(ValueError, match="model.config.vocab_size: set from the tokenizer"):
        FAMILY.check_config("tiny", {"vocab_size": 10}, block_size=64)
    for attention in ATTENTIONS:
        model = tiny_model("gru", attention)
        names = [name for name, _ in model.named_parameters()]
        for group, pattern in FAMILY.freeze_groups.items():
            if group != "attention" or attention not in ("none", "luong_dot"):
                assert any(re.search(pattern, name) for name in names), (attention, group)
        covered = {name for name in names if any(re.search(p, name) for p in FAMILY.freeze_groups.values())}
        assert covered == set(names), set(names) - covered
        linear = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
        assert "combine" in linear and set(FAMILY.lora_targets) & linear


def test_tiny_size_trains_a_step():
    config = FAMILY.config_class(**FAMILY.config_fields("tiny", {}), vocab_size=2000, bos_token_id=BOS,
                                 eos_token_id=EOS, pad_token_id=PAD)
    model = FAMILY.build(config)
    assert 0.5e6 < model.num_parameters() < 2e6
    ids = torch.randint(4, 2000, (4, 12))
    model(input_ids=ids, labels=ids).loss.backward()


def digit_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": PAD, "<s>": BOS, "</s>": EOS, "<unk>": UNK, **{str(d): 4 + d for d in range(10)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_input_names=["input_ids", "attention_mask"])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model and its tokenizer saved as a run folder would hold them: (model, tokenizer, folder)."""
    FAMILY.register_auto_classes()
    model = tiny_model("lstm", "bahdanau", vocab_size=14)
    model.generation_config.eos_token_id = EOS
    tokenizer = digit_tokenizer()
    folder = tmp_path_factory.mktemp("saved") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


@pytest.mark.heavy
def test_saved_folder_loads_and_generates_without_toolkit(saved, tmp_path):
    """save_pretrained writes auto_map and both code files; plain transformers, with toolkit's import
    blocked, loads the folder and its tokenizer and beam-searches the same tokens."""
    model, tokenizer, folder = saved
    saved_config = json.loads((folder / "config.json").read_text())
    assert saved_config["auto_map"]["AutoModelForSeq2SeqLM"].endswith("RnnSeq2SeqForConditionalGeneration")
    assert {"modeling_rnn_seq2seq.py", "configuration_rnn_seq2seq.py"} <= {p.name for p in folder.iterdir()}
    texts = ["3 1 4 1 5 9 2", "2 7 1 8"]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    expected = model.generate(**batch, num_beams=3, max_new_tokens=6, do_sample=False).tolist()
    code = f"""
import json, sys
class BlockToolkit:
    def find_spec(self, name, path=None, target=None):
        if name == "toolkit" or name.startswith("toolkit."):
            raise ImportError("toolkit is blocked in this test")
sys.meta_path.insert(0, BlockToolkit())
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
model = AutoModelForSeq2SeqLM.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)
batch = tokenizer({texts!r}, return_tensors="pt", padding=True)
out = model.generate(**batch, num_beams=3, max_new_tokens=6, do_sample=False)
print(json.dumps({{"module": type(model).__module__, "ids": out.tolist()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["module"].startswith("transformers_modules")
    assert result["ids"] == expected


def test_text2text_pipeline_is_gone_from_transformers_5(saved):
    """The seq2seq issue asks for pipeline("text2text-generation"); transformers 5 removed that task
    (and translation, summarization) in favour of chat models, so a saved folder is used through
    AutoModelForSeq2SeqLM + its tokenizer instead (the test above). This fails when it comes back."""
    from transformers import pipeline

    with pytest.raises(KeyError, match="has been removed"):
        pipeline("text2text-generation", model=str(saved[2]), trust_remote_code=True)


# Reverse 5-10 digits. Measured (200 steps of 64, GRU 64 wide, Adam 1e-2, seeds 0-3, greedy exact
# match on 200 held-out sequences): none 0.32 / 0.37 / 0.38 / 0.30, luong_general 0.94 / 0.87 / 0.83 / 0.80.
def reverse_batch(size, generator):
    lengths = torch.randint(5, 11, (size,), generator=generator).tolist()
    source = torch.full((size, 10), PAD)
    labels = torch.full((size, 11), -100)
    for row, length in enumerate(lengths):
        digits = torch.randint(4, 14, (length,), generator=generator)
        source[row, :length] = digits
        labels[row, :length] = digits.flip(0)
        labels[row, length] = EOS
    return source, (source != PAD).long(), labels


def reverse_accuracy(attention, steps=200):
    torch.manual_seed(0)
    config = RnnSeq2SeqConfig(vocab_size=14, cell="gru", num_layers=1, hidden_size=64, embedding_size=32,
                              attention=attention, dropout=0.0, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    model = RnnSeq2SeqForConditionalGeneration(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss = model(**dict(zip(("input_ids", "attention_mask", "labels"), reverse_batch(64, generator)))).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    source, mask, labels = reverse_batch(200, torch.Generator().manual_seed(999))
    out = model.eval().generate(source, attention_mask=mask, max_new_tokens=12, do_sample=False)[:, 1:]
    right = [row[: len(want)].tolist() == want for row, want in zip(out, ([t for t in r if t != -100] for r in labels.tolist()))]
    return sum(right) / len(right)


@pytest.mark.heavy
def test_attention_learns_to_reverse_digits_far_better_than_the_plain_encoder_decoder():
    # One thread: these matrices are too small to share, and two OpenMP threads on a busy 2-core
    # machine wait on each other (measured 40x slower under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain, attended = reverse_accuracy("none"), reverse_accuracy("luong_general")
    finally:
        torch.set_num_threads(threads)
    assert attended >= 0.7, attended
    assert attended - plain >= 0.35, (plain, attended)
