"""The report of a Google-Play-like export: its time section reads Korean and relative dates, and every character
of the page has a glyph in the inlined fonts, in every element (checked in the font subsets and in Chromium)."""

import base64
import html
import io
import re
import shutil
import subprocess
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from sentiment.analysis import report_html as markup
from sentiment.analysis.report import _time, read_scored, share_figures, write_report

CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
EXTRA = "韓國 → 최고 👍🏻 ⓐ"  # Hanja, an arrow (DejaVu only), an emoji with a skin tone (no font), a circled letter


@pytest.fixture(scope="module")
def google_play(tiny_model, tmp_path_factory):
    """60 reviews (앱, 작성일, 리뷰) dated like Google Play's Korean export, a few relative and unreadable."""
    from sentiment.apps.scoring import score_file

    folder = tmp_path_factory.mktemp("google-play")
    reviews = pd.read_csv(SAMPLE)["document"].iloc[:60].tolist()
    reviews[0] = f"{reviews[0]} {EXTRA}"
    dates = [f"2019년 12월 {i % 25 + 1}일" + (" 오후 3:05" if i % 2 else "") for i in range(60)]
    dates[50:55] = ["3일 전", "어제", "방금", "2시간 전", "12월 30일"]
    dates[55:58] = ["알 수 없음"] * 3
    source = folder / "reviews.csv"
    pd.DataFrame({"앱": (["배달앱", "쇼핑앱", "은행앱"] * 20), "작성일": dates, "리뷰": reviews}).to_csv(
        source, index=False
    )
    scored = folder / "scored.csv"
    score_file(source, scored, tiny_model, workers=1, log=lambda msg: None)
    return scored


@pytest.fixture(scope="module")
def report(google_play, tiny_model):
    logged = []
    data = read_scored(
        google_play, group_by="앱", time_column="작성일", time_reference="2020-01-10 09:00", log=logged.append
    )
    out = google_play.parent / "report.html"
    write_report(data, tiny_model, out, top=5, model_name="tiny", log=logged.append)
    return out.read_text(encoding="utf-8"), logged


def test_time_section_reads_korean_and_relative_dates(report, google_play):
    page, logged = report
    assert "text column '리뷰' (median " in logged[0] and "runner-up: column '앱'" in logged[0]
    time_log = next(line for line in logged if line.startswith("time column '작성일'"))
    assert "57 values read" in time_log and "Korean (2019년 12월 21일): 53; relative: 4" in time_log  # 12월 30일
    assert "3 values could not be read as a date or time (e.g. '알 수 없음')" in time_log
    section = page[page.index('<section id="time">') : page.index('<section id="drivers">')]
    assert "Column <code>작성일</code>, from 2019-12-01 to 2020-01-10: one point per month" in section
    assert "3 rows without a readable time are left out" in section and "e.g. &#x27;알 수 없음&#x27;" in section
    assert (
        "5 relative times (such as 3일 전, 어제, or a date without a year) were counted back from "
        "2020-01-10 09:00, the time given with <code>--time-reference</code>."
    ) in section
    # without --time-reference: the file's modification time, stated on the page
    data = read_scored(google_play, time_column="작성일")
    assert data.time_reference_source == "the modification time of scored.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas "Could not infer format" on the way
        section = _time(data, share_figures(data))
    assert "the modification time of scored.csv (give another with <code>--time-reference</code>)" in section


def _inline_fonts(page: str) -> list[dict[int, str]]:
    from fontTools.ttLib import TTFont

    return [
        TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
        for data in re.findall(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    ]


def _page_characters(page: str) -> set[str]:
    body = page[page.index("<body>") :]
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return {ch for ch in text if not ch.isspace()}


def test_the_inline_fonts_cover_every_character_of_the_page(report):
    page, _ = report
    cmaps = _inline_fonts(page)
    assert len(cmaps) == 3  # NanumGothic, DejaVu Sans for what it lacks (→), DejaVu Sans Mono for code's ASCII
    characters = _page_characters(page)
    assert {"앱", "韓", "→", "최"} <= characters
    missing = sorted(ch for ch in characters if not any(ord(ch) in cmap for cmap in cmaps))
    assert missing == []
    assert "👍" not in page and "[thumbs up sign]" in page  # no font has it: written as its name
    # every element takes the inlined fonts: the body's family and code/pre/kbd's
    css = page[page.index("<style>") : page.index("</style>")]
    body_rule = re.search(r"body\{font-family:([^;]+);", css).group(1)
    mono_rule = re.search(r"code,pre,kbd,samp,tt\{font-family:([^;]+);", css).group(1)
    for family in ("ReportNanumGothic", "ReportDejaVuSans"):
        assert f'"{family}"' in body_rule and f'"{family}"' in mono_rule
    assert mono_rule.startswith('"ReportDejaVuSansMono",')  # inline too: no local font before the inline ones
    assert "table,th,td,caption,details,summary,mark" in css


def _ink(pixels: np.ndarray, top: int) -> np.ndarray:
    band = pixels[top : top + 70] < 128
    ys, xs = np.nonzero(band)
    return band[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(ys) else band[:0, :0]


def test_no_missing_glyph_in_chromium(tmp_path):
    """Hangul and Hanja in code, pre, kbd, table cells and headings are drawn exactly as by the inlined font;
    the same text in the browser's own monospace font is not (tofu on a machine without Korean fonts)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    from PIL import Image

    text = "앱작성일리뷰韓"
    style = (
        "font-size:40px;font-weight:normal;margin:0;padding:0;border:0;background:none;line-height:60px;"
        "white-space:nowrap"
    )
    probes = {
        "reference": f'<span style="font-family:ReportNanumGothic;{style}">{text}</span>',
        **{
            tag: f'<{tag} style="{style}">{text}</{tag}>'
            for tag in ("code", "pre", "kbd", "samp", "h2", "p", "mark", "b")
        },
        "summary": f'<details><summary style="{style};list-style:none">{text}</summary></details>',
        "caption": f'<table style="margin:0"><caption style="{style}">{text}</caption></table>',
        **{
            cell: f'<table style="margin:0;border-collapse:collapse"><tr><{cell} style="{style}">{text}'
            f"</{cell}></tr></table>"
            for cell in ("td", "th")
        },
        "system monospace": f'<span style="font-family:monospace;{style}">{text}</span>',
    }
    overlay = '<div style="position:fixed;inset:0;background:#fff;z-index:1"></div>' + "".join(
        f'<div style="position:fixed;left:10px;top:{10 + 80 * i}px;z-index:2;color:#000">{probe}</div>'
        for i, probe in enumerate(probes.values())
    )
    page = tmp_path / "probe.html"
    page.write_text(markup.render_page("glyphs", [markup.section("overview", overlay)]), encoding="utf-8")
    shot = tmp_path / "probe.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                f"--screenshot={shot}",
                f"--window-size=700,{40 + 80 * len(probes)}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pixels = np.asarray(Image.open(shot).convert("L"))
    inks = {name: _ink(pixels, 10 + 80 * i) for i, name in enumerate(probes)}
    reference = inks.pop("reference")
    system = inks.pop("system monospace")
    assert reference.shape[1] > 200 and reference.mean() > 0.05  # the text was drawn
    for name, ink in inks.items():
        assert ink.shape == reference.shape and (ink != reference).mean() < 0.01, name
    has_korean_font = subprocess.run(
        ["fc-list", ":lang=ko"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not has_korean_font:  # the check above would catch tofu: here is what tofu looks like to it
        assert system.shape != reference.shape or (system != reference).mean() > 0.05
