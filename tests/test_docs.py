"""Docs that cannot drift: generated pages match the code, and every row of the error table names a test
that exists and a message fragment that the code (or that test) really contains."""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache

import pytest
from conftest import ROOT

ERRORS_PAGE = ROOT / "docs" / "errors.md"
TEST_REF = re.compile(r"`([\w./-]+\.py)::(\w+)`")
CODE_SPAN = re.compile(r"`([^`]+)`")


def _docs_script():
    spec = importlib.util.spec_from_file_location("docs_script", ROOT / "scripts" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_match_the_code():
    docs = _docs_script()
    stale = [str(path.relative_to(ROOT)) for path in docs.stale_pages(ROOT)]
    assert not stale, f"{', '.join(stale)} out of date with the code; regenerate with: {docs.REGENERATE}"


def test_config_keys_markdown_command_prints_the_page_tables(capsys):
    from sentiment.apps.cli import main
    from sentiment.config import describe_keys

    assert main(["config", "--keys", "--markdown"]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [key for key, _, _ in describe_keys()]
    assert printed in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


@cache
def _source_strings() -> tuple[str, ...]:
    """Every string literal of the package, f-strings with their fields cut out (implicit concatenation of
    adjacent literals is already joined by the parser)."""
    out: list[str] = []
    for path in (ROOT / "sentiment").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                out.append("\0".join(v.value if isinstance(v, ast.Constant) else "" for v in node.values))
    return tuple(out)


@cache
def _test_functions(file: str) -> tuple[str, set[str]]:
    found = sorted((ROOT / "tests").rglob(file))  # tests/<layer>/FILE: docs name the file alone
    if len(found) != 1:
        return "", set()
    path = found[0]
    text = path.read_text(encoding="utf-8")
    names = {node.name for node in ast.walk(ast.parse(text)) if isinstance(node, ast.FunctionDef)}
    return text, names


def _error_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in ERRORS_PAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 3 and not set(cells[0]) <= set("-: ") and cells[0] != "situation":
            rows.append(tuple(cells))
    return rows


def _row_problems(situation: str, message: str, checked_by: str) -> list[str]:
    """What is wrong with one row of the error table (nothing: an empty list)."""
    problems = []
    tests = TEST_REF.findall(checked_by)
    fragments = [span for span in CODE_SPAN.findall(checked_by) if "::" not in span]
    if not tests and "untested" not in checked_by:
        problems.append(f"{situation!r}: names no test (`file.py::test_name`) and does not say 'untested: why'")
    for file, name in tests:
        if name not in _test_functions(file)[1]:
            problems.append(f"{situation!r}: tests/**/{file} has no test function {name}")
    if message.startswith("`error:") and not fragments:
        problems.append(f"{situation!r}: an error row needs a `message fragment` in its last column")
    for fragment in fragments:
        if fragment not in message:
            problems.append(f"{situation!r}: fragment {fragment!r} is not part of the message shown")
        in_tests = any(fragment in _test_functions(file)[0] for file, _ in tests)
        if not in_tests and not any(fragment in text for text in _source_strings()):
            problems.append(
                f"{situation!r}: fragment {fragment!r} is in no string of sentiment/ nor in the "
                f"test file (message changed?)"
            )
    return problems


def test_error_table_rows_name_real_tests_and_real_messages():
    rows = _error_rows()
    assert len(rows) >= 25
    problems = [problem for row in rows for problem in _row_problems(*row)]
    assert not problems, "docs/errors.md disagrees with the code:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "checked_by, ok",
    [
        ("`test_cli.py::test_score_input_errors` `input file not found`", True),
        ("`test_cli.py::test_renamed_away` `input file not found`", False),
        ("`test_cli.py::test_score_input_errors` `input file not findable`", False),
        ("`input file not found`", False),
    ],
)
def test_error_table_check_catches_drift(checked_by, ok):
    """The checker itself: a renamed test, a changed message or a missing test reference is reported."""
    problems = _row_problems("x", "`error: input file not found: PATH` / `error: input file not findable`", checked_by)
    assert (not problems) is ok, problems
