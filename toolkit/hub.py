"""Sharing a run folder on the Hugging Face Hub.

The token comes from ``HF_TOKEN`` or the user's `hf auth login`; it is passed to huggingface_hub
and never written anywhere. Checkpoints and logs stay local.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from .errors import ToolkitError
from .rundir import NOT_FOR_UPLOAD


def files_to_upload(run_dir: str | Path) -> list[str]:
    """Relative paths of the files a push uploads, sorted."""
    root = Path(run_dir)
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in NOT_FOR_UPLOAD):
            out.append(relative)
    return out


def _check_no_token(run_dir: Path, files: list[str], token: str | None) -> None:
    if not token:
        return
    for relative in files:
        if token.encode() in (run_dir / relative).read_bytes():
            raise ToolkitError(f"Refusing to push: {run_dir / relative} contains your Hugging Face token. Remove it first.")


def push_run(run_dir: str | Path, repo_id: str, private: bool = True, revision: str | None = None,
             commit_message: str | None = None, dry_run: bool = False) -> str | None:
    """Create ``repo_id`` if needed and upload the run folder; returns the URL (None on dry run)."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.constants import HF_HUB_OFFLINE
    from huggingface_hub.errors import HfHubHTTPError

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() and not (run_dir / "README.md").is_file():
        raise ToolkitError(f"{run_dir} is not a finished run folder (no config.json or README.md); nothing to push.")
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise ToolkitError(f"--repo-id '{repo_id}' must look like user/name or org/name.")
    files = files_to_upload(run_dir)
    token = get_token()
    _check_no_token(run_dir, files, token)
    if dry_run:
        print(f"Would upload {len(files)} files from {run_dir} to {repo_id}:")
        for relative in files:
            print(f"  {relative}")
        return None
    if HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ToolkitError("Cannot push: the Hugging Face Hub is set offline (HF_HUB_OFFLINE=1). Unset it and try again.")
    if not token:
        raise ToolkitError("Cannot push: no Hugging Face token. Run `hf auth login` or set HF_TOKEN.")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        api.upload_folder(
            folder_path=str(run_dir), repo_id=repo_id, revision=revision, ignore_patterns=NOT_FOR_UPLOAD,
            commit_message=commit_message or f"Upload {run_dir.name} trained with toolkit",
        )
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        why = "the token is not allowed to write there" if status in (401, 403) else str(exc).splitlines()[0]
        raise ToolkitError(f"Push to {repo_id} failed: {why}. Nothing was changed locally.") from None
    except OSError as exc:
        raise ToolkitError(f"Push to {repo_id} failed: the Hub cannot be reached ({exc}). Nothing was changed locally.") from None
    print(f"Pushed {len(files)} files to {url}")
    return str(url)
