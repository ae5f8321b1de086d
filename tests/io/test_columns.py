"""Which sheet and column hold the comments: chosen by how comment-like the text is, across every sheet."""

import pandas as pd
import pytest
from conftest import SAMPLE

from sentiment.apps.cli import main
from sentiment.errors import DataError
from sentiment.io.columns import choose_text_column
from sentiment.io.labeled import load_labeled
from sentiment.io.readers import read_table, text_column_of

SAMPLE_FRAME = pd.read_csv(SAMPLE)
COMMENTS = SAMPLE_FRAME["document"].iloc[:40].tolist()
LABELS = SAMPLE_FRAME["label"].iloc[:40].tolist()


def _workbook(path, sheets):
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


@pytest.fixture()
def cover_book(tmp_path):
    """The issue's workbook: a cover sheet 표지 (two rows of text in 항목) before the data sheet 데이터 (댓글)."""
    return _workbook(
        tmp_path / "export.xlsx",
        {
            "표지": pd.DataFrame({"항목": ["2024년 3분기 고객 의견 보고서", "작성: 고객경험팀 (내부용)"]}),
            "데이터": pd.DataFrame(
                {"번호": range(1, 41), "작성일": ["2024년 9월 1일"] * 40, "댓글": COMMENTS, "평가": LABELS}
            ),
        },
    )


def _google_play(path, names=("앱", "작성일", "리뷰")):
    """Google-Play-like reviews: app name, a Korean date, the review."""
    frame = pd.DataFrame(
        {
            names[0]: (["배달앱", "쇼핑앱", "은행앱"] * 14)[:40],
            names[1]: [f"2019년 12월 {d % 28 + 1}일" for d in range(40)],
            names[2]: COMMENTS,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_the_data_sheet_wins_over_a_text_cover_sheet(cover_book):
    frame, info = read_table(cover_book)
    choice = text_column_of(frame, info)
    assert info.sheet == "데이터" and choice.column == "댓글" and frame["댓글"].tolist() == COMMENTS
    message = choice.message()
    assert message.startswith("text column '댓글' of sheet '데이터' (40 rows, median ")
    assert "runner-up: column '항목' of sheet '표지' (2 rows" in message and "--sheet" in message
    # --sheet still overrides; --text-column picks the sheet that has it
    frame, info = read_table(cover_book, sheet="표지")
    assert info.sheet == "표지" and text_column_of(frame, info).column == "항목"
    assert read_table(cover_book, text_column="항목")[1].sheet == "표지"


def test_every_command_reads_the_data_sheet(cover_book, tiny_model_dir, tmp_path, capsys):
    logged = []
    data = load_labeled(cover_book, label_column="평가", log=logged.append)  # train, evaluate, prepare, label
    assert data.texts == COMMENTS and "text column '댓글' of sheet '데이터'" in logged[0]
    out = tmp_path / "scored.csv"
    assert main(["score", str(cover_book), "-o", str(out), "--model", str(tiny_model_dir), "--workers", "1"]) == 0
    assert "text column '댓글' of sheet '데이터'" in capsys.readouterr().err
    scored = pd.read_csv(out)
    assert scored["댓글"].tolist() == COMMENTS and (scored["status"] == "ok").all()


def test_google_play_csv_picks_the_reviews(tmp_path):
    frame, info = read_table(_google_play(tmp_path / "reviews.csv"))
    choice = text_column_of(frame, info)
    assert choice.column == "리뷰" and choice.runner_up.column == "앱"  # the dates are no candidate
    # without the usual names, the review text still looks most like comments
    frame, info = read_table(_google_play(tmp_path / "plain.csv", names=("a", "b", "c")))
    choice = text_column_of(frame, info)
    assert choice.column == "c" and "runner-up: column 'a'" in choice.message()


def test_choice_errors_name_the_columns():
    dates = pd.DataFrame({"n": [1, 2], "when": ["2019년 12월 21일", "2019.12.22"]})
    with pytest.raises(
        DataError,
        match=r"cannot tell which column holds the text \(no column is mostly text\); "
        r"columns found: 'n', 'when'\. Name it with --text-column",
    ):
        choose_text_column({None: dates}, "f.csv")
    alike = pd.DataFrame({"a": ["좋아요 정말", "별로"], "b": ["별로", "좋아요 정말"]})
    with pytest.raises(DataError, match=r"column 'a' and column 'b' look alike .*Name it with --text-column"):
        choose_text_column({None: alike}, "f.csv")
    with pytest.raises(DataError, match=r"no sheet has a column 'x'; sheets: 1 's' \(columns: 'a', 'b'\)"):
        choose_text_column({"s": alike, "t": dates}, "f.xlsx", wanted="x")
