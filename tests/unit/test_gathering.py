"""Per-example losses (toolkit.tasks.gathering.row_losses) are the models' own losses, split by
example: what lets the scorers gather one row per example under any number of processes."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification, GPT2Config, GPT2LMHeadModel

from toolkit.families.elmo.configuration_elmo import ElmoConfig
from toolkit.families.elmo.modeling_elmo import ElmoModel
from toolkit.families.rnn_seq2seq.configuration_rnn_seq2seq import RnnSeq2SeqConfig
from toolkit.families.rnn_seq2seq.modeling_rnn_seq2seq import RnnSeq2SeqForConditionalGeneration
from toolkit.tasks.base import IGNORE
from toolkit.tasks.gathering import gather_rows, row_losses


def per_token(sums, counts):
    return sums.sum() / counts.sum()


@torch.no_grad()
def test_language_models_score_each_token_by_its_neighbour():
    """GPT-2 predicts the next token; the biLM predicts the next one forward and the previous one
    backward: each row's losses line up with the labels shifted the same way."""
    torch.manual_seed(0)
    ids = torch.randint(1, 30, (3, 10))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=30, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    out = gpt2(input_ids=ids, labels=ids)
    sums, counts = row_losses(out.logits[:, :-1], ids[:, 1:])
    assert counts.tolist() == [9, 9, 9]
    assert per_token(sums, counts) == pytest.approx(out.loss.item(), rel=1e-5)
    bilm = ElmoModel(ElmoConfig(vocab_size=30, embedding_size=8, hidden_size=16, num_layers=1, pad_token_id=0)).eval()
    out = bilm(input_ids=ids, labels=ids)
    for logits, targets, loss in ((out.forward_logits, ids[:, 1:], out.forward_loss),
                                  (out.backward_logits, ids[:, :-1], out.backward_loss)):
        assert per_token(*row_losses(logits, targets)) == pytest.approx(loss.item(), rel=1e-5)


@torch.no_grad()
def test_a_seq2seq_loss_skips_the_padding_of_short_targets():
    torch.manual_seed(0)
    config = RnnSeq2SeqConfig(vocab_size=30, cell="gru", attention="luong_general", num_layers=1, hidden_size=16,
                              embedding_size=8, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = RnnSeq2SeqForConditionalGeneration(config).eval()
    sources, labels = torch.randint(4, 30, (3, 7)), torch.randint(4, 30, (3, 6))
    labels[0, 4:] = IGNORE
    labels[2, 2:] = IGNORE
    out = model(input_ids=sources, attention_mask=torch.ones_like(sources), labels=labels)
    sums, counts = row_losses(out.logits, labels)
    assert counts.tolist() == [4, 6, 2]
    assert per_token(sums, counts) == pytest.approx(out.loss.item(), rel=1e-5)


@torch.no_grad()
def test_classification_and_tagging_losses():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3)
    ids = torch.randint(1, 40, (4, 8))
    classes = torch.tensor([0, 2, 1, 2])
    out = BertForSequenceClassification(config).eval()(input_ids=ids, labels=classes)
    sums, counts = row_losses(out.logits, classes)
    assert counts.tolist() == [1, 1, 1, 1] and sums.mean().item() == pytest.approx(out.loss.item(), rel=1e-5)
    tags = torch.randint(0, 3, (4, 8))
    tags[:, 0] = IGNORE
    tags[1, 6:] = IGNORE
    out = BertForTokenClassification(config).eval()(input_ids=ids, labels=tags)
    sums, counts = row_losses(out.logits, tags)
    assert counts.tolist() == [7, 5, 7, 7]
    assert per_token(sums, counts) == pytest.approx(out.loss.item(), rel=1e-5)


def test_rows_without_labels_weigh_nothing_and_one_process_gathers_rows_as_they_are():
    from accelerate import Accelerator

    sums, counts = row_losses(torch.randn(2, 5, 7), torch.full((2, 5), IGNORE))
    assert sums.tolist() == [0.0, 0.0] and counts.tolist() == [0.0, 0.0]
    rows = torch.arange(6).view(2, 3)
    assert torch.equal(gather_rows(Accelerator(cpu=True), rows), rows)  # no padding unless asked for
