"""Convolutional sequence-to-sequence model (ConvS2S, Gehring et al. 2017) as a Hugging Face model.

Self-contained on purpose (torch, transformers and the configuration next to it): ``save_pretrained``
copies this file and ``configuration_conv_seq2seq.py`` into every model folder (``auto_map`` in
config.json), so the folder loads anywhere with
``AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True)``, without toolkit.

The architecture follows the paper (and fairseq's ``fconv.py``): token + learned position embeddings;
an encoder of gated (GLU) convolutions with residual connections, each sum scaled by sqrt(1/2) so the
variance stays put; a decoder of causal gated convolutions, each followed by its own attention over the
encoder: the keys are the encoder outputs, the values the encoder outputs plus the source embeddings
(the embeddings carry the identity of each source token, the convolutions its context). Padding is
zeroed before every encoder convolution (exactly as the convolution's own zero padding at the ends
of a sentence), so a sentence's encoding does not depend on how much padding its batch adds.

Incremental decoding: a causal convolution of width k at step t reads only its inputs at steps
t-k+1 .. t, so the generation ``cache`` holds, per decoder layer, that layer's last k-1 convolution
inputs, plus the number of target tokens already read (for the positions). Each new token then costs
one convolution window per layer, and the encoder runs once. generate() hands the cache back to
forward as ``cache`` from transformers 5.24 on (before, ``past_key_values``), and beam search reorders
it with ``_reorder_cache``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput
from transformers.utils.generic import can_return_tuple

from .configuration_conv_seq2seq import ConvSeq2SeqConfig

# generate() hands the previous step's output ``cache`` back to forward only from transformers 5.24 on;
# older versions look for ``past_key_values``, so every step would restart from an empty cache and
# decode from the wrong positions. This file also travels inside model folders (loaded without
# toolkit's pinned dependencies), hence the check here and not only in pyproject.toml.
if "cache" not in inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters:
    import transformers

    raise ImportError(
        f"the conv_seq2seq model needs transformers>=5.24 (found {transformers.__version__}): older versions pass "
        "the decoding cache to the model as past_key_values, and generation would ignore it"
    )

SQRT_HALF = math.sqrt(0.5)


@dataclass
class ConvSeq2SeqEncoderOutput(BaseModelOutput):
    """``last_hidden_state``: the attention keys (the top convolution projected to the embedding width);
    ``attention_values``: (keys + source embeddings) * sqrt(1/2). ``hidden_states``: the embeddings,
    then each convolution's output."""

    attention_values: torch.Tensor | None = None


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; the gradient is scaled. Every decoder attention sends gradient into the encoder
    output, so fairseq divides it by twice the number of attentions to keep the encoder's share steady."""

    @staticmethod
    def forward(ctx, inputs, scale):
        ctx.scale = scale
        return inputs.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Teacher-forcing decoder inputs: the labels one step later, after the start token (-100 -> pad)."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


