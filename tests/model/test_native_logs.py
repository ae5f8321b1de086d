"""TensorFlow's native (C++/absl) log lines stay out of the user's terminal unless asked for."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE

from sentiment.model.tf_import import filter_native_log

NATIVE_LINE = re.compile(r"^[IWEF]0000 |oneDNN|absl::InitializeLog", re.M)

APP = """
import sys
from sentiment import SentimentClassifier
print("app: before", file=sys.stderr)
clf = SentimentClassifier.load(sys.argv[1])
print([int(label) for label in clf.predict(["배우 연기 정말 최고", "시간 아깝다"])])
print("app: after", file=sys.stderr)
"""


def _fresh_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_app_import_load_predict_prints_no_native_log_lines(tiny_model_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", APP, str(tiny_model_dir)],
        cwd=tmp_path,
        env=_fresh_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LINE.search(result.stderr), result.stderr
    # the app's own stderr is untouched, in order
    assert result.stderr.splitlines() == ["app: before", "app: after"], result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_cli_verbose_shows_them(tiny_model_dir, tmp_path):
    out = tmp_path / "o.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentiment",
            "score",
            str(SAMPLE),
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--workers",
            "1",
            "-v",
        ],
        cwd=tmp_path,
        env=_fresh_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "rows read: " in result.stderr
    if not re.search(r"^[IWEF]0000 ", result.stderr, re.M):
        pytest.skip("this TensorFlow build writes no native log lines here, so there is nothing to show")
    assert NATIVE_LINE.search(result.stderr)


CAPTURED = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795625981.516234    7208 port.cc:153] oneDNN custom operations are on. You may see slightly different.
I0000 00:00:1795625981.610520    7208 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use AVX.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
/usr/lib/python3/site-packages/x.py:3: UserWarning: something the user should see
  warnings.warn("something")
W0000 00:00:1795625981.610521    7208 some.cc:1] a warning
E0000 00:00:1795625988.043637    7208 util.cc:131] an error
"""


@pytest.mark.parametrize(
    "level, kept",
    [
        (0, CAPTURED.splitlines()),
        (1, [CAPTURED.splitlines()[0], *CAPTURED.splitlines()[4:]]),
        (2, CAPTURED.splitlines()[4:6] + CAPTURED.splitlines()[7:]),
        (3, CAPTURED.splitlines()[4:6]),
    ],
)
def test_filter_keeps_what_the_level_allows_and_everything_else(level, kept):
    assert filter_native_log(CAPTURED, level).splitlines() == kept


def test_tensorflow_is_imported_only_through_the_helper():
    """Every TensorFlow/Keras import goes through sentiment/model/tf_import.py, which hides the native log lines."""
    pattern = re.compile(r"^\s*(import (tensorflow|keras)\b|from (tensorflow|keras)\b)", re.M)
    offenders = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted((ROOT / "sentiment").rglob("*.py"))
        if path.name != "tf_import.py"
        for text in [path.read_text(encoding="utf-8")]
        for m in pattern.finditer(text)
    ]
    assert not offenders, (
        f"use sentiment.model.tf_import.import_keras()/import_tensorflow() instead of a bare import: {offenders}"
    )
