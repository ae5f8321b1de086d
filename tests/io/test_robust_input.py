"""Workbooks with several sheets, and a few undecodable lines in a big file (strict, replace, skip-rows)."""

import gzip
import json

import pandas as pd
import pytest

from sentiment.apps.cli import main
from sentiment.apps.scoring import score_file
from sentiment.errors import DataError
from sentiment.io.decoding import bad_encoding_rows
from sentiment.io.labeled import load_labeled
from sentiment.io.readers import iter_table, read_table

COMMENTS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "document": ["정말 최고예요", "시간 아깝다", "배우 연기 좋았어요", "별로"],
        "label": [1, 0, 1, 0],
    }
)


def quiet(msg):
    return None


def _workbook(path, sheets):
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


@pytest.fixture()
def book(tmp_path):
    """A cover sheet first (as Korean BI exports have), the comments second, a numbers sheet third."""
    return _workbook(
        tmp_path / "export.xlsx",
        {
            "표지": pd.DataFrame({"보고서": ["3분기 댓글"], "작성일": ["2024-10-01"]}),
            "댓글 목록": COMMENTS,
            "요약": pd.DataFrame({"label": [0, 1], "count": [2, 2]}),
        },
    )


def test_the_sheet_whose_column_looks_most_like_comments_is_read(book):
    frame, info = read_table(book)
    assert info.sheet == "댓글 목록" and frame["document"].tolist() == COMMENTS["document"].tolist()
    for sheet in ("표지", "1"):
        frame, info = read_table(book, sheet=sheet)
        assert info.sheet == "표지" and list(frame.columns) == ["보고서", "작성일"]
    assert read_table(book, sheet=3)[1].sheet == "요약"
    assert read_table(book, text_column="작성일")[1].sheet == "표지"  # the first sheet that has the named column
    data = load_labeled(book, log=quiet)
    assert data.texts == COMMENTS["document"].tolist() and data.labels.tolist() == [1, 0, 1, 0]


