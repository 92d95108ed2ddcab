"""Issue 14, lost or clobbered data and silently wrong resumes: a run deletes only what the
toolkit wrote, two runs never share a folder, a full disk or a diverging loss ends clearly with the
last good checkpoint kept, and --resume either does what the recipe says or refuses."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from integration.bad_inputs.conftest import assert_clear_error, snapshot
from conftest import REPO, TINY_GPT2

RUN = ("run", "gpt2/tiny_pretrain", *TINY_GPT2)


def copy_run(gpt2_run: Path, tmp_path: Path, name: str = "run") -> Path:
    target = tmp_path / name
    shutil.copytree(gpt2_run, target)
    return target


# --------------------------------------------------------------------------- output.overwrite


def user_folder(folder: Path) -> Path:
    """A folder of somebody's work: a thesis, their own recipe and notes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.tex").write_text("\\documentclass{article} 三年的工作\n", encoding="utf-8")
    (folder / "recipe.yaml").write_text("task: causal_lm  # my own notes\n", encoding="utf-8")
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "notes.txt").write_text("experiment diary\n", encoding="utf-8")
    return folder


def test_overwrite_refuses_the_current_folder(cli, tmp_path):
    home = user_folder(tmp_path / "work")
    before = snapshot(home)
    result = cli(*RUN, "output.dir=.", "output.overwrite=true", cwd=home)
    assert_clear_error(result, "current folder", "output.dir")
    assert snapshot(home) == before


def test_overwrite_refuses_a_parent_of_the_current_folder(cli, tmp_path):
    home = user_folder(tmp_path / "work")
    inside = home / "sub"
    inside.mkdir()
    (inside / "data.csv").write_text("a,b\n", encoding="utf-8")
    before = snapshot(home)
    result = cli(*RUN, "output.dir=..", "output.overwrite=true", cwd=inside)
    assert_clear_error(result, "..", "current folder")
    assert snapshot(home) == before


def test_overwrite_refuses_a_folder_that_is_not_a_run(cli, tmp_path):
    docs = user_folder(tmp_path / "docs")
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={docs}", "output.overwrite=true", cwd=tmp_path)
    assert_clear_error(result, str(docs), "thesis.tex", "logs/notes.txt")
    assert snapshot(tmp_path) == before


def test_overwrite_refuses_a_run_folder_with_a_file_of_the_user(cli, gpt2_run, tmp_path):
    run_dir = copy_run(gpt2_run, tmp_path)
    (run_dir / "analysis.ipynb").write_text("{}", encoding="utf-8")
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={run_dir}", "output.overwrite=true", cwd=tmp_path)
    assert_clear_error(result, str(run_dir), "analysis.ipynb")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("marker", [True, False], ids=["marked", "made-before-the-marker"])
def test_overwrite_replaces_a_run_folder_of_the_toolkit(gpt2_run, tmp_path, monkeypatch, marker):
    from toolkit.registry import load_recipe
    from toolkit.rundir import RUN_MARKER, prepare_run_dir

    run_dir = copy_run(gpt2_run, tmp_path)
    if not marker:
        (run_dir / RUN_MARKER).unlink()
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("gpt2/tiny_pretrain", [*TINY_GPT2, f"output.dir={run_dir}", "output.overwrite=true"])
    prepare_run_dir(recipe, resume=False)
    assert sorted(p.name for p in run_dir.iterdir()) == [RUN_MARKER]


def test_failed_run_keeps_a_users_recipe_and_notes(cli, tmp_path):
    """A folder holding only a user's recipe.yaml and logs/notes.txt is not a failed run."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "recipe.yaml").write_text("task: causal_lm  # my own notes\n", encoding="utf-8")
    (folder / "logs").mkdir()
    (folder / "logs" / "notes.txt").write_text("experiment diary\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={folder}", "eval.split=nosuchsplit", cwd=tmp_path)
    assert_clear_error(result, str(folder), "logs/notes.txt")
    assert snapshot(tmp_path) == before


def test_leftovers_of_a_failed_start_are_replaced(cli, tmp_path, monkeypatch):
    """A run that stopped before training (here Ctrl-C while loading the corpus) leaves a
    folder the next run may take over; the lock is released on the way out."""
    import toolkit.tasks.runner as runner
    from toolkit.rundir import LOCK_FILE, RUN_MARKER

    run_dir = tmp_path / "run"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(runner, "load_task_corpus", interrupted)
        result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=1")
    assert result.code == 130 and "interrupted" in result.err and "Traceback" not in result.err
    assert (run_dir / RUN_MARKER).is_file() and not (run_dir / LOCK_FILE).exists()
    result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=1")
    assert result.code == 0, result.err[-2000:]


# --------------------------------------------------------------------------- the lock


def test_second_run_into_a_locked_folder_is_refused(cli, gpt2_run, tmp_path):
    """The lock names a live process (a sleeping child): the run is refused and nothing changes."""
    from toolkit.rundir import LOCK_FILE

    run_dir = copy_run(gpt2_run, tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / LOCK_FILE).write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename}))
        before = snapshot(tmp_path)
        for extra in ([], ["train.max_steps=7", "--resume"], ["output.overwrite=true"]):
            result = cli(*RUN, f"output.dir={run_dir}", *extra)
            assert_clear_error(result, str(run_dir), str(sleeper.pid), "Another run")
            assert snapshot(tmp_path) == before
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("holder", ["ended", "own-pid"])
def test_a_stale_lock_is_taken_over(gpt2_run, tmp_path, holder):
    """The lock of a process that has ended, or one with our own PID (a killed run whose PID a
    container gave us again), is taken over."""
    from toolkit.registry import load_recipe
    from toolkit.rundir import LOCK_FILE, claim_run_dir

    run_dir = copy_run(gpt2_run, tmp_path)
    if holder == "ended":
        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        pid = int(ended.stdout)
    else:
        pid = os.getpid()
    (run_dir / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": os.uname().nodename}))
    recipe = load_recipe("gpt2/tiny_pretrain", [*TINY_GPT2, f"output.dir={run_dir}", "train.max_steps=7"])
    lock = claim_run_dir(recipe, resume=True)
    assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (run_dir / LOCK_FILE).exists()


FIRST_RUN = textwrap.dedent("""
    import pathlib, sys, time
    import toolkit

    ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

    def hold_at_step_1(state):
        if state.step == 1:
            ready.touch()
            while not go.exists():
                time.sleep(0.1)

    toolkit.run("gpt2/tiny_pretrain", overrides=sys.argv[3:], callbacks=[hold_at_step_1])
