"""The HTML of the report: one self-contained page (inline CSS, inline font subsets, no script) and the small
builders the sections use.

Every character of the page has a glyph without any font installed: the page's text is drawn with a subset of
NanumGothic (Hangul, Hanja, Latin) cut to the characters the page holds, then a subset of DejaVu Sans (from
matplotlib: arrows, math, Cyrillic, Greek, ...) for those NanumGothic lacks; every element uses them, code
and tables included; a character neither font has (emoji) is written as its Unicode name, as in the charts.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

POSITIVE = "#1a9850"
NEGATIVE = "#d73027"
SECTIONS = {
    "overview": "Overview",
    "groups": "By group",
    "time": "Over time",
    "drivers": "What drives it",
    "read-first": "Comments to read first",
    "method": "How this was computed",
}

CSS = """
body{font-family:%(family)s;margin:0;color:#222;background:#fafafa;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:0 24px 48px}
header{background:#263238;color:#fff;padding:18px 24px}header h1{margin:0;font-size:1.5em}
header p{margin:4px 0 0;color:#cfd8dc}nav{margin-top:10px}nav a{color:#b2dfdb;margin-right:14px;text-decoration:none}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:18px 0;padding:6px 20px 16px}
h2{border-bottom:2px solid #eceff1;padding-bottom:4px}h3{margin:18px 0 4px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 14px;
min-width:130px}.card b{display:block;font-size:1.5em}.card span{color:#666;font-size:.85em}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}.row>table{flex:1 1 420px}
table{border-collapse:collapse;margin:12px 0;font-size:.92em}caption{text-align:left;font-weight:bold;padding:4px 0}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}tr:nth-child(even) td{background:#fcfcfc}
table.drivers td:nth-child(2),table.drivers td:nth-child(3){white-space:nowrap;text-align:right}
table.drivers.pos caption{color:%(pos)s}table.drivers.neg caption{color:%(neg)s}
table.comments td:first-child{white-space:nowrap;text-align:right}
img{max-width:100%%;height:auto;display:block;margin:10px 0}
mark{border-radius:3px;padding:0 1px;color:inherit}.key{padding:0 4px;border-radius:3px}
.key.pos{background:rgba(26,152,80,.45)}.key.neg{background:rgba(215,48,39,.45)}
.note{color:#555;font-style:italic}.warn{color:#8a4b00}p.warn{background:#fff4e0;border-left:4px solid #e69500;
padding:6px 10px}p.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:6px 10px}
.muted{color:#777;font-weight:normal;font-size:.85em}
code{background:#f1f3f4;padding:0 3px;border-radius:3px}details{margin:8px 0}.nowrap{white-space:nowrap}
table,th,td,caption,details,summary,mark,button,input,select,textarea{font-family:inherit}
code,pre,kbd,samp,tt{font-family:%(mono)s;font-size:.92em}
"""
FONT_STACK = (
    '"Apple SD Gothic Neo","Malgun Gothic","Noto Sans KR","Noto Sans CJK KR","NanumGothic",'
    '"Segoe UI",Roboto,Helvetica,Arial,sans-serif'
)
MONO_STACK = 'Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono"'  # without the inline fonts
FAMILIES = ("ReportNanumGothic", "ReportDejaVuSans")  # the inline subsets, in this order
MONO_FAMILY = "ReportDejaVuSansMono"  # the inline ASCII of code elements
ASCII = set(range(0x20, 0x7F))


def render_page(title: str, sections: list[str], subtitle: str = "") -> str:
    """The whole page: inline CSS with inline font subsets covering every character of the page, no script."""
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name in SECTIONS.items())
    body = (
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{nav}</nav></header><main>{''.join(sections)}</main>"
    )
    font_face, families, mono = embedded_fonts(html.unescape(body))
    inline = "".join(f'"{f}",' for f in families)
    code = f'"{mono}",{inline}{FONT_STACK}' if mono else f"{MONO_STACK},{inline}{FONT_STACK},monospace"
    css = CSS % {"family": inline + FONT_STACK, "mono": code, "pos": POSITIVE, "neg": NEGATIVE}
    return (
        f'<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{font_face}{css}</style></head><body>{body}</body></html>\n"
    )


def font_paths() -> list[Path]:
    """The fonts the page's subsets are cut from: NanumGothic (koreanize-matplotlib) and matplotlib's DejaVu
    Sans; empty without NanumGothic (the page then relies on the reader's fonts)."""
    from .plotting import korean_font_path

    nanum = korean_font_path()
    if nanum is None:
        return []
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return [nanum] + ([dejavu] if dejavu.is_file() else [])


@lru_cache(maxsize=1)
def _charmaps() -> tuple[frozenset[int], ...]:
    from fontTools.ttLib import TTFont

    return tuple(frozenset(TTFont(str(path), lazy=True).getBestCmap()) for path in font_paths())


def covered(ch: str) -> bool:
    """Whether the page's fonts draw ``ch`` (always True without them: nothing is rewritten then)."""
    maps = _charmaps()
    return not maps or ch.isspace() or any(ord(ch) in m for m in maps)


def displayable(text: str) -> str:
    """``text`` with each character the page's fonts lack written as its Unicode name ('[grinning face]');
    invisible ones they lack (variation selectors, zero-width joiners) are dropped."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if covered(ch):
            out.append(ch)
        elif unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc", "Co", "Cn", "Cs") or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            # invisible marks, and the skin-tone modifiers of emoji
            continue
        else:
            out.append(f"[{unicodedata.name(ch, f'U+{ord(ch):04X}').lower()}]")
    return "".join(out)


def embedded_fonts(text: str) -> tuple[str, list[str], str | None]:
    """``@font-face`` rules with each font of :func:`font_paths` cut down to the characters of ``text`` that it
    draws and no earlier font does (WOFF, base64; a few hundred KB at most), their family names, and the family
    of a monospaced face for the ASCII of code elements (DejaVu Sans Mono, also inline: a local font first in
    a list would let the browser draw Hangul with its own fallback before the inline fonts load)."""
    paths = font_paths()
    if not paths:
        return "", [], None
    wanted = {ord(ch) for ch in set(text)} | ASCII
    faces, families = [], []
    for path, charmap, family in zip(paths, _charmaps(), FAMILIES):
        mine = wanted & charmap
        if mine:
            wanted -= mine
            faces.append(_font_face(path, family, mine))
            families.append(family)
    mono = paths[-1].with_name("DejaVuSansMono.ttf") if len(paths) > 1 else None
    if mono is None or not mono.is_file():
        return "".join(faces), families, None
    faces.append(_font_face(mono, MONO_FAMILY, ASCII))
    return "".join(faces), families, MONO_FAMILY


def _font_face(path: Path, family: str, unicodes: set[int]) -> str:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = []
    options.hinting = False
    options.notdef_outline = True
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5", "FFTM"]  # not subsettable (VTT sources)
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'@font-face{{font-family:"{family}";font-display:block;src:url(data:font/woff;base64,{data}) format("woff")}}'
    )


def section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{SECTIONS[key]}</h2>{body}</section>'


def cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in items)
        + "</div>"
    )


def table(header: list[str], rows: list[list[str]], caption: str = "", escape: bool = False, css: str = "") -> str:
    cell = esc if escape else (lambda v: v)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="{css}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def marked(text: str, marks: list[tuple[int, int, float, str]], limit: int = 300) -> str:
    """``text`` as HTML with ``(start, end, weight in [-1, 1], title)`` spans highlighted (green for positive
    weights, red for negative, stronger for larger ones); shared or overlapping spans are drawn once."""
    out, cursor = [], 0
    for start, end, weight, title in sorted(marks, key=lambda m: (m[0], -abs(m[2]))):
        if start < cursor or end > limit or abs(weight) < 0.1 or end <= start:
            continue
        rgb = "26,152,80" if weight > 0 else "215,48,39"
        out.append(esc(text[cursor:start]))
        out.append(
            f'<mark style="background:rgba({rgb},{0.12 + 0.6 * min(abs(weight), 1):.2f})" '
            f'title="{esc(title)}">{esc(text[start:end])}</mark>'
        )
        cursor = end
    out.append(esc(text[cursor:limit]) + ("…" if len(text) > limit else ""))
    return "".join(out)


def esc(value: Any) -> str:
    """HTML-escaped text whose every character the page's fonts draw (see :func:`displayable`)."""
    return html.escape(displayable(str(value)))
