"""Batch scoring: every row kept with a status, chunking, parallelism, atomic output, resume after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE

from sentiment.apps.scoring import score_file
from sentiment.errors import DataError, OutputExistsError


def quiet(msg):
    return None


def test_every_row_is_kept_with_a_status(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [
        {"document": "정말 최고예요", "n": 1},
        {"document": None, "n": 2},
        {"document": "   ", "n": 3},
        {"document": 12345, "n": 4},
        {"document": "😍😍😍", "n": 5},
        {"document": "가" * 100_000, "n": 6},
    ]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    summary = score_file(src, out, tiny_model, log=quiet)
    got = pd.read_csv(out)
    assert got["n"].tolist() == [1, 2, 3, 4, 5, 6]
    assert got["status"].tolist() == ["ok", "missing", "empty", "not_text", "ok", "ok"]
    assert got["pred_label"].isna().tolist() == [False, True, True, True, False, False]
    assert summary.rows == 6 and summary.scored == 3
    assert summary.status_counts == {"ok": 3, "missing": 1, "empty": 1, "not_text": 1}
    proba = tiny_model.predict_proba(["정말 최고예요"])
    assert got.loc[0, "prob_1"] == pytest.approx(proba[0, 1], abs=1e-6)


def test_chunked_parallel_equals_single_pass(tiny_model, tmp_path, sample_frame):
    one = tmp_path / "one.csv"
    many = tmp_path / "many.csv"
    score_file(SAMPLE, one, tiny_model, workers=1, log=quiet)
    score_file(SAMPLE, many, tiny_model, workers=2, chunksize=64, log=quiet)
    a, b = pd.read_csv(one), pd.read_csv(many)
    pd.testing.assert_frame_equal(a.drop(columns=["prob_0", "prob_1"]), b.drop(columns=["prob_0", "prob_1"]))
    np.testing.assert_allclose(a[["prob_0", "prob_1"]], b[["prob_0", "prob_1"]], atol=2e-6)
    assert len(a) == len(sample_frame)
    expected = tiny_model.predict(sample_frame["document"].tolist())
    assert (a["pred_label"].to_numpy() == expected).all()


@pytest.mark.parametrize("name", ["out.tsv", "out.parquet", "out.xlsx", "out.jsonl", "out.csv.gz"])
def test_output_formats(tiny_model, tmp_path, name):
    from sentiment.io.readers import read_table

    score_file(SAMPLE, tmp_path / name, tiny_model, chunksize=100, log=quiet)
    got, _ = read_table(tmp_path / name)
    assert len(got) == len(pd.read_csv(SAMPLE)) and {"status", "pred_label", "prob_0", "prob_1"} <= set(got.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_existing_output_needs_overwrite(tiny_model, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("precious")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        score_file(SAMPLE, out, tiny_model, log=quiet)
    assert out.read_text() == "precious"
    score_file(SAMPLE, out, tiny_model, overwrite=True, log=quiet)
    assert out.read_text() != "precious"


def test_formula_injection_guard(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"document": ['=HYPERLINK("x") 최고', "@별로", "보통"]}).to_csv(src, index=False)
    score_file(src, tmp_path / "safe.csv", tiny_model, log=quiet)
    score_file(src, tmp_path / "raw.csv", tiny_model, escape=False, log=quiet)
    assert pd.read_csv(tmp_path / "safe.csv")["document"].tolist()[:2] == ['\'=HYPERLINK("x") 최고', "'@별로"]
    assert pd.read_csv(tmp_path / "raw.csv")["document"].tolist()[:2] == ['=HYPERLINK("x") 최고', "@별로"]


def test_column_clash_is_an_error(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"document": ["좋다"], "pred_label": [1]}).to_csv(src, index=False)
    with pytest.raises(DataError, match="--column-prefix"):
        score_file(src, tmp_path / "o.csv", tiny_model, log=quiet)
    score_file(src, tmp_path / "o.csv", tiny_model, column_prefix="new_", log=quiet)
    assert {"pred_label", "new_pred_label", "new_status"} <= set(pd.read_csv(tmp_path / "o.csv").columns)


def _big_input(tmp_path, repeats=40):
    frame = pd.concat([pd.read_csv(SAMPLE)] * repeats, ignore_index=True)
    frame["id"] = range(len(frame))
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    return path


def test_resume_after_kill_9(tiny_model_dir, tmp_path):
    """A run killed with SIGKILL mid-way and resumed writes the same file as an uninterrupted run."""
    src = _big_input(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    base = [
        sys.executable,
        "-m",
        "sentiment",
        "score",
        str(src),
        "--model",
        str(tiny_model_dir),
        "--chunk-size",
        "400",
        "--workers",
        "1",
        "-q",
    ]
    full = tmp_path / "full.csv"
    subprocess.run([*base, "-o", str(full)], env=env, check=True, timeout=600)

    out = tmp_path / "out.csv"
    parts = tmp_path / ".out.csv.parts"
    proc = subprocess.Popen([*base, "-o", str(out)], env=env)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(parts.glob("part-*.csv"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(parts.glob("part-*.csv")))
    assert 3 <= done < 30 and not out.exists(), done

    result = subprocess.run([*base, "-o", str(out), "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == full.read_bytes()
    assert not parts.exists()


def test_missing_output_folder(tiny_model, tmp_path):
    with pytest.raises(DataError, match="output folder .* does not exist"):
        score_file(SAMPLE, tmp_path / "no" / "such" / "o.csv", tiny_model, log=quiet)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_any_unicode_is_scored(tiny_model, texts):
    proba = tiny_model.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_threshold_moves_the_decision(tiny_model, tmp_path, sample_frame):
    texts = sample_frame["document"].tolist()
    p1 = tiny_model.predict_proba(texts)[:, 1]
    threshold = float(np.quantile(p1, 0.8))  # a cut far from 0.5 that splits the sample
    out = tmp_path / "t.csv"
    summary = score_file(SAMPLE, out, tiny_model, threshold=threshold, log=quiet)
    got = pd.read_csv(out)
    assert got["pred_label"].tolist() == (p1 >= threshold).astype(int).tolist()
    assert summary.label_counts == {"0": int((p1 < threshold).sum()), "1": int((p1 >= threshold).sum())}
    default = pd.read_csv(score_file(SAMPLE, tmp_path / "d.csv", tiny_model, log=quiet).output)
    assert (got["pred_label"] != default["pred_label"]).sum() > 0


def test_threshold_errors():
    from sentiment.apps.scoring import check_threshold

    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(DataError, match=f"--threshold {bad} is invalid.*between 0 and 1"):
            check_threshold(bad, np.array([0, 1]))
    with pytest.raises(DataError, match="two-class models; this model has 3 classes \\(neg, neu, pos\\)"):
        check_threshold(0.6, np.array(["neg", "neu", "pos"]))
    check_threshold(None, np.array(["neg", "neu", "pos"]))
    check_threshold(0.6, np.array([0, 1]))


def test_resume_reuses_parts_only_with_the_same_threshold(tiny_model, tmp_path, sample_frame, monkeypatch):
    """Parts of a run that stopped before joining are reused by --resume with the same threshold, never another."""
    from sentiment.apps import scoring

    p1 = tiny_model.predict_proba(sample_frame["document"].tolist())[:, 1]
    threshold = float(np.quantile(p1, 0.8))
    out = tmp_path / "r.csv"

    def crash(self, output, encoding):
        raise KeyboardInterrupt("stopped before the join")

    with monkeypatch.context() as patch:
        patch.setattr(scoring._Parts, "join", crash)
        with pytest.raises(KeyboardInterrupt):
            score_file(SAMPLE, out, tiny_model, threshold=threshold, chunksize=20, log=quiet)
    assert not out.exists() and len(list((tmp_path / ".r.csv.parts").glob("part-*.csv"))) > 1
    # Another threshold (here: none) starts over and labels every row by the likelier class.
    plain = score_file(SAMPLE, out, tiny_model, chunksize=20, resume=True, log=quiet)
    assert plain.resumed_chunks == 0
    assert pd.read_csv(out)["pred_label"].tolist() == (p1 >= 0.5).astype(int).tolist()
    # The same threshold picks up the parts left behind.
    with monkeypatch.context() as patch:
        patch.setattr(scoring._Parts, "join", crash)
        with pytest.raises(KeyboardInterrupt):
            score_file(SAMPLE, out, tiny_model, threshold=threshold, chunksize=20, overwrite=True, log=quiet)
    again = score_file(SAMPLE, out, tiny_model, threshold=threshold, chunksize=20, resume=True, log=quiet)
    assert again.resumed_chunks > 1
    assert pd.read_csv(out)["pred_label"].tolist() == (p1 >= threshold).astype(int).tolist()
