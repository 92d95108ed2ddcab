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
   runs pytest on it, and prints pass / fail / inapplicable / skipped per family.

A failure whose test is listed in ``INAPPLICABLE`` counts as inapplicable, with the reason printed; any
other failure is a bug to fix (or a new entry to argue for). A listed test that fails in no family is
reported, so the list cannot go stale silently. The exit code is 1 when a test fails for a reason not listed.
"""

from __future__ import annotations

import argparse
import os
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

# Families with their own modeling code. The seq2seq families get an entry here when they land; a
# modeling_*.py file with no entry is reported as "not covered".
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
}

# Test name -> why it cannot apply to these models. Only failures are classed with this list.
INAPPLICABLE = {
    "test_model_base_model_prefix": (
        "the recurrent LM has no separate base model: embeddings, stack and softmax form one module, so "
        "base_model is the model itself"),
    "test_correct_missing_keys": (
        "ELMo's biLM under base_model_prefix is a plain nn.Module shared by the LM and the heads (weights "
        "elmo.*), not a PreTrainedModel that saves on its own; heads start from a saved ElmoModel folder"),
    "test_assisted_decoding_matches_greedy_search": (
        "assisted decoding needs a transformers Cache it can crop back to the accepted draft tokens; the "
        "recurrent state is a plain tensor that folds in every token seen and cannot be cropped"),
}

# Stand-in for tests/generation/test_utils.py, which the sdist does not ship: toolkit's own generation
# checks for every generative model class, built like transformers' GenerationTesterMixin.
GENERATION_CHECKS = '''
import copy

import torch


class GenerationTesterMixin:
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

    def test_greedy_search_cached_equals_uncached(self):
        for model, ids, mask in self._generative_models():
            cached = self._generate(model, ids, attention_mask=mask, do_sample=False, use_cache=True)
            uncached = self._generate(model, ids, attention_mask=mask, do_sample=False, use_cache=False)
            self.assertTrue(torch.equal(cached, uncached))

    def test_greedy_search_equals_argmax_over_full_forward_passes(self):
        for model, ids, mask in self._generative_models():
            expected = ids
            for _ in range(self.max_new_tokens):
                logits = model(input_ids=expected).logits[:, -1]
                expected = torch.cat([expected, logits.argmax(-1, keepdim=True)], 1)
            self.assertTrue(torch.equal(self._generate(model, ids, do_sample=False), expected))

    def test_beam_search_cached_equals_uncached(self):
        for model, ids, mask in self._generative_models():
            kwargs = dict(attention_mask=mask, do_sample=False, num_beams=3, num_return_sequences=2)
            cached = self._generate(model, ids, use_cache=True, **kwargs)
            uncached = self._generate(model, ids, use_cache=False, **kwargs)
            self.assertEqual(cached.shape, (ids.shape[0] * 2, ids.shape[1] + self.max_new_tokens))
            self.assertTrue(torch.equal(cached, uncached))

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
            self.assertTrue(torch.equal(out[:, 3:], alone))

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
            self.assertTrue(torch.equal(from_embeds, from_ids[:, ids.shape[1]:]))

    def test_dict_output_scores_match_the_sequences(self):
        for model, ids, mask in self._generative_models():
            out = self._generate(model, ids, attention_mask=mask, do_sample=False, return_dict_in_generate=True,
                                 output_scores=True, output_logits=True, output_hidden_states=True)
            self.assertEqual(len(out.scores), self.max_new_tokens)
            chosen = torch.stack([score.argmax(-1) for score in out.scores], 1)
            self.assertTrue(torch.equal(chosen, out.sequences[:, ids.shape[1]:]))
            self.assertEqual(len(out.hidden_states), self.max_new_tokens)
            self.assertEqual(len(out.hidden_states[0]), model.config.num_layers + 1)

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

from .test_configuration_common import ConfigTester
from .test_modeling_common import ModelTesterMixin, ids_tensor
from .generation.test_utils import GenerationTesterMixin

{imports}


class FamilyModelTester:
    """What ModelTesterMixin asks of a model tester, for one toolkit family's tiny config."""

    def __init__(self, parent, config_class, config_kwargs, width, batch_size=2, seq_length=7, vocab_size=99):
        self.parent, self.config_class, self.config_kwargs = parent, config_class, config_kwargs
        self.batch_size, self.seq_length, self.vocab_size = batch_size, seq_length, vocab_size
        self.hidden_size = width
        self.num_hidden_layers = config_kwargs["num_layers"]
        self.is_training = True
        self.num_labels = 3

    def get_config(self):
        return self.config_class(vocab_size=self.vocab_size, pad_token_id=0, num_labels=self.num_labels,
                                 **self.config_kwargs)

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 1) + 1  # no padding id
        return self.get_config(), {{"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}}


# The labels each class trains on: transformers adds them only for classes in its own auto mappings.
LABELS = {{
    "RnnLMForCausalLM": lambda ids: ids.clone(),
    "ElmoModel": lambda ids: ids.clone(),
    "ElmoForSequenceClassification": lambda ids: torch.zeros(ids.shape[0], dtype=torch.long),
    "ElmoForTokenClassification": lambda ids: torch.zeros_like(ids),
}}


class WithLabels:
    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels)
        if return_labels and "labels" not in inputs:
            inputs["labels"] = LABELS[model_class.__name__](inputs["input_ids"])
        return inputs


class ConfigChecks:
    """One test per ConfigTester check (the ones run_common_tests runs), so each gets its own verdict."""


for _check in [name for name in vars(ConfigTester) if name.startswith(("create_and_test_", "check_"))]:
    setattr(ConfigChecks, f"test_config_{{_check}}", lambda self, _check=_check: getattr(self.config_tester, _check)())

{classes}
'''

TEST_CLASS = '''
class {class_name}(WithLabels, ModelTesterMixin, {generation}ConfigChecks, unittest.TestCase):
    all_model_classes = ({models},)
    has_attentions = False

    def setUp(self):
        self.model_tester = FamilyModelTester(self, {config_class}, {config_kwargs!r}, {width})
        common = ["hidden_size", "num_layers"]  # a recurrent model: layers, no attention heads
        self.config_tester = ConfigTester(self, config_class={config_class}, common_properties=common,
                                          vocab_size=99, **{config_kwargs!r})
'''


def class_name(family: str) -> str:
    return "".join(part.capitalize() for part in family.replace("(", " ").replace(")", " ").replace("_", " ").split()) + "Test"


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
    imports, classes = set(), []
    for family, spec in FAMILIES.items():
        module, config_class = spec["config"]
        imports.add(f"from {module} import {config_class}, {', '.join(spec['models'])}")
        classes.append(TEST_CLASS.format(class_name=class_name(family), models=", ".join(spec["models"]),
                                         config_class=config_class, config_kwargs=spec["config_kwargs"],
                                         generation="GenerationTesterMixin, " if spec["generates"] else "",
                                         width=spec["width"]))
    (tests / f"{MODULE_NAME}.py").write_text(TEST_MODULE.format(imports="\n".join(sorted(imports)), classes="".join(classes)))


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
            outcome = "inapplicable" if name in INAPPLICABLE else "fail"
            results[family].append((name, outcome, (failure.get("message") or "").splitlines()[0][:160] if failure.get("message") else ""))
        else:
            results[family].append((name, "pass", ""))
    return results


def print_report(results, missing: list[str]) -> bool:
    print(f"\ntransformers {version('transformers')}, torch {version('torch')}")
    if missing:
        print("not in the sdist, replaced by stand-ins: " + ", ".join(f"tests/{m}" for m in missing))
    print(f"\n{'family':<16}{'pass':>6}{'fail':>6}{'inapplicable':>14}{'skipped':>9}")
    for family, rows in results.items():
        counts = Counter(outcome for _, outcome, _ in rows)
        print(f"{family:<16}{counts['pass']:>6}{counts['fail']:>6}{counts['inapplicable']:>14}{counts['skipped']:>9}")
    covered = {spec["modeling"] for spec in FAMILIES.values()}
    for path in sorted((REPO / "toolkit" / "families").glob("*/modeling_*.py")):
        if path.name not in covered:
            print(f"{path.name:<16} not covered: add a FAMILIES entry (encoder-decoder models need a tester that "
                  f"passes decoder_input_ids, not written yet)")
    inapplicable = sorted({name for rows in results.values() for name, outcome, _ in rows if outcome == "inapplicable"})
    if inapplicable:
        print("\ninapplicable (failed, and cannot apply to these models):")
        for name in inapplicable:
            families = [f for f, rows in results.items() if (name, "inapplicable") in [(n, o) for n, o, _ in rows]]
            print(f"  {name} [{', '.join(families)}]: {INAPPLICABLE[name]}")
    stale = sorted(set(INAPPLICABLE) - set(inapplicable))
    for name in stale:
        print(f"  listed in INAPPLICABLE but failed nowhere (remove it?): {name}")
    failures = [(family, name, detail) for family, rows in results.items() for name, outcome, detail in rows if outcome == "fail"]
    if failures:
        print("\nfailures:")
        for family, name, detail in failures:
            print(f"  [{family}] {name}: {detail}")
    return not failures


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
