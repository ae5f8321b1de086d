"""`sentiment report`: the page holds every section, is self-contained, renders in a real browser; its statistics."""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error, run_cli

from sentiment.analysis.report import read_scored, write_report
from sentiment.analysis.report_html import SECTIONS
from sentiment.analysis.report_stats import log_odds_z, period_of, wilson
from sentiment.io.times import parse_times

CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)


@pytest.fixture(scope="module")
def scored_sample(tiny_model, tmp_path_factory):
    """The hand-written sample scored by the tiny model, with a synthetic time column over 60 days."""
    from sentiment.apps.scoring import score_file

    folder = tmp_path_factory.mktemp("report")
    scored = folder / "scored.csv"
    score_file(SAMPLE, scored, tiny_model, workers=1, log=lambda msg: None)
    frame = pd.read_csv(scored)
    rng = np.random.default_rng(0)
    frame["written"] = (
        pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 60 * 24, len(frame)), unit="h")
    ).strftime("%Y-%m-%d %H:%M")
    frame.to_csv(scored, index=False)
    return scored


@pytest.fixture(scope="module")
def report_page(scored_sample, tiny_model):
    out = scored_sample.parent / "report.html"
    data = read_scored(scored_sample, group_by="domain", time_column="written")
    summary = write_report(data, tiny_model, out, top=10, model_name="tiny")
    assert summary.rows == summary.scored == len(pd.read_csv(SAMPLE))
    return out


