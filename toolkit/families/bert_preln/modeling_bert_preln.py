"""BERT with pre-LayerNorm sublayers and a linear masked-LM output, as a Hugging Face model.

Why not transformers' BertForPreTraining: at the toolkit's tiny size and CPU budget its masked LM
stays at the always-the-most-frequent-token guess for thousands of steps (README, "Where the
bundled recipes stand"). Swapping parts showed what delays it: the post-LN layout, a LayerNorm right
before the output, and the head's dense + GELU + LayerNorm transform. This model keeps BERT's
inputs, objectives and parameter names (query/key/value, so LoRA and the freeze groups work alike)
and changes only those parts:

- each sublayer reads ``LayerNorm(x)`` and adds its output to ``x`` (pre-LN, as GPT-2 does);
- the masked-LM output is one linear layer over the last layer's residual stream, with no
  transform and no LayerNorm in between;
- what a classifier reads (the pooled first token, the token states) passes one final LayerNorm,
  so fine-tuning heads see inputs of a fixed scale;
- linear layers start from PyTorch's own initialisation, query/key/value as PyTorch's
  MultiheadAttention starts its packed projection; embeddings from N(0, initializer_range).

Self-contained (torch, transformers and its sibling files): ``save_pretrained`` copies this file
into the model folder, which then loads with ``trust_remote_code=True`` without toolkit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_bert_preln import BertPreLNConfig

IGNORE = -100  # label of a position that is not predicted

# transformers Auto class -> the class of this file it loads. Every saved folder's auto_map names all
# of them, so any head loads any folder with trust_remote_code and no toolkit (a pretraining folder
# into the fill-mask pipeline's AutoModelForMaskedLM, or into a new classifier).
AUTO_CLASSES = {
    "AutoModel": "BertPreLNModel",
    "AutoModelForPreTraining": "BertPreLNForPreTraining",
    "AutoModelForMaskedLM": "BertPreLNForMaskedLM",
    "AutoModelForSequenceClassification": "BertPreLNForSequenceClassification",
    "AutoModelForTokenClassification": "BertPreLNForTokenClassification",
}


@dataclass
class BertPreLNModelOutput(BaseModelOutputWithPooling):
    """BaseModelOutputWithPooling (last_hidden_state after the final LayerNorm) plus the last layer's
    residual stream before it, which the masked-LM output reads."""

    residual_stream: torch.Tensor | None = None


@dataclass
class BertPreLNForPreTrainingOutput(ModelOutput):
    """The fields of transformers' BertForPreTrainingOutput, which the bert_pretrain task reads (defined
    here: importing transformers' BERT modeling module from a model type the Auto classes register
    would be an import cycle)."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertPreLNEmbeddings(nn.Module):
    """Token + position + token-type embeddings, normalised and dropped out (BERT's own)."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        length = inputs_embeds.shape[1]
        if position_ids is None:
            position_ids = torch.arange(length, device=inputs_embeds.device)[None]
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        summed = inputs_embeds + self.position_embeddings(position_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(summed))


class BertPreLNSelfAttention(nn.Module):
    """Multi-head self-attention with separate query/key/value projections (PEFT's LoRA targets)."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        for projection in (self.query, self.key, self.value):
            projection.packed_qkv = True  # initialised as one (3h, h) matrix; see _init_weights
        self.dropout_prob = config.attention_probs_dropout_prob

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:2], self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None, output_attentions: bool):
        query, key, value = (self._heads(layer(hidden)) for layer in (self.query, self.key, self.value))
        dropout = self.dropout_prob if self.training else 0.0
        weights = None
        if output_attentions:  # SDPA does not return the weights: compute them the long way
            scores = query @ key.transpose(-1, -2) / math.sqrt(self.head_size)
            if additive_mask is not None:
                scores = scores + additive_mask
            weights = scores.softmax(-1)
            context = nn.functional.dropout(weights, dropout, self.training) @ value
        else:
            context = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=additive_mask,
                                                                 dropout_p=dropout)
        context = context.transpose(1, 2).reshape(hidden.shape)
        return self.output(context), weights


