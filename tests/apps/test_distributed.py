"""--engine ray on a real local Ray (one session for the module): the same rows, columns and probabilities as
single-process scoring, input order kept, a worker killed with kill -9 loses and duplicates nothing, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SAMPLE, assert_user_error
from sentiment.apps.cli import main
from sentiment.errors import OutputExistsError, SentimentError
from sentiment.apps.scoring import score_file, score_frame

BAD_ROWS = ["", "   ", "=HYPERLINK(\"x\") 최고", "-별로예요", "@그냥"]
ACTOR_TITLE = "ray::MapWorker(MapBatches(BatchScorer))"


def quiet(msg):
    return None


@pytest.fixture(scope="module")
def ray_session():
    """One real local Ray (2 CPUs) for every test of the module, started as `sentiment score --engine ray` does."""
    from sentiment.apps.distributed import _ray_session

    with _ray_session(None, 2, quiet) as ray:
        yield ray


def read_parts(path: Path) -> pd.DataFrame:
    """The part files of an output directory, in name order (= input order)."""
    names = sorted(p.name for p in path.iterdir())
    assert names and all(n.startswith("part-") and n.endswith(".parquet") for n in names), names
    return pd.concat([pd.read_parquet(path / n) for n in names], ignore_index=True)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as plain Python values (None for missing) so that string/object and Int64/float dtypes compare."""
    return frame.astype(object).where(frame.notna(), None)


def test_ray_scores_like_a_single_process(ray_session, tiny_model, tiny_model_dir, tmp_path, sample_frame, capsys):
    src = tmp_path / "in"
    src.mkdir()
    frame = sample_frame.assign(id=[str(i) for i in range(len(sample_frame))])
    extra = pd.DataFrame({"document": BAD_ROWS, "label": "1", "domain": "x",
                          "id": [f"b{i}" for i in range(len(BAD_ROWS))]})
    parts = [frame.iloc[:200], pd.concat([extra, frame.iloc[200:]], ignore_index=True)]
    for i, part in enumerate(parts):
        part.to_csv(src / f"comments-{i}.csv", index=False)

    out = tmp_path / "scored"  # through the command, in this process (it uses the module's Ray session)
    assert main(["score", str(src), "-o", str(out), "--engine", "ray", "--model", str(tiny_model_dir),
                 "--chunk-size", "64"]) == 0
    log = capsys.readouterr().err
    got = read_parts(out)

    expected = pd.concat([pd.read_parquet(p) for p in _score_files_locally(src, tiny_model, tmp_path)],
                         ignore_index=True)
    assert list(got.columns) == list(expected.columns)
    assert list(got.columns)[-4:] == ["status", "pred_label", "prob_0", "prob_1"]
    assert got["id"].tolist() == expected["id"].tolist()  # every row, once, in input order
    probs = ["prob_0", "prob_1"]
    pd.testing.assert_frame_equal(comparable(got.drop(columns=probs)), comparable(expected.drop(columns=probs)))
    np.testing.assert_allclose(got[probs].to_numpy(float), expected[probs].to_numpy(float), atol=1e-6)
    bad = got[got["id"].str.startswith("b")]
    assert bad["status"].tolist() == ["missing", "empty", "ok", "ok", "ok"]
    assert bad["document"].tolist()[2:] == ["'=HYPERLINK(\"x\") 최고", "'-별로예요", "'@그냥"]
    for line in (f"rows read: {len(got)}", f"scored: {len(got) - 2}", "flagged: empty 1, missing 1",
                 "text column: 'document'", "input: 2 delimited file(s)"):
        assert line in log, (line, log[-2000:])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "scored"))) == ["scored"]

    from sentiment.apps.distributed import score_path

    with pytest.raises(OutputExistsError, match="--overwrite"):
        score_path(str(src), str(out), model=tiny_model_dir, log=quiet)
    assert read_parts(out)["id"].tolist() == got["id"].tolist()