def test_sheet_errors_list_every_sheet(book, tmp_path):
    with pytest.raises(
        DataError,
        match=r"no sheet 'Sheet9'; sheets: 1 '표지'; 2 '댓글 목록'; 3 '요약' "
        r"\(--sheet takes a name or a number counting from 1\)",
    ):
        read_table(book, sheet="Sheet9")
    with pytest.raises(DataError, match="no sheet '4'"):
        read_table(book, sheet=4)
    with pytest.raises(
        DataError,
        match=r"no sheet has a column 'review'; sheets: 1 '표지' \(columns: '보고서', "
        r"'작성일'\); 2 '댓글 목록' \(columns: 'id', 'document', 'label'\); "
        r"3 '요약' \(columns: 'label', 'count'\)\. Choose the sheet with --sheet",
    ):
        read_table(book, text_column="review")
    numbers = _workbook(tmp_path / "n.xlsx", {"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame()})
    with pytest.raises(
        DataError,
        match=r"no sheet has a recognizable text column; sheets: 1 'a' \(columns: 'x'\); "
        r"2 'b' \(columns: none\)",
    ):
        read_table(numbers)
    with pytest.raises(DataError, match="--sheet '2' applies to Excel .xlsx workbooks"):
        COMMENTS.to_csv(tmp_path / "c.csv", index=False)
        read_table(tmp_path / "c.csv", sheet="2")


def test_score_cli_reads_the_comments_sheet(book, tiny_model_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    assert main(["score", str(book), "-o", str(out), "--model", str(tiny_model_dir), "--workers", "1"]) == 0
    assert (
        "text column 'document' of sheet '댓글 목록' (4 rows, median 6 characters, 100% Hangul); runner-up: "
        "column '보고서' of sheet '표지'"
    ) in capsys.readouterr().err
    got = pd.read_csv(out)
    assert got["id"].tolist() == [1, 2, 3, 4] and (got["status"] == "ok").all()
    with pytest.raises(DataError, match="no column 'review'; columns found: '보고서', '작성일'"):
        score_file(book, tmp_path / "x.csv", tiny_model, sheet="표지", text_column="review", log=quiet)
    score_file(book, tmp_path / "x.csv", tiny_model, sheet=2, log=quiet)
    assert pd.read_csv(tmp_path / "x.csv").equals(got)


def _mixed_file(path, rows=3000, bad=(1500, 2999), chunk_encoding="cp949"):
    """A UTF-8 CSV whose data rows ``bad`` (1-based) were written in CP949 (files merged from two tools)."""
    lines = [b"id,document"]
    for i in range(1, rows + 1):
        text = f"{i},좋은 영화 {i}번"
        lines.append(text.encode(chunk_encoding if i in bad else "utf-8"))
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def test_strict_error_names_the_line_and_its_bytes(tmp_path):
    path = _mixed_file(tmp_path / "merged.csv")
    with pytest.raises(DataError) as err:
        read_table(path)
    message = str(err.value)
    assert (
        "merged.csv: line 1,501: bytes b'\\xc1\\xc1\\xc0\\xba \\xbf\\xb5\\xc8' are not valid utf-8-sig. Fix" in message
    )
    assert "--encoding-errors replace" in message and "skip-rows" in message
    with pytest.raises(DataError, match=r"line 3: bytes b'\\xff\"}' are not valid utf-8\. Fix"):
        (tmp_path / "x.jsonl").write_bytes(b'{"document": "a"}\n{"document": "b"}\n{"document": "\xff"}\n')
        read_table(tmp_path / "x.jsonl", encoding="utf-8")


@pytest.mark.parametrize("name", ["merged.csv", "merged.csv.gz"])
def test_replace_keeps_every_row_and_flags_the_bad_ones(tiny_model, tmp_path, name):
    path = _mixed_file(tmp_path / name)
    out = tmp_path / "out.csv"
    summary = score_file(path, out, tiny_model, chunksize=400, encoding_errors="replace", log=quiet)
    got = pd.read_csv(out)
    assert got["id"].tolist() == list(range(1, 3001))
    bad = got["id"].isin([1500, 2999])
    assert (got.loc[bad, "status"] == "bad_encoding").all() and (got.loc[~bad, "status"] == "ok").all()
    assert got.loc[bad, "pred_label"].isna().all() and got.loc[bad, "document"].str.contains("\ufffd").all()
    assert summary.status_counts == {"ok": 2998, "bad_encoding": 2} and summary.scored == 2998
    expected = tiny_model.predict(got.loc[~bad, "document"].tolist())
    assert (got.loc[~bad, "pred_label"].to_numpy() == expected).all()
    assert "flagged: bad_encoding 2" in summary.lines()


def test_skip_rows_drops_and_lists_them(tiny_model, tmp_path):
    path = _mixed_file(tmp_path / "merged.csv")
    out = tmp_path / "out.csv"
    summary = score_file(path, out, tiny_model, chunksize=400, encoding_errors="skip-rows", log=quiet)
    got = pd.read_csv(out)
    assert got["id"].tolist() == [i for i in range(1, 3001) if i not in (1500, 2999)]
    assert (got["status"] == "ok").all() and summary.rows == 2998 and summary.skipped_rows == 2
    assert "skipped (undecodable bytes): 2 row(s), on line(s) 1,501, 3,000" in summary.lines()
    all_bad = tmp_path / "all_bad.csv"
    all_bad.write_bytes(b"document\n" + "좋아요".encode("cp949") + b"\n")
    with pytest.raises(DataError, match="every row held undecodable bytes and was skipped \\(1 rows, lines 2\\)"):
        read_table(all_bad, encoding="utf-8", encoding_errors="skip-rows")


def test_replace_in_json_lines_and_a_quoted_multiline_cell(tmp_path):
    path = tmp_path / "x.jsonl"
    rows = [json.dumps({"document": t}, ensure_ascii=False).encode() for t in ("좋아", "싫어", "그냥")]
    rows[1] = rows[1].replace("싫어".encode(), "싫어".encode("cp949"))
    path.write_bytes(b"\n".join(rows) + b"\n")
    [(frame, info)] = list(iter_table(path, encoding_errors="replace"))
    assert bad_encoding_rows(frame).tolist() == [False, True, False] and info.bad_lines == [2]
    csv = tmp_path / "m.csv"
    csv.write_bytes(b'id,document\n1,"first line\nsecond \xff line"\n2,fine\n')
    [(frame, info)] = list(iter_table(csv, encoding="utf-8", encoding_errors="replace"))
    assert bad_encoding_rows(frame).tolist() == [True, False] and info.bad_lines == [3]
    assert frame["document"].tolist() == ["first line\nsecond \ufffd line", "fine"]


def test_cli_encoding_errors(tiny_model_dir, tmp_path, capsys):
    path = _mixed_file(tmp_path / "merged.csv", rows=30, bad=(7,))
    out = tmp_path / "o.csv"
    base = ["score", str(path), "-o", str(out), "--model", str(tiny_model_dir), "--workers", "1"]
    assert main(base) == 2 and not out.exists()
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: {path}: line 8: bytes b'\\xc1\\xc1")
    assert main([*base, "--encoding-errors", "skip-rows"]) == 0
    assert "skipped (undecodable bytes): 1 row(s), on line(s) 8" in capsys.readouterr().err
    assert len(pd.read_csv(out)) == 29


def test_xlsx_output_refuses_what_excel_cannot_hold(tiny_model, tmp_path):
    from sentiment.io.writers import write_table

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"document": "좋아"}) + "\n" + json.dumps({"document": "가" * 40_000}) + "\n")
    out = tmp_path / "out.xlsx"
    with pytest.raises(DataError, match="has 40,000 characters; an Excel cell holds at most 32,767; write .csv"):
        score_file(src, out, tiny_model, log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no output, parts or lock left
    with pytest.raises(DataError, match="control character U\\+001B, which Excel cells cannot store"):
        write_table(pd.DataFrame({"document": ["ok", "\x1b[31m"]}), tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()
    score_file(src, tmp_path / "out.csv", tiny_model, log=quiet)  # CSV keeps every character
    assert pd.read_csv(tmp_path / "out.csv")["document"][1] == "가" * 40_000
