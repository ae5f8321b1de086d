"""`sentiment report --labeled` and `sentiment evaluate` on a LABELS file: joining the audit labels to the scored
rows, the page with and without labels, the --json schema, bad LABELS files; evaluation intervals."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, assert_user_error, run_cli

from sentiment.analysis.audit_sample import read_audit_labels
from sentiment.analysis.report import read_scored, share_figures, write_report
from sentiment.analysis.shares import METHOD_MODEL, METHOD_PPI
from sentiment.errors import DataError


@pytest.fixture(scope="module")
def scored(tiny_model, tmp_path_factory):
    """The hand-written sample scored by the tiny model (it keeps the true `label` and the `domain` columns)."""
    from sentiment.apps.scoring import score_file

    path = tmp_path_factory.mktemp("labeled") / "scored.csv"
    score_file(SAMPLE, path, tiny_model, workers=1, log=lambda msg: None)
    return path


def labels_file(scored, path, rows, *, sample=True, row=True, shuffle_rows=False, words=None):
    """A LABELS file as `sentiment label` writes it: text column, row, sample, prob_1, label."""
    frame = pd.read_csv(scored)
    part = frame.iloc[rows]
    out = pd.DataFrame({"document": part["document"].to_numpy(), "label": part["label"].to_numpy()})
    if row:
        out.insert(1, "row", np.asarray(rows)[::-1] if shuffle_rows else np.asarray(rows))
    if sample:
        out.insert(2, "sample", ["audit" if i % 4 else "informative" for i in range(len(out))])
        out.insert(3, "prob_1", part["prob_1"].to_numpy())
    if words:
        out["label"] = out["label"].map(words)
    out.to_csv(path, index=False)
    return path


def audit_for(scored, path, **kwargs):
    data = read_scored(scored, group_by="domain")
    return data, read_audit_labels(
        path, data.frame, np.asarray(data.labels), data.positive, scored_text_column=data.columns["text"], **kwargs
    )


def test_labels_join_on_row_when_consistent_else_on_text(scored, tmp_path):
    rows = np.arange(0, 394, 2)[:150]
    _, audit = audit_for(scored, labels_file(scored, tmp_path / "a.csv", rows))
    frame = pd.read_csv(scored)
    assert audit.join == "row" and audit.sample_column
    expected = [r for i, r in enumerate(rows) if i % 4]  # the audit rows only
    assert audit.positions.tolist() == expected and audit.not_audit == len(rows) - len(expected)
    assert audit.positive.tolist() == (frame["label"].to_numpy()[expected] == 1).tolist()
    # row numbers that point at other texts: matched on text instead, with the same result
    _, by_text = audit_for(scored, labels_file(scored, tmp_path / "b.csv", rows, shuffle_rows=True))
    assert by_text.join == "text" and by_text.notes
    texts = frame["document"].to_numpy()
    assert sorted(texts[by_text.positions]) == sorted(texts[expected])
    assert by_text.positive.tolist() == audit.positive.tolist()
    assert "matched by text" in by_text.describe()


def test_without_sample_column_every_labeled_row_counts_and_the_page_says_so(scored, tiny_model, tmp_path):
    rows = np.arange(394)
    data, audit = audit_for(scored, labels_file(scored, tmp_path / "all.csv", rows, sample=False, row=False))
    assert not audit.sample_column and audit.join == "text" and audit.used >= 380
    assert "taken as a random sample" in audit.describe()
    figures = share_figures(data, audit, min_labels=30)
    truth = pd.read_csv(scored)["label"].mean()
    s = figures.overall
    assert s.method == METHOD_PPI and s.low <= truth <= s.high  # with every label, the truth is inside
    out = tmp_path / "report.html"
    write_report(data, tiny_model, out, top=5, sample=300, audit=audit)
    page = out.read_text(encoding="utf-8")
    assert "taken as a random sample" in page and "corrected" in page and "labels used" in page
    assert f"{s.uncorrected:.1%}" in page and f"{s.estimate:.1%}" in page


def test_page_without_labels_says_the_counts_are_the_models(scored, tiny_model, tmp_path):
    data = read_scored(scored, group_by="domain")
    out = tmp_path / "plain.html"
    summary = write_report(data, tiny_model, out, top=5, sample=300)
    page = out.read_text(encoding="utf-8")
    assert "These counts are the model" in page and "sentiment label" in page and "--labeled" in page
    assert summary.shares.overall.method == METHOD_MODEL
    assert summary.shares.as_json()["audit"] is None


def test_groups_with_too_few_labels_are_marked_uncorrected(scored, tiny_model, tmp_path):
    frame = pd.read_csv(scored)
    movie = np.flatnonzero(frame["domain"] == "movie")
    shopping = np.flatnonzero(frame["domain"] == "shopping")[:8]
    data, audit = audit_for(scored, labels_file(scored, tmp_path / "g.csv", np.r_[movie, shopping], sample=False))
    figures = share_figures(data, audit, min_labels=30)
    table = figures.groups
    assert table.loc["movie", "method"] == METHOD_PPI and table.loc["movie", "labels"] == len(movie)
    assert table.loc["shopping", "method"] == METHOD_MODEL and table.loc["shopping", "labels"] == 8
    assert table.loc["news", "labels"] == 0
    out = tmp_path / "groups.html"
    write_report(data, tiny_model, out, top=5, sample=300, audit=audit)
    page = out.read_text(encoding="utf-8")
    assert "uncorrected (8 labels)" in page and "uncorrected (0 labels)" in page


def test_report_json_through_the_cli(scored, tiny_model_dir, tmp_path):
    labels = labels_file(scored, tmp_path / "labels.csv", np.arange(0, 394, 1), words={1: "1", 0: "0"})
    result = run_cli(
        "report",
        str(scored),
        "-o",
        str(tmp_path / "r.html"),
        "--model",
        str(tiny_model_dir),
        "--group-by",
        "domain",
        "--labeled",
        str(labels),
        "--json",
        "--sample",
        "200",
        "--top",
        "5",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)  # nothing else on stdout
    share = out["share_positive"]
    assert set(share) >= {"estimate", "low", "high", "uncorrected", "method", "labels"}
    assert 0 <= share["low"] <= share["estimate"] <= share["high"] <= 1 and 0 <= share["uncorrected"] <= 1
    n_audit = sum(1 for i in range(394) if i % 4)
    assert share["labels"] == n_audit and share["method"] == METHOD_PPI
    assert {g["group"] for g in out["groups"]} == {"movie", "news", "shopping"}
    assert all({"group", "estimate", "low", "high", "uncorrected", "method", "labels"} <= set(g) for g in out["groups"])
    assert out["audit"]["join"] == "row" and out["audit"]["informative_left_out"] == 394 - n_audit
    assert "labeled audit comments" in result.stderr and (tmp_path / "r.html").exists()


def test_bad_labels_files_are_clear_errors(scored, tiny_model_dir, tmp_path):
    frame = pd.read_csv(scored)
    no_label = tmp_path / "nolabel.csv"
    frame[["document"]].head(50).assign(note="x").to_csv(no_label, index=False)
    unknown = tmp_path / "unknown.csv"
    frame[["document"]].head(50).assign(label="maybe").to_csv(unknown, index=False)
    elsewhere = tmp_path / "elsewhere.csv"
    pd.DataFrame({"document": ["전혀 다른 댓글입니다", "이것도 없는 댓글"], "label": [1, 0]}).to_csv(
        elsewhere, index=False
    )
    informative = tmp_path / "informative.csv"
    frame[["document", "label"]].head(40).assign(sample="informative").to_csv(informative, index=False)
    empty = tmp_path / "empty.csv"
    frame[["document"]].head(40).assign(sample="audit", label="").to_csv(empty, index=False)
    cases = [
        (no_label, ["cannot tell which column holds the label", "--label-column"]),
        (unknown, ["'maybe'", "labels of the scored file"]),
        (elsewhere, ["none of its 2 labeled audit comments is in the scored file"]),
        (informative, ["none of its 40 labeled rows is an audit row"]),
        (empty, ["no labeled rows", "sentiment label"]),
    ]
    result = run_cli(
        "report", str(scored), "-o", str(tmp_path / "x.html"), "--model", str(tiny_model_dir), "--labeled", str(unknown)
    )
    assert_user_error(result, *cases[1][1])
    assert not (tmp_path / "x.html").exists()
    for path, fragments in cases:
        with pytest.raises(DataError) as caught:
            audit_for(scored, path)
        for fragment in fragments:
            assert fragment in str(caught.value), (fragment, str(caught.value))


def test_evaluate_on_a_labels_file_uses_the_audit_rows_and_gives_intervals(scored, tiny_model_dir, tmp_path, capsys):
    from sentiment.apps.cli import main

    labels = labels_file(scored, tmp_path / "eval.csv", np.arange(394))
    common = ["evaluate", "--model", str(tiny_model_dir), "--data", str(labels), "--no-cache", "--bootstrap", "200"]
    assert main([*common, "--report-dir", str(tmp_path / "rep"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "evaluated on: the audit sample: 295 of 394 labeled rows" in out
    assert "rows: 295" in out and "accuracy: " in out and "(95% interval" in out and "bootstrap" in out
    assert main([*common, "--report-dir", str(tmp_path / "rep2"), "--json", "--all-rows"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["rows"] == 394 and "not drawn at random" in metrics["evaluated_on"]
    lo, hi = metrics["intervals"]["accuracy"]
    assert lo < metrics["accuracy"] < hi
    assert metrics["intervals"]["macro_f1"][0] <= metrics["macro_f1"] <= metrics["intervals"]["macro_f1"][1]
