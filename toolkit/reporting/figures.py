"""Writing matplotlib figures the way every toolkit plot does: folders made, errors in one paragraph."""

from __future__ import annotations

from pathlib import Path

from ..errors import ToolkitError


def save_figure(fig, path: Path, what: str, hint: str) -> None:
    """Save ``fig``, making missing folders; an unwritable path is one paragraph naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except (OSError, ValueError) as exc:  # unwritable folder, a file in the way, unknown image format
        blocking = next((a for a in path.parents if a.exists()), None)
        if blocking is not None and not blocking.is_dir():
            reason = f"{blocking} is a file, not a folder"
        else:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise ToolkitError(f"Cannot write the {what} to {path}: {reason}; {hint}.") from None