def _score_files_locally(src: Path, clf, tmp_path: Path) -> list[Path]:
    outputs = []
    for path in sorted(src.iterdir()):
        outputs.append(tmp_path / f"{path.stem}.parquet")
        score_file(path, outputs[-1], clf, workers=1, log=quiet)
    return outputs


def test_score_dataset_in_a_users_pipeline(ray_session, tiny_model, tiny_model_dir, sample_frame, tmp_path):
    import ray.data

    from sentiment.apps.distributed import score_dataset

    frame = sample_frame.iloc[:120].assign(document=lambda f: f["document"].where(f.index % 10 != 3, None))
    frame.to_parquet(tmp_path / "comments.parquet", index=False)
    ds = ray.data.read_parquet(str(tmp_path / "comments.parquet"), num_cpus=0)  # as docs/distributed.md shows
    got = score_dataset(ds, model=tiny_model_dir, threshold=0.7, column_prefix="pred_", concurrency=1).to_pandas()
    expected = score_frame(frame, tiny_model, "document", prefix="pred_", threshold=0.7)
    got = got.sort_values(["label", "document"], na_position="first").reset_index(drop=True)  # no order promised
    expected = expected.sort_values(["label", "document"], na_position="first").reset_index(drop=True)
    probs = ["pred_prob_0", "pred_prob_1"]
    pd.testing.assert_frame_equal(comparable(got.drop(columns=probs)), comparable(expected.drop(columns=probs)))
    np.testing.assert_allclose(got[probs].to_numpy(float), expected[probs].to_numpy(float), atol=1e-6)
    assert (got["pred_status"] == "missing").sum() == 12