class BertPreLNLayer(nn.Module):
    """x + Attention(LN(x)), then x + FeedForward(LN(x))."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = BertPreLNSelfAttention(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACT2FN[config.hidden_act]
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden, additive_mask, output_attentions):
        attended, weights = self.attention(self.attention_norm(hidden), additive_mask, output_attentions)
        hidden = hidden + self.dropout(attended)
        fed = self.output(self.dropout(self.activation(self.intermediate(self.feed_forward_norm(hidden)))))
        return hidden + self.dropout(fed), weights


class BertPreLNEncoder(nn.Module):
    def __init__(self, config: BertPreLNConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertPreLNLayer(config) for _ in range(config.num_hidden_layers))


class BertPreLNPreTrainedModel(PreTrainedModel):
    config_class = BertPreLNConfig
    base_model_prefix = "bert"
    main_input_name = "input_ids"
    _supports_sdpa = True
    _no_split_modules = ["BertPreLNLayer"]  # FSDP wraps (and device_map splits) at layers

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            if getattr(module, "packed_qkv", False):
                # As nn.MultiheadAttention starts its packed (3h, h) in-projection: Xavier over all three.
                fan_out, fan_in = module.weight.shape
                bound = math.sqrt(6.0 / (fan_in + 3 * fan_out))
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)
            else:  # nn.Linear's own reset_parameters
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
                if module.bias is not None:
                    bound = 1 / math.sqrt(module.weight.shape[1])
                    nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, self.config.initializer_range)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def save_pretrained(self, *args, **kwargs):
        module = __name__.rsplit(".", 1)[-1]
        every_head = {auto: f"{module}.{name}" for auto, name in AUTO_CLASSES.items()}
        self.config.auto_map = {**every_head, **(getattr(self.config, "auto_map", None) or {})}
        return super().save_pretrained(*args, **kwargs)

    def get_input_embeddings(self):
        return self.base_model.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.base_model.embeddings.word_embeddings = value


class BertPreLNModel(BertPreLNPreTrainedModel):
    """The encoder: ``last_hidden_state`` after a final LayerNorm, ``pooler_output`` = tanh(dense) of
    its first ([CLS]) position, ``residual_stream`` the last layer's output before the LayerNorm."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__(config)
        self.embeddings = BertPreLNEmbeddings(config)
        self.encoder = BertPreLNEncoder(config)
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, output_attentions=None, output_hidden_states=None, **kwargs):
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        hidden = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        additive_mask = None
        if attention_mask is not None:  # 0 where padding: -inf-like before the softmax, per key
            keep = attention_mask[:, None, None, :].to(torch.bool)
            additive_mask = torch.zeros(keep.shape, dtype=hidden.dtype, device=hidden.device)
            additive_mask = additive_mask.masked_fill(~keep, torch.finfo(hidden.dtype).min)
        all_hidden, all_attentions = (hidden,), ()
        for layer in self.encoder.layer:
            hidden, weights = layer(hidden, additive_mask, output_attentions)
            all_hidden += (hidden,)
            all_attentions += (weights,)
        normalised = self.final_norm(hidden)
        return BertPreLNModelOutput(
            last_hidden_state=normalised,
            pooler_output=torch.tanh(self.pooler(normalised[:, 0])),
            hidden_states=all_hidden if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
            residual_stream=hidden,
        )


def _per_token_loss(logits, labels):
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                       ignore_index=IGNORE)


def _states_to_predict(states, labels, at_labels_only: bool):
    """All positions' states, or (at_labels_only, with labels) the rows of the positions to predict."""
    return states[labels != IGNORE] if at_labels_only and labels is not None else states


def mlm_loss(logits, labels):
    """Masked-LM cross-entropy from logits at every position (batch, length, vocab), or from the
    rows of the labelled positions only (n, vocab: ``logits_at_labels_only``)."""
    if logits.dim() == 2:
        return nn.functional.cross_entropy(logits.float(), labels[labels != IGNORE])
    return _per_token_loss(logits, labels)


