"""benchmarks/mlm_neighbour_task.py and mlm_encoders.py: the synthetic task is answerable from the
neighbour alone, its scoring counts only [MASK]ed targets, PyTorch's post-LN layer computes what
BertLayer computes, and a few steps print one row per evaluation for each encoder."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from conftest import load_benchmark


def test_each_masked_token_is_given_by_its_pair_partner():
    bench = load_benchmark("mlm_neighbour_task")
    task = bench.NeighbourTask(vocab=50, length=8, seed=3)
    rows = task.rows(64)
    firsts, seconds = rows[:, 0::2], rows[:, 1::2]
    assert torch.equal(seconds, task.partner[firsts - bench.FIRST_ORDINARY])
    assert int(rows.min()) >= bench.FIRST_ORDINARY and int(rows.max()) < 50
    batch = task.masked(rows)
    chosen = batch["labels"] != bench.IGNORE
    assert chosen.any() and (batch["input_ids"][chosen] == bench.MASK).all()
    assert torch.equal(batch["labels"][chosen], rows[chosen])
    assert torch.equal(batch["input_ids"][~chosen], rows[~chosen])


def test_accuracy_counts_only_masked_targets():
    bench = load_benchmark("mlm_neighbour_task")
    task = bench.NeighbourTask(vocab=50, length=8, seed=3)
    rows = task.rows(16)
    batch = task.masked(rows)

    def answering(ids):  # a model whose logits pick ``ids`` at every position
        model = lambda **_: SimpleNamespace(logits=torch.nn.functional.one_hot(ids, 50).float())
        model.eval = model.train = lambda *a: None
        return model

    assert bench.accuracy_at_mask(answering(rows), batch) == 1.0
    assert bench.accuracy_at_mask(answering(batch["input_ids"]), batch) == 0.0  # copying [MASK] never scores


def test_torch_post_ln_layer_computes_what_bert_layer_computes():
    """The module docstring's claim: same weights, same outputs, so a gap is not the maths."""
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLayer

    encoders = load_benchmark("mlm_encoders")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                        num_hidden_layers=1, max_position_embeddings=16)
    torch_layer = encoders.TorchEncoderMLM(**config.to_dict()).encoder.layers[0].eval()
    bert_layer = BertLayer(config).eval()
    weight, bias = torch_layer.self_attn.in_proj_weight, torch_layer.self_attn.in_proj_bias
    attention = bert_layer.attention.self
    with torch.no_grad():
        for index, projection in enumerate((attention.query, attention.key, attention.value)):
            projection.weight.copy_(weight[32 * index: 32 * (index + 1)])
            projection.bias.copy_(bias[32 * index: 32 * (index + 1)])
    bert_layer.attention.output.dense.load_state_dict(torch_layer.self_attn.out_proj.state_dict())
    bert_layer.attention.output.LayerNorm.load_state_dict(torch_layer.norm1.state_dict())
    bert_layer.intermediate.dense.load_state_dict(torch_layer.linear1.state_dict())
    bert_layer.output.dense.load_state_dict(torch_layer.linear2.state_dict())
    bert_layer.output.LayerNorm.load_state_dict(torch_layer.norm2.state_dict())
    hidden = torch.randn(2, 7, 32)
    with torch.no_grad():
        bert_out = bert_layer(hidden)
        bert_out = bert_out[0] if isinstance(bert_out, tuple) else bert_out
        assert torch.allclose(torch_layer(hidden), bert_out, atol=1e-5)


def test_cbow_reads_only_the_neighbours():
    encoders = load_benchmark("mlm_encoders")
    model = encoders.NeighbourCBOW(vocab_size=20, hidden_size=8, window=1).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    changed = ids.clone()
    changed[0, 2] = 10
    with torch.no_grad():
        delta = (model(input_ids=ids).logits - model(input_ids=changed).logits).abs().amax(-1)[0]
    assert delta[2] == 0 and delta[1] > 0 and delta[3] > 0 and delta[0] == 0 and delta[4] == 0


def test_a_few_steps_print_a_row_per_evaluation_for_each_encoder(capsys):
    bench = load_benchmark("mlm_neighbour_task")
    results = bench.main(["--steps", "2", "--eval-every", "1", "--vocab", "40", "--length", "8"])
    assert [result["encoder"] for result in results] == ["bert", "torch-post", "torch-pre", "cbow", "bert-preln"]
    assert all(list(result["accuracies"]) == [1, 2] for result in results)
    assert all(0 <= accuracy <= 1 for result in results for accuracy in result["accuracies"].values())
    out = capsys.readouterr().out
    assert "chance 0.029" in out and "torch-pre" in out


@pytest.mark.parametrize("argv", [["--encoders", "bert,gpt"], ["--length", "7"], ["--vocab", "5"]])
def test_bad_arguments_exit_with_a_usage_error(argv, capsys):
    bench = load_benchmark("mlm_neighbour_task")
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
