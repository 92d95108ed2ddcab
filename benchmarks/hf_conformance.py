"""Run transformers' own common model tests against toolkit's families with their own modeling code.

    python benchmarks/hf_conformance.py            # from the repository root; a few minutes on CPU

What it does, all inside a temporary folder (nothing is written into the project):
1. ``pip download --no-deps --no-binary :all: transformers==<installed version>``: the source
   distribution of the transformers that is installed, and unpacks its ``tests/`` folder.
2. The sdist ships ``tests/test_modeling_common.py`` (``ModelTesterMixin``) and
   ``tests/test_configuration_common.py`` (``ConfigTester``) but not three files they import:
   ``tests/generation/test_utils.py`` (``GenerationTesterMixin``), ``tests/exporters/test_export.py``
   (``ExportTesterMixin``) and ``tests/utils/test_configuration_utils.py`` (``config_common_kwargs``).
   Stand-ins are written for them (``GENERATION_CHECKS`` below: our own generation checks, built like
   transformers' ones; the export tests are not run; a small dict of common config keys), and the
   ``parameterized`` package the tests import is pip-installed into the temporary folder if missing.
3. A test module subclasses ``ModelTesterMixin`` (and the generation checks, for models that
   generate) with a model tester per family (``FAMILIES``), plus one test per ``ConfigTester`` check,
   runs pytest on it, and prints pass / fail / inapplicable / skipped per family. Encoder-decoder
   families (rnn_seq2seq, conv_seq2seq) get a source and a target of different lengths, run the
   mixin's encoder-decoder paths (``is_encoder_decoder``; their classes are added to transformers'
   seq2seq-LM name table so the loss-alignment test picks them), the generation checks on the decoder's
   tokens (including that generate() hands the model its ``cache`` back), and a cross-attention check.

A failure whose test is listed in ``INAPPLICABLE`` for that family counts as inapplicable, with the reason
printed; any other failure is a bug to fix (or a new entry to argue for). A listed entry that fails nowhere
is reported, so the list cannot go stale silently. The exit code is 1 when a test fails for a reason not
listed, or when a family ran no test at all (the test module did not import).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import xml.etree.ElementTree as ElementTree
from collections import Counter
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE_NAME = "test_toolkit_conformance"

# Families with their own modeling code; a modeling_*.py file with no entry is reported as "not covered".
# transformer_seq2seq has no entry: it builds transformers' own MarianMTModel from a MarianConfig, which
# transformers' own test suite covers, so it has no modeling file here.
# Keys: the modeling file (models are imported from it), the config module and class, the model classes,
# whether they generate, the tiny config, "width" (hidden_states[0] width: the embeddings), and for
# self-attention models "has_attentions" (the mixin's attention-output tests run), for
# encoder-decoder models "encoder_decoder" (decoder_input_ids and labels of the target length, the
# mixin's encoder-decoder paths) and "cross_attentions" (how many cross-attention maps output_attentions
# gives: one per decoder layer, 0 for none). "common_properties": the config attributes ConfigTester
# checks (default hidden_size, num_layers).
RNN_SEQ2SEQ = {
    "modeling": "modeling_rnn_seq2seq.py",
    "config": ("toolkit.families.rnn_seq2seq.configuration_rnn_seq2seq", "RnnSeq2SeqConfig"),
    "models": ["RnnSeq2SeqForConditionalGeneration"],
    "generates": True,
    "encoder_decoder": True,
    "width": 16,  # the source and target embeddings; the recurrent layers are hidden_size (32) wide
}
FAMILIES = {
    "rnn_lm (lstm)": {
        "modeling": "modeling_rnn_lm.py",
        "config": ("toolkit.families.rnn_lm.configuration_rnn_lm", "RnnLMConfig"),
        "models": ["RnnLMForCausalLM"],
        "generates": True,
        "config_kwargs": {"cell": "lstm", "num_layers": 2, "hidden_size": 32, "embedding_size": 32, "dropout": 0.1},
        "width": 32,  # hidden_states[0] width: the embeddings
    },
    "rnn_lm (gru)": {
        "modeling": "modeling_rnn_lm.py",
        "config": ("toolkit.families.rnn_lm.configuration_rnn_lm", "RnnLMConfig"),
        "models": ["RnnLMForCausalLM"],
        "generates": True,
        "config_kwargs": {"cell": "gru", "num_layers": 2, "hidden_size": 32, "embedding_size": 32, "dropout": 0.1},
        "width": 32,
    },
    "elmo": {
        "modeling": "modeling_elmo.py",
        "config": ("toolkit.families.elmo.configuration_elmo", "ElmoConfig"),
        "models": ["ElmoModel", "ElmoForSequenceClassification", "ElmoForTokenClassification"],
        "generates": False,  # transformers' own test_generation_tester_mixin_inheritance checks this
        # freeze_bilm off: the common tests train every parameter and check each one gets a gradient.
        "config_kwargs": {"num_layers": 2, "embedding_size": 16, "hidden_size": 32, "dropout": 0.1,
                          "freeze_bilm": False, "head_hidden": 8},
        "width": 32,  # forward and backward halves of each layer, concatenated
    },
    # The plain encoder-decoder (no attention) on GRUs, and Luong attention with input feeding on LSTMs:
    # between them every cache layout (hidden; hidden + cell + input feed) and both cell kinds.
    "rnn_seq2seq (gru, none)": {
        **RNN_SEQ2SEQ,
        "config_kwargs": {"cell": "gru", "num_layers": 2, "hidden_size": 32, "embedding_size": 16,
                          "bidirectional": True, "attention": "none", "dropout": 0.1},
        "cross_attentions": 0,
    },
    "rnn_seq2seq (lstm, luong_general)": {
        **RNN_SEQ2SEQ,
        "config_kwargs": {"cell": "lstm", "num_layers": 2, "hidden_size": 32, "embedding_size": 16,
                          "bidirectional": True, "attention": "luong_general", "dropout": 0.1},
        "cross_attentions": 1,
    },
    # Bahdanau attention (queried before the RNN step, context fed into it) on a unidirectional encoder.
    "rnn_seq2seq (gru, bahdanau)": {
        **RNN_SEQ2SEQ,
        "config_kwargs": {"cell": "gru", "num_layers": 1, "hidden_size": 32, "embedding_size": 16,
                          "bidirectional": False, "attention": "bahdanau", "attention_size": 24, "dropout": 0.1},
        "cross_attentions": 1,
    },
    "bert_preln": {
        "modeling": "modeling_bert_preln.py",
        "config": ("toolkit.families.bert_preln.configuration_bert_preln", "BertPreLNConfig"),
        "models": ["BertPreLNModel", "BertPreLNForPreTraining", "BertPreLNForMaskedLM",
                   "BertPreLNForSequenceClassification", "BertPreLNForTokenClassification"],
        "generates": False,
        "config_kwargs": {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4,
                          "intermediate_size": 64, "max_position_embeddings": 64},
        "common_properties": ["hidden_size", "num_hidden_layers", "num_attention_heads"],
        "num_layers": 2,
        "width": 32,
        "has_attentions": True,  # self-attention: the mixin's attention-output tests run
    },
    "conv_seq2seq": {
        "modeling": "modeling_conv_seq2seq.py",
        "config": ("toolkit.families.conv_seq2seq.configuration_conv_seq2seq", "ConvSeq2SeqConfig"),
        "models": ["ConvSeq2SeqForConditionalGeneration"],
        "generates": True,
        "encoder_decoder": True,
        # As many encoder as decoder layers: the mixin expects one count of hidden states for both.
        "config_kwargs": {"encoder_layers": 2, "decoder_layers": 2, "embedding_size": 16, "hidden_size": 32,
                          "encoder_kernel_size": 3, "decoder_kernel_size": 3, "max_position_embeddings": 32,
                          "dropout": 0.1},
        "common_properties": ["hidden_size", "num_hidden_layers"],  # num_hidden_layers: decoder_layers
        "num_layers": 2,
        "width": 16,  # embeddings; the convolutions are hidden_size wide
        "cross_attentions": 2,  # one per decoder layer
    },
}

# Test name -> family folder (the FAMILIES name before any " (") -> why that test cannot apply to that
# family. Only failures are classed with this list, and only for the families named: the same test
# failing in a family not listed is a failure.
_NO_CROPPABLE_CACHE = (
    "assisted decoding needs a transformers Cache that it can crop back to the accepted draft tokens "
    "(generate() refuses any other: 'Assisted decoding requires a cache'); ")
INAPPLICABLE = {
    "test_training": {
        "bert_preln": (
            "the headless encoder (BertPreLNModel, what AutoModel loads) has no objective and so no loss to "
            "train on; the mixin skips transformers' own headless models by their entry in MODEL_MAPPING_NAMES, "
            "a table of transformers' models only"),
    },
    "test_model_base_model_prefix": {
        "rnn_lm": (
            "the recurrent LM has no separate base model: embeddings, stack and softmax form one module, so "
            "base_model is the model itself"),
        "rnn_seq2seq": (
            "the family has one head, the seq2seq LM: encoder, step-by-step decoder (attention, input feeding) "
            "and output layer form one model whose weight names (encoder.*, decoder.*, proj.*, lm_head.*) saved "
            "runs, freeze groups and LoRA targets use; there is no headless model for base_model to return"),
        "conv_seq2seq": (
            "the family has one head, the seq2seq LM: encoder, decoder and output layer form one model whose "
            "weight names (encoder.*, decoder.*, lm_head.*) saved runs and freeze groups use; there is no "
            "headless model for base_model to return"),
    },
    "test_correct_missing_keys": {
        "elmo": (
            "ELMo's biLM under base_model_prefix is a plain nn.Module shared by the LM and the heads (weights "
            "elmo.*), not a PreTrainedModel that saves on its own; heads start from a saved ElmoModel folder"),
    },
    "test_assisted_decoding_matches_greedy_search": {
        "rnn_lm": _NO_CROPPABLE_CACHE + (
            "the recurrent state is a plain tensor that folds in every token seen and cannot be cropped"),
        "rnn_seq2seq": _NO_CROPPABLE_CACHE + (
            "the decoder's cache is its recurrent state (and input-feed vector), a tensor that folds in every "
            "token read and cannot be cropped"),
        "conv_seq2seq": _NO_CROPPABLE_CACHE + (
            "the cache holds only each decoder layer's last kernel_size - 1 convolution inputs, so the inputs a "
            "rollback past rejected draft tokens needs are already gone"),
    },
}


def folder(family: str) -> str:
    """The family's folder name: 'rnn_seq2seq (gru, none)' -> 'rnn_seq2seq'."""
    return family.split(" (")[0]


