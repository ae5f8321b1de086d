"""Reading every supported format and encoding, and refusing bad files clearly."""

import gzip
import re

import pandas as pd
import pytest

from sentiment.errors import DataError
from sentiment.io.columns import find_column
from sentiment.io.readers import read_table, read_text_lines
from sentiment.io.writers import escape_formulas, write_table

ROWS = pd.DataFrame(
    {"id": [1, 2, 3], "document": ["정말 최고예요 😍", "=SUM(A1) 별로", "시간 아깝다"], "label": [1, 0, 0]}
)


@pytest.mark.parametrize(
    "encoding, expected", [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949"), ("euc-kr", "cp949")]
)
def test_korean_encodings_are_detected(tmp_path, encoding, expected):
    frame = ROWS.assign(document=["정말 최고예요", "별로 였어요", "시간 아깝다"])
    path = tmp_path / "x.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    got, info = read_table(path)
    assert info.encoding == expected
    assert got["document"].tolist() == frame["document"].tolist()
    assert list(got.columns) == ["id", "document", "label"]


def test_explicit_encoding_wins_and_bad_one_is_reported(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("document\n최고\n".encode("cp949"))
    assert read_table(path, encoding="euc-kr")[0]["document"].tolist() == ["최고"]
    with pytest.raises(DataError, match=re.escape("line 2: bytes b'\\xc3\\xd6\\xb0\\xed' are not valid utf-8. Fix")):
        read_table(path, encoding="utf-8")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")


@pytest.mark.parametrize("name", ["x.csv", "x.tsv", "x.csv.gz", "x.tsv.gz", "x.xlsx", "x.parquet", "x.jsonl"])
def test_formats_round_trip(tmp_path, name):
    path = tmp_path / name
    write_table(ROWS, path)
    got, _ = read_table(path)
    assert got["document"].tolist() == ["정말 최고예요 😍", "'=SUM(A1) 별로", "시간 아깝다"]
    assert [int(v) for v in got["label"]] == [1, 0, 0]


def test_nsmc_txt_format(tmp_path):
    path = tmp_path / "ratings_test.txt"
    path.write_text('id\tdocument\tlabel\n1\t"따옴표" 있는 리뷰\t1\n2\t\t0\n', encoding="utf-8")
    got, info = read_table(path)
    assert info.sep == "\t" and got["document"].tolist()[0] == '"따옴표" 있는 리뷰'
    assert pd.isna(got["document"].tolist()[1])


def test_text_lines(tmp_path):
    path = tmp_path / "u.txt"
    path.write_text("첫 번째 댓글\n\n두 번째 댓글\n", encoding="utf-8")
    assert read_text_lines(path) == ["첫 번째 댓글", "두 번째 댓글"]


@pytest.mark.parametrize(
    "setup, fragment",
    [
        (lambda p: None, "input file not found"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("id,document,label\n"), "header but no data rows"),
        (lambda p: p.write_bytes(b"\x00\x01\x02garbage\xff\xfe" * 100), "binary"),
        (lambda p: p.write_text("id;document;label\n1;좋다;1\n", encoding="utf-8"), "pass --sep ';'"),
    ],
)
def test_bad_files(tmp_path, setup, fragment):
    path = tmp_path / "in.csv"
    setup(path)
    with pytest.raises(DataError, match=fragment.replace("(", r"\(")):
        read_table(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "in.docx"
    path.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(path)


def test_undecodable_file(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"document\n" + bytes([0x81, 0x20, 0xFF, 0xFE, 0x80]) * 10)
    with pytest.raises(DataError, match="--encoding"):
        read_table(path)


def test_column_detection():
    frame = pd.DataFrame({"no": ["1", "2"], "댓글": ["좋아요", "별로"]})
    assert find_column(list(frame.columns), None, ("document", "댓글"), "text", "f", frame) == "댓글"
    only = pd.DataFrame({"n": ["1", "2"], "words": ["좋아요 정말", "별로"]})
    assert find_column(list(only.columns), None, ("document",), "text", "f", only) == "words"
    two = pd.DataFrame({"a": ["좋아요", "별로"], "b": ["x", "y"]})
    assert find_column(list(two.columns), None, ("document",), "text", "f", two) == "a"  # more like comments
    alike = pd.DataFrame({"a": ["좋아요", "별로"], "b": ["별로", "좋아요"]})
    with pytest.raises(DataError, match="columns found: 'a', 'b'.*--text-column"):
        find_column(list(alike.columns), None, ("document",), "text", "f", alike)
    with pytest.raises(DataError, match="no column 'body'; columns found: 'a', 'b'"):
        find_column(list(two.columns), "body", ("document",), "text", "f", two)


def test_formula_escaping():
    frame = pd.DataFrame({"t": ["=1+1", "+82", "-3", "@SUM", "정상", None], "n": [1, 2, 3, 4, 5, 6]})
    out = escape_formulas(frame)
    assert out["t"].tolist()[:5] == ["'=1+1", "'+82", "'-3", "'@SUM", "정상"]
    assert pd.isna(out["t"].tolist()[5]) and out["n"].tolist() == [1, 2, 3, 4, 5, 6]
    assert frame["t"].tolist()[0] == "=1+1"
    # pandas' string dtype (vectorized) and object columns (mixed values) are escaped alike
    mixed = pd.DataFrame({"t": pd.Series(["=1", "\tx", "\ry", 7, None, "ok"], dtype=object)})
    text = pd.DataFrame({"t": pd.Series(["=1", "\tx", "\ry", "7", None, "ok"], dtype="string")})
    assert escape_formulas(mixed)["t"].tolist()[:4] == ["'=1", "'\tx", "'\ry", 7]
    assert escape_formulas(text)["t"].tolist()[:4] == ["'=1", "'\tx", "'\ry", "7"]
    assert escape_formulas(text)["t"].tolist()[5] == "ok" and pd.isna(escape_formulas(text)["t"].tolist()[4])


def test_write_is_atomic_and_gzip_readable(tmp_path):
    path = tmp_path / "out.csv.gz"
    write_table(ROWS, path)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        assert "'=SUM(A1) 별로" in fh.read()
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv.gz"]
