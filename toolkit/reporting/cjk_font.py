"""The font that figures set Chinese text in (attention heatmaps' axis labels).

matplotlib's own DejaVu Sans has no CJK glyphs, so Chinese labels would come out as empty boxes,
and which system fonts exist differs from machine to machine. The font comes from a PyPI
dependency instead, so every install renders the same glyphs: Noto Sans SC (Simplified Chinese,
SIL Open Font License 1.1) as the ``pylopdf-fonts-zh-cn`` package ships it. It also covers Latin
letters and digits, so pinyin and English labels use it too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import ToolkitError

FONT_PACKAGE = "pylopdf-fonts-zh-cn"


def cjk_font_path() -> Path:
    """The Noto Sans SC font file of the installed font package."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        raise ToolkitError(f"The Chinese font for figures is missing: install it with `pip install {FONT_PACKAGE}` "
                           f"(a dependency of toolkit; Noto Sans SC, SIL Open Font License).") from None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():
        raise ToolkitError(f"The font package {FONT_PACKAGE} is installed without its font file ({path}): "
                           f"reinstall it with `pip install --force-reinstall {FONT_PACKAGE}`.")
    return path


@lru_cache(maxsize=1)
def cjk_font():
    """FontProperties for text with Chinese characters; the font is also added to matplotlib's font
    manager, so ``family=cjk_font().get_name()`` finds it too."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))
