"""One writer per output: real concurrent processes, a lock that dies with its holder (kill -9), the unlink race."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, assert_user_error, run_cli

from sentiment.apps.scoring import score_file
from sentiment.errors import DataError
from sentiment.io.locks import LockedError, exclusive_lock, lock_path

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
HOLD = (
    "import sys, time\nfrom sentiment.io.locks import exclusive_lock\n"
    "with exclusive_lock(sys.argv[1], sys.argv[2]):\n    print('locked', flush=True)\n    time.sleep(600)\n"
)


def quiet(msg):
    return None


def _holder(target, what="output"):
    """A real process holding the lock of ``target`` until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target), what], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_fails_at_once_and_a_killed_holder_does_not_block_resume(tiny_model, tmp_path):
    out = tmp_path / "out.csv"
    parts = tmp_path / ".out.csv.parts"
    parts.mkdir()
    (parts / "part-000000.csv").write_text("the first run's work")
    holder = _holder(out)
    try:
        started = time.perf_counter()
        result = run_cli("score", str(SAMPLE), "-o", str(out), "--resume", "--overwrite")
        seconds = time.perf_counter() - started
        assert_user_error(
            result,
            f"output {out} is being written by another run (pid {holder.pid} on ",
            "Nothing was changed",
            str(lock_path(out)),
        )
        assert seconds < 30  # no model loaded, nothing scored
        assert (parts / "part-000000.csv").read_text() == "the first run's work" and not out.exists()
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):  # the Python API is held off too
            score_file(SAMPLE, out, tiny_model, resume=True, log=quiet)
        assert (parts / "part-000000.csv").read_text() == "the first run's work"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_path(out).exists()  # stale file of the killed holder: it locks nothing
    summary = score_file(SAMPLE, out, tiny_model, resume=True, log=quiet)
    assert summary.rows == len(pd.read_csv(SAMPLE)) == len(pd.read_csv(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # parts and lock file gone


@pytest.mark.slow
def test_two_real_score_runs_on_one_output(tiny_model_dir, tmp_path):
    """The second `sentiment score` started while the first is writing fails naming it; the first completes."""
    frame = pd.concat([pd.read_csv(SAMPLE)] * 3, ignore_index=True)
    frame["id"] = range(len(frame))
    src = tmp_path / "big.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    parts = tmp_path / ".out.csv.parts"
    args = [
        sys.executable,
        "-m",
        "sentiment",
        "score",
        str(src),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--chunk-size",
        "50",
        "--workers",
        "1",
        "-q",
    ]
    first = subprocess.Popen(args, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list(parts.glob("part-*.csv")):
        time.sleep(0.02)
    first.send_signal(signal.SIGSTOP)  # keep the first run mid-way, whatever the machine's load
    try:
        second = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=300)
        assert (len(list(parts.glob("part-*.csv"))) < len(frame) // 50) and not out.exists()
    finally:
        first.send_signal(signal.SIGCONT)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert_user_error(second, f"is being written by another run (pid {first.pid} on ", "-m sentiment score")
    got = pd.read_csv(out)
    assert got["id"].tolist() == frame["id"].tolist() and (got["status"] == "ok").all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "out.csv"]


def test_model_directory_is_locked_for_train_and_export(tmp_path):
    model = tmp_path / "models" / "new"
    model.parent.mkdir()
    holder = _holder(model, "model directory")
    try:
        result = run_cli("train", "--data", str(SAMPLE), "--out", str(model), "--config", "configs/tiny.toml")
        assert_user_error(result, f"model directory {model} is being written by another run (pid {holder.pid}")
        result = run_cli("export", "--run-dir", str(tmp_path / "run"), "--out", str(model))
        assert_user_error(result, f"model directory {model} is being written by another run (pid {holder.pid}")
        assert sorted(p.name for p in model.parent.iterdir()) == [".new.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_lock_file_is_removed_only_by_its_holder(tmp_path):
    target = tmp_path / "o.csv"
    with exclusive_lock(target) as path:
        assert f'"pid": {os.getpid()}' in path.read_text()
        # one writer, even in-process
        with pytest.raises(LockedError, match="being written by another run"), exclusive_lock(target):
            pass
        # the holder's file was replaced (e.g. removed and recreated by another run): not ours to delete
        os.unlink(path)
        path.write_text("someone else's")
    assert path.read_text() == "someone else's"
    with exclusive_lock(target):  # a file nobody locks is taken over
        pass
    assert not path.exists()
    with (
        pytest.raises(DataError, match="output folder .*missing does not exist"),
        exclusive_lock(tmp_path / "missing" / "o.csv"),
    ):
        pass
