"""Sharing a run folder on the Hugging Face Hub.

The token comes from ``HF_TOKEN`` or the user's `hf auth login`; it is passed to huggingface_hub
and never written anywhere. Checkpoints and logs stay local.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from pathlib import Path

from .errors import ToolkitError
from .recipe import repo_id_problem
from .rundir import NOT_FOR_UPLOAD


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _kept_out(relative: str) -> bool:
    """Whether NOT_FOR_UPLOAD keeps ``relative`` (a file, or a folder with all it holds) local."""
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(f"{relative}/", p) for p in NOT_FOR_UPLOAD)


def files_to_upload(run_dir: str | Path) -> list[str]:
    """Relative paths of the files a push uploads, sorted. Symbolic links are never followed out
    of the run folder (``links_leaving`` lists those, and push refuses them)."""
    root = Path(run_dir)
    out = []
    for folder, dirs, names in os.walk(root):  # os.walk does not descend into linked folders
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if path.is_file() and _inside(path, root) and not _kept_out(relative):
                out.append(relative)
    return sorted(out)


def links_leaving(run_dir: str | Path) -> list[str]:
    """Relative paths of the symbolic links a push would meet that point outside the run folder
    (a checkpoints folder linked to another disk stays local, so it does not count)."""
    root = Path(run_dir)
    leaving = []
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink() and not _inside(path, root) and not _kept_out(relative):
                leaving.append(relative)
    return sorted(leaving)


TOKEN_PREFIX = [b"h", b"f", b"_"]
TOKEN_CHAR = b"[A-Za-z0-9]"  # a Hugging Face token: hf_ then 30 or more of these
ENCODINGS = {  # one ASCII character (a regex atom) as bytes: UTF-8, UTF-16 little and big endian
    "UTF-8": lambda atom: atom,
    "UTF-16-LE": lambda atom: b"(?:" + atom + b"\x00)",
    "UTF-16-BE": lambda atom: b"(?:\x00" + atom + b")",
}


def _token_patterns(token: str | None) -> dict[str, list[re.Pattern]]:
    """Byte patterns, in every encoding of ``ENCODINGS``, of the user's own token verbatim and of
    anything shaped like a Hugging Face token; keyed by what to call a match."""
    found = {"your Hugging Face token": [], "what looks like a Hugging Face token (hf_ followed by 30 or more "
                                            "letters and digits, in UTF-8 or UTF-16)": []}
    own, shaped = found
    for encode in ENCODINGS.values():
        if token:
            found[own].append(re.compile(b"".join(encode(re.escape(char).encode()) for char in token)))
        found[shaped].append(re.compile(b"".join(map(encode, TOKEN_PREFIX)) + encode(TOKEN_CHAR) + b"{30,}"))
    return found


def _check_no_token(run_dir: Path, files: list[str], token: str | None) -> None:
    patterns = _token_patterns(token)
    for relative in files:
        content = (run_dir / relative).read_bytes()
        for what, forms in patterns.items():
            if any(form.search(content) for form in forms):
                raise ToolkitError(f"Refusing to push: {run_dir / relative} contains {what}. Remove it first.")


def _check_no_links_leaving(run_dir: Path) -> None:
    leaving = links_leaving(run_dir)
    if leaving:
        raise ToolkitError(
            f"Refusing to push: {', '.join(leaving)} in {run_dir} are symbolic links that point outside the run "
            f"folder (push never follows them). Remove them, or copy the files they point to into the folder."
        )


def push_run(run_dir: str | Path, repo_id: str, private: bool = True, revision: str | None = None,
             commit_message: str | None = None, dry_run: bool = False) -> str | None:
    """Create ``repo_id`` if needed and upload the run folder; returns the URL (None on dry run)."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.constants import HF_HUB_OFFLINE
    from huggingface_hub.errors import HfHubHTTPError

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() and not (run_dir / "README.md").is_file():
        raise ToolkitError(f"{run_dir} is not a finished run folder (no config.json or README.md); nothing to push.")
    problem = repo_id_problem(repo_id)
    if problem:
        raise ToolkitError(f"--repo-id '{repo_id}' is not a Hub repository id: {problem}.")
    _check_no_links_leaving(run_dir)
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
            allow_patterns=[glob.escape(relative) for relative in files],  # exactly the files checked above
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
