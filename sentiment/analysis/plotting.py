"""Matplotlib figures that render Korean, for the evaluation plots and the HTML report.

The Hangul font is NanumGothic from the ``koreanize-matplotlib`` wheel, found
by path without importing that package (its import changes matplotlib's
global settings) and applied only inside :func:`korean_plots` through
``matplotlib.rc_context``: nothing global changes besides the font being known
to matplotlib's font manager. Without the wheel, an installed font with Hangul
(Noto Sans CJK, Malgun Gothic, AppleGothic, ...) is used if there is one.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

BUNDLED_FAMILY = "NanumGothic"
SYSTEM_FAMILIES = (
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "NanumGothic",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "AppleGothic",
    "UnDotum",
    "Baekmuk Gulim",
)


def korean_font_path() -> Path | None:
    """NanumGothic.ttf of the koreanize-matplotlib wheel, if installed (the package is not imported)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NanumGothic.ttf"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def korean_font_family() -> str | None:
    """A font family with Hangul known to matplotlib (registering the bundled one), or None."""
    from matplotlib import font_manager

    path = korean_font_path()
    if path is not None:
        font_manager.fontManager.addfont(str(path))
        return BUNDLED_FAMILY
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in SYSTEM_FAMILIES if family in installed), None)


@contextmanager
def korean_plots() -> Iterator[None]:
    """Figures created and saved inside this block draw Hangul (and a true minus sign with any font)."""
    import matplotlib

    family = korean_font_family()
    rc: dict[str, Any] = {"axes.unicode_minus": False}
    if family:
        rc["font.family"] = [family, "DejaVu Sans"]
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        yield


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure not tied to pyplot (no global figure state); call inside :func:`korean_plots`."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_data_uri(fig: Any, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI, for a self-contained HTML page."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@lru_cache(maxsize=1)
def _chart_charmap() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    codes: set[int] = set()
    for family in (korean_font_family(), "DejaVu Sans"):
        if family:
            codes.update(FT2Font(font_manager.findfont(family)).get_charmap())
    return frozenset(codes)


def chart_text(text: str) -> str:
    """``text`` for a chart label: characters the chart fonts lack (emoji) are written as their Unicode name."""
    import unicodedata

    charmap = _chart_charmap()
    return "".join(
        ch if ord(ch) in charmap or ch.isspace() else f"[{unicodedata.name(ch, hex(ord(ch))).lower()}]" for ch in text
    )
