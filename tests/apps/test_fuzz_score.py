"""Property: whatever file `sentiment score` is given, it exits 0 with every row kept and a status, or exits 2
with one `error:` line; never a traceback, never a partial output under the final name.

Random bytes, random CSV dialects and encodings, random Unicode (surrogates, control characters, RTL marks,
100K-character cells) go through ``sentiment.apps.cli.main`` in-process (a subprocess per example would spend its
time importing TensorFlow); a few nasty fixed cases also go through a real subprocess. A longer hunt:
``FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_score.py``.
"""

import csv
import io
import json
import os
import uuid

import pandas as pd
import pytest
from conftest import run_cli
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sentiment import SentimentClassifier
from sentiment.apps.cli import main

STATUSES = {"ok", "missing", "empty", "not_text", "bad_encoding"}
NASTY = [
    "\u200f\u202eשלום 좋아\u202c",
    "\x00\x01\x1b[31m빨강",
    "\ud800\udfff 깨진",
    "\ufeff BOM 안",
    "a\r\nb\rc\nd",
    '"""',
    "=1+1",
    "\ufdd0\ufffd",
    "가" * 100_000,
    "",
    " ",
    "NaN",
    "null",
    "1e309",
    "\u2028\u2029",
]
texts = st.one_of(st.text(st.characters(codec=None), max_size=40), st.sampled_from(NASTY))