def _source_positions(mask: torch.Tensor) -> torch.Tensor:
    """Position 0 at each row's first real token, whichever side the padding is on."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


class ConvSeq2SeqEncoder(nn.Module):
    main_input_name = "input_ids"  # generate() checks the encoder's main input against the model's

    def __init__(self, config: ConvSeq2SeqConfig):
        super().__init__()
        width, channels, kernel = config.embedding_size, config.hidden_size, config.encoder_kernel_size
        self.embed_tokens = nn.Embedding(config.vocab_size, width)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, width)
        self.dropout = nn.Dropout(config.dropout)
        self.input_projection = nn.Linear(width, channels)
        # Twice the channels: GLU gates one half with the other.
        self.convolutions = nn.ModuleList(nn.Conv1d(channels, 2 * channels, kernel) for _ in range(config.encoder_layers))
        self.output_projection = nn.Linear(channels, width)
        # Centred windows; an even width leans right, as in fairseq.
        self.padding = ((kernel - 1) // 2, kernel // 2)
        self.gradient_scale = 1.0 / (2.0 * config.decoder_layers)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ConvSeq2SeqEncoderOutput:
        embeds = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        if attention_mask is None:
            attention_mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        keep = attention_mask.unsqueeze(-1).to(embeds.dtype)
        source_embedding = self.dropout(embeds + self.embed_positions(_source_positions(attention_mask)))
        hidden = self.input_projection(source_embedding)
        hidden_states = [source_embedding]
        for conv in self.convolutions:
            residual = hidden
            # Padding enters as zeros, exactly like the convolution's zero padding past a sentence's end.
            inputs = self.dropout(hidden) * keep
            gated = F.glu(conv(F.pad(inputs.transpose(1, 2), self.padding)).transpose(1, 2), dim=-1)
            hidden = (gated + residual) * SQRT_HALF
            hidden_states.append(hidden)
        keys = _ScaleGradient.apply(self.output_projection(hidden) * keep, self.gradient_scale)
        values = (keys + source_embedding) * SQRT_HALF
        output = ConvSeq2SeqEncoderOutput(
            last_hidden_state=keys, attention_values=values, hidden_states=tuple(hidden_states) if output_hidden_states else None,
        )
        return output if return_dict is not False else output.to_tuple()


class ConvSeq2SeqAttention(nn.Module):
    """One decoder layer's attention: the query is the layer's convolution output (projected to the
    embedding width) plus the target embedding; dot products with the keys, a softmax over real
    source positions, a weighted sum of the values scaled by sqrt(source length) (the sum of m
    vectors of unit variance, weighted uniformly, would shrink by 1/sqrt(m))."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.in_projection = nn.Linear(channels, width)
        self.out_projection = nn.Linear(width, channels)

    def forward(self, hidden, target_embedding, keys, values, source_mask, scale):
        query = (self.in_projection(hidden) + target_embedding) * SQRT_HALF
        scores = torch.bmm(query, keys.transpose(1, 2))
        # The smallest finite number, not -inf: a row with no real source token gives no NaN.
        scores = scores.masked_fill(~source_mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = scores.float().softmax(-1).to(query.dtype)
        context = torch.bmm(weights, values) * scale
        return (self.out_projection(context) + hidden) * SQRT_HALF, weights


class ConvSeq2SeqDecoder(nn.Module):
    def __init__(self, config: ConvSeq2SeqConfig):
        super().__init__()
        width, channels = config.embedding_size, config.hidden_size
        self.embed_tokens = nn.Embedding(config.decoder_vocab_size, width)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, width)
        self.dropout = nn.Dropout(config.dropout)
        self.input_projection = nn.Linear(width, channels)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(channels, 2 * channels, config.decoder_kernel_size) for _ in range(config.decoder_layers)
        )
        self.attentions = nn.ModuleList(ConvSeq2SeqAttention(channels, width) for _ in range(config.decoder_layers))
        self.output_projection = nn.Linear(channels, config.decoder_output_size)
        self.history = config.decoder_kernel_size - 1  # inputs before the current one each window reads

    def forward(self, input_ids, inputs_embeds, keys, values, source_mask, cache, output_hidden_states):
        """Returns the top hidden state, the cache after these tokens, the attention weights per layer
        and (when asked) the hidden states. ``cache``: (steps, layer 0 history, layer 1 history, ...),
        steps (batch,) the tokens read so far, each history (batch, kernel - 1, channels)."""
        embeds = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        batch, length = embeds.shape[:2]
        steps = cache[0] if cache is not None else torch.zeros(batch, dtype=torch.long, device=embeds.device)
        positions = steps[:, None] + torch.arange(length, device=embeds.device)
        target_embedding = self.dropout(embeds + self.embed_positions(positions))
        hidden = self.input_projection(target_embedding)
        scale = source_mask.sum(-1).to(hidden.dtype).sqrt()[:, None, None]
        new_cache, weights_per_layer, hidden_states = [steps + length], [], [target_embedding]
        for index, (conv, attention) in enumerate(zip(self.convolutions, self.attentions)):
            residual = hidden
            inputs = self.dropout(hidden)
            # Before the first token the history is zeros: the causal convolution's left padding.
            history = cache[index + 1] if cache is not None else inputs.new_zeros(batch, self.history, inputs.shape[-1])
            window = torch.cat([history, inputs], dim=1)
            new_cache.append(window[:, length:])  # the last kernel - 1 inputs
            gated = F.glu(conv(window.transpose(1, 2)).transpose(1, 2), dim=-1)
            attended, weights = attention(gated, target_embedding, keys, values, source_mask, scale)
            hidden = (attended + residual) * SQRT_HALF
            weights_per_layer.append(weights)
            hidden_states.append(hidden)
        top = self.dropout(self.output_projection(hidden))
        return top, tuple(new_cache), weights_per_layer, tuple(hidden_states) if output_hidden_states else None