def _actors() -> set[int]:
    """Scoring actor processes started by this test process (Ray's workers are its descendants)."""
    children: dict[int, list[int]] = {}
    titles: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                titles[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        if titles.get(pid, "").startswith(ACTOR_TITLE):
            found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def _parts_report(path: Path) -> str:
    """Which ids each part file holds, batch by batch (runs of consecutive ids), to tell a lost, a doubled and
    a misplaced batch apart when the test fails."""
    lines = []
    for name in sorted(p.name for p in path.iterdir()):
        ids = pd.read_parquet(path / name, columns=["id"])["id"].astype(int).tolist()
        runs, start = [], 0
        for i in range(1, len(ids) + 1):
            if i == len(ids) or ids[i] != ids[i - 1] + 1:
                runs.append(f"{ids[start]}-{ids[i - 1]}")
                start = i
        lines.append(f"{name}: {len(ids)} rows, ids {', '.join(runs)}")
    return "\n".join(lines)


def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(ray_session, tiny_model_dir, tmp_path, sample_frame):
    from sentiment.apps.distributed import score_path

    n = 12_000
    texts = (sample_frame["document"].tolist() * (n // len(sample_frame) + 1))[:n]
    src = tmp_path / "big.csv"
    pd.DataFrame({"id": range(n), "document": texts}).to_csv(src, index=False)
    out = tmp_path / "scored"
    result: dict = {}

    def run():
        try:
            result["summary"] = score_path(str(src), str(out), model=tiny_model_dir, concurrency=1, batch_size=250,
                                           log=quiet)
        except BaseException as exc:  # reported below
            result["error"] = exc

    before = _actors()  # those of earlier jobs, maybe still shutting down
    job = threading.Thread(target=run)
    job.start()
    seen: set[int] = set()
    killed = None
    deadline = time.monotonic() + 240
    while job.is_alive() and time.monotonic() < deadline:
        live = _actors() - before
        seen |= live
        if killed is None and live and list(tmp_path.glob(".scored.tmp-*/part-*")):
            try:  # the actor has scored a batch, many more are to come
                os.kill(min(live), signal.SIGKILL)
                killed = min(live)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    job.join(timeout=60)
    assert "error" not in result, result.get("error")
    assert killed is not None, "the job ended before a worker could be killed"
    assert len(seen) >= 2, seen  # the killed actor was replaced: the kill happened mid-job
    got = read_parts(out)
    ids = got["id"].astype(int).tolist()
    assert sorted(ids) == list(range(n)), _parts_report(out)  # every row exactly once
    assert ids == list(range(n)), _parts_report(out)  # in input order
    assert (got["status"] == "ok").all() and got["prob_1"].notna().all()
    assert result["summary"].rows == n


def test_part_files_keep_the_rows_of_each_block_in_order(ray_session, tmp_path):
    """Each part holds its task's blocks row for row in order, even when a block is many small record batches
    (one per map_batches call), which Ray's own write_parquet (pyarrow threads) sometimes writes shuffled."""
    import ray.data

    from sentiment.apps.distributed import _ordered, parquet_parts_sink

    n = 40_000
    with _ordered():
        ds = ray.data.range(n, override_num_blocks=8).map_batches(lambda b: b, batch_size=20, batch_format="pyarrow")
        ds.write_datasink(parquet_parts_sink(str(tmp_path / "parts")), ray_remote_args={"num_cpus": 0})
    names = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert names == [f"part-{i:06d}.parquet" for i in range(len(names))]
    assert read_parts(tmp_path / "parts")["id"].tolist() == list(range(n))


def test_cli_engine_ray_errors(tmp_path, capsys):
    existing = tmp_path / "out"
    existing.mkdir()
    (existing / "keep.txt").write_text("precious")
    assert main(["score", str(SAMPLE), "-o", str(existing), "--engine", "ray"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (existing / "keep.txt").read_text() == "precious"
    assert main(["score", str(SAMPLE), "-o", str(tmp_path / "x.csv"), "--concurrency", "2"]) == 2
    assert "--concurrency work(s) with --engine ray only" in capsys.readouterr().err
    assert main(["score", str(SAMPLE), "-o", str(tmp_path / "o"), "--engine", "ray", "--resume"]) == 2
    assert "--resume cannot be used with --engine ray" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "nothing-*.csv"), "-o", str(tmp_path / "o"), "--engine", "ray"]) == 2
    assert "no file matches" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("document\n좋다\n")
    (tmp_path / "b.parquet").write_bytes(b"")
    assert main(["score", str(tmp_path), "-o", str(tmp_path / "o"), "--engine", "ray"]) == 2
    assert "one job reads one kind of file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_without_ray_says_how_to_install_it(tmp_path):
    """A real subprocess in which `import ray` fails, as where the extra is not installed."""
    blocker = tmp_path / "noray" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(ROOT)])}
    result = subprocess.run([sys.executable, "-m", "sentiment", "score", str(SAMPLE), "-o", str(tmp_path / "o"),
                             "--engine", "ray"], env=env, capture_output=True, text=True, timeout=120)
    assert_user_error(result, "--engine ray needs Ray Data", 'pip install "sentiment[ray]"')
    assert not (tmp_path / "o").exists()


def test_a_failed_job_leaves_no_output(ray_session, tiny_model_dir, tmp_path):
    from sentiment.apps.distributed import score_path

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("document,n\n좋아요,1\n", encoding="utf-8")
    (src / "b.csv").write_text("document,n\n별로,2\n싫어,3,4\n", encoding="utf-8")  # a row with three fields
    with pytest.raises(SentimentError, match="the Ray job failed, nothing was written"):
        score_path(str(src), str(tmp_path / "scored"), model=tiny_model_dir, concurrency=1, log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_overwrite_replaces_the_directory_only_when_the_new_one_is_complete(tmp_path):
    import pyarrow.fs as pafs

    from sentiment.apps.distributed import _replace_dir

    old, new = tmp_path / "scored", tmp_path / ".scored.tmp-1234"
    old.mkdir()
    (old / "part-000000.parquet").write_text("old")
    (old / "part-000001.parquet").write_text("old")
    new.mkdir()
    (new / "part-000000.parquet").write_text("new")
    _replace_dir(pafs.LocalFileSystem(), str(new), str(old))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored"]
    assert [(p.name, p.read_text()) for p in old.iterdir()] == [("part-000000.parquet", "new")]
