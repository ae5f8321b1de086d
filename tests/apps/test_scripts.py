"""Each stage script runs on the sample, reading the previous stage's output; unchanged stages are skipped."""

import json
import os
import subprocess
import sys

import pandas as pd
from conftest import ROOT, SAMPLE, TINY_CONFIG


def script(name, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )


def ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_stage_scripts_chain(tmp_path):
    run = tmp_path / "run"
    cfg = ["--config", str(TINY_CONFIG)]
    log = ok(script("prepare", "--data", str(SAMPLE), "--run-dir", str(run), "--test-size", "0.2", *cfg))
    assert "prepare:" in log
    train = pd.read_parquet(run / "prepared" / "train.parquet")
    test = pd.read_parquet(run / "prepared" / "test.parquet")
    assert not set(train["text"]) & set(test["text"])
    assert len(train) + len(test) == len(pd.read_csv(SAMPLE))

    ok(script("tokenize_texts", "--run-dir", str(run), "--workers", "2", *cfg))
    tokens = pd.read_parquet(run / "tokens" / "train.parquet")
    assert len(tokens) == len(train) and tokens["tokens"].str.len().gt(0).all()

    ok(script("word2vec", "--run-dir", str(run), *cfg))
    assert (run / "word2vec" / "vectors.npy").is_file()

    ok(script("train", "--run-dir", str(run), *cfg))
    assert (run / "model" / "meta.json").is_file()

    ok(script("evaluate", "--run-dir", str(run)))
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert metrics["rows"] == len(test)

    out = tmp_path / "scored.csv"
    ok(script("score", str(SAMPLE), "-o", str(out), "--model", str(run / "model")))
    assert len(pd.read_csv(out)) == len(pd.read_csv(SAMPLE))

    # Unchanged inputs: every stage is skipped. A changed train setting reruns train and evaluate only.
    log = ok(script("pipeline", "--data", str(SAMPLE), "--run-dir", str(run), "--test-size", "0.2", *cfg))
    for stage in ("prepare", "tokenize", "word2vec", "train", "evaluate"):
        assert f"{stage}: up to date, skipped" in log
    log = ok(
        script(
            "pipeline",
            "--data",
            str(SAMPLE),
            "--run-dir",
            str(run),
            "--test-size",
            "0.2",
            *cfg,
            "--set",
            "train.epochs=2",
        )
    )
    assert "word2vec: up to date, skipped" in log and "train: up to date" not in log
    assert "evaluate: report" in log


def test_stage_out_of_order_is_a_clear_error(tmp_path):
    result = script("word2vec", "--run-dir", str(tmp_path / "empty"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "stage 'tokenize' has not run yet" in result.stderr


def test_prepare_adds_training_rows_outside_both_splits(tmp_path):
    sample = pd.read_csv(SAMPLE)
    more = pd.DataFrame(
        {
            "document": [
                *sample["document"].iloc[:30],
                "새로 추가된 긍정 리뷰 최고",
                "새로 추가된 부정 리뷰 별로",
                "새로 추가된 부정 리뷰 별로",
            ],
            "label": [*sample["label"].iloc[:30], 1, 0, 0],
        }
    )
    more_path = tmp_path / "more.csv"
    more.to_csv(more_path, index=False)
    base, added = tmp_path / "base", tmp_path / "added"
    ok(script("prepare", "--data", str(SAMPLE), "--run-dir", str(base), "--test-size", "0.2"))
    log = ok(
        script(
            "prepare",
            "--data",
            str(SAMPLE),
            "--run-dir",
            str(added),
            "--test-size",
            "0.2",
            "--add-train",
            str(more_path),
        )
    )
    assert "2 rows added to the train split (30 already in a split)" in log
    test = pd.read_parquet(added / "prepared" / "test.parquet")
    pd.testing.assert_frame_equal(test, pd.read_parquet(base / "prepared" / "test.parquet"))
    train = pd.read_parquet(added / "prepared" / "train.parquet")
    base_train = pd.read_parquet(base / "prepared" / "train.parquet")
    assert len(train) == len(base_train) + 2 and not set(train["text"]) & set(test["text"])
    stats = json.loads((added / "prepared" / "stats.json").read_text())["added_train"][0]
    assert (stats["added"], stats["dropped_in_splits"], stats["dropped_duplicates"]) == (2, 30, 1)

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"document": ["전혀 다른 라벨"], "label": ["neutral"]}).to_csv(bad, index=False)
    result = script("prepare", "--data", str(SAMPLE), "--run-dir", str(tmp_path / "bad"), "--add-train", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'neutral' are not among the training data's labels ['0', '1']" in result.stderr
