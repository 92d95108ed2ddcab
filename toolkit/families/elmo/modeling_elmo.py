"""ELMo-style bidirectional LSTM language model, and downstream heads over a learned mix of its layers.

Self-contained on purpose (torch, transformers and its sibling files only): ``save_pretrained`` copies
this file, ``configuration_elmo.py`` and what that imports into the model folder (``auto_map``), so
folders load with ``trust_remote_code=True`` without toolkit.

- ``ElmoModel``: forward and backward LSTM LMs over shared token embeddings and a shared softmax
  (Peters et al. 2018), trained jointly; ``loss`` is the mean of both directions' losses.
- Layer representations: layer 0 is the token embedding (duplicated, as ELMo does, to match the
  width), layer k the forward and backward outputs of LSTM layer k concatenated.
- ``return_dict=False`` (argument or config) gives tuples; ``output_hidden_states`` (argument or
  config) adds the layer representations as ``hidden_states``, num_layers + 1 entries.
- ``ScalarMix``: gamma * sum_k softmax(w)_k * layer_k, the task-specific combination of layers.
- ``ElmoForSequenceClassification`` / ``ElmoForTokenClassification``: a small head over the mix,
  with the biLM frozen (``freeze_bilm``): no gradient, kept in eval mode (no dropout).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_elmo import ElmoConfig


@dataclass
class ElmoOutput(ModelOutput):
    """loss: mean of the two directions (when labels are given); forward_logits / backward_logits:
    each direction's predictions of the next / previous token (batch, seq-1, vocab), with labels;
    layers: (layers+1, batch, seq, 2*embedding_size); hidden_states: the same layers as a tuple,
    when asked for (the transformers convention)."""

    loss: torch.Tensor | None = None
    forward_loss: torch.Tensor | None = None
    backward_loss: torch.Tensor | None = None
    layers: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    # Last, so that return_dict=False tuples keep their earlier positions.
    forward_logits: torch.Tensor | None = None
    backward_logits: torch.Tensor | None = None


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x`` (batch, seq, ...) within its length; padding stays at the end."""
    seq = x.shape[1]
    positions = torch.arange(seq, device=x.device).expand(x.shape[0], seq)
    index = torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class ElmoBiLM(nn.Module):
    """Shared embeddings and softmax, one LSTM stack per direction, residual between layers."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, embedding_size)
        projection = embedding_size if hidden_size > embedding_size else 0

        def stack():
            return nn.ModuleList(
                nn.LSTM(embedding_size, hidden_size, batch_first=True, proj_size=projection) for _ in range(num_layers)
            )

        self.forward_layers, self.backward_layers = stack(), stack()
        self.dropout = nn.Dropout(dropout)
        self.lm_head = nn.Linear(embedding_size, vocab_size, bias=False)

    def _direction(self, layers: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, lstm in enumerate(layers):
            out, _ = lstm(self.dropout(x))
            x = out + x if index > 0 else out  # residual from the second layer on, as in ELMo
            outputs.append(x)
        return outputs

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None):
        """Per-layer states (list of (forward, backward) pairs, layer 0 = embeddings) and lengths."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = attention_mask.sum(-1)
        embeds = self.embed_tokens(input_ids)
        forward = self._direction(self.forward_layers, embeds)
        backward = [reverse_padded(h, lengths) for h in self._direction(self.backward_layers, reverse_padded(embeds, lengths))]
        return [(embeds, embeds), *zip(forward, backward)]


def _wants_hidden_states(config: ElmoConfig, output_hidden_states: bool | None) -> bool:
    """The argument when given, else the config's setting (as transformers models do)."""
    return config.output_hidden_states if output_hidden_states is None else output_hidden_states


class ElmoPreTrainedModel(PreTrainedModel):
    config_class = ElmoConfig
    base_model_prefix = "elmo"
    main_input_name = "input_ids"

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            # N(0, 0.5), as in the rnn_lm family: U(+-0.1) inputs left the LSTMs near the unigram plateau.
            nn.init.normal_(module.weight, 0.0, self.config.embedding_init_std)
        elif isinstance(module, nn.Linear):  # head layers (the LM softmax is tied to the embeddings)
            bound = module.in_features**-0.5
            nn.init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            bound = module.hidden_size**-0.5
            for name, param in module.named_parameters():
                nn.init.uniform_(param, -bound, bound)
                if name.startswith("bias_ih"):
                    param.data[module.hidden_size : 2 * module.hidden_size] = 1.0  # forget-gate bias
        elif isinstance(module, ScalarMix):
            nn.init.zeros_(module.weights)  # start from the plain average of the layers
            nn.init.ones_(module.gamma)

    def _make_bilm(self) -> ElmoBiLM:
        c = self.config
        return ElmoBiLM(c.vocab_size, c.embedding_size, c.hidden_size, c.num_layers, c.dropout)

    def get_input_embeddings(self):
        return self.elmo.embed_tokens

    def set_input_embeddings(self, value):
        self.elmo.embed_tokens = value


