"""Heatmaps of attention weights: source tokens across, target tokens down, one panel per map
(a decoder layer), Chinese labels set in the CJK font so they render as glyphs, not boxes."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from .figures import save_figure

PANELS_PER_ROW = 3
INCHES_PER_TOKEN = 0.3


def plot_attention(panels: list[tuple[str, object]], source_tokens: list[str], target_tokens: list[str],
                   path: str | Path, title: str = "", hint: str = "give a writable .png path") -> Path:
    """Write one heatmap per (panel title, weights) to ``path``; weights are (target, source) arrays
    with values in [0, 1] (each row one target token's attention over the source tokens). The colour
    scale is 0..1 in every panel, so layers compare at a glance. ``hint`` says how to pick another
    path when this one cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .cjk_font import cjk_font

    font = cjk_font()
    columns = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / columns)
    panel_width = max(INCHES_PER_TOKEN * len(source_tokens) + 1.6, 3.5)
    panel_height = INCHES_PER_TOKEN * len(target_tokens) + 1.4
    fig, axes = plt.subplots(rows, columns, figsize=(panel_width * columns + 1, panel_height * rows + 0.6),
                             dpi=100, squeeze=False, layout="constrained")
    image = None
    for ax, (name, weights) in zip(axes.flat, panels):
        image = ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=90, fontproperties=font)
        ax.set_yticks(range(len(target_tokens)), target_tokens, fontproperties=font)
        ax.set_xlabel("source", fontproperties=font)
        ax.set_ylabel("output", fontproperties=font)
        ax.set_title(name, fontproperties=font)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:  # wrapped to the figure's width (about 4 wide characters an inch), not cut off at its edges
        width = fig.get_figwidth()
        fig.suptitle(textwrap.fill(title, width=max(16, int(width * 4))), fontproperties=font)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="attention weight")
    try:
        save_figure(fig, Path(path), "attention heatmap", hint)
    finally:
        plt.close(fig)
    return Path(path)

