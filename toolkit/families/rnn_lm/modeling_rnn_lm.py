"""Recurrent (RNN / LSTM / GRU) causal language model as a Hugging Face model.

Self-contained on purpose (torch, transformers and its sibling files only): ``save_pretrained``
copies this file, ``configuration_rnn_lm.py`` and what that imports into the model folder
(``auto_map`` in config.json), so the folder loads anywhere with
``AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)``, without toolkit.

Generation carries the recurrent state between steps as the ``cache`` (a tensor; for an LSTM
hidden and cell state stacked), so each new token costs one recurrent step, not a re-read. The
argument is named ``cache`` as generate() passes it from transformers 5.24 on (before, it was
``past_key_values``), hence the transformers floor in pyproject.toml.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.func import functional_call
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput
from transformers.utils.generic import can_return_tuple

from .configuration_rnn_lm import RnnLMConfig

# The torch module of each of config_fields_rnn_lm.CELLS.
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# generate() hands the previous step's output ``cache`` back to forward only from transformers 5.24 on;
# older versions look for ``past_key_values``, so every step would restart from a zero state and
# generation would silently produce wrong tokens. This file also travels inside model folders (loaded
# without toolkit's pinned dependencies), hence the check here and not only in pyproject.toml.
if "cache" not in inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters:
    import transformers

    raise ImportError(
        f"the rnn_lm model needs transformers>=5.24 (found {transformers.__version__}): older versions pass "
        "the recurrent state to the model as past_key_values, and generation would ignore it"
    )


@dataclass
class RnnLMOutput(CausalLMOutput):
    """CausalLMOutput plus the recurrent state after the last input token (for generation)."""

    cache: torch.Tensor | None = None


class RnnLMForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = RnnLMConfig
    base_model_prefix = "rnn_lm"
    main_input_name = "input_ids"
    _tied_weights_keys = {"lm_head.weight": "embed_tokens.weight"}

    def __init__(self, config: RnnLMConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        cell = CELLS[config.cell]
        self.rnn = cell(
            config.embedding_size, config.hidden_size, num_layers=config.num_layers, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        # Shape-only one-layer twins of the stack, on the meta device (no memory) and kept in a tuple
        # (not registered, never saved). Running layer k through one of them with the stack's layer-k
        # weights gives that layer's outputs for ``hidden_states``, while the weights stay in the one
        # fused stack under the names saved run folders use (rnn.weight_ih_l{k}, ...).
        with torch.device("meta"):
            self._one_layer_shapes = (
                cell(config.embedding_size, config.hidden_size, batch_first=True),
                cell(config.hidden_size, config.hidden_size, batch_first=True),
            )
        needs_projection = config.hidden_size != config.embedding_size
        self.proj = nn.Linear(config.hidden_size, config.embedding_size) if needs_projection else None
        self.lm_head = nn.Linear(config.embedding_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        bound = self.config.initializer_range
        if isinstance(module, nn.Embedding):
            # N(0, 0.5), not Zaremba et al.'s U(+-0.1): with Adam at lr 2e-3, inputs that small reach
            # the second layer ~1000x attenuated, and the tiny LSTM sat on the unigram plateau (loss 6.6
            # on People's Daily) for all 500 steps. Measured over 150 steps, 0.5 beat 1.0 for rnn and
            # gru and matched it for lstm; 1.0 and more make the tied softmax start overconfident.
            nn.init.normal_(module.weight, 0.0, self.config.embedding_init_std)
        elif isinstance(module, nn.Linear):
            nn.init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
            bound = module.hidden_size**-0.5
            for name, param in module.named_parameters():
                nn.init.uniform_(param, -bound, bound)
                if self.config.cell == "lstm" and name.startswith("bias_ih"):
                    # Forget-gate bias 1: remember by default early in training (Jozefowicz et al. 2015).
                    param.data[module.hidden_size : 2 * module.hidden_size] = 1.0

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # our cache is the recurrent state, not attention keys and values

    # The recurrent state: (layers, batch, hidden), for an LSTM (2, layers, batch, hidden).
    def _pack_state(self, state):
        return torch.stack(state) if isinstance(state, tuple) else state

    def _unpack_state(self, cache):
        if cache is None:
            return None
        return (cache[0].contiguous(), cache[1].contiguous()) if self.config.cell == "lstm" else cache

    def _reorder_cache(self, cache: torch.Tensor, beam_idx: torch.LongTensor) -> torch.Tensor:
        return cache.index_select(-2, beam_idx.to(cache.device))  # batch is the second-last dim

    def _run_rnn(self, run, embeds, state, mask):
        """Run ``run`` (the stack or one layer of it); positions where ``mask`` is 0 (left padding) keep the state."""
        if mask is None or bool(mask.all()):
            return run(embeds, state)
        outputs = []
        for t in range(embeds.shape[1]):
            out, new_state = run(embeds[:, t : t + 1], state)
            keep = mask[:, t].to(out.dtype)
            if state is None:  # zeros, as the RNN would start from
                state = tuple(torch.zeros_like(s) for s in new_state) if isinstance(new_state, tuple) else torch.zeros_like(new_state)
            if isinstance(new_state, tuple):
                state = tuple(keep[None, :, None] * n + (1 - keep[None, :, None]) * s for n, s in zip(new_state, state))
            else:
                state = keep[None, :, None] * new_state + (1 - keep[None, :, None]) * state
            outputs.append(out)
        return torch.cat(outputs, dim=1), state

    def _run_one_layer(self, index, inputs, state):
        """Layer ``index`` of the stack alone, with the stack's own weights."""
        shape = self._one_layer_shapes[min(index, 1)]
        weights = {name: getattr(self.rnn, name[: -len("_l0")] + f"_l{index}") for name in shape._flat_weights_names}
        return functional_call(shape, weights, (inputs, state))

    @staticmethod
    def _layer_state(state, index):
        if state is None:
            return None
        return tuple(s[index : index + 1] for s in state) if isinstance(state, tuple) else state[index : index + 1]

    @staticmethod
    def _stack_layer_states(states):
        return tuple(torch.cat(parts) for parts in zip(*states)) if isinstance(states[0], tuple) else torch.cat(states)

    def _run_layer_by_layer(self, inputs, state, mask):
        """Each layer's outputs (for ``hidden_states``) and the final state of the whole stack."""
        outputs, states = [], []
        for index in range(self.config.num_layers):
            if index > 0:  # the dropout the fused stack applies between its layers
                inputs = nn.functional.dropout(inputs, self.rnn.dropout, self.training)
            inputs, layer_state = self._run_rnn(partial(self._run_one_layer, index), inputs, self._layer_state(state, index), mask)
            outputs.append(inputs)
            states.append(layer_state)
        return outputs, self._stack_layer_states(states)

    @can_return_tuple  # return_dict=False (argument or config) gives the tuple, as in transformers models
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> RnnLMOutput:
        """``labels`` are the input ids (shifted inside, as in GPT-2); -100 is ignored.
        ``attention_mask`` may mark left padding (batched generation); the state skips it.
        ``hidden_states``: the embeddings fed to the stack, then each recurrent layer's outputs
        (before the projection to the embedding width), num_layers + 1 entries."""
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        embeds = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        mask = attention_mask[:, -embeds.shape[1] :] if attention_mask is not None else None
        inputs, state = self.dropout(embeds), self._unpack_state(cache)
        hidden_states = None
        if output_hidden_states:  # layer by layer; otherwise the fused stack (faster on GPU)
            layer_outputs, state = self._run_layer_by_layer(inputs, state, mask)
            hidden_states, top = (inputs, *layer_outputs), layer_outputs[-1]
        else:
            top, state = self._run_rnn(self.rnn, inputs, state, mask)
        hidden = self.dropout(top)
        if self.proj is not None:
            hidden = self.proj(hidden)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        use_cache = self.config.use_cache if use_cache is None else use_cache
        return RnnLMOutput(
            loss=loss, logits=logits, cache=self._pack_state(state) if use_cache else None, hidden_states=hidden_states,
        )