class ElmoModel(ElmoPreTrainedModel):
    """The biLM. ``labels`` (usually the input ids; -100 ignored) give both directions' LM losses."""

    _tied_weights_keys = {"elmo.lm_head.weight": "elmo.embed_tokens.weight"}

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        self.elmo = self._make_bilm()
        self.post_init()

    def get_output_embeddings(self):
        return self.elmo.lm_head

    def set_output_embeddings(self, value):  # resize_token_embeddings replaces the softmax through this
        self.elmo.lm_head = value

    @can_return_tuple
    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, output_hidden_states: bool | None = None, **kwargs) -> ElmoOutput:
        states = self.elmo(input_ids, attention_mask)
        per_layer = tuple(torch.cat(pair, dim=-1) for pair in states)
        layers = torch.stack(per_layer)
        loss = forward_loss = backward_loss = forward_logits = backward_logits = None
        if labels is not None:
            top_forward, top_backward = (self.elmo.dropout(h) for h in states[-1])
            vocab = self.config.vocab_size
            # Forward LM: the state at t predicts token t+1; backward LM: the state at t predicts t-1.
            forward_logits = self.elmo.lm_head(top_forward[:, :-1]).float()
            backward_logits = self.elmo.lm_head(top_backward[:, 1:]).float()
            forward_loss = nn.functional.cross_entropy(forward_logits.reshape(-1, vocab), labels[:, 1:].reshape(-1), ignore_index=-100)
            backward_loss = nn.functional.cross_entropy(backward_logits.reshape(-1, vocab), labels[:, :-1].reshape(-1), ignore_index=-100)
            loss = (forward_loss + backward_loss) / 2
        hidden_states = per_layer if _wants_hidden_states(self.config, output_hidden_states) else None
        return ElmoOutput(loss=loss, forward_loss=forward_loss, backward_loss=backward_loss,
                          forward_logits=forward_logits, backward_logits=backward_logits, layers=layers,
                          hidden_states=hidden_states)


class ScalarMix(nn.Module):
    """gamma * sum_k softmax(w)_k * layer_k over a stack of layers (layers, ..., dim)."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))
        self.gamma = nn.Parameter(torch.ones(1))

    def normalized_weights(self) -> torch.Tensor:
        return torch.softmax(self.weights, dim=0)

    def forward(self, layers: torch.Tensor) -> torch.Tensor:
        weights = self.normalized_weights().to(layers.dtype)
        return self.gamma.to(layers.dtype) * torch.einsum("k,k...->...", weights, layers)


class _ElmoWithHead(ElmoPreTrainedModel):
    """A frozen (or trainable) biLM, the scalar mix over the chosen layers, and a head."""

    _keys_to_ignore_on_load_unexpected = [r"elmo\.lm_head\.weight"]  # the LM softmax is not used downstream

    def __init__(self, config: ElmoConfig):
        super().__init__(config)
        self.elmo = self._make_bilm()
        del self.elmo.lm_head
        self.scalar_mix = ScalarMix(len(config.mixed_layers))
        width = 2 * config.embedding_size
        head = [nn.Dropout(config.head_dropout)]
        if config.head_hidden:
            head += [nn.Linear(width, config.head_hidden), nn.ReLU(), nn.Dropout(config.head_dropout)]
            width = config.head_hidden
        self.head = nn.Sequential(*head, nn.Linear(width, config.num_labels))
        self.post_init()
        self.apply_freeze()

    def apply_freeze(self) -> None:
        """Mark the biLM's parameters untrainable when ``freeze_bilm`` (call again after from_pretrained,
        which may recreate parameters while loading)."""
        self.elmo.requires_grad_(not self.config.freeze_bilm)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.freeze_bilm:
            self.elmo.eval()  # a frozen biLM is a fixed feature extractor: no dropout
        return self

    def bilm_layers(self, input_ids, attention_mask=None, which: list[int] | None = None) -> list[torch.Tensor]:
        """The biLM's layer representations (0 = embeddings) listed in ``which`` (default: all)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_bilm):
            if which == [0]:  # context-free features: no need to run the LSTMs
                embeds = self.elmo.embed_tokens(input_ids)
                return [torch.cat([embeds, embeds], dim=-1)]
            states = self.elmo(input_ids, attention_mask)
            return [torch.cat(states[k], dim=-1) for k in (which if which is not None else range(len(states)))]

    def mixed_features(self, input_ids, attention_mask=None) -> torch.Tensor:
        return self.scalar_mix(torch.stack(self.bilm_layers(input_ids, attention_mask, self.config.mixed_layers)))

    def _features(self, input_ids, attention_mask, output_hidden_states):
        """The mixed features, plus every layer as ``hidden_states`` when asked for (else None)."""
        if not _wants_hidden_states(self.config, output_hidden_states):
            return self.mixed_features(input_ids, attention_mask), None
        layers = self.bilm_layers(input_ids, attention_mask)
        return self.scalar_mix(torch.stack([layers[k] for k in self.config.mixed_layers])), tuple(layers)

    def layer_weights(self) -> dict[str, float]:
        """The learned mix: softmax weight per layer name, and gamma."""
        names = ["embedding" if k == 0 else f"lstm_{k}" for k in self.config.mixed_layers]
        weights = self.scalar_mix.normalized_weights().tolist()
        return {**dict(zip(names, weights)), "gamma": self.scalar_mix.gamma.item()}


class ElmoForSequenceClassification(_ElmoWithHead):
    @can_return_tuple
    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=None, **kwargs) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mixed, hidden_states = self._features(input_ids, attention_mask, output_hidden_states)
        mask = attention_mask.unsqueeze(-1).to(mixed.dtype)
        pooled = (mixed * mask).sum(1) / mask.sum(1).clamp(min=1)  # mean over the real tokens
        logits = self.head(pooled)
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)


class ElmoForTokenClassification(_ElmoWithHead):
    @can_return_tuple
    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=None, **kwargs) -> TokenClassifierOutput:
        mixed, hidden_states = self._features(input_ids, attention_mask, output_hidden_states)
        logits = self.head(mixed)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)
