"""Masked-LM models to set beside transformers' BertForMaskedLM in the MLM benchmarks
(mlm_plain_loop.py --encoder, mlm_neighbour_task.py): each takes BERT's batch keys and returns
``.logits`` (and ``.loss`` given ``labels``), like the HF model.

- ``TorchEncoderMLM``: PyTorch's own nn.TransformerEncoder at BERT's shape (post-LN like BERT, or
  pre-LN), learned positions and token types, embedding LayerNorm, a plain linear output layer and
  PyTorch's default initialisation. Layer for layer it computes what BertLayer computes (same
  weights give the same outputs), so a gap between the two is initialisation and heads, not maths.
- ``bert-preln``: the toolkit's ``bert_preln`` family (BertPreLNForMaskedLM), which turns torch-pre's
  layout into a Hugging Face model with BERT's heads and parameter names.
- ``NeighbourCBOW``: no attention at all; each position is predicted from the mean embedding of
  its ``window`` neighbours on either side, as word2vec's CBOW does. A floor: what the masked
  objective gives a model that is handed the neighbours instead of having to learn to find them.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from toolkit.tasks.base import IGNORE


def _output(logits: torch.Tensor, labels: torch.Tensor | None) -> SimpleNamespace:
    out = SimpleNamespace(logits=logits, loss=None)
    if labels is not None:
        out.loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                     ignore_index=IGNORE)
    return out


class TorchEncoderMLM(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, num_attention_heads: int, intermediate_size: int,
                 num_hidden_layers: int, max_position_embeddings: int, norm_first: bool = False, **_):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab_size, hidden_size)
        self.positions = torch.nn.Embedding(max_position_embeddings, hidden_size)
        self.token_types = torch.nn.Embedding(2, hidden_size)
        for table in (self.tokens, self.positions, self.token_types):
            torch.nn.init.normal_(table.weight, std=0.02)  # BERT's scale; the LayerNorm below rescales the sum
        self.norm = torch.nn.LayerNorm(hidden_size)
        layer = torch.nn.TransformerEncoderLayer(hidden_size, num_attention_heads, intermediate_size, dropout=0.1,
                                                 activation="gelu", batch_first=True, norm_first=norm_first)
        self.encoder = torch.nn.TransformerEncoder(layer, num_hidden_layers, enable_nested_tensor=False)
        self.output = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.norm(self.tokens(input_ids) + self.positions.weight[: input_ids.shape[1]]
                           + self.token_types(token_type_ids))
        padding = None if attention_mask is None else attention_mask == 0
        return _output(self.output(self.encoder(hidden, src_key_padding_mask=padding)), labels)


class NeighbourCBOW(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, window: int = 2, **_):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab_size, hidden_size)
        self.output = torch.nn.Linear(hidden_size, vocab_size)
        kernel = torch.ones(2 * window + 1)
        kernel[window] = 0.0  # the position itself ([MASK]) is not its own context
        self.register_buffer("kernel", (kernel / (2 * window)).repeat(hidden_size, 1, 1), persistent=False)

    def forward(self, input_ids, attention_mask=None, labels=None, **_):
        embedded = self.tokens(input_ids)
        if attention_mask is not None:
            embedded = embedded * attention_mask[..., None]
        window = self.kernel.shape[-1] // 2
        context = torch.nn.functional.conv1d(embedded.transpose(1, 2), self.kernel, padding=window,
                                             groups=embedded.shape[-1]).transpose(1, 2)
        return _output(self.output(context), labels)


ENCODERS = ("bert", "torch-post", "torch-pre", "cbow", "bert-preln")


class PlainTrainer:
    """The MLM benchmarks' one optimizer, so every model they compare trains alike: AdamW
    (weight decay 0.01), a 60-step linear warmup then a constant rate, gradients clipped at 1."""

    def __init__(self, model, lr: float):
        self.model = model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        self.warmup = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: min(1.0, (step + 1) / 60))

    def step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One optimizer step on ``batch`` (the model's keyword arguments); returns the loss."""
        loss = self.model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.warmup.step()
        self.optimizer.zero_grad()
        return loss


def build_masked_lm(encoder: str, config):
    """The MLM named by ``encoder`` at the shape of a transformers ``BertConfig``."""
    shape = {key: getattr(config, key) for key in ("vocab_size", "hidden_size", "num_attention_heads",
                                                    "intermediate_size", "num_hidden_layers",
                                                    "max_position_embeddings")}
    if encoder == "bert":
        from transformers import BertForMaskedLM

        return BertForMaskedLM(config)
    if encoder in ("torch-post", "torch-pre"):
        return TorchEncoderMLM(**shape, norm_first=encoder == "torch-pre")
    if encoder == "cbow":
        return NeighbourCBOW(**shape)
    if encoder == "bert-preln":  # the toolkit's own bert_preln family, built after torch-pre's findings
        from toolkit.families.bert_preln.configuration_bert_preln import BertPreLNConfig
        from toolkit.families.bert_preln.modeling_bert_preln import BertPreLNForMaskedLM

        return BertPreLNForMaskedLM(BertPreLNConfig(**shape))
    raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