class ConvSeq2SeqForConditionalGeneration(PreTrainedModel, GenerationMixin):
    config_class = ConvSeq2SeqConfig
    base_model_prefix = "conv_seq2seq"
    main_input_name = "input_ids"
    _tied_weights_keys = {"lm_head.weight": "decoder.embed_tokens.weight"}

    def __init__(self, config: ConvSeq2SeqConfig):
        super().__init__(config)
        self.encoder = ConvSeq2SeqEncoder(config)
        self.decoder = ConvSeq2SeqDecoder(config)
        self.lm_head = nn.Linear(config.decoder_output_size, config.decoder_vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, self.config.embedding_init_std)
        elif isinstance(module, nn.Conv1d):
            fan_in = module.in_channels * module.kernel_size[0]
            nn.init.normal_(module.weight, 0.0, math.sqrt(4.0 * (1.0 - self.config.dropout) / fan_in))
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            if module is self.lm_head and self.config.tie_word_embeddings:
                return  # it is the target embedding matrix, initialised as an embedding
            nn.init.normal_(module.weight, 0.0, math.sqrt(1.0 / module.in_features))
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def get_encoder(self, modality=None):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def get_input_embeddings(self):
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value):
        self.encoder.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # our cache is the convolutions' recent inputs, not attention keys and values

    def _reorder_cache(self, cache, beam_idx: torch.LongTensor):
        """Beam search: every entry of the cache has the batch (times beams) first."""
        if cache is None:
            return None
        return tuple(entry.index_select(0, beam_idx.to(entry.device)) for entry in cache)

    @can_return_tuple  # return_dict=False (argument or config) gives the tuple, as in transformers models
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: ConvSeq2SeqEncoderOutput | tuple | None = None,
        cache: tuple[torch.Tensor, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        """``labels``: the target ids (-100 ignored); without ``decoder_input_ids`` the decoder reads them
        shifted right after ``decoder_start_token_id``. ``attention_mask`` marks real source tokens.
        ``decoder_attention_mask`` is accepted and not needed: the decoder is causal, so the right
        padding of a batch of targets cannot reach the real positions before it.
        ``cross_attentions``: per decoder layer (batch, 1, target, source), each row summing to 1."""
        if output_attentions is None:
            output_attentions = getattr(self.config, "output_attentions", False)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
            )
        elif not isinstance(encoder_outputs, ConvSeq2SeqEncoderOutput):  # a tuple: keys, values, hidden states
            encoder_outputs = ConvSeq2SeqEncoderOutput(
                last_hidden_state=encoder_outputs[0], attention_values=encoder_outputs[1],
                hidden_states=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        keys = encoder_outputs.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(keys.shape[:2], dtype=torch.long, device=keys.device)
        top, new_cache, weights, decoder_hidden_states = self.decoder(
            decoder_input_ids, decoder_inputs_embeds, keys, encoder_outputs.attention_values,
            attention_mask.bool(), cache, output_hidden_states,
        )
        logits = self.lm_head(top)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=new_cache if use_cache else None,
            decoder_hidden_states=decoder_hidden_states,
            cross_attentions=tuple(w.unsqueeze(1) for w in weights) if output_attentions else None,
            encoder_last_hidden_state=keys,
            encoder_hidden_states=encoder_outputs.hidden_states,
        )
