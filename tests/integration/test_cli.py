"""The command line: help, listings, and user mistakes as one paragraph without a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from toolkit.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_help_lists_commands():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("run", "validate", "recipes", "data", "generate", "eval", "push"):
        assert command in done.stdout


def test_recipes_and_data_listings(capsys):
    assert main(["recipes"]) == 0
    assert "gpt2/tiny_pretrain" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    assert "peoples_daily_1998" in capsys.readouterr().out
    assert main(["data", "show", "sanguo_yanyi", "--samples", "2"]) == 0
    shown = capsys.readouterr().out
    # a table of the card's facts and numbered sample rows, no JSON
    assert re.search(r"^license +public domain", shown, re.M) and re.search(r"^splits +train [\d,]+, validation", shown, re.M)
    assert re.search(r"^ +1  text +第一回", shown, re.M) and "{" not in shown and '"name"' not in shown
    assert main(["data", "show", "sanguo_yanyi", "--samples", "1", "--json"]) == 0
    shown = capsys.readouterr().out
    assert json.loads(shown[: shown.index("\nsplits: ")])["name"] == "sanguo_yanyi"
    assert "splits: train" in shown and '"document": 0' in shown


def test_validate_prints_summary(capsys):
    assert main(["validate", "gpt2/tiny_pretrain", "train.max_steps=3", "--show"]) == 0
    assert "max_steps: 3" in capsys.readouterr().out


def _assert_one_paragraph_error(code, stderr, expected):
    assert code == 2
    assert expected in stderr
    assert "Traceback" not in stderr
    assert stderr.strip().count("\n") == 0  # one paragraph


# Through a real `python -m toolkit` process: validate imports no torch, so these cost little.
@pytest.mark.parametrize("args, expected", [
    (["validate", "gpt2/tiny_pretrain", "train.lr=0.1"], "unknown key 'train.lr'"),
    (["validate", "gpt2/tiny_pretrain", "task=fill_mask"], "unknown task"),
])
def test_user_mistakes_exit_non_zero_without_traceback(args, expected):
    done = run_cli(*args)
    _assert_one_paragraph_error(done.returncode, done.stderr, expected)


# In-process (main() is what `python -m toolkit` calls): a subprocess would pay the torch import
# that `run` and `generate` need, about 10 s each on 2 cores. An exception escaping main() fails
# the test as a traceback would.
@pytest.mark.parametrize("args, expected", [
    (["run", "gpt2/tiny_pretrain", "data.card=peoples_daily", "output.dir=/nonexistent/run"], "Data card 'peoples_daily' not found"),
    (["generate", "/nonexistent/run", "--prompt", "x"], "not a model folder"),
])
def test_user_mistakes_of_torch_commands_exit_non_zero_without_traceback(args, expected, capsys):
    code = main(args)
    _assert_one_paragraph_error(code, capsys.readouterr().err, expected)


def test_non_utf8_corpus_through_run(tmp_path, capsys):
    (tmp_path / "bad.txt").write_bytes("好的。\n".encode() * 5 + "坏的".encode("gb18030") + b"\n")
    card = tmp_path / "card.yaml"
    card.write_text(f"name: bad\ndescription: x\nsource: {{files: '{tmp_path}/bad.txt'}}\n", encoding="utf-8")
    code = main(["run", "gpt2/tiny_pretrain", f"data.card={card}", f"output.dir={tmp_path / 'run'}"])  # in-process, as above
    stderr = capsys.readouterr().err
    assert code == 2 and "bad.txt, line 6: not UTF-8" in stderr
    assert "Traceback" not in stderr


@pytest.mark.heavy
def test_generate_prints_text_without_loading_bar(gpt2_run):
    """`toolkit generate` prints the continuation alone: no "Loading weights" bar from from_pretrained;
    and the char vocabulary holds the Chinese comma the card keeps, not an ASCII one, so generated
    text cannot show ASCII commas. (gpt2_run: the session's shared tiny run, tests/conftest.py.)"""
    run_dir = gpt2_run
    vocab = json.loads((run_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    assert "，" in vocab and "。" in vocab and "," not in vocab
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}  # the suite silences tqdm; a user's shell does not
    done = subprocess.run([sys.executable, "-m", "toolkit", "generate", str(run_dir), "--prompt", "中国", "--max-new-tokens", "4",
                           "--seed", "0"], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("中国") and "Loading weights" not in done.stderr + done.stdout, done.stderr