@st.composite
def tables(draw):
    """(file name, file bytes, rows written, extra CLI options) for a random table in a random dialect."""
    rows = draw(st.lists(texts, min_size=1, max_size=6))
    kind = draw(st.sampled_from(["csv", "tsv", "jsonl", "txt", "bytes"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp949", "utf-16"]))
    errors = draw(st.sampled_from(["strict", "replace", "skip-rows"]))
    options = ["--encoding-errors", errors]
    if kind == "bytes":
        return "raw.csv", draw(st.binary(max_size=300)), None, options
    if kind == "jsonl":
        lines = [json.dumps({"id": i, "document": t}, ensure_ascii=draw(st.booleans())) for i, t in enumerate(rows)]
        text, name = "\n".join(lines) + "\n", "in.jsonl"
    elif kind == "csv":
        sep = draw(st.sampled_from([",", ";", "|"]))  # tab-separated files are read unquoted (below)
        buffer = io.StringIO()
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
        # with '\n' line ends the csv module leaves a bare '\r' unquoted: a row break to every reader
        ends = ["\r\n"] if quoting == csv.QUOTE_MINIMAL else ["\n", "\r\n"]
        writer = csv.writer(buffer, delimiter=sep, lineterminator=draw(st.sampled_from(ends)), quoting=quoting)
        writer.writerow(["id", "document"])
        writer.writerows([i, t] for i, t in enumerate(rows))
        text, name = buffer.getvalue(), "in.csv"
        if sep != ",":
            options += ["--sep", sep]
    else:  # tab-separated without quoting: tabs and line breaks cannot occur in a cell
        clean = [" ".join(t.replace("\t", " ").splitlines()) or "x" for t in rows]
        text = "id\tdocument\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(clean))
        name = "in.tsv" if kind == "tsv" else "in.txt"
    data = text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")
    if encoding == "utf-16":
        options += ["--encoding", "utf-16"]
    return name, data, len(rows), options


def _read_output(out):
    """The output as pandas reads each format (sentiment's own reader refuses NUL characters, which a cell
    may hold, and reads .tsv without quoting, as NSMC files are written)."""
    name = out.name
    if name.endswith((".csv", ".tsv", ".csv.gz")):
        return pd.read_csv(out, sep="\t" if name.endswith(".tsv") else ",", dtype=str, keep_default_na=False)
    if name.endswith(".jsonl"):
        return pd.read_json(out, lines=True, dtype=False)
    return pd.read_parquet(out) if name.endswith(".parquet") else pd.read_excel(out, dtype=object)


def _check_run(rc, err, out, rows, options):
    assert rc in (0, 2), (rc, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    leftovers = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}"))
    if rc == 2:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, err[-2000:]
        assert not out.exists() and leftovers == [], leftovers
        return
    assert leftovers == [], leftovers
    got = _read_output(out)
    assert set(got["status"]) <= STATUSES, set(got["status"])
    if rows is not None and "skip-rows" not in options:
        assert len(got) == rows, (len(got), rows)
    elif rows is not None:
        assert len(got) <= rows


@pytest.fixture(scope="module")
def cached_load(tiny_model):
    """Every ``main`` call gets the one loaded tiny model (loading it again per example costs ~1 s of tracing)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentimentClassifier, "load", classmethod(lambda cls, path=None, **options: tiny_model))
        yield


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=tables(),
    output=st.sampled_from(
        ["scored.csv", "scored.tsv", "scored.jsonl", "scored.xlsx", "scored.parquet", "scored.csv.gz"]
    ),
)
@example(table=("raw.csv", b"\xff\xfe\x00\x00garbage", None, []), output="scored.csv")
@example(table=("in.csv", b'"id","document"\n"0","\r"\n', 1, []), output="scored.csv")  # bare CR: rows stay whole
@example(table=("in.tsv", b"id\tdocument\n0\t\x1b\n", 1, []), output="scored.xlsx")  # what Excel cannot hold
@example(table=("raw.csv", b"\x01\r!", None, []), output="scored.xlsx")  # ... in a column name
@example(
    table=("in.jsonl", b'{"document": "\\udfff"}\n{"document": "a"}\n', 2, ["--encoding-errors", "replace"]),
    output="scored.csv",
)  # a lone surrogate escaped in JSON: no character, cannot be written
@example(table=("in.jsonl", b'{"document": "\\udfff"}\n', 1, []), output="scored.csv")
def test_score_never_crashes(table, output, tmp_path, capsys, cached_load):
    name, data, rows, options = table
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    src = folder / name
    src.write_bytes(data)
    out = folder / output
    rc = main(["score", str(src), "-o", str(out), "--model", "tiny", "--workers", "1", *options])
    err = capsys.readouterr().err
    event(f"exit {rc}: {name}" + (f" {err.splitlines()[-1].split(':')[-1][:50]}" if rc else ""))
    _check_run(rc, err, out, rows, options)


def test_nasty_file_in_a_subprocess(tiny_model_dir, tmp_path):
    """Lone surrogates, controls, NUL, RTL marks, line separators, a BOM, a 100K-character cell: one real run."""
    values = [
        "\\ud800 lone",
        "\\udfff\\udfff",
        "\\u0000 nul",
        "\x01\x7f\u202e좋아\u202c",
        "\u200f\u05e9\u05dc\u05d5\u05dd",
        "\u2028\u2029",
        "\ufeff안녕",
        "가" * 100_000,
        "=1+1",
        "",
        None,
        7,
    ]
    src = tmp_path / "nasty.jsonl"
    lines = [json.dumps({"id": i, "document": v}, ensure_ascii=False) for i, v in enumerate(values)]
    src.write_text("\n".join(line.replace("\\\\u", "\\u") for line in lines) + "\n", encoding="utf-8")
    out = tmp_path / "scored.csv"
    result = run_cli(
        "score",
        str(src),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--workers",
        "1",
        "--encoding-errors",
        "replace",
    )
    _check_run(result.returncode, result.stderr, out, len(values), ["replace"])
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert result.returncode == 0 and got["id"].tolist() == [str(i) for i in range(len(values))]
    # pandas' JSON reader drops a lone high surrogate ("\ud800 lone" reads as " lone") but keeps low ones
    assert got["status"].tolist() == ["ok", "bad_encoding", "ok", "ok", "ok", "empty"] + ["ok"] * 3 + [
        "empty",
        "missing",
        "not_text",
    ]  # (U+2028/U+2029 are white space)
    assert got["document"][1] == "\ufffd\ufffd"
    assert got["document"][7] == "가" * 100_000 and got["document"][8] == "'=1+1"
