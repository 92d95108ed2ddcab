"""benchmarks/hf_conformance.py without its download and its few-minute pytest run: the test module it
writes imports what it names, every family with modeling code has an entry, and the report reads
failures as the script's docstring says (inapplicable only for the families listed; a family that ran
no test at all fails)."""

import importlib
import re
from pathlib import Path

import pytest

from conftest import load_benchmark

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conformance():
    return load_benchmark("hf_conformance")


def test_every_family_with_modeling_code_has_an_entry(conformance):
    covered = {spec["modeling"] for spec in conformance.FAMILIES.values()}
    on_disk = {path.name for path in (REPO / "toolkit" / "families").glob("*/modeling_*.py")}
    assert on_disk <= covered


def test_the_written_module_compiles_and_its_toolkit_imports_resolve(conformance, tmp_path):
    conformance.write_test_module(tmp_path)
    source = (tmp_path / f"{conformance.MODULE_NAME}.py").read_text()
    compile(source, "generated", "exec")
    # The sdist's own modules are not here; the toolkit imports are what this file decides.
    imports = re.findall(r"^from (toolkit\.\S+) import (.+)$", source, flags=re.M)
    assert len(imports) >= 2 * len({spec["modeling"] for spec in conformance.FAMILIES.values()})
    for module, names in imports:
        loaded = importlib.import_module(module)
        for name in names.split(", "):
            assert hasattr(loaded, name), f"{module} has no {name}"


def write_report(path, cases):
    rows = []
    for classname, name, outcome in cases:
        inner = {"pass": "", "fail": '<failure message="boom"/>', "skip": '<skipped message="no"/>'}[outcome]
        rows.append(f'<testcase classname="tests.m.{classname}" name="{name}">{inner}</testcase>')
    path.write_text(f"<testsuites><testsuite>{''.join(rows)}</testsuite></testsuites>")
    return path


def test_inapplicable_counts_only_for_the_families_it_names(conformance, tmp_path, monkeypatch):
    monkeypatch.setattr(conformance, "FAMILIES", {"rnn_lm (gru)": {"modeling": "m.py"}, "elmo": {"modeling": "e.py"}})
    listed = "test_assisted_decoding_matches_greedy_search"  # listed for rnn_lm, not for elmo
    assert "rnn_lm" in conformance.INAPPLICABLE[listed] and "elmo" not in conformance.INAPPLICABLE[listed]
    report = write_report(tmp_path / "r.xml", [("RnnLmGruTest", listed, "fail"), ("ElmoTest", listed, "fail"),
                                              ("ElmoTest", "test_save_load", "pass")])
    results = conformance.verdicts(report)
    assert results["rnn_lm (gru)"] == [(listed, "inapplicable", "boom")]
    assert (listed, "fail", "boom") in results["elmo"]
    assert conformance.print_report(results, []) is False


def test_a_family_that_ran_no_test_fails_the_report(conformance, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(conformance, "FAMILIES", {"rnn_lm (gru)": {"modeling": "m.py"}, "elmo": {"modeling": "e.py"}})
    results = conformance.verdicts(write_report(tmp_path / "r.xml", [("ElmoTest", "test_save_load", "pass")]))
    assert conformance.print_report(results, []) is False
    assert "[rnn_lm (gru)] no test ran" in capsys.readouterr().out
    results = conformance.verdicts(write_report(tmp_path / "r.xml", [("ElmoTest", "test_save_load", "pass"),
                                                                      ("RnnLmGruTest", "test_x", "skip")]))
    assert conformance.print_report(results, []) is True