# Stand-in for tests/generation/test_utils.py, which the sdist does not ship: toolkit's own generation
# checks for every generative model class, built like transformers' GenerationTesterMixin.
GENERATION_CHECKS = '''
import copy

import torch


class GenerationTesterMixin:
    """For a decoder-only model generate() returns the prompt and the new tokens; for an encoder-decoder
    model the decoder's tokens, from its start token on (the source is the encoder's input)."""

    max_new_tokens = 5

    def _generative_models(self):
        if not self.all_generative_model_classes:
            self.skipTest("no model class of this family generates")
        for model_class in self.all_generative_model_classes:
            config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
            config.eos_token_id = None  # never stop early, so every step is compared
            torch.manual_seed(0)
            model = model_class(copy.deepcopy(config)).eval()
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            yield model, inputs["input_ids"], inputs["attention_mask"]

    def _generate(self, model, input_ids, **kwargs):
        return model.generate(input_ids, max_new_tokens=self.max_new_tokens, min_new_tokens=self.max_new_tokens, **kwargs)

    @staticmethod
    def _prompt(model, ids):
        """What generate() puts before the new tokens: the prompt, or the decoder start token."""
        if model.config.is_encoder_decoder:
            return torch.full((ids.shape[0], 1), model.generation_config.decoder_start_token_id, dtype=ids.dtype)
        return ids

    def test_greedy_search_cached_equals_uncached(self):
        for model, ids, mask in self._generative_models():
            cached = self._generate(model, ids, attention_mask=mask, do_sample=False, use_cache=True)
            uncached = self._generate(model, ids, attention_mask=mask, do_sample=False, use_cache=False)
            self.assertTrue(torch.equal(cached, uncached))

    def test_greedy_search_equals_argmax_over_full_forward_passes_and_one_beam(self):
        for model, ids, mask in self._generative_models():
            expected = self._prompt(model, ids)
            for _ in range(self.max_new_tokens):
                if model.config.is_encoder_decoder:
                    logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=expected).logits[:, -1]
                else:
                    logits = model(input_ids=expected).logits[:, -1]
                expected = torch.cat([expected, logits.argmax(-1, keepdim=True)], 1)
            self.assertTrue(torch.equal(self._generate(model, ids, attention_mask=mask, do_sample=False), expected))
            one_beam = self._generate(model, ids, attention_mask=mask, do_sample=False, num_beams=1)
            self.assertTrue(torch.equal(one_beam, expected))

    def test_beam_search_cached_equals_uncached(self):
        for model, ids, mask in self._generative_models():
            kwargs = dict(attention_mask=mask, do_sample=False, num_beams=3, num_return_sequences=2)
            cached = self._generate(model, ids, use_cache=True, **kwargs)
            uncached = self._generate(model, ids, use_cache=False, **kwargs)
            prompt = self._prompt(model, ids)
            self.assertEqual(cached.shape, (ids.shape[0] * 2, prompt.shape[1] + self.max_new_tokens))
            self.assertTrue(torch.equal(cached, uncached))

    def test_generation_hands_the_cache_back_to_the_model(self):
        """cached == uncached above proves nothing if generate() never gives the model its cache back
        (transformers 5.24 passes it as `cache`, older versions as `past_key_values`): with use_cache every
        step after the first must get the previous step's cache and only the newest token; without it,
        no cache and the whole sequence so far. Greedy and beam search."""
        for model, ids, mask in self._generative_models():
            name = "decoder_input_ids" if model.config.is_encoder_decoder else "input_ids"
            prompt_length = self._prompt(model, ids).shape[1]
            for search in (dict(do_sample=False), dict(do_sample=False, num_beams=3)):
                for use_cache in (True, False):
                    calls = []
                    hook = model.register_forward_pre_hook(
                        lambda module, args, kwargs: calls.append(
                            (kwargs[name].shape[1], kwargs.get("cache") is not None, kwargs.get("past_key_values"))),
                        with_kwargs=True)
                    try:
                        self._generate(model, ids, attention_mask=mask, use_cache=use_cache, **search)
                    finally:
                        hook.remove()
                    self.assertEqual(len(calls), self.max_new_tokens)
                    self.assertTrue(all(past is None for _, _, past in calls), "the old past_key_values was passed")
                    if use_cache:
                        expected = [(prompt_length, False)] + [(1, True)] * (self.max_new_tokens - 1)
                    else:
                        expected = [(prompt_length + step, False) for step in range(self.max_new_tokens)]
                    self.assertEqual([(length, cached) for length, cached, _ in calls], expected, f"{search}, use_cache={use_cache}")

    def test_sample_is_reproducible_with_a_seed(self):
        for model, ids, mask in self._generative_models():
            torch.manual_seed(3)
            first = self._generate(model, ids, attention_mask=mask, do_sample=True, top_k=5)
            torch.manual_seed(3)
            again = self._generate(model, ids, attention_mask=mask, do_sample=True, top_k=5)
            self.assertTrue(torch.equal(first, again))

    def test_left_padding_gives_the_unpadded_continuation(self):
        for model, ids, mask in self._generative_models():
            alone = self._generate(model, ids[:1], do_sample=False)
            padded = torch.cat([torch.zeros(1, 3, dtype=ids.dtype), ids[:1]], 1)
            padded_mask = torch.cat([torch.zeros(1, 3, dtype=mask.dtype), torch.ones_like(ids[:1])], 1)
            out = self._generate(model, padded, attention_mask=padded_mask, do_sample=False)
            # A decoder-only model's output keeps the padded prompt; an encoder-decoder's starts at the decoder.
            self.assertTrue(torch.equal(out if model.config.is_encoder_decoder else out[:, 3:], alone))

    def test_batched_equals_one_by_one(self):
        for model, ids, mask in self._generative_models():
            batched = self._generate(model, ids, do_sample=False)
            single = torch.cat([self._generate(model, row[None], do_sample=False) for row in ids])
            self.assertTrue(torch.equal(batched, single))

    def test_generate_from_inputs_embeds(self):
        for model, ids, mask in self._generative_models():
            from_ids = self._generate(model, ids, do_sample=False)
            embeds = model.get_input_embeddings()(ids)
            from_embeds = model.generate(inputs_embeds=embeds, max_new_tokens=self.max_new_tokens,
                                         min_new_tokens=self.max_new_tokens, do_sample=False)
            # From embeddings a decoder-only model returns the new tokens only (it has no prompt ids).
            new = from_ids if model.config.is_encoder_decoder else from_ids[:, ids.shape[1]:]
            self.assertTrue(torch.equal(from_embeds, new))

    def test_dict_output_scores_match_the_sequences(self):
        for model, ids, mask in self._generative_models():
            out = self._generate(model, ids, attention_mask=mask, do_sample=False, return_dict_in_generate=True,
                                 output_scores=True, output_logits=True, output_hidden_states=True)
            self.assertEqual(len(out.scores), self.max_new_tokens)
            chosen = torch.stack([score.argmax(-1) for score in out.scores], 1)
            self.assertTrue(torch.equal(chosen, out.sequences[:, self._prompt(model, ids).shape[1]:]))
            hidden = out.decoder_hidden_states if model.config.is_encoder_decoder else out.hidden_states
            self.assertEqual(len(hidden), self.max_new_tokens)
            self.assertEqual(len(hidden[0]), self.model_tester.num_hidden_layers + 1)

    def test_assisted_decoding_matches_greedy_search(self):
        for model, ids, mask in self._generative_models():
            greedy = self._generate(model, ids[:1], do_sample=False)
            assistant = copy.deepcopy(model)
            assisted = self._generate(model, ids[:1], do_sample=False, assistant_model=assistant)
            self.assertTrue(torch.equal(assisted, greedy))
'''

