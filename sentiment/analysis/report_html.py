"""The HTML of the report: one self-contained page (inline CSS, an inline subset of NanumGothic for the
Korean text, no script) and the small builders the sections use."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

POSITIVE = "#1a9850"
NEGATIVE = "#d73027"
SECTIONS = {"overview": "Overview", "groups": "By group", "time": "Over time", "drivers": "What drives it",
            "read-first": "Comments to read first", "method": "How this was computed"}

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
.note{color:#555;font-style:italic}.muted{color:#777;font-weight:normal;font-size:.85em}
code{background:#f1f3f4;padding:0 3px;border-radius:3px}details{margin:8px 0}.nowrap{white-space:nowrap}
"""
FONT_STACK = ('"Apple SD Gothic Neo","Malgun Gothic","Noto Sans KR","Noto Sans CJK KR","NanumGothic",'
              '"Segoe UI",Roboto,Helvetica,Arial,sans-serif')


def render_page(title: str, sections: list[str], subtitle: str = "") -> str:
    """The whole page: inline CSS (with an inline subset of NanumGothic for the Korean text), no script."""
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name in SECTIONS.items())
    body = (f'<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{nav}</nav></header>'
            f'<main>{"".join(sections)}</main>')
    font_face, family = embedded_font(title + subtitle + html.unescape(body))
    css = CSS % {"family": (f'"{family}",' if family else "") + FONT_STACK, "pos": POSITIVE, "neg": NEGATIVE}
    return (f'<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><style>{font_face}{css}</style></head><body>{body}</body></html>\n')


def embedded_font(text: str) -> tuple[str, str | None]:
    """An ``@font-face`` rule with NanumGothic cut down to the characters of ``text`` (WOFF, base64, a few
    hundred KB at most), so Korean renders on machines without a Korean font; ('', None) without the font."""
    from .plotting import korean_font_path

    path = korean_font_path()
    if path is None:
        return "", None
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = []
    options.hinting = False
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # VTT hinting sources: not needed, not subsettable
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(ch) for ch in set(text)} | set(range(0x20, 0x7F)))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    family = "ReportNanumGothic"
    return f'@font-face{{font-family:"{family}";src:url(data:font/woff;base64,{data}) format("woff")}}', family


def section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{SECTIONS[key]}</h2>{body}</section>'


def cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
                                           for k, v in items) + "</div>"


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
        out.append(f'<mark style="background:rgba({rgb},{0.12 + 0.6 * min(abs(weight), 1):.2f})" '
                   f'title="{esc(title)}">{esc(text[start:end])}</mark>')
        cursor = end
    out.append(esc(text[cursor:limit]) + ("…" if len(text) > limit else ""))
    return "".join(out)


def esc(value: Any) -> str:
    return html.escape(str(value))
