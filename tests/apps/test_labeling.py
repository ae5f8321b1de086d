"""`sentiment label`: export, the LABELS file, resuming, the decision store, the page's HTTP API, user errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, assert_user_error, run_cli

from sentiment.apps.labeling import DecisionConflict, LabelStore, check_existing, prepare_labels, read_input
from sentiment.errors import DataError
from sentiment.io.labeled import load_labeled


@pytest.fixture(scope="module")
def comments(tmp_path_factory):
    """80 comments of the sample, one starting with a formula character, with a column named like LABELS' own."""
    frame = pd.read_csv(SAMPLE).head(80).copy()
    frame.loc[3, "document"] = "=-_- 이게 뭐야 최악"
    path = tmp_path_factory.mktemp("label") / "comments.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def exported(comments, tmp_path_factory):
    """LABELS.csv exported by the real CLI (20 rows, the packaged model)."""
    out = tmp_path_factory.mktemp("export") / "labels.csv"
    result = run_cli("label", str(comments), "-o", str(out), "--export", "--n", "20", "--workers", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "6 audit" in result.stderr and "14 informative" in result.stderr
    return out


def test_export_columns_and_round_trip_through_the_labeled_reader(comments, exported, tmp_path):
    source = pd.read_csv(comments)
    labels = pd.read_csv(exported, keep_default_na=False, dtype=str)
    # every INPUT column (the clashing `label` renamed), then LABELS' own columns
    assert list(labels.columns) == [
        "id",
        "document",
        "label_input",
        "domain",
        "row",
        "sample",
        "prob_1",
        "label",
        "decided_at",
    ]
    assert len(labels) == 20 and labels["row"].is_unique
    assert (labels["sample"] == "audit").sum() == 6
    assert (labels["label"] == "").all() and (labels["decided_at"] == "").all()
    for _, r in labels.iterrows():
        original = source.loc[int(r["row"]), "document"]
        assert r["document"] in (original, "'" + original)  # formula guard on cells starting with = + - @
        assert r["id"] == str(source.loc[int(r["row"]), "id"])
        assert 0.0 <= float(r["prob_1"]) <= 1.0
    # filled in by a user with words of their own, rows left empty: loads in the labeled-data reader
    labels.loc[:14, "label"] = np.where(labels.loc[:14, "label_input"] == "1", "긍정", "부정")
    filled = tmp_path / "filled.csv"
    labels.to_csv(filled, index=False)
    data = load_labeled(filled)
    assert data.text_column == "document" and data.label_column == "label"
    assert len(data.texts) == 15 and data.dropped["missing label"] == 5
    assert set(data.labels.tolist()) <= {"긍정", "부정"}


def test_export_xlsx_round_trip(comments, tmp_path):
    out = tmp_path / "labels.xlsx"
    result = run_cli("label", str(comments), "-o", str(out), "--export", "--n", "10", "--workers", "1", "--seed", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    book = pd.read_excel(out)
    assert len(book) == 10 and book["label"].isna().all() and book["row"].dtype.kind == "i"
    book["label"] = book["label_input"]
    book.to_excel(out, index=False)
    data = load_labeled(out)
    assert len(data.texts) == 10 and set(data.labels.tolist()) <= {0, 1}
    # the same command again leaves the (now labeled) file as it is
    again = run_cli("label", str(comments), "-o", str(out), "--export", "--n", "10", "--workers", "1")
    assert again.returncode == 0 and "left as it is" in again.stderr
    assert pd.read_excel(out)["label"].notna().all()


def test_store_decisions_undo_resume_without_duplicates(comments, exported, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(exported.read_bytes())
    frame, column = read_input(comments)
    store = LabelStore(path, check_existing(path, frame, column), ("pos", "neg"))
    rows = store.rows
    s = store.decide(rows[0], "positive")
    assert s["decided"] == 1 and s["current"]["row"] == rows[1] and s["last"]["row"] == rows[0]
    store.decide(rows[1], "skip")
    store.decide(rows[2], "negative")
    with pytest.raises(DecisionConflict):  # a repeated key press for a comment already decided
        store.decide(rows[2], "negative")
    s = store.undo()
    assert s["current"]["row"] == rows[2] and s["last"]["row"] == rows[1] and s["last"]["skipped"]
    store.decide(rows[2], "positive")
    # a new process (the page restarted) continues at the same place, from the file alone
    store2 = LabelStore(path, check_existing(path, frame, column), ("pos", "neg"))
    s2 = store2.state()
    assert s2["current"]["row"] == rows[3] and s2["decided"] == 3
    s2 = store2.undo()  # undo reaches decisions made before the restart
    assert s2["current"]["row"] == rows[2]
    store2.decide(rows[2], "negative")
    store2.decide(rows[3], "positive")
    on_disk = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert on_disk["row"].astype(int).tolist() == rows  # same rows, same order, none added
    assert on_disk["label"].tolist()[:5] == ["pos", "", "neg", "pos", ""]
    assert (on_disk["decided_at"] != "").tolist()[:5] == [True, True, True, True, False]
    # other words than the file's are refused instead of mixing two vocabularies
    with pytest.raises(DataError, match=r"--labels neg,pos"):
        LabelStore(path, check_existing(path, frame, column), ("1", "0"))


def test_store_running_audit_accuracy(comments, exported, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(exported.read_bytes())
    frame, column = read_input(comments)
    store = LabelStore(path, check_existing(path, frame, column))
    truth = {int(r): str(v) for r, v in zip(frame.index, frame["label"], strict=True)}
    expected_n = expected_right = 0
    for _, r in store.table().iterrows():
        decision = "positive" if truth[int(r["row"])] == "1" else "negative"
        state = store.decide(int(r["row"]), decision)
        if r["sample"] == "audit":
            expected_n += 1
            expected_right += (float(r["prob_1"]) >= 0.5) == (decision == "positive")
    assert store.table()["label"].isin(["1", "0"]).all()
    acc = state["accuracy"]
    assert acc["labels"] == expected_n == 6 and acc["correct"] == expected_right
    assert acc["low"] <= acc["estimate"] <= acc["high"] and acc["low"] >= 0 and acc["high"] <= 1
    assert state["current"] is None and state["decided"] == 20


def test_failed_write_changes_neither_file_nor_memory(comments, exported, tmp_path, monkeypatch):
    path = tmp_path / "labels.csv"
    path.write_bytes(exported.read_bytes())
    frame, column = read_input(comments)
    store = LabelStore(path, check_existing(path, frame, column))
    first = store.rows[0]
    before = path.read_bytes()
    import sentiment.io.durable_csv as durable_csv

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable_csv.os, "replace", disk_full)
    with pytest.raises(OSError):
        store.decide(first, "positive")
    assert path.read_bytes() == before and store.state()["decided"] == 0
    assert not list(tmp_path.glob(".labels.csv.*.tmp"))


def test_foreign_or_damaged_labels_are_refused_unchanged(comments, exported, tmp_path):
    other = tmp_path / "other.csv"
    pd.read_csv(SAMPLE).iloc[100:180].to_csv(other, index=False)
    labels = tmp_path / "labels.csv"
    labels.write_bytes(exported.read_bytes())
    before = labels.read_bytes()
    with pytest.raises(DataError, match="different INPUT"):
        prepare_labels(other, labels, n=20, export=True)
    plain = tmp_path / "plain.csv"
    plain.write_text("document,label\n좋아요,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a LABELS file"):
        prepare_labels(comments, plain, n=20, export=True)
    assert labels.read_bytes() == before and plain.read_text(encoding="utf-8") == "document,label\n좋아요,1\n"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--n", "500", "--export"], ["n=500", "only 80 rows"]),
        (["--n", "10", "--export", "--audit-share", "2"], ["audit share 2.0"]),
        (["--n", "10", "--export", "--text-column", "review"], ["no column 'review'", "'document'"]),
        (["--n", "10", "--labels", "좋음"], ["--labels '좋음'", "two different words"]),
        (["--n", "10", "--export", "-o", "{tmp}/labels.parquet"], ["must be .csv or .xlsx"]),
        (["--n", "10", "-o", "{tmp}/labels.xlsx"], ["records each decision in a .csv", "--export"]),
    ],
)
def test_user_errors(comments, tmp_path, args, fragments):
    out = ["-o", str(tmp_path / "labels.csv")] if "-o" not in args else []
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = run_cli("label", str(comments), *out, *args)
    assert_user_error(result, *fragments)
    assert not (tmp_path / "labels.csv").exists()


def test_no_text_column_and_port_in_use(tmp_path):
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert_user_error(
        run_cli("label", str(numbers), "-o", str(tmp_path / "l.csv"), "--export"),
        "cannot tell which column holds the text",
        "--text-column",
    )
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert_user_error(
            run_cli("label", str(numbers), "-o", str(tmp_path / "l.csv"), "--port", str(port)),
            f"127.0.0.1:{port}",
            "--port",
        )


def test_page_api(comments, exported, tmp_path):
    from fastapi.testclient import TestClient

    from sentiment.apps.labeling_page import create_labeling_app

    path = tmp_path / "labels.csv"
    path.write_bytes(exported.read_bytes())
    frame, column = read_input(comments)
    store = LabelStore(path, check_existing(path, frame, column), ("긍정", "부정"))
    client = TestClient(create_labeling_app(store, port=8765), base_url="http://127.0.0.1:8765")
    page = client.get("/")
    assert page.status_code == 200 and "@font-face" in page.text and "http" not in page.text.split("<body>")[1]
    state = client.get("/api/state").json()
    row = state["current"]["row"]
    assert state["words"] == {"positive": "긍정", "negative": "부정"} and state["accuracy"]["labels"] == 0
    answer = client.post("/api/decide", json={"row": row, "decision": "negative"})
    assert answer.status_code == 200 and answer.json()["decided"] == 1
    again = client.post("/api/decide", json={"row": row, "decision": "negative"})
    assert again.status_code == 409 and again.json()["state"]["decided"] == 1
    assert client.post("/api/decide", json={"row": row, "decision": "maybe"}).status_code == 422
    assert (
        client.post(
            "/api/decide", content=b"row=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 415
    )
    assert client.get("/api/state", headers={"Host": "attacker.example:8765"}).status_code == 403
    assert client.post("/api/undo", json={}).json()["decided"] == 0
    assert client.post("/api/undo", json={}).status_code == 409
    assert pd.read_csv(path, keep_default_na=False, dtype=str)["label"].eq("").all()


def test_plain_text_input_is_one_comment_a_line(tmp_path):
    path = tmp_path / "comments.txt"
    path.write_text("배송 빠르고 좋아요\n\n별로예요\t\n", encoding="utf-8")  # a tab after line 1: still plain
    frame, column = read_input(path)
    assert column == "text" and frame["text"].tolist() == ["배송 빠르고 좋아요", "별로예요"]
    with pytest.raises(DataError, match="plain text"):
        read_input(path, "review")


def test_page_without_the_serve_extra_says_which_extra(comments, tmp_path):
    """A Python without FastAPI (a stand-in package on the path fails to import as a missing one would)."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "fastapi.py").write_text("raise ModuleNotFoundError(\"No module named 'fastapi'\", name='fastapi')\n")
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-m", "sentiment", "label", str(comments), "-o", str(tmp_path / "l.csv")],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert_user_error(result, 'pip install "sentiment[serve]"', "--export")
    assert not (tmp_path / "l.csv").exists()