# Stand-in for tests/exporters/test_export.py (not in the sdist): the export tests are not run.
EXPORT_STANDIN = '''
class ExportTesterMixin:
    """The sdist does not ship tests/exporters/test_export.py: torch.export checks are not run."""
'''

# Stand-in for tests/utils/test_configuration_utils.py (not in the sdist): common PreTrainedConfig
# keys with non-default values, which every config must accept and store.
CONFIG_COMMON_STANDIN = '''
config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "problem_type": "regression",
    "id2label": {0: "no", 1: "yes"},
    "label2id": {"no": 0, "yes": 1},
    "tokenizer_class": "PreTrainedTokenizerFast",
}
'''

TEST_MODULE = '''
import unittest

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES

from .test_configuration_common import ConfigTester
from .test_modeling_common import ModelTesterMixin, ids_tensor
from .generation.test_utils import GenerationTesterMixin

{imports}

# The mixin recognises a sequence-to-sequence LM by its class name in transformers' mapping (that is how
# test_encoder_decoder_loss_no_double_shift picks the classes it checks); ours are registered with
# AutoModelForSeq2SeqLM at run time, which that name table does not see.
MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES.update({{model.config_class.model_type: model.__name__ for model in ({seq2seq_models})}})


class FamilyModelTester:
    \"\"\"What ModelTesterMixin asks of a model tester, for one toolkit family's tiny config. An
    encoder-decoder tester gives a source of seq_length tokens and a target of decoder_seq_length
    (different lengths, so that a source/target mix-up shows).\"\"\"

    def __init__(self, parent, config_class, config_kwargs, width, num_layers, encoder_decoder=False, batch_size=2,
                 seq_length=7, decoder_seq_length=5, vocab_size=99):
        self.parent, self.config_class, self.config_kwargs = parent, config_class, config_kwargs
        self.batch_size, self.seq_length, self.vocab_size = batch_size, seq_length, vocab_size
        self.encoder_decoder = encoder_decoder
        if encoder_decoder:
            self.encoder_seq_length, self.decoder_seq_length = seq_length, decoder_seq_length
        self.hidden_size = width
        self.num_hidden_layers = num_layers
        self.num_attention_heads = config_kwargs.get("num_attention_heads")  # families with self-attention
        self.is_training = True
        self.num_labels = 3

    def get_config(self):
        # Special ids 0 (pad), 1 (bos, the decoder start), 2 (eos); the random ids below start at 3.
        special = dict(bos_token_id=1, eos_token_id=2) if self.encoder_decoder else {{}}
        return self.config_class(vocab_size=self.vocab_size, pad_token_id=0, num_labels=self.num_labels,
                                 **special, **self.config_kwargs)

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 3) + 3  # no special id
        inputs = {{"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}}
        if self.encoder_decoder:
            targets = ids_tensor([self.batch_size, self.decoder_seq_length], self.vocab_size - 3) + 3
            targets[:, 0] = 1  # the decoder start token, as teacher forcing feeds it
            inputs.update(decoder_input_ids=targets, decoder_attention_mask=torch.ones_like(targets))
        return self.get_config(), inputs


# The labels each class trains on (transformers adds them only for classes in its own auto mappings, and
# then of the source's length): causal LMs on their input, seq2seq LMs on the decoder input shifted left.
LABELS = {{
    "RnnLMForCausalLM": lambda inputs: inputs["input_ids"].clone(),
    "ElmoModel": lambda inputs: inputs["input_ids"].clone(),
    "ElmoForSequenceClassification": lambda inputs: torch.zeros(inputs["input_ids"].shape[0], dtype=torch.long),
    "ElmoForTokenClassification": lambda inputs: torch.zeros_like(inputs["input_ids"]),
    "RnnSeq2SeqForConditionalGeneration": lambda inputs: inputs["decoder_input_ids"].roll(-1, 1),
    "ConvSeq2SeqForConditionalGeneration": lambda inputs: inputs["decoder_input_ids"].roll(-1, 1),
    "BertPreLNForPreTraining": lambda inputs: inputs["input_ids"].clone(),
    "BertPreLNForMaskedLM": lambda inputs: inputs["input_ids"].clone(),
    "BertPreLNForSequenceClassification": lambda inputs: torch.zeros(inputs["input_ids"].shape[0], dtype=torch.long),
    "BertPreLNForTokenClassification": lambda inputs: torch.zeros_like(inputs["input_ids"]),
}}


class WithLabels:
    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels)
        if return_labels and model_class.__name__ in LABELS:  # ours replace the mixin's (source-length zeros
            inputs["labels"] = LABELS[model_class.__name__](inputs)  # for a seq2seq LM); a bare encoder takes none
        return inputs


class ConfigChecks:
    \"\"\"One test per ConfigTester check (the ones run_common_tests runs), so each gets its own verdict.\"\"\"


for _check in [name for name in vars(ConfigTester) if name.startswith(("create_and_test_", "check_"))]:
    setattr(ConfigChecks, f"test_config_{{_check}}", lambda self, _check=_check: getattr(self.config_tester, _check)())


class CrossAttentionChecks:
    \"\"\"The mixin's attention tests read encoder and decoder self-attention (encoder_attentions,
    decoder_attentions, num_attention_heads), which recurrent and convolutional encoders and decoders do
    not have, so they run with has_attentions = False; what these models do output, cross_attentions
    (one (batch, 1, target, source) map per decoder layer), is checked here instead.\"\"\"

    expected_cross_attentions = 0

    def test_cross_attentions_are_distributions_over_the_real_source(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        inputs["attention_mask"][0, :2] = 0  # the first source left-padded by two
        for model_class in self.all_model_classes:
            model = model_class(config).eval()
            with torch.no_grad():
                out = model(**inputs, output_attentions=True)
            if not self.expected_cross_attentions:
                self.assertIsNone(out.cross_attentions)
                continue
            self.assertEqual(len(out.cross_attentions), self.expected_cross_attentions)
            for maps in out.cross_attentions:
                tester = self.model_tester
                self.assertEqual(tuple(maps.shape), (tester.batch_size, 1, tester.decoder_seq_length, tester.seq_length))
                torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)))
                self.assertTrue(torch.equal(maps[0, ..., :2], torch.zeros_like(maps[0, ..., :2])))

{classes}
'''