class _BertPreLNWithLMHead(BertPreLNPreTrainedModel):
    """The encoder and the masked-LM output, one linear layer over its residual stream (what the
    pretraining and masked-LM models share, under the same weight names)."""

    _tied_weights_keys = {"lm_head.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config: BertPreLNConfig):
        super().__init__(config)
        self.bert = BertPreLNModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value


class BertPreLNForPreTraining(_BertPreLNWithLMHead):
    """Masked LM (linear output over the residual stream) + next-sentence prediction on the pooled [CLS]."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__(config)
        self.nsp_head = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, next_sentence_label=None, output_attentions=None,
                output_hidden_states=None, logits_at_labels_only: bool = False, **kwargs):
        r"""
        logits_at_labels_only (`bool`, defaults to False):
            With `labels`, compute `prediction_logits` only at the positions to predict (labels other
            than -100), as rows of shape (number of those positions, vocab_size) in reading order. The
            loss needs no more, and the vocabulary projection of the other 85% of positions is a
            fifth or more of a tiny model's pretraining step (the toolkit's training loop asks for it).
        """
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        prediction_logits = self.lm_head(_states_to_predict(out.residual_stream, labels, logits_at_labels_only))
        seq_relationship_logits = self.nsp_head(out.pooler_output)
        loss = None
        if labels is not None:
            loss = mlm_loss(prediction_logits, labels)
            if next_sentence_label is not None:
                loss = loss + nn.functional.cross_entropy(seq_relationship_logits.float(), next_sentence_label.view(-1))
        return BertPreLNForPreTrainingOutput(loss=loss, prediction_logits=prediction_logits,
                                             seq_relationship_logits=seq_relationship_logits,
                                             hidden_states=out.hidden_states, attentions=out.attentions)


class BertPreLNForMaskedLM(_BertPreLNWithLMHead):
    """The masked LM alone (what the fill-mask pipeline loads from a pretraining folder)."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__(config)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.lm_head(out.residual_stream)
        loss = _per_token_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


class _BertPreLNWithClassifier(BertPreLNPreTrainedModel):
    """The encoder, dropout and a linear layer to config.num_labels (the two classifiers' shared parts)."""

    def __init__(self, config: BertPreLNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertPreLNModel(config)
        rate = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(rate)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()


class BertPreLNForSequenceClassification(_BertPreLNWithClassifier):
    """A linear classifier over the pooled [CLS], or the mean or maximum token state (config.classifier_pooling); the
    loss follows config.problem_type as BERT's does."""

    def _pooled(self, out, attention_mask):
        """The pooled [CLS], or the mean or element-wise maximum of the token states over the attention mask."""
        if self.config.classifier_pooling == "cls":
            return out.pooler_output
        states = out.last_hidden_state
        if self.config.classifier_pooling == "max":
            if attention_mask is None:
                return states.amax(1)
            real = attention_mask[..., None] != 0
            pooled = states.masked_fill(~real, torch.finfo(states.dtype).min).amax(1)  # padding never wins
            return pooled.masked_fill(~real.any(1), 0.0)  # a row of padding only pools to 0, as the mean does
        if attention_mask is None:
            return states.mean(1)
        weights = attention_mask[..., None].to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1)

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(self.dropout(self._pooled(out, attention_mask)))
        loss = None
        if labels is not None:
            problem = self.config.problem_type
            if problem is None:
                problem = ("regression" if self.num_labels == 1 else
                           "single_label_classification" if labels.dtype in (torch.long, torch.int) else
                           "multi_label_classification")
                self.config.problem_type = problem
            if problem == "regression":
                loss = nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1))
            elif problem == "single_label_classification":
                loss = nn.functional.cross_entropy(logits.float(), labels.view(-1))
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                        attentions=out.attentions)


class BertPreLNForTokenClassification(_BertPreLNWithClassifier):
    """A linear tagger over each token's state after the final LayerNorm."""

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))
        loss = _per_token_loss(logits, labels) if labels is not None else None
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                     attentions=out.attentions)