""")


@pytest.mark.heavy
def test_two_concurrent_runs_lose_nothing(cli, tmp_path):
    """A real first run holds the folder; a second one (with output.overwrite=true) is refused
    while it trains, and the first finishes with all its files."""
    run_dir = tmp_path / "run"
    ready, go = tmp_path / "ready", tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", FIRST_RUN, str(ready), str(go), *TINY_GPT2, f"output.dir={run_dir}"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not ready.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0][-3000:]
            time.sleep(0.2)
        before = snapshot(run_dir)
        result = cli(*RUN, f"output.dir={run_dir}", "output.overwrite=true")
        assert_clear_error(result, str(run_dir), str(first.pid))
        assert snapshot(run_dir) == before
    finally:
        go.touch()
        output = first.communicate(timeout=300)[0]
    assert first.returncode == 0, output[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["train"]["steps"] == 6
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "README.md").is_file()


# --------------------------------------------------------------------------- full disk


def test_full_disk_keeps_the_last_checkpoint_and_resume_works(cli, tmp_path, monkeypatch):
    from accelerate import Accelerator

    run_dir = tmp_path / "run"
    save_state = Accelerator.save_state

    def full_at_step_6(self, output_dir, **kwargs):
        if output_dir.endswith(".tmp-step-6"):
            Path(output_dir, "model.safetensors").write_bytes(b"\0" * 1000)  # what fitted
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_state(self, output_dir, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Accelerator, "save_state", full_at_step_6)
        result = cli(*RUN, f"output.dir={run_dir}")
    assert_clear_error(result, "Disk full", str(run_dir / "checkpoints"), "MB needed", "--resume")
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-3"]
    assert not (run_dir / "model.safetensors").exists() and not (run_dir / "metrics.json").exists()

    result = cli(*RUN, f"output.dir={run_dir}", "--resume")
    assert result.code == 0, result.err[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["train"]["steps"] == 6


def test_full_disk_while_saving_the_model(cli, tmp_path, monkeypatch):
    from transformers import PreTrainedModel

    run_dir = tmp_path / "run"

    def full(self, folder, *args, **kwargs):
        Path(folder, "model.safetensors").write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(PreTrainedModel, "save_pretrained", full)
        result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=3")
    assert_clear_error(result, "Disk full", str(run_dir), "MB needed")
    assert not (run_dir / "model.safetensors").exists(), "a truncated model must not stay"
    result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=3", "--resume")
    assert result.code == 0, result.err[-2000:]
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "README.md").is_file()


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("change, key", [
    ("train.optimizer.lr=0.5", "train.optimizer.lr"),
    ("train.schedule.name=constant", "train.schedule.name"),
    ("train.max_grad_norm=0.1", "train.max_grad_norm"),
    ("train.batch_size=4", "train.batch_size"),
])
def test_resume_refuses_changed_training_settings(cli, gpt2_run, tmp_path, change, key):
    run_dir = copy_run(gpt2_run, tmp_path)
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=8", change, "--resume")
    assert_clear_error(result, str(run_dir), key, "train.max_steps")
    assert snapshot(tmp_path) == before


def test_resume_to_more_steps_records_the_new_max_steps(cli, gpt2_run, tmp_path):
    run_dir = copy_run(gpt2_run, tmp_path)
    result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=7", "--resume")
    assert result.code == 0, result.err[-2000:]
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["train"]["max_steps"] == 7
    assert json.loads((run_dir / "metrics.json").read_text())["train"]["steps"] == 7


def test_resume_below_the_checkpoint_is_refused(cli, gpt2_run, tmp_path):
    run_dir = copy_run(gpt2_run, tmp_path)
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={run_dir}", "train.max_steps=3", "--resume")
    assert_clear_error(result, "train.max_steps=3", "step 6", str(run_dir))
    assert snapshot(tmp_path) == before


def test_resume_at_the_checkpoint_step_finishes_the_run(cli, gpt2_run, tmp_path):
    """The checkpoint's loop state has no evaluation (eval_every above the step): the run is
    evaluated, saved, and gets its metrics and card without training."""
    run_dir = copy_run(gpt2_run, tmp_path)
    for name in ("model.safetensors", "metrics.json", "README.md"):
        (run_dir / name).unlink()
    loop_state = run_dir / "checkpoints" / "step-6" / "loop_state.json"
    state = json.loads(loop_state.read_text())
    loop_state.write_text(json.dumps({**state, "evals": []}))
    result = cli(*RUN, f"output.dir={run_dir}", "--resume")
    assert result.code == 0, result.err[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 6 and metrics["evals"][-1]["step"] == 6
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "README.md").is_file()


@pytest.mark.parametrize("content", [b"task: [unclosed\n", b"\xff\xfe\x00garbage"], ids=["bad-yaml", "binary"])
def test_resume_with_a_damaged_recipe_yaml(cli, gpt2_run, tmp_path, content):
    run_dir = copy_run(gpt2_run, tmp_path)
    (run_dir / "recipe.yaml").write_bytes(content)
    before = snapshot(tmp_path)
    result = cli(*RUN, f"output.dir={run_dir}", "--resume")
    assert_clear_error(result, str(run_dir / "recipe.yaml"))
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- non-finite loss


def nan_loss_from(step: int):
    """A GPT2LMHeadModel.forward whose training loss is NaN from the step-th training call on."""
    from transformers import GPT2LMHeadModel

    forward = GPT2LMHeadModel.forward
    calls = {"train": 0}

    def patched(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        if self.training:
            calls["train"] += 1
            if calls["train"] >= step:
                out.loss = out.loss * float("nan")
        return out

    return patched


def test_nan_loss_stops_with_the_step_and_keeps_the_good_checkpoint(cli, tmp_path, monkeypatch):
    from transformers import GPT2LMHeadModel

    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(GPT2LMHeadModel, "forward", nan_loss_from(5))
        result = cli(*RUN, f"output.dir={run_dir}")
    assert_clear_error(result, "nan", "step 5", "train.optimizer.lr", "step-3")
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step-3"]
    assert not (run_dir / "model.safetensors").exists() and not (run_dir / "metrics.json").exists()


def test_a_failed_run_closes_its_tensorboard_writer(cli, tmp_path, monkeypatch):
    """A run that stops with an error closes its TensorBoard writer: every failed run of a
    long-lived process (a sweep's trials, a notebook) used to leave a writer thread and an open
    events file behind. What it logged before the error is in RUN_DIR/logs."""
    import threading

    from transformers import GPT2LMHeadModel

    def writer_threads():
        return {t for t in threading.enumerate() if "tensorboard" in type(t).__module__}

    run_dir = tmp_path / "run"
    before = writer_threads()
    with monkeypatch.context() as patch:
        patch.setattr(GPT2LMHeadModel, "forward", nan_loss_from(2))
        result = cli(*RUN, f"output.dir={run_dir}")
    assert_clear_error(result, "nan", "step 2")
    events = b"".join(path.read_bytes() for path in (run_dir / "logs").rglob("events.out.tfevents.*"))
    assert b"train/loss" in events
    assert not writer_threads() - before


# --------------------------------------------------------------------------- Ctrl-C at startup


def test_ctrl_c_while_parsing_is_no_traceback(cli, monkeypatch):
    import toolkit.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(toolkit.cli, "build_parser", interrupted)
    result = cli("recipes")
    assert result.code == 130 and "interrupted" in result.err and "Traceback" not in result.err


class _InterruptImport:
    """A meta-path finder that raises KeyboardInterrupt when ``module`` is imported (Ctrl-C during a slow import)."""

    def __init__(self, module: str):
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize("module, argv", [
    ("toolkit.registry", ["validate", "gpt2/tiny_pretrain"]),  # imported by the command, inside main
    ("toolkit.data.corpus", ["data", "show", "sanguo_yanyi"]),
])
def test_ctrl_c_while_a_command_imports_is_no_traceback(cli, monkeypatch, module, argv):
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(module), *sys.meta_path])
    result = cli(*argv)
    assert result.code == 130 and "interrupted" in result.err and "Traceback" not in result.err


def test_ctrl_c_while_python_m_toolkit_imports_the_cli_is_no_traceback(monkeypatch, capsys):
    import runpy

    for name in [m for m in sys.modules if m == "toolkit.cli" or m.startswith("toolkit.cli.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport("toolkit.cli"), *sys.meta_path])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module("toolkit", run_name="__main__")
    assert stopped.value.code == 130 and "interrupted" in capsys.readouterr().err