TEST_CLASS = '''
class {class_name}(WithLabels, ModelTesterMixin, {mixins}ConfigChecks, unittest.TestCase):
    all_model_classes = ({models},)
    is_encoder_decoder = {encoder_decoder}
    has_attentions = {has_attentions}  # False: no self-attention (see CrossAttentionChecks)
    # The mixin skips this check for models it dates before 2023 (by a copyright line ours lack) until
    # their _init_weights is fixed; ours claim to initialise every weight, so it runs.
    test_can_init_all_missing_weights_before_2023 = True
    expected_cross_attentions = {cross_attentions}

    def setUp(self):
        self.model_tester = FamilyModelTester(self, {config_class}, {config_kwargs!r}, {width}, {num_layers},
                                              encoder_decoder={encoder_decoder})
        self.config_tester = ConfigTester(self, config_class={config_class}, common_properties={common_properties!r},
                                          vocab_size=99, **{config_kwargs!r})
'''


def class_name(family: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", family)) + "Test"


def fetch_tests(workdir: Path, sdist: Path | None) -> Path:
    """Unpack the tests/ folder of the transformers sdist matching the installed version."""
    wanted = version("transformers")
    if sdist is None:
        print(f"downloading the transformers {wanted} source distribution from PyPI ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        f"transformers=={wanted}", "-d", str(workdir / "sdist")], check=True)
        sdist = next((workdir / "sdist").glob("transformers-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"] and m.isfile()]
        for member in members:
            member.name = "/".join(member.name.split("/")[1:])
        archive.extractall(workdir, members=members, filter="data")
    return workdir / "tests"


def write_standins(tests: Path) -> list[str]:
    """Write the files the sdist's common tests import but the sdist lacks; say which were missing."""
    standins = {"generation/test_utils.py": GENERATION_CHECKS, "exporters/test_export.py": EXPORT_STANDIN,
                "utils/test_configuration_utils.py": CONFIG_COMMON_STANDIN}
    missing = []
    for relative, text in standins.items():
        path = tests / relative
        if path.exists():
            continue  # a future sdist that ships it: use the real one
        missing.append(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for package in (tests, tests / "generation", tests / "exporters", tests / "utils"):
        (package / "__init__.py").touch()
    return missing


def ensure_test_dependencies(workdir: Path) -> Path | None:
    """pip-install what transformers' common tests import and this environment lacks, into workdir."""
    if find_spec("parameterized") is not None:
        return None
    target = workdir / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "parameterized"], check=True)
    return target


def write_test_module(tests: Path) -> None:
    imports, classes, seq2seq_models = set(), [], []
    for family, spec in FAMILIES.items():
        module, config_class = spec["config"]
        modeling = f"{module.rsplit('.', 1)[0]}.{spec['modeling'].removesuffix('.py')}"
        imports.add(f"from {module} import {config_class}")
        imports.add(f"from {modeling} import {', '.join(spec['models'])}")
        encoder_decoder = spec.get("encoder_decoder", False)
        if encoder_decoder:
            seq2seq_models += [name for name in spec["models"] if name not in seq2seq_models]
        mixins = ("GenerationTesterMixin, " if spec["generates"] else "") + ("CrossAttentionChecks, " if encoder_decoder else "")
        classes.append(TEST_CLASS.format(
            class_name=class_name(family), models=", ".join(spec["models"]), config_class=config_class,
            has_attentions=spec.get("has_attentions", False),
            config_kwargs=spec["config_kwargs"], mixins=mixins, width=spec["width"], encoder_decoder=encoder_decoder,
            num_layers=spec.get("num_layers", spec["config_kwargs"].get("num_layers")),
            cross_attentions=spec.get("cross_attentions", 0),
            common_properties=spec.get("common_properties", ["hidden_size", "num_layers"])))
    (tests / f"{MODULE_NAME}.py").write_text(TEST_MODULE.format(
        imports="\n".join(sorted(imports)), classes="".join(classes),
        seq2seq_models="".join(f"{name}, " for name in seq2seq_models)))


def run_pytest(workdir: Path, site: Path | None, timeout: int) -> Path:
    report = workdir / "report.xml"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (REPO, site, workdir) if p))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(workdir),
               "-W", "ignore", f"--junitxml={report}", f"tests/{MODULE_NAME}.py"]
    print("running transformers' common tests ...", flush=True)
    subprocess.run(command, cwd=workdir, env=env, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not report.is_file():
        raise SystemExit(f"pytest wrote no report; rerun with --keep and run it in {workdir} to see why")
    return report


def verdicts(report: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Family -> [(test name, outcome, detail)], outcome one of pass / fail / inapplicable / skipped."""
    by_class = {class_name(family): family for family in FAMILIES}
    results: dict[str, list[tuple[str, str, str]]] = {family: [] for family in FAMILIES}
    for case in ElementTree.parse(report).iter("testcase"):
        family = by_class.get(case.get("classname", "").rsplit(".", 1)[-1])
        if family is None:
            continue
        name = case.get("name")
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        if case.find("skipped") is not None:
            results[family].append((name, "skipped", case.find("skipped").get("message", "")))
        elif failure is not None:
            outcome = "inapplicable" if folder(family) in INAPPLICABLE.get(name, {}) else "fail"
            results[family].append((name, outcome, (failure.get("message") or "").splitlines()[0][:160] if failure.get("message") else ""))
        else:
            results[family].append((name, "pass", ""))
    return results


def print_report(results, missing: list[str]) -> bool:
    print(f"\ntransformers {version('transformers')}, torch {version('torch')}")
    if missing:
        print("not in the sdist, replaced by stand-ins: " + ", ".join(f"tests/{m}" for m in missing))
    width = max(len(family) for family in results) + 2
    print(f"\n{'family':<{width}}{'pass':>6}{'fail':>6}{'inapplicable':>14}{'skipped':>9}")
    for family, rows in results.items():
        counts = Counter(outcome for _, outcome, _ in rows)
        print(f"{family:<{width}}{counts['pass']:>6}{counts['fail']:>6}{counts['inapplicable']:>14}{counts['skipped']:>9}")
    # A family with no test at all did not get to run (an import error in the test module, say): that is a
    # failure, not a clean pass.
    empty = [family for family, rows in results.items() if not rows]
    for family in empty:
        print(f"  [{family}] no test ran: the test module failed to import or collect; rerun with --keep and run "
              "pytest in the kept folder to see why")
    covered = {spec["modeling"] for spec in FAMILIES.values()}
    for path in sorted((REPO / "toolkit" / "families").glob("*/modeling_*.py")):
        if path.name not in covered:
            print(f"{path.name} not covered: add a FAMILIES entry")
    inapplicable = sorted({(name, folder(family)) for family, rows in results.items()
                           for name, outcome, _ in rows if outcome == "inapplicable"})
    if inapplicable:
        print("\ninapplicable (failed, and cannot apply to that family):")
        for name, group in inapplicable:
            variants = [f for f, rows in results.items() if folder(f) == group and (name, "inapplicable") in [(n, o) for n, o, _ in rows]]
            print(f"  {name} [{', '.join(variants)}]: {INAPPLICABLE[name][group]}")
    listed = {(name, group) for name, groups in INAPPLICABLE.items() for group in groups}
    for name, group in sorted(listed - set(inapplicable)):
        print(f"  listed in INAPPLICABLE for {group} but failed in no {group} variant (remove it?): {name}")
    failures = [(family, name, detail) for family, rows in results.items() for name, outcome, detail in rows if outcome == "fail"]
    if failures:
        print("\nfailures:")
        for family, name, detail in failures:
            print(f"  [{family}] {name}: {detail}")
    return not failures and not empty


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help="a transformers-<version>.tar.gz already downloaded (skips pip download)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds pytest may run")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hf-conformance-"))
    try:
        tests = fetch_tests(workdir, args.sdist)
        missing = [m for m in ("test_modeling_common.py", "test_configuration_common.py") if not (tests / m).is_file()]
        if missing:
            raise SystemExit(f"the transformers sdist lacks tests/{' and tests/'.join(missing)}: nothing to run against")
        standins = write_standins(tests)
        site = ensure_test_dependencies(workdir)
        write_test_module(tests)
        ok = print_report(verdicts(run_pytest(workdir, site, args.timeout)), standins)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
