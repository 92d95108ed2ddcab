"""Recurrent (GRU / LSTM) encoder-decoder with optional attention, as a Hugging Face seq2seq model.

Self-contained on purpose (torch, transformers and its configuration file only): ``save_pretrained``
copies both files into the model folder (``auto_map`` in config.json), so the folder loads anywhere
with ``AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True)``, without toolkit.

Encoder: token embeddings, then ``num_layers`` recurrent layers over the packed source (padding,
left or right, never enters the recurrence). Bidirectional layers have hidden_size / 2 units per
direction, concatenated, so outputs and final states are hidden_size wide.

Decoder, one step t (token y, previous state s, encoder outputs h_1..h_S, source mask):
- none:          input [E y; c], c = the encoder's last top-layer state for every t (Cho et al. 2014)
- bahdanau:      a = softmax_j(v . tanh(W_q s_top + W_k h_j)), c = sum_j a_j h_j from the *previous*
                 top state; input [E y; c] (Bahdanau et al. 2015)
- luong_*:       the RNN runs first on [E y; ~h_prev] (input feeding) or E y, giving h_t; then
                 a = softmax_j(score(h_t, h_j)) with dot: h_t . h_j, general: h_t . (W_a h_j),
                 concat: v . tanh(W_q h_t + W_k h_j) (Luong et al. 2015)
- all:           the attentional vector ~h = tanh(W_c [h_t; c]) goes (through a projection to the
                 embedding width when the output layer is tied to the embeddings) to the softmax.
Padded source positions get score -inf-like (the dtype's minimum), hence weight exactly 0.

Generation: ``get_encoder()`` runs once per generate() call; transformers repeats its outputs per
beam. The decoder's recurrent state plus the input-feed vector is the ``cache``: one tensor
(batch, slots, hidden), batch first so ``_reorder_cache`` is one ``index_select`` over beams. The
decoder always runs step by step (one cell call per token), so a cached step and a full recompute
(``use_cache=False``) do the same arithmetic and pick the same tokens; a fused multi-step GRU
differs from single steps by rounding (1e-7), enough to flip a near-tie between beams.

The argument is named ``cache`` as generate() passes it from transformers 5.24 on (before, it was
``past_key_values``), hence the version check below.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import Seq2SeqLMOutput
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_rnn_seq2seq import RnnSeq2SeqConfig

# generate() hands the previous step's output ``cache`` back to forward only from transformers 5.24 on;
# older versions look for ``past_key_values``, so every step would restart from the encoder state and
# generation would silently produce wrong tokens. This file also travels inside model folders (loaded
# without toolkit's pinned dependencies), hence the check here and not only in pyproject.toml.
if "cache" not in inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters:
    import transformers

    raise ImportError(
        f"the rnn_seq2seq model needs transformers>=5.24 (found {transformers.__version__}): older versions pass "
        "the recurrent state to the model as past_key_values, and generation would ignore it"
    )

ENCODER_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
DECODER_CELLS = {"gru": nn.GRUCell, "lstm": nn.LSTMCell}
ADDITIVE = ("bahdanau", "luong_concat")


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: the start token, then the labels but the last (-100 -> pad)."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


@dataclass
class RnnSeq2SeqEncoderOutput(ModelOutput):
    """last_hidden_state: (batch, source, hidden), the top layer's outputs (zeros at padding);
    final_state: (batch, slots, hidden), each layer's last state (an LSTM's hidden states, then its
    cell states), batch first so that generate() repeats it per beam like the outputs;
    hidden_states: the embeddings, then each layer's outputs, when asked for."""

    last_hidden_state: torch.Tensor | None = None
    final_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class RnnSeq2SeqEncoder(nn.Module):
    main_input_name = "input_ids"  # generate() reads it to name the source

    def __init__(self, config: RnnSeq2SeqConfig):
        super().__init__()
        self.config = config
        directions = 2 if config.bidirectional else 1
        width = config.hidden_size // directions
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_size)
        cell = ENCODER_CELLS[config.cell]
        # One module per layer (not one num_layers stack) so that hidden_states can hold every layer.
        self.layers = nn.ModuleList(
            cell(config.embedding_size if index == 0 else config.hidden_size, width, batch_first=True,
                 bidirectional=config.bidirectional)
            for index in range(config.num_layers)
        )
        self.dropout = nn.Dropout(config.dropout)

    def _final(self, state: torch.Tensor) -> torch.Tensor:
        """(directions, batch, width) -> (batch, hidden): the directions side by side."""
        return torch.cat(list(state), dim=-1)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,  # asked by generate(); a recurrent encoder has none
        output_hidden_states: bool | None = None,
    ) -> RnnSeq2SeqEncoderOutput:
        embeds = source_embeds = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        batch, length = embeds.shape[:2]
        mask = torch.ones(batch, length, dtype=torch.bool, device=embeds.device) if attention_mask is None else attention_mask.bool()
        lengths = mask.sum(1)
        # Packing takes the real tokens from the start of each row: move them there (a stable sort
        # keeps their order) and put the outputs back afterwards, so left padding works too.
        order = None
        if not bool((mask == (torch.arange(length, device=mask.device) < lengths[:, None])).all()):
            order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
            embeds = embeds.gather(1, order[..., None].expand_as(embeds))
        # An empty source still gets one (padding) step, so that it has a final state.
        packed = pack_padded_sequence(self.dropout(embeds), lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)

        def unpacked(sequence):
            outputs = pad_packed_sequence(sequence, batch_first=True, total_length=length)[0]
            if order is not None:
                outputs = torch.zeros_like(outputs).scatter_(1, order[..., None].expand_as(outputs), outputs)
            return outputs

        hidden_states, finals, cells = [], [], []
        for index, layer in enumerate(self.layers):
            if index > 0:  # dropout between layers, as a stacked nn.GRU / nn.LSTM applies it
                packed = packed._replace(data=self.dropout(packed.data))
            packed, state = layer(packed)
            if isinstance(state, tuple):
                state, cell_state = state
                cells.append(self._final(cell_state))
            finals.append(self._final(state))
            if output_hidden_states:
                hidden_states.append(unpacked(packed))
        top = hidden_states[-1] if output_hidden_states else unpacked(packed)
        return RnnSeq2SeqEncoderOutput(
            last_hidden_state=top,
            final_state=torch.stack(finals + cells, dim=1),
            hidden_states=(source_embeds, *hidden_states) if output_hidden_states else None,
        )


