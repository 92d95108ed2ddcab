"""Helpers for the bad-input tests: run the CLI in-process and check that a user mistake ends
as one clear paragraph with exit code 2, no traceback, and no file changed outside the run folder.

In-process (``toolkit.cli.main``) keeps the suite fast: a subprocess pays the torch import each
time. An exception escaping ``main`` is a traceback the user would have seen, so it fails the test.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """``cli(*args, cwd=None)`` -> CliResult; fails the test if an exception escapes main()."""
    from toolkit.cli import main

    def call(*args: str, cwd: str | Path | None = None) -> CliResult:
        before = os.getcwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            try:
                code = main([str(a) for a in args])
            except SystemExit as stop:  # argparse usage errors
                code = stop.code if isinstance(stop.code, int) else 2
            except BaseException as exc:  # a traceback the user would have seen
                pytest.fail(f"toolkit {' '.join(map(str, args))} raised {type(exc).__name__}: {exc}")
        finally:
            os.chdir(before)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return call


def assert_clear_error(result: CliResult, *culprits: str, code: int = 2) -> None:
    """Exit code ``code``, an ``error:`` paragraph on stderr (no blank line inside, no traceback)
    that names every string in ``culprits``."""
    err = result.err.strip()
    assert result.code == code, f"exit {result.code}, wanted {code}; stderr: {err[-2000:]}"
    assert "Traceback" not in err, err
    message = err[err.rindex("error:"):] if "error:" in err else err
    assert message, "no message on stderr"
    assert "\n\n" not in message and message.count("\n") == 0, f"not one paragraph: {message!r}"
    for culprit in culprits:
        assert culprit in message, f"{culprit!r} not named in: {message}"


def snapshot(folder: str | Path, skip: str | Path | None = None) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (``skip``, a subfolder, left out)."""
    folder = Path(folder)
    skip = Path(skip).resolve() if skip else None
    found = {}
    for path in sorted(folder.rglob("*")):
        if skip and (path.resolve() == skip or skip in path.resolve().parents):
            continue
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
