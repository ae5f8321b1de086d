"""The command line in real subprocesses: success paths and clear user errors (exit 2, no traceback)."""

import json
import shutil

import pandas as pd
import pytest
from conftest import SAMPLE, TINY_CONFIG, assert_user_error, run_cli


def test_score_prints_summary(tiny_model_dir, tmp_path):
    out = tmp_path / "scored.csv"
    result = run_cli("score", str(SAMPLE), "-o", str(out), "--model", str(tiny_model_dir))
    assert result.returncode == 0, result.stderr
    for fragment in (
        "text column 'document' (median ",
        "encoding: utf-8-sig",
        "rows read: ",
        "scored: ",
        "flagged: none",
        "predicted labels: 0 ",
        "elapsed: ",
        f"output: {out}",
    ):
        assert fragment in result.stderr
    assert len(pd.read_csv(out)) == len(pd.read_csv(SAMPLE))


def test_score_to_stdout(tiny_model_dir):
    result = run_cli("score", str(SAMPLE), "-o", "-", "--model", str(tiny_model_dir), "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,document,label,domain,status,pred_label,prob_0,prob_1"
    assert result.stderr.strip() == ""


def _file(name, content):
    def make(d):
        (d / name).write_text(content, encoding="utf-8")
        return d / name

    return make


@pytest.mark.parametrize(
    "make_input, fragments",
    [
        (lambda d: d / "nope.csv", ["input file not found", "nope.csv"]),
        (lambda d: d, ["is a directory"]),
        (_file("e.csv", ""), ["is empty"]),
        (_file("h.csv", "document\n"), ["header but no data rows"]),
        (_file("c.csv", "a,b\n좋다,별로\n"), ["cannot tell which column holds the text", "'a', 'b'", "--text-column"]),
        (_file("x.docx", "hello"), ["unsupported file type"]),
    ],
)
def test_score_input_errors(tiny_model_dir, tmp_path, make_input, fragments):
    src = make_input(tmp_path)
    result = run_cli("score", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(tiny_model_dir))
    assert_user_error(result, *fragments)
    assert not (tmp_path / "o.csv").exists()


def test_missing_named_column(tiny_model_dir, tmp_path):
    result = run_cli(
        "score", str(SAMPLE), "-o", str(tmp_path / "o.csv"), "--model", str(tiny_model_dir), "--text-column", "body"
    )
    assert_user_error(result, "no column 'body'", "'document'", "'label'")


def test_not_a_bundle_and_tampered_bundle(tiny_model_dir, tmp_path):
    result = run_cli("score", str(SAMPLE), "-o", str(tmp_path / "o.csv"), "--model", str(tmp_path))
    assert_user_error(result, "is not a model bundle", "meta.json is missing")
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    (bad / "config.toml").write_text((bad / "config.toml").read_text() + "\n# edited\n")
    result = run_cli("info", str(bad))
    assert_user_error(result, "config.toml was changed after the model was saved")


def test_existing_output_is_not_overwritten(tiny_model_dir, tmp_path):
    out = tmp_path / "o.csv"
    out.write_text("keep me")
    result = run_cli("score", str(SAMPLE), "-o", str(out), "--model", str(tiny_model_dir))
    assert_user_error(result, "already exists", "--overwrite")
    assert out.read_text() == "keep me"


def test_bad_config_override(tmp_path):
    result = run_cli(
        "train",
        "--data",
        str(SAMPLE),
        "--out",
        str(tmp_path / "m"),
        "--config",
        str(TINY_CONFIG),
        "--set",
        "train.epochs=-1",
    )
    assert_user_error(result, "train.epochs = -1", "[1, 1000]")
    result = run_cli("train", "--data", str(SAMPLE), "--out", str(tmp_path / "m"), "--model.lstm_unitz", "[8]")
    assert_user_error(result, "model.lstm_unitz", "valid keys in [model]")


def test_training_data_errors(tmp_path):
    one = tmp_path / "one.csv"
    pd.DataFrame({"document": [f"좋아요 {i}" for i in range(30)], "label": [1] * 30}).to_csv(one, index=False)
    assert_user_error(
        run_cli("train", "--data", str(one), "--out", str(tmp_path / "m")), "every row has label 1", "two classes"
    )
    few = tmp_path / "few.csv"
    pd.DataFrame({"document": ["좋다", "별로", "최고"], "label": [1, 0, 1]}).to_csv(few, index=False)
    assert_user_error(run_cli("train", "--data", str(few), "--out", str(tmp_path / "m")), "at least 20")
    assert not (tmp_path / "m").exists()


def test_train_evaluate_info(tmp_path):
    data = tmp_path / "train.csv"
    frame = pd.read_csv(SAMPLE)
    frame.loc[0, "label"] = None  # NaN labels are dropped and counted
    frame["sentiment"] = frame["label"].map({1.0: "positive", 0.0: "negative"})
    frame.drop(columns=["label"]).to_csv(data, index=False)
    model = tmp_path / "m"
    result = run_cli(
        "train",
        "--data",
        str(data),
        "--label-column",
        "sentiment",
        "--config",
        str(TINY_CONFIG),
        "--out",
        str(model),
        "--test-data",
        str(data),
        "--set",
        "train.epochs=6",
    )
    assert result.returncode == 0, result.stderr
    assert "dropped: missing label 1" in result.stderr
    meta = json.loads((model / "meta.json").read_text())
    assert meta["labels"] == ["negative", "positive"]
    assert meta["training"]["metrics"]["test"]["accuracy"] > 0.8

    report = tmp_path / "report"
    result = run_cli(
        "evaluate",
        "--model",
        str(model),
        "--data",
        str(data),
        "--label-column",
        "sentiment",
        "--report-dir",
        str(report),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "roc_auc", "confusion_matrix"}
    assert sum(map(sum, metrics["confusion_matrix"])) == len(frame) - 1
    assert metrics["accuracy"] == pytest.approx(meta["training"]["metrics"]["test"]["accuracy"])
    for name in (
        "metrics.json",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "roc_curve.png",
        "precision_recall_curve.png",
        "training_curves.png",
        "most_confident_mistakes.csv",
    ):
        assert (report / name).is_file(), name

    result = run_cli(
        "evaluate", "--model", str(model), "--data", str(SAMPLE), "--json"
    )  # 1/0 read as positive/negative
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(metrics["accuracy"], abs=0.01)
    odd = tmp_path / "odd.csv"
    frame.assign(label=frame["label"].map({1.0: "A", 0.0: "B"})).to_csv(odd, index=False)
    result = run_cli("evaluate", "--model", str(model), "--data", str(odd))
    assert_user_error(result, "label value(s) 'A', 'B' are not among the model's labels", "--positive-label")

    result = run_cli(
        "train",
        "--data",
        str(data),
        "--label-column",
        "sentiment",
        "--config",
        str(TINY_CONFIG),
        "--out",
        str(model),
        "--overwrite",
        "--set",
        "train.epochs=1",
    )
    assert result.returncode == 0, result.stderr
    assert "train: tokens from the cache" in result.stderr

    result = run_cli("info", str(model))
    assert result.returncode == 0
    assert "labels: ['negative', 'positive']" in result.stdout and "tokenizer: mecab" in result.stdout


def test_help_and_version():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("score", "train", "evaluate", "info", "prepare", "tokenize", "word2vec", "pipeline"):
        assert command in result.stdout
    assert run_cli("--version").stdout.startswith("sentiment ")


def test_score_threshold_out_of_range(tiny_model_dir, tmp_path):
    result = run_cli(
        "score", str(SAMPLE), "-o", str(tmp_path / "o.csv"), "--model", str(tiny_model_dir), "--threshold", "1.5"
    )
    assert_user_error(result, "--threshold 1.5 is invalid", "between 0 and 1")
    assert not (tmp_path / "o.csv").exists()