class Attention(nn.Module):
    """Scores a decoder query against every encoder output; returns the weights and the context.

    Parameter names: ``query`` (W_q) and ``key`` (W_k) for additive scores, with ``energy`` (v);
    ``key`` (W_a) for luong_general; luong_dot has none."""

    def __init__(self, kind: str, hidden_size: int, attention_size: int):
        super().__init__()
        self.kind = kind
        # No biases, as in the papers' formulas.
        if kind in ADDITIVE:
            self.query = nn.Linear(hidden_size, attention_size, bias=False)
            self.key = nn.Linear(hidden_size, attention_size, bias=False)
            self.energy = nn.Linear(attention_size, 1, bias=False)
        elif kind == "luong_general":
            self.key = nn.Linear(hidden_size, hidden_size, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """What each step scores against, computed once per forward: W_k h_j, W_a h_j or h_j itself."""
        return memory if self.kind == "luong_dot" else self.key(memory)

    def forward(self, query, keys, memory, mask):
        """query (batch, hidden), keys (batch, source, *), memory (batch, source, hidden), mask (batch, source) bool."""
        if self.kind in ADDITIVE:
            scores = self.energy(torch.tanh(self.query(query)[:, None] + keys)).squeeze(-1)
        else:
            scores = torch.bmm(keys, query[:, :, None]).squeeze(-1)
        # The dtype's minimum rather than -inf: a row with no real position gives uniform weights, not NaN.
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        return weights, torch.bmm(weights[:, None], memory).squeeze(1)


class RnnSeq2SeqDecoder(nn.Module):
    """The decoder's parameters and one step of it; the model runs the steps (``step``)."""

    def __init__(self, config: RnnSeq2SeqConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.embed_tokens = nn.Embedding(config.decoder_vocab_size, config.embedding_size)
        # none and bahdanau feed the context, Luong's input feeding the attentional vector.
        self.feeds_context = config.attention in ("none", "bahdanau")
        extra = hidden if self.feeds_context or config.input_feeding else 0
        cell = DECODER_CELLS[config.cell]
        self.cells = nn.ModuleList(
            cell(config.embedding_size + extra if index == 0 else hidden, hidden) for index in range(config.num_layers)
        )
        self.attention = None if config.attention == "none" else Attention(config.attention, hidden, config.attention_size)
        self.combine = nn.Linear(2 * hidden, hidden)  # W_c of the attentional vector tanh(W_c [h_t; c_t])
        self.dropout = nn.Dropout(config.dropout)

    def step(self, embeds, hidden, cells, feed, memory, keys, mask, fixed_context):
        """One decoder step. hidden / cells: per-layer (batch, hidden) lists (cells only for an LSTM);
        feed: the previous attentional vector (input feeding) or None. Returns the attentional
        vector, the new hidden / cells / feed (the new hidden states are also each layer's output)
        and the attention weights (None without attention)."""
        weights, inputs = None, self.dropout(embeds)
        if self.config.attention == "none":
            context = fixed_context
            inputs = torch.cat([inputs, context], dim=-1)
        elif self.config.attention == "bahdanau":
            weights, context = self.attention(hidden[-1], keys, memory, mask)
            inputs = torch.cat([inputs, context], dim=-1)
        elif feed is not None:
            inputs = torch.cat([inputs, feed], dim=-1)
        new_hidden, new_cells = [], []
        for index, cell in enumerate(self.cells):
            if index > 0:
                inputs = self.dropout(inputs)
            if cells is None:
                inputs = cell(inputs, hidden[index])
            else:
                inputs, cell_state = cell(inputs, (hidden[index], cells[index]))
                new_cells.append(cell_state)
            new_hidden.append(inputs)
        if self.config.attention.startswith("luong"):
            weights, context = self.attention(inputs, keys, memory, mask)
        attentional = torch.tanh(self.combine(torch.cat([inputs, context], dim=-1)))
        new_feed = attentional if self.config.input_feeding else None
        return attentional, new_hidden, (new_cells if cells is not None else None), new_feed, weights


class RnnSeq2SeqForConditionalGeneration(PreTrainedModel, GenerationMixin):
    config_class = RnnSeq2SeqConfig
    base_model_prefix = "rnn_seq2seq"
    main_input_name = "input_ids"
    _tied_weights_keys = {"lm_head.weight": "decoder.embed_tokens.weight"}

    def __init__(self, config: RnnSeq2SeqConfig):
        super().__init__(config)
        self.encoder = RnnSeq2SeqEncoder(config)
        self.decoder = RnnSeq2SeqDecoder(config)
        out_width = config.embedding_size if config.tie_word_embeddings else config.hidden_size
        self.proj = nn.Linear(config.hidden_size, out_width) if out_width != config.hidden_size else None
        self.lm_head = nn.Linear(out_width, config.decoder_vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            # N(0, 0.5) as in the rnn_lm family: with embeddings as small as U(+-0.1) and Adam, the
            # inputs reach the recurrent layers so attenuated that training sits on the unigram plateau.
            nn.init.normal_(module.weight, 0.0, self.config.embedding_init_std)
        elif isinstance(module, nn.Linear):
            nn.init.uniform_(module.weight, -self.config.initializer_range, self.config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.GRU, nn.LSTM, nn.GRUCell, nn.LSTMCell)):
            bound = module.hidden_size**-0.5
            for name, param in module.named_parameters():
                nn.init.uniform_(param, -bound, bound)
                if isinstance(module, (nn.LSTM, nn.LSTMCell)) and name.startswith("bias_ih"):
                    # Forget-gate bias 1: remember by default early in training (Jozefowicz et al. 2015).
                    param.data[module.hidden_size : 2 * module.hidden_size] = 1.0

    def get_encoder(self, modality: str | None = None):
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
        return False  # our cache is the recurrent state, not attention keys and values

    # The cache: (batch, slots, hidden) with slots = each layer's hidden state, an LSTM's cell states
    # after them, then the input-feed vector when Luong input feeding is on.
    def _reorder_cache(self, cache: torch.Tensor | None, beam_idx: torch.LongTensor) -> torch.Tensor | None:
        """Called by generate()'s beam search in transformers 5.24 (before any ``reorder_cache`` of a Cache object)."""
        return None if cache is None else cache.index_select(0, beam_idx.to(cache.device))

    def _split_cache(self, cache):
        layers = self.config.num_layers
        hidden = [cache[:, index] for index in range(layers)]
        cells = [cache[:, layers + index] for index in range(layers)] if self.config.cell == "lstm" else None
        feed = cache[:, -1] if self.config.input_feeding else None
        return hidden, cells, feed

    def _join_cache(self, hidden, cells, feed):
        return torch.stack(hidden + (cells or []) + ([feed] if feed is not None else []), dim=1)

    def _initial_cache(self, encoder_outputs):
        """The decoder starts from the encoder's final state, layer by layer, and a zero input feed."""
        state = encoder_outputs.final_state
        if self.config.input_feeding:
            state = torch.cat([state, state.new_zeros(state.shape[0], 1, state.shape[-1])], dim=1)
        return state

    def _logits(self, attentional: torch.Tensor) -> torch.Tensor:
        hidden = self.decoder.dropout(attentional)
        return self.lm_head(self.proj(hidden) if self.proj is not None else hidden)

    @can_return_tuple  # return_dict=False (argument or config) gives the tuple, as in transformers models
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: RnnSeq2SeqEncoderOutput | tuple | None = None,
        cache: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        teacher_forcing_ratio: float = 1.0,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        """``labels``: the target ids, -100 where no loss is wanted; without ``decoder_input_ids`` the
        decoder reads the labels shifted right behind ``decoder_start_token_id`` (as BART and Marian).
        ``attention_mask`` marks the source's real tokens (left or right padding); the decoder is
        causal, so ``decoder_attention_mask`` is accepted and not needed (pad targets with -100 labels).

        ``teacher_forcing_ratio`` < 1 (training mode only; scheduled sampling, Bengio et al. 2015):
        at each step after the first, each sequence reads its gold previous token with this
        probability and otherwise the model's own argmax prediction of it (no gradient through the
        choice). Evaluation mode always reads the given decoder inputs.

        Outputs: ``cross_attentions`` (with attention, when asked for) is a one-entry tuple holding a
        (batch, 1, target, source) tensor: one layer, one head, as transformers lays out attention,
        so ``cross_attentions[0][:, 0]`` is the alignment map; each row sums to 1 and is 0 on padding.
        ``decoder_hidden_states``: the decoder's input embeddings, then each recurrent layer's
        outputs; ``encoder_hidden_states`` likewise for the encoder."""
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                                           output_hidden_states=output_hidden_states, return_dict=True)
        elif isinstance(encoder_outputs, tuple):  # the encoder's output with return_dict=False
            encoder_outputs = RnnSeq2SeqEncoderOutput(*encoder_outputs)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if labels is None:
                raise ValueError("RnnSeq2SeqForConditionalGeneration needs decoder_input_ids (or decoder_inputs_embeds) or labels "
                                 "to run its decoder; generate() supplies them")
            decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

        memory = encoder_outputs.last_hidden_state
        mask = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device) if attention_mask is None \
            else attention_mask.bool()
        keys = self.decoder.attention.keys(memory) if self.decoder.attention is not None else None
        hidden, cells, feed = self._split_cache(self._initial_cache(encoder_outputs) if cache is None else cache)
        fixed_context = encoder_outputs.final_state[:, self.config.num_layers - 1]  # the top layer's last state

        embeds = self.decoder.embed_tokens(decoder_input_ids) if decoder_inputs_embeds is None else decoder_inputs_embeds
        sampling = self.training and teacher_forcing_ratio < 1.0 and decoder_input_ids is not None
        # Logits step by step too (not one matmul over all steps): a different batch shape rounds
        # differently, and cached generation computes one step at a time.
        step_logits, weights, layer_outputs = [], [], []
        for t in range(embeds.shape[1]):
            step_embeds = embeds[:, t]
            if sampling and t > 0:
                predicted = step_logits[-1].detach().argmax(-1)
                gold = torch.rand(predicted.shape, device=predicted.device) < teacher_forcing_ratio
                step_embeds = self.decoder.embed_tokens(torch.where(gold, decoder_input_ids[:, t], predicted))
            attentional, hidden, cells, feed, step_weights = self.decoder.step(
                step_embeds, hidden, cells, feed, memory, keys, mask, fixed_context)
            step_logits.append(self._logits(attentional))
            if step_weights is not None:
                weights.append(step_weights)
            if output_hidden_states:
                layer_outputs.append(hidden)
        logits = torch.stack(step_logits, 1)

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                               ignore_index=-100)
        decoder_hidden_states = None
        if output_hidden_states:
            decoder_hidden_states = (embeds, *(torch.stack(layer, 1) for layer in zip(*layer_outputs)))
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=self._join_cache(hidden, cells, feed) if use_cache else None,
            decoder_hidden_states=decoder_hidden_states,
            cross_attentions=(torch.stack(weights, 1)[:, None],) if output_attentions and weights else None,
            encoder_last_hidden_state=memory,
            encoder_hidden_states=encoder_outputs.hidden_states,
        )
