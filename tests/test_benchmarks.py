"""The benchmark scripts run end to end on the sample (slow: trains models; `pytest -m slow`)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE

from sentiment.config import Config


@pytest.mark.slow
def test_accuracy_benchmark_quick(tmp_path):
    out = tmp_path / "acc.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "accuracy.py"),
            "--data",
            str(SAMPLE),
            "--quick",
            "--test-rows",
            "80",
            "--only",
            "tfidf",
            "configs",
            "--configs",
            "configs/tiny.toml",
            "configs/default.toml",
            "--extra-texts",
            str(ROOT / "data" / "sample" / "unlabeled.txt"),
            "--json-out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["test_rows"] == 80 and set(data["results"]) == {"baseline A: char TF-IDF + LR", "tiny", "default"}
    for row in data["results"].values():
        assert 0.5 <= row["accuracy"] <= 1.0 and row["rows_per_s"] > 0
    assert "| tiny |" in result.stdout and "| default |" in result.stdout
    assert data["unlabeled_rows"] == 150
    teachers = data["results"]["default"]["distill"]["teachers"]  # the default recipe's teachers
    n_lstm = Config.from_toml(ROOT / "configs" / "default.toml").distill.teachers
    assert [t["kind"] for t in teachers] == ["lstm"] * n_lstm + ["char_ngram_tfidf_lr"]


@pytest.mark.slow
def test_precision_benchmark_on_sample(tiny_model_dir, tmp_path):
    out = tmp_path / "precision.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "precision.py"),
            "--model",
            str(tiny_model_dir),
            "--data",
            f"{SAMPLE}:sample",
            "--rows",
            "200",
            "--workers",
            "1",
            "--json-out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    row = data["results"]["sample"]
    assert row["rows"] == 200 and 0.5 <= row["fp32"]["accuracy"] <= 1.0
    assert row["accuracy_change_points"] == pytest.approx(
        100 * (row["int8"]["accuracy"] - row["fp32"]["accuracy"]), abs=1e-3
    )
    assert "| sample | 200 |" in result.stdout and "the same probability in any batch: yes" in result.stdout
    assert row["fp32"]["max_abs_change_reversed_order"] == 0.0
    assert row["int8"]["max_abs_change_reversed_order"] == 0.0  # the static int8 graph is batch-invariant too
    default = "int8" if data["int8_within_max_loss"] else "fp32"
    assert f"default precision: {default}" in result.stdout


def test_bad_lines_benchmark_runs(tmp_path):
    """The reader benchmark on a small file: every mode prints its row, the strict one the error's line."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bad_lines.py"), "--rows", "2000"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "2,000 rows, 0 MiB; line 1,469 is CP949" and len(lines) == 5
    assert "rows 2,000" in lines[1] and "line 1,469: bytes" in lines[2]
    assert "rows 2,000  bad lines [1469]" in lines[3] and "rows 1,999  bad lines [1469], skipped 1" in lines[4]


def test_label_budget_benchmark_smoke(tiny_model_dir, tmp_path, capsys):
    """benchmarks/label_budget.py on the sample, tiny: every method of a budget gets its row and figures."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("label_budget", ROOT / "benchmarks" / "label_budget.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "budget.json"
    assert (
        bench.main(
            [
                "--base",
                str(tiny_model_dir),
                "--data",
                f"sample={SAMPLE}",
                "--budgets",
                "0",
                "40",
                "--strategies",
                "random",
                "--unlabeled",
                "220",
                "--test-rows",
                "150",
                "--no-labels-only",
                "--set",
                "adapt.epochs=1",
                "--json-out",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["test_rows"] == 150 and data["unlabeled_texts"] == 220
    methods = [(r["labels"], r["method"]) for r in data["results"]]
    assert methods == [
        (0, "base model"),
        (0, "adapt (default: equal classes)"),
        (0, "adapt, EM class mix"),
        (0, "adapt, EM class mix + its threshold"),
        (40, "threshold alone"),
        (40, "adapt --labeled"),
        (40, "char TF-IDF + LR on the labels"),
    ]
    for row in data["results"]:
        assert 0.0 <= row["macro_f1"] <= 1.0 and -100 <= row["share_error_points"] <= 100
    assert "| 40 | random | adapt --labeled |" in capsys.readouterr().out


def test_share_correction_benchmark_on_sample(tiny_model_dir, tmp_path):
    """Two scenarios of the sample, scored by the tiny model: the table, the groups and the JSON."""
    out = tmp_path / "shares.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "share_correction.py"),
            "--data",
            f"all={SAMPLE}",
            "--data",
            f"pos70={SAMPLE}@0.7",
            "--rows",
            "200",
            "--labels",
            "60",
            "--seeds",
            "20",
            "--model",
            str(tiny_model_dir),
            "--work-dir",
            str(tmp_path / "work"),
            "--no-cli",
            "--json-out",
            str(out),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    pos70 = data["scenarios"]["pos70"]
    assert pos70["comments"] == 200 and pos70["true_share"] == 0.7 and pos70["seeds"] == 20
    assert 0 <= pos70["coverage"] <= 1 and pos70["mean_width_points"] > 0
    assert set(data["groups"]) == {"all", "pos70"}
    assert "| pos70 | 200 | 70.0% |" in result.stdout and "as groups of one file" in result.stdout


@pytest.mark.slow
def test_label_audit_benchmark_on_sample(tmp_path):
    out, noisy = tmp_path / "audit.json", tmp_path / "noisy.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "label_audit.py"),
            "--data",
            str(SAMPLE),
            "--rows",
            "0",
            "--flip-share",
            "0.05",
            "--json-out",
            str(out),
            "--save-noisy",
            str(noisy),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["rows"] == 394 and data["flips"] == 20 and len(data["results"]) == 3
    audit, _, baseline = data["results"].values()
    assert audit["recall"] >= 0.75 and audit["flagged"] == baseline["flagged"]  # the baseline gets the same budget
    assert sum(pair["rows"] for pair in audit["label_pairs"]) == audit["flagged"]
    import pandas as pd

    assert pd.read_csv(noisy)["flipped"].sum() == 20
    assert "| audit (model + n-gram, cleanlab) |" in result.stdout


@pytest.mark.slow
def test_learning_curve_benchmark_on_sample(tmp_path):
    out = tmp_path / "lc.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "learning_curve.py"),
            "--data",
            str(SAMPLE),
            "--base",
            "default",
            "--sizes",
            "100",
            "250",
            "--test-rows",
            "100",
            "--methods",
            "tfidf",
            "scratch",
            "--set",
            "model.lstm_units=[8]",
            "--set",
            "train.epochs=1",
            "--json-out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["test_rows"] == 100 and set(data["results"]) == {"base (no training)", "tfidf", "scratch"}
    for method in ("tfidf", "scratch"):
        assert set(data["results"][method]) == {"100", "250"}
        assert all(0.0 <= row["macro_f1"] <= 1.0 for row in data["results"][method].values())
    assert "| 250 |" in result.stdout
