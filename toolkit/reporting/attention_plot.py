"""Heatmaps of attention weights: source tokens across, target tokens down, one panel per map
(a decoder layer), Chinese labels set in the CJK font so they render as glyphs, not boxes."""

from __future__ import annotations

import math
import textwrap
import unicodedata
from pathlib import Path

from .figures import save_figure

PANELS_PER_ROW = 3
INCHES_PER_TOKEN = 0.3
# Margins are worked out from the labels' lengths rather than by matplotlib's constrained layout,
# which measures every label and draws the figure twice: that halves the drawing time of a map,
# which matters as every evaluation of a run draws its samples' maps. At the default 10-point
# font a wide (CJK) character is about 0.14 inch, any other about 0.08.
WIDE_CHAR_INCHES, NARROW_CHAR_INCHES = 0.14, 0.08
AXIS_LABEL_INCHES = 0.55  # the axis label ("source", "output") and the gap to the tick labels
PANEL_TITLE_INCHES = 0.35
TITLE_LINE_INCHES = 0.25
COLORBAR_INCHES = 1.0  # the colour bar, its ticks and its label, right of the panels


def label_inches(labels: list[str]) -> float:
    """The printed length of the longest tick label, estimated from its characters."""
    return max((sum(WIDE_CHAR_INCHES if unicodedata.east_asian_width(c) in "WF" else NARROW_CHAR_INCHES for c in label)
                for label in labels), default=0.0)


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
    heat_width = max(INCHES_PER_TOKEN * len(source_tokens), 1.5)
    heat_height = max(INCHES_PER_TOKEN * len(target_tokens), 1.0)
    left = label_inches(target_tokens) + AXIS_LABEL_INCHES  # y tick labels and axis label of each panel
    bottom = label_inches(source_tokens) + AXIS_LABEL_INCHES  # x tick labels (turned upright) and axis label
    cell_width, cell_height = left + heat_width + 0.2, PANEL_TITLE_INCHES + heat_height + bottom
    width = cell_width * columns + COLORBAR_INCHES
    title_text = ""
    if title:  # wrapped to the figure's width (about 4 wide characters an inch), not cut off at its edges
        title_text = textwrap.fill(title, width=max(16, int(width * 4)))
    top = (title_text.count("\n") + 1) * TITLE_LINE_INCHES + 0.15 if title_text else 0.1
    height = top + cell_height * rows
    fig = plt.figure(figsize=(width, height), dpi=100)
    image = None
    for index, (name, weights) in enumerate(panels):
        row, column = divmod(index, columns)
        x0 = column * cell_width + left
        y0 = height - top - row * cell_height - PANEL_TITLE_INCHES - heat_height
        ax = fig.add_axes((x0 / width, y0 / height, heat_width / width, heat_height / height))
        image = ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=90, fontproperties=font)
        ax.set_yticks(range(len(target_tokens)), target_tokens, fontproperties=font)
        ax.set_xlabel("source", fontproperties=font)
        ax.set_ylabel("output", fontproperties=font)
        ax.set_title(name, fontproperties=font)
    if title_text:
        fig.suptitle(title_text, fontproperties=font, y=1 - 0.08 / height, va="top")
    if image is not None:
        bar_height = min(heat_height * rows, 4.0)
        bar = fig.add_axes(((width - COLORBAR_INCHES + 0.15) / width, (height - top - PANEL_TITLE_INCHES - bar_height) / height,
                            0.15 / width, bar_height / height))
        fig.colorbar(image, cax=bar, label="attention weight")
    try:
        save_figure(fig, Path(path), "attention heatmap", hint)
    finally:
        plt.close(fig)
    return Path(path)
