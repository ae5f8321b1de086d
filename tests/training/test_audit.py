"""`sentiment audit` / sentiment.audit_labels: injected label flips are found; bad inputs give clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error, run_cli

from sentiment import audit_labels
from sentiment.apps.cli import main

FLIPS = 20  # of the sample's 394 rows (5%)
COLUMNS = ["row", "text", "given_label", "suggested_label", "score", "p_given", "p_suggested"]


@pytest.fixture(scope="module")
def flipped(tmp_path_factory):
    """The hand-written sample with FLIPS labels flipped (seeded), and a CSV of it with one text-less row first."""
    frame = pd.read_csv(SAMPLE)
    flips = np.sort(np.random.default_rng(0).choice(len(frame), FLIPS, replace=False))
    frame.loc[flips, "label"] = 1 - frame.loc[flips, "label"]
    path = tmp_path_factory.mktemp("audit") / "flipped.csv"
    blank = pd.DataFrame({"id": [0], "document": [""], "label": [1], "domain": ["movie"]})
    pd.concat([blank, frame]).to_csv(path, index=False)  # dropped by the reader: file row = API row + 1
    return frame, flips, path


@pytest.fixture(scope="module")
def api_table(flipped):
    frame, _, _ = flipped
    return audit_labels(frame["document"].tolist(), frame["label"].tolist())


def test_audit_finds_injected_flips(flipped, api_table):
    frame, flips, _ = flipped
    assert list(api_table.columns) == COLUMNS
    found = set(api_table["row"].tolist()) & set(flips.tolist())
    assert len(found) >= 0.75 * FLIPS, (len(found), len(api_table))
    assert len(api_table) <= 0.10 * len(frame)
    rows = api_table["row"].to_numpy()
    assert (api_table["text"].to_numpy() == frame["document"].to_numpy()[rows]).all()
    assert (api_table["given_label"].to_numpy() == frame["label"].to_numpy()[rows]).all()
    assert (api_table["suggested_label"] != api_table["given_label"]).all()
    assert np.all(np.diff(api_table["score"].to_numpy()) <= 0)  # most suspicious first
    assert np.allclose(api_table["score"], 1 - api_table["p_given"], atol=1e-4)
    original = 1 - frame["label"].to_numpy()  # a flipped row's suggestion is its original label
    caught = api_table[api_table["row"].isin(flips)]
    assert (caught["suggested_label"].to_numpy() == original[caught["row"].to_numpy()]).all()
    summary = api_table.attrs["summary"]
    assert summary["rows"] == len(frame) and summary["flagged"] == len(api_table)
    assert sum(pair["rows"] for pair in summary["label_pairs"]) == len(api_table)
    assert summary["model"] == "default (packaged)" and 0 <= summary["ngram_share"] <= 1


def test_cli_json_schema_and_rows_equal_the_api(flipped, api_table, tmp_path):
    _, _, path = flipped
    out = tmp_path / "issues.csv"
    result = run_cli("audit", "--data", str(path), "-o", str(out), "--json", "--top", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert set(summary) == {
        "rows",
        "flagged",
        "flagged_share",
        "classes",
        "label_pairs",
        "folds",
        "model",
        "ngram_share",
        "seconds",
        "data",
        "text_column",
        "label_column",
        "dropped",
        "output",
        "top",
    }
    assert summary["rows"] == api_table.attrs["summary"]["rows"] == 394
    assert summary["flagged"] == len(api_table) and summary["classes"] == [0, 1] and summary["folds"] == 5
    assert summary["dropped"] == {"missing label": 0, "empty or missing text": 1}
    assert all(set(pair) == {"given", "suggested", "rows"} for pair in summary["label_pairs"])
    assert len(summary["top"]) == 3 and set(summary["top"][0]) == set(COLUMNS)
    cli = pd.read_csv(out)
    assert list(cli.columns) == COLUMNS
    assert (cli["row"].to_numpy() == api_table["row"].to_numpy() + 1).all()  # the file's rows, blank one included
    for column in ("text", "given_label", "suggested_label"):
        assert (cli[column].to_numpy() == api_table[column].to_numpy()).all(), column
    assert np.allclose(cli["score"], api_table["score"])
    assert summary["top"][0]["row"] == cli["row"][0]


def test_ngram_models_alone_take_any_label_values(flipped):
    frame, flips, _ = flipped
    names = np.where(frame["label"].to_numpy() == 1, "pos", "neg")
    table = audit_labels(frame["document"].tolist(), names, model=False, folds=3)
    assert set(table["given_label"]) | set(table["suggested_label"]) <= {"pos", "neg"}
    assert table.attrs["summary"]["model"] is None and len(set(table["row"]) & set(flips.tolist())) >= FLIPS // 2


def _table(path, labels, texts=None):
    texts = texts or [f"리뷰 {i} 정말 {'좋아요' if i % 2 else '별로'}" for i in range(len(labels))]
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "case, labels, extra, fragments",
    [
        ("one class", [1] * 60, [], ["every row has label 1", "at least two"]),
        ("too few rows", [0, 1] * 5, ["--no-model"], ["only 10 labeled rows", "at least 50"]),
        ("unknown labels", ["pos", "neg"] * 30, [], ["'neg'", "'pos'", "not among the labels", "--no-model"]),
        ("rare class", [0] * 58 + [1] * 2, ["--no-model"], ["1 (2 rows)", "--folds"]),
        ("bad folds", [0, 1] * 30, ["--folds", "1", "--no-model"], ["--folds", "= 1", "from 2 to 20"]),
        ("bad workers", [0, 1] * 30, ["--workers", "-1", "--no-model"], ["--workers", "= -1", "0 (one per core)"]),
        ("model and no-model", [0, 1] * 30, ["--no-model", "--model", "x"], ["--model DIR or --no-model"]),
    ],
)
def test_bad_inputs_are_clear_cli_errors(tmp_path, case, labels, extra, fragments, capsys):
    data = _table(tmp_path / "data.csv", labels)
    args = ["audit", "--data", data, "-o", str(tmp_path / "issues.csv"), *extra]
    where = data if case != "model and no-model" else "audit"
    if case == "one class":  # one in a real process: exit status 2, one error line, no traceback
        assert_user_error(run_cli(*args), where, *fragments)
    else:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "error: " in err and "Traceback" not in err and all(f in err for f in [where, *fragments]), err
    assert not (tmp_path / "issues.csv").exists()


def test_missing_cleanlab_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cleanlab", None)  # import cleanlab fails as if not installed
    code = main(["audit", "--data", _table(tmp_path / "d.csv", [0, 1] * 30), "-o", str(tmp_path / "i.csv")])
    assert code == 2
    assert 'pip install "sentiment[audit]"' in capsys.readouterr().err


def test_audit_card_script_writes_the_summary_into_a_bundle_card(api_table, tmp_path):
    import os
    import shutil
    import subprocess

    from conftest import ROOT

    from sentiment import SentimentClassifier
    from sentiment.model.bundle import default_model_path

    model = tmp_path / "model"
    shutil.copytree(default_model_path(), model)
    summary = tmp_path / "sample.json"
    summary.write_text(json.dumps(api_table.attrs["summary"]))
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "audit_card.py"),
            "--model",
            str(model),
            f"hand-written sample={summary}",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    card = (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    s = api_table.attrs["summary"]
    assert f"| hand-written sample | 394 | {s['flagged']} | {s['flagged_share']:.1%} |" in card
    assert "## Label audit of the training data" in card
    SentimentClassifier.load(model)  # the card's new checksum is recorded