def test_report_holds_every_section_and_is_self_contained(report_page, scored_sample):
    page = report_page.read_text(encoding="utf-8")
    for key, title in SECTIONS.items():
        assert f'<section id="{key}">' in page and f"<h2>{title}</h2>" in page
    # nothing fetched from anywhere: no remote src/href, no script at all, CSS url() only inline data
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "@import" not in page
    assert all(u.startswith("data:") for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", page))
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 5 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "@font-face" in page and "data:font/woff;base64," in page  # Korean renders without a system font
    # the content: groups with counts, weekly or daily points, Korean morphemes with marked examples
    frame = pd.read_csv(scored_sample)
    for group, n in frame["domain"].value_counts().items():
        assert f"<td>{group}</td><td>{n:,}</td>" in page
    assert re.search(r"one point per (day|week)", page)
    assert "<mark" in page and "Most confident negatives" in page and "Least certain" in page
    assert "최악" in page or "최고" in page


def test_report_renders_in_headless_chromium(report_page, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    from PIL import Image

    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1280,3000",
                report_page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (3000, 1280)
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 200  # text, charts and highlights, not a blank or one-colour page
    header = pixels[5:60, 5:1275].reshape(-1, 3)  # the dark page header was drawn
    assert (header.max(axis=1) < 80).mean() > 0.5
    green = np.array([26, 152, 80])  # the positive bars of the probability histogram
    assert (np.abs(pixels.reshape(-1, 3).astype(int) - green).sum(axis=1) < 30).sum() > 500


@pytest.mark.slow
def test_report_cli_end_to_end(scored_sample, tiny_model_dir, tmp_path):
    out = tmp_path / "r.html"
    result = run_cli(
        "report",
        str(scored_sample),
        "-o",
        str(out),
        "--group-by",
        "domain",
        "--time-column",
        "written",
        "--model",
        str(tiny_model_dir),
        "--top",
        "5",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report:" in result.stderr and out.stat().st_size > 50_000
    page = out.read_text(encoding="utf-8")
    assert all(f'<section id="{key}">' in page for key in SECTIONS)


def test_report_refuses_unscored_files_unknown_columns_and_overwriting(scored_sample, report_page, tmp_path):
    assert_user_error(run_cli("report", str(scored_sample), "-o", str(report_page)), "already exists", "--overwrite")
    out = str(tmp_path / "r.html")
    result = run_cli("report", str(SAMPLE), "-o", out)
    assert_user_error(
        result,
        "not the output of `sentiment score`",
        "'status'",
        "'pred_label'",
        "prob_<label>",
        "columns found: 'id', 'document', 'label', 'domain'",
        "sentiment score FILE",
    )
    assert_user_error(
        run_cli("report", str(scored_sample), "-o", out, "--group-by", "shop"),
        "no column 'shop' for --group-by",
        "'domain'",
    )
    assert_user_error(
        run_cli("report", str(scored_sample), "-o", out, "--positive", "yes"), "--positive 'yes'", "'0', '1'"
    )
    assert_user_error(run_cli("report", str(scored_sample), "-o", out, "--top", "0"), "--top 0")


def test_report_without_scored_rows(scored_sample, tiny_model, tmp_path):
    frame = pd.read_csv(scored_sample)
    frame["status"], frame["pred_label"], frame["prob_0"], frame["prob_1"] = "empty", np.nan, np.nan, np.nan
    frame.to_csv(tmp_path / "unscored.csv", index=False)
    data = read_scored(tmp_path / "unscored.csv", group_by="domain", time_column="written")
    summary = write_report(data, tiny_model, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert summary.scored == 0 and page.count("No scored comments") == 4
    assert f"<td>empty</td><td>{len(frame):,}</td>" in page


def test_column_prefix_is_detected(scored_sample, tmp_path):
    frame = pd.read_csv(scored_sample)
    frame = frame.rename(columns={c: f"new_{c}" for c in ("status", "pred_label", "prob_0", "prob_1")})
    path = tmp_path / "prefixed.parquet"
    frame.to_parquet(path)
    data = read_scored(path, group_by="domain")
    assert data.columns["status"] == "new_status" and data.positive == "1"
    assert (data.frame["pred"] == frame["new_pred_label"].astype(str)).all()


# -- statistics -----------------------------------------------------------------------
def test_wilson_interval_known_values():
    lo, hi = wilson(np.array([0, 5, 10]), np.array([10, 10, 10]))
    assert lo[0] == pytest.approx(0.0, abs=1e-12) and hi[0] == pytest.approx(0.2775, abs=1e-4)
    assert (lo[1], hi[1]) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert (lo[2], hi[2]) == (pytest.approx(0.7225, abs=1e-4), pytest.approx(1.0, abs=1e-12))


def test_log_odds_z_properties():
    a = np.array([50.0, 10, 10, 30])
    b = np.array([10.0, 10, 10, 70])
    prior = a + b
    z = log_odds_z(a, b, prior)
    assert np.allclose(log_odds_z(b, a, prior), -z)  # antisymmetric
    assert z[0] > 3 and z[3] < -3  # over-represented in a / in b
    assert abs(z[1]) < 1  # a word with nearly equal rates
    assert log_odds_z(a * 10, b * 10, prior * 10)[0] > z[0]  # more evidence, larger |z|


def test_times_and_periods():
    values = pd.Series(
        ["2024-05-01 10:00", "2024-05-02", "2024/05/03 13:45", "2024-05-04T00:00:00+09:00", "nope", None]
    )
    times = parse_times(values).times
    assert times.iloc[:4].notna().all() and times.iloc[4:].isna().all()
    assert times.iloc[3] == pd.Timestamp("2024-05-03 15:00")  # +09:00 converted to UTC
    epoch = parse_times(pd.Series([1714521600, 1714608000])).times
    assert epoch.iloc[0] == pd.Timestamp("2024-05-01")
    assert period_of(pd.Timedelta(days=30)) == "day"
    assert period_of(pd.Timedelta(days=300)) == "week"
    assert period_of(pd.Timedelta(days=1000)) == "month"


def test_korean_font_for_charts_without_global_changes():
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from sentiment.analysis.plotting import korean_plots

    before = list(matplotlib.rcParams["font.family"])
    with korean_plots():
        path = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"]))
        assert ord("한") in FT2Font(path).get_charmap()
    assert matplotlib.rcParams["font.family"] == before
    assert "koreanize_matplotlib" not in sys.modules  # its import would change matplotlib's global settings


def test_evaluation_plots_draw_korean_labels(tmp_path):
    from sentiment.analysis.evaluation import compute_metrics
    from sentiment.analysis.evaluation import write_report as write_evaluation

    classes = np.array(["긍정", "부정"])
    labels = np.array(["긍정", "부정", "긍정", "부정"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    metrics = compute_metrics(labels, proba, classes)
    written = write_evaluation(tmp_path, metrics, ["a", "b", "c", "d"], labels, proba, classes)
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 5000 and len(written) >= 5
    assert Path(tmp_path / "roc_curve.png").is_file()


@pytest.mark.slow
def test_report_benchmark_runs(tmp_path):
    import json
    import os

    from conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "report.py"),
            "--rows",
            "20000",
            "--keep",
            str(tmp_path),
            "--json-out",
            str(tmp_path / "figures.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["rows"] == 20000 and 0 < figures["report_seconds"] < figures["target_seconds"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert all(f'<section id="{key}">' in page for key in SECTIONS)
