"""The progress board of a Ray job: counts add up, and its module imports nothing heavy (its actor process
starts beside the scoring actors on the same cores)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from sentiment.apps.progress_board import ProgressBoard, report


def test_counts_add_up_and_a_snapshot_is_a_copy():
    board = ProgressBoard()
    board.add("read", 4096)
    board.add("read", 10)
    board.add("ready")
    snap = board.snapshot()
    snap["read"] = 0
    assert board.snapshot() == {"read": 4106, "ready": 1}
    report(None, "scored", 5)  # no board (--stall-timeout 0): nothing happens, nothing raises


def test_the_board_process_imports_neither_pandas_nor_numpy():
    code = "import sys, sentiment.apps.progress_board; print(sorted({'pandas', 'numpy', 'ray'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
