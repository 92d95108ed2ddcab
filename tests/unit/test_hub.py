"""`toolkit push` with the Hub calls intercepted: what goes up, and that no token leaks."""

from __future__ import annotations

import pytest

from toolkit.errors import ToolkitError
from toolkit.hub import files_to_upload, push_run

SECRET = "hf_testTokenThatMustNeverBeWritten1234"


@pytest.fixture
def run_folder(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "step-2").mkdir(parents=True)
    (run / "logs").mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "recipe.yaml", "metrics.json"):
        (run / name).write_text("{}")
    (run / "checkpoints" / "step-2" / "optimizer.bin").write_text("x")
    (run / "logs" / "events").write_text("x")
    return run


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_branch", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(("upload_folder", kwargs["repo_id"], kwargs))


def test_push_uploads_model_files_only(run_folder, monkeypatch, capsys):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: SECRET)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    url = push_run(run_folder, "someone/tiny-gpt2", private=True, revision="v1")
    assert url == "https://huggingface.co/someone/tiny-gpt2"
    kinds = [c[0] for c in FakeApi.calls]
    assert kinds == ["create_repo", "create_branch", "upload_folder"]
    upload = FakeApi.calls[-1][2]
    assert upload["revision"] == "v1" and "checkpoints/**" in upload["ignore_patterns"]
    assert files_to_upload(run_folder) == sorted(
        ["README.md", "config.json", "metrics.json", "model.safetensors", "recipe.yaml", "tokenizer.json"])
    for path in run_folder.rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(errors="ignore")
    assert SECRET not in capsys.readouterr().out


def test_dry_run_lists_files_and_uploads_nothing(run_folder, capsys):
    assert push_run(run_folder, "someone/tiny", dry_run=True) is None
    out = capsys.readouterr().out
    assert "model.safetensors" in out and "optimizer.bin" not in out


def test_offline_push_is_a_clear_error(run_folder):
    with pytest.raises(ToolkitError, match="offline"):
        push_run(run_folder, "someone/tiny")


def test_token_inside_folder_blocks_push(run_folder, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: SECRET)
    (run_folder / "notes.txt").write_text(f"token {SECRET}")
    with pytest.raises(ToolkitError, match="contains your Hugging Face token"):
        push_run(run_folder, "someone/tiny", dry_run=True)
