"""--engine ray on a real local Ray (one session for the module): the same rows, columns and probabilities as
single-process scoring, input order kept, a worker killed with kill -9 loses and duplicates nothing, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, assert_user_error

from sentiment.apps.cli import main
from sentiment.apps.scoring import score_file, score_frame
from sentiment.errors import DataError, OutputExistsError, SentimentError

BAD_ROWS = ["", "   ", '=HYPERLINK("x") 최고', "-별로예요", "@그냥"]
ACTOR_TITLES = ("ray::BatchScorer", "ray::MapWorker(MapBatches(BatchScorer))")  # the actor pool's, Ray Data's


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
    extra = pd.DataFrame(
        {"document": BAD_ROWS, "label": "1", "domain": "x", "id": [f"b{i}" for i in range(len(BAD_ROWS))]}
    )
    parts = [frame.iloc[:200], pd.concat([extra, frame.iloc[200:]], ignore_index=True)]
    for i, part in enumerate(parts):
        part.to_csv(src / f"comments-{i}.csv", index=False)

    out = tmp_path / "scored"  # through the command, in this process (it uses the module's Ray session)
    assert (
        main(
            ["score", str(src), "-o", str(out), "--engine", "ray", "--model", str(tiny_model_dir), "--chunk-size", "64"]
        )
        == 0
    )
    log = capsys.readouterr().err
    got = read_parts(out)

    expected = pd.concat(
        [pd.read_parquet(p) for p in _score_files_locally(src, tiny_model, tmp_path)], ignore_index=True
    )
    assert list(got.columns) == list(expected.columns)
    assert list(got.columns)[-4:] == ["status", "pred_label", "prob_0", "prob_1"]
    assert got["id"].tolist() == expected["id"].tolist()  # every row, once, in input order
    probs = ["prob_0", "prob_1"]
    pd.testing.assert_frame_equal(comparable(got.drop(columns=probs)), comparable(expected.drop(columns=probs)))
    np.testing.assert_allclose(got[probs].to_numpy(float), expected[probs].to_numpy(float), atol=1e-6)
    bad = got[got["id"].str.startswith("b")]
    assert bad["status"].tolist() == ["missing", "empty", "ok", "ok", "ok"]
    assert bad["document"].tolist()[2:] == ['\'=HYPERLINK("x") 최고', "'-별로예요", "'@그냥"]
    for line in (
        f"rows read: {len(got)}",
        f"scored: {len(got) - 2}",
        "flagged: empty 1, missing 1",
        "text column: 'document'",
        "input: 2 delimited file(s)",
    ):
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
        if titles.get(pid, "").startswith(ACTOR_TITLES):
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
            result["summary"] = score_path(
                str(src), str(out), model=tiny_model_dir, concurrency=1, batch_size=250, log=quiet
            )
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


def test_part_names_sort_in_input_order_and_a_retried_batch_replaces_its_part(tmp_path):
    """What each scoring actor of `--engine ray` writes: a part named by its first row's file and row, so
    that sorted names are input order, and the same name again when a batch is retried."""
    import pyarrow.fs as pafs

    from sentiment.apps.distributed import ROW_BITS, PartFiles

    parts = PartFiles(str(tmp_path), pafs.LocalFileSystem(), "parquet")
    places = [(0, 0), (0, 4096), (0, 999_999_999), (1, 0), (1, 12), (12, 3)]  # (file index, row in file)
    names = [parts.name((f << ROW_BITS) + r) for f, r in places]
    assert sorted(names) == names and len(set(names)) == len(names)
    assert names[1] == "part-000000-000000004096.parquet"
    frame = pd.DataFrame({"id": ["a", "b"], "status": ["ok", "empty"]})
    parts.write(frame, (0 << ROW_BITS) + 4096)
    parts.write(frame.iloc[:1], (0 << ROW_BITS) + 4096)  # the retried batch
    assert [p.name for p in tmp_path.iterdir()] == [names[1]]  # and no hidden half-written file
    assert pd.read_parquet(tmp_path / names[1])["id"].tolist() == ["a"]


def test_cli_engine_ray_errors(tmp_path, capsys):
    existing = tmp_path / "out"
    existing.mkdir()
    (existing / "keep.txt").write_text("precious")
    assert main(["score", str(SAMPLE), "-o", str(existing), "--engine", "ray"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (existing / "keep.txt").read_text() == "precious"
    assert main(["score", str(SAMPLE), "-o", str(tmp_path / "x.csv"), "--concurrency", "2"]) == 2
    assert "--concurrency work(s) with --engine ray only" in capsys.readouterr().err
    assert main(["score", str(SAMPLE), "-o", str(tmp_path / "x.csv"), "--ray-executor", "actors"]) == 2
    assert "--ray-executor work(s) with --engine ray only" in capsys.readouterr().err
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
    result = subprocess.run(
        [sys.executable, "-m", "sentiment", "score", str(SAMPLE), "-o", str(tmp_path / "o"), "--engine", "ray"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
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


def test_default_blocks_grow_with_the_input_within_their_bounds(tmp_path, sample_frame):
    """score_path's rows per block without --chunk-size: 4,096 for small inputs, up to 16,384 for big ones,
    and about 8 blocks per actor in between (estimated from the files' sizes)."""
    from sentiment.apps.distributed import BLOCKS_PER_ACTOR, MAX_ROWS_PER_BLOCK, ROWS_PER_BATCH, rows_per_block
    from sentiment.io.remote_files import list_inputs

    path = tmp_path / "comments.csv"
    sample_frame.to_csv(path, index=False)
    files = list_inputs(str(path))
    per_row = path.stat().st_size / len(sample_frame)
    assert rows_per_block(files, sample_frame, 2) == ROWS_PER_BATCH  # a few hundred rows
    sizes = {}
    for rows in (10_000, 100_000, 200_000, 400_000, 10_000_000):
        files.sizes = [int(rows * per_row)]
        sizes[rows] = rows_per_block(files, sample_frame, 2)
    assert sizes[10_000] == ROWS_PER_BATCH and sizes[10_000_000] == MAX_ROWS_PER_BLOCK
    assert list(sizes.values()) == sorted(sizes.values())
    middle = sizes[100_000]
    assert ROWS_PER_BATCH < middle < MAX_ROWS_PER_BLOCK
    assert abs(100_000 / (2 * middle) - BLOCKS_PER_ACTOR) < 1  # every actor gets about 8 blocks
    files.sizes = []  # sizes not listed (some object stores): the small block
    assert rows_per_block(files, sample_frame, 2) == ROWS_PER_BATCH


# -- every input kind, through the command line, equal to the single-process engine ---------------------------
KINDS = {  # file name -> writer of a frame
    "comments.csv": lambda f, p: f.to_csv(p, index=False),
    "comments.tsv": lambda f, p: f.to_csv(p, sep="\t", index=False),
    "comments.txt": lambda f, p: f.to_csv(p, sep="\t", index=False),
    "comments.csv.gz": lambda f, p: f.to_csv(p, index=False, compression="gzip"),
    "comments.tsv.gz": lambda f, p: f.to_csv(p, sep="\t", index=False, compression="gzip"),
    "comments.jsonl": lambda f, p: f.to_json(p, orient="records", lines=True, force_ascii=False),
    "comments.jsonl.gz": lambda f, p: f.to_json(p, orient="records", lines=True, force_ascii=False, compression="gzip"),
    "comments.parquet": lambda f, p: f.to_parquet(p, index=False),
    "comments.xlsx": lambda f, p: f.to_excel(p, index=False, engine="openpyxl"),
}
CASE_SECONDS = 120  # the limit per case (a hang is caught by the watchdog long before)


def matrix_frame(sample_frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` rows: the sample's comments repeated, numbered, with the rows that are not scored among them."""
    texts = (sample_frame["document"].tolist() * (n // len(sample_frame) + 1))[:n]
    texts[3 : 3 + len(BAD_ROWS)] = BAD_ROWS
    labels = (sample_frame["label"].tolist() * (n // len(sample_frame) + 1))[:n]
    return pd.DataFrame({"id": range(n), "document": texts, "label": labels})


def write_case(frame: pd.DataFrame, name: str, root: Path, files: int) -> tuple[Path, list[Path]]:
    """The input as one file, or as a directory of ``files`` files (the frame split in order)."""
    root.mkdir(parents=True, exist_ok=True)
    if files == 1:
        KINDS[name](frame, root / name)
        return root / name, [root / name]
    folder = root / "in"
    folder.mkdir()
    paths = []
    bounds = np.linspace(0, len(frame), files + 1).astype(int)
    for i in range(files):
        paths.append(folder / f"part-{i}-{name}")
        KINDS[name](frame.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True), paths[-1])
    return folder, paths


def single_process(paths: list[Path], model: Path, tmp: Path) -> pd.DataFrame:
    """What `sentiment score FILE -o X.parquet --precision fp32` writes for each file, concatenated."""
    frames = []
    folder = Path(tempfile.mkdtemp(prefix="single-", dir=tmp))
    for i, path in enumerate(paths):
        out = folder / f"{i}.parquet"
        assert main(["score", str(path), "-o", str(out), "--model", str(model), "--precision", "fp32"]) == 0
        frames.append(pd.read_parquet(out))
    return pd.concat(frames, ignore_index=True)


def run_ray_cli(args: list[str], seconds: float = CASE_SECONDS) -> tuple[int, float]:
    """`sentiment score ... --engine ray` in this process (the module's Ray session) within a time limit."""
    result: dict = {}
    started = time.monotonic()
    job = threading.Thread(target=lambda: result.setdefault("rc", main(args)), daemon=True)
    job.start()
    job.join(seconds)
    assert not job.is_alive(), f"--engine ray did not finish in {seconds} s: {args}"
    return result.get("rc", -1), time.monotonic() - started


def assert_same_output(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every row once, in order; the same columns, cells and statuses; probabilities to their 6 decimals."""
    assert list(got.columns) == list(expected.columns)
    assert got["id"].astype(int).tolist() == expected["id"].astype(int).tolist()
    probs = [c for c in got.columns if c.startswith("prob_")]
    pd.testing.assert_frame_equal(
        comparable(got.drop(columns=probs)), comparable(expected.drop(columns=probs)), check_dtype=False
    )
    np.testing.assert_allclose(got[probs].to_numpy(float), expected[probs].to_numpy(float), atol=1.01e-6)


DEFAULT_CASES = {("comments.jsonl", 1), ("comments.parquet", 1)}  # the rest: -m slow (a Ray job each)
MATRIX = [
    pytest.param(
        name,
        files,
        id=f"{name}-{'file' if files == 1 else 'dir'}",
        marks=() if (name, files) in DEFAULT_CASES else pytest.mark.slow,
    )
    for name in KINDS
    for files in (1, 3)
]


@pytest.mark.parametrize(("name", "files"), MATRIX)
def test_every_input_kind_scores_like_a_single_process(
    ray_session, tiny_model_dir, sample_frame, tmp_path, name, files
):
    frame = matrix_frame(sample_frame, 240)
    src, paths = write_case(frame, name, tmp_path, files)
    out = tmp_path / "scored"
    rc, _ = run_ray_cli(
        [
            "score",
            str(src),
            "-o",
            str(out),
            "--engine",
            "ray",
            "--model",
            str(tiny_model_dir),
            "--precision",
            "fp32",
            "--chunk-size",
            "64",
            "--concurrency",
            "1",
            "--stall-timeout",
            "0" if name == "comments.jsonl" else "60",  # 0: no watchdog and no progress actor at all
            "--ray-executor",
            "ray-data" if name.startswith("comments.parquet") else "auto",  # auto: the actor pool (one node)
        ]
    )
    assert rc == 0
    got = read_parts(out)
    assert len(got) == len(frame)
    assert_same_output(got, single_process(paths, tiny_model_dir, tmp_path))
    if not name.endswith(".xlsx"):  # Excel stores '=HYPERLINK(...)' as a formula, read back as an empty cell
        assert (got["status"] == "ok").sum() == len(frame) - 2  # '' missing or empty, '   ' empty


# -- s3:// for real: a local S3 server (moto) on 127.0.0.1 -----------------------------------------------------
@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 server in a subprocess on a free local port; AWS_* variables point pyarrow and boto3 at it."""
    import socket

    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as fh:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_buckets()
                break
            except Exception:  # not listening yet
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.3)
        client.create_bucket(Bucket="comments")
        yield client
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.terminate()
        server.wait(timeout=30)


def test_s3_directory_of_parquet_parts_in_and_out(
    ray_session, s3_server, tiny_model_dir, sample_frame, tmp_path, capsys
):
    """s3://comments/in/ (three Parquet parts) -> s3://comments/scored/ through the command line, equal to
    the single-process engine on the same files; then a gzipped JSON Lines object to a local directory."""
    frame = matrix_frame(sample_frame, 300)
    _, paths = write_case(frame, "comments.parquet", tmp_path / "local", 3)
    for path in paths:
        s3_server.upload_file(str(path), "comments", f"in/{path.name}")
    s3_server.put_object(Bucket="comments", Key="in/_SUCCESS", Body=b"")  # skipped, as Spark's markers are
    rc, _ = run_ray_cli(
        [
            "score",
            "s3://comments/in/",
            "-o",
            "s3://comments/scored",
            "--engine",
            "ray",
            "--model",
            str(tiny_model_dir),
            "--precision",
            "fp32",
            "--chunk-size",
            "64",
            "--stall-timeout",
            "60",
        ]
    )
    assert rc == 0
    keys = sorted(o["Key"] for o in s3_server.list_objects_v2(Bucket="comments", Prefix="scored")["Contents"])
    assert keys and all(k.startswith("scored/part-") and k.endswith(".parquet") for k in keys), keys
    assert not [o for o in s3_server.list_objects_v2(Bucket="comments")["Contents"] if ".tmp-" in o["Key"]]
    local = tmp_path / "downloaded"
    local.mkdir()
    for key in keys:
        s3_server.download_file("comments", key, str(local / key.split("/")[-1]))
    expected = single_process(paths, tiny_model_dir, tmp_path)
    assert_same_output(read_parts(local), expected)

    assert (
        run_ray_cli(
            [
                "score",
                "s3://comments/in/",
                "-o",
                "s3://comments/scored",
                "--engine",
                "ray",
                "--model",
                str(tiny_model_dir),
            ]
        )[0]
        == 2
    )  # exists: --overwrite needed

    _, (jsonl,) = write_case(frame, "comments.jsonl.gz", tmp_path / "j", 1)
    s3_server.upload_file(str(jsonl), "comments", "raw/comments.jsonl.gz")
    rc, _ = run_ray_cli(
        [
            "score",
            "s3://comments/raw/comments.jsonl.gz",
            "-o",
            str(tmp_path / "from-s3"),
            "--engine",
            "ray",
            "--model",
            str(tiny_model_dir),
            "--precision",
            "fp32",
        ]
    )
    assert rc == 0, capsys.readouterr().err[-3000:]
    assert_same_output(read_parts(tmp_path / "from-s3"), single_process([jsonl], tiny_model_dir, tmp_path))


def test_cloud_path_errors_are_one_line(tmp_path, capsys):
    for spec, fragment in (
        ("https://example.com/c.csv", "download the file first"),
        ("ftp://host/c.csv", "unknown scheme 'ftp://'"),
    ):
        assert main(["score", spec, "-o", str(tmp_path / "o"), "--engine", "ray"]) == 2
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, err
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


# -- the watchdog ---------------------------------------------------------------------------------------------
def test_a_job_that_cannot_progress_ends_with_one_error_line(ray_session, tiny_model_dir, tmp_path, capsys):
    """Every CPU of the cluster held by another job's actor: no scoring actor can start. The job ends after
    --stall-timeout with exit status 2 and one error line naming the stage, and leaves nothing behind."""
    import ray

    @ray.remote(num_cpus=int(ray.cluster_resources()["CPU"]))
    class Hog:
        def ready(self) -> bool:
            return True

    hog = Hog.remote()
    try:
        ray.get(hog.ready.remote(), timeout=60)
        src = tmp_path / "comments.csv"
        src.write_text("id,document\n1,좋아요\n2,별로\n", encoding="utf-8")
        capsys.readouterr()
        rc, seconds = run_ray_cli(
            [
                "score",
                str(src),
                "-o",
                str(tmp_path / "scored"),
                "--engine",
                "ray",
                "--model",
                str(tiny_model_dir),
                "--stall-timeout",
                "5",
            ],
            seconds=90,
        )
        err = capsys.readouterr().err
    finally:
        ray.kill(hog)
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "made no progress for 5 s while starting the scoring actors" in errors[0], errors
    assert "nothing was written" in errors[0]
    assert seconds < 60, seconds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comments.csv"]
    assert _free_cpus_again(ray)  # the job's actors, pending behind the hog, were killed with it, not left to start


def test_the_actors_share_one_int8_graph_from_the_object_store(ray_session, tiny_model_dir):
    """The driver builds the int8 graph once and puts it in the object store; what an actor gets back has
    read-only tables mapped from there, and a classifier loaded with it scores as one that built its own."""
    from sentiment import SentimentClassifier
    from sentiment.apps.distributed import _shared_int8_graph
    from sentiment.model.bundle import bundle_int8_graph

    assert _shared_int8_graph(ray_session, lambda: bundle_int8_graph(tiny_model_dir, precision="fp32")) is None
    ref = _shared_int8_graph(ray_session, lambda: bundle_int8_graph(tiny_model_dir, precision="int8"))
    mapped = ray_session.get(ref)
    assert mapped.tables and not any(t.flags.writeable for t in mapped.tables.values())  # the store's pages
    texts = ["배송 빠르고 좋아요", "다시는 안 삽니다", "보통"]
    shared = SentimentClassifier.load(tiny_model_dir, precision="int8", int8_graph=mapped)
    own = SentimentClassifier.load(tiny_model_dir, precision="int8")
    np.testing.assert_array_equal(shared.predict_proba(texts), own.predict_proba(texts))


# -- the two executors of score_path: this process feeding an actor pool, and Ray Data -------------------------
def test_both_executors_write_the_same_parts_and_one_node_uses_the_actor_pool(
    ray_session, tiny_model_dir, sample_frame, tmp_path
):
    from sentiment.apps.distributed import score_path

    frame = matrix_frame(sample_frame, 500)
    src, _ = write_case(frame, "comments.csv", tmp_path / "in", 3)
    written = {}
    for executor in ("actors", "ray-data", "auto"):
        out = tmp_path / f"scored-{executor}"
        lines: list[str] = []
        summary = score_path(
            str(src), str(out), model=tiny_model_dir, batch_size=64, concurrency=2, executor=executor, log=lines.append
        )
        assert summary.rows == len(frame)
        assert any(line.startswith("scoring actors: 2, 64 rows per block (") for line in lines), lines
        if executor == "auto":  # the module's Ray is one node
            assert any(line.endswith("(actors)") for line in lines), lines
        written[executor] = {p.name: pd.read_parquet(p) for p in sorted(out.iterdir())}
    assert list(written["actors"]) == list(written["ray-data"]) == list(written["auto"])
    for name, part in written["actors"].items():
        pd.testing.assert_frame_equal(part, written["auto"][name])
        # the same cells; Ray Data hands the actors its Arrow blocks as pyarrow-backed text columns, which
        # stay large_string in its parts, where the actor pool's (like the single process's) are strings
        pd.testing.assert_frame_equal(comparable(part), comparable(written["ray-data"][name]))
    got = pd.concat(written["actors"].values(), ignore_index=True)
    assert got["id"].astype(int).tolist() == list(range(len(frame)))

    with pytest.raises(DataError, match="executor 'dask' is not supported; use one of auto, actors, ray-data"):
        score_path(str(src), str(tmp_path / "x"), model=tiny_model_dir, executor="dask", log=quiet)


def _free_cpus_again(ray, seconds: float = 30) -> bool:
    """Whether every CPU of the module's Ray is free again within ``seconds`` (the pool's actors were killed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0) == ray.cluster_resources().get("CPU"):
            return True
        time.sleep(0.2)
    return False


def test_the_actor_pool_gives_every_items_result_once(ray_session):
    from sentiment.apps.actor_pool import map_on_actors

    class Square:  # defined here: Ray ships it by value (the test module is not importable in its workers)
        def __init__(self, offset: int) -> None:
            self.offset = offset

        def ready(self) -> None:
            pass

        def __call__(self, x: int) -> tuple[int, int]:
            time.sleep(0.002)
            return x, x * x + self.offset

    got = list(map_on_actors(ray_session, iter(range(200)), Square, {"offset": 1}, 2))
    assert sorted(got) == [(x, x * x + 1) for x in range(200)]
    # more actors than CPUs: those that cannot start take no items, and the job still ends
    got = list(map_on_actors(ray_session, iter(range(20)), Square, {"offset": 0}, 3))
    assert sorted(got) == [(x, x * x) for x in range(20)]
    assert list(map_on_actors(ray_session, iter([]), Square, {"offset": 0}, 2)) == []
    assert _free_cpus_again(ray_session)


def test_the_actor_pool_raises_what_failed_and_kills_its_actors(ray_session):
    from sentiment.apps.actor_pool import map_on_actors

    class Picky:
        def __init__(self, fail_in_init: bool) -> None:
            if fail_in_init:
                raise DataError("the model cannot be read here")

        def ready(self) -> None:
            pass

        def __call__(self, x: int) -> int:
            if x == 7:
                raise DataError(f"row {x} is bad")
            return x

    def items(fail_at: int | None):
        for x in range(30):
            if x == fail_at:
                raise DataError("the input broke at row 3")
            yield x

    with pytest.raises(Exception, match="row 7 is bad"):
        list(map_on_actors(ray_session, items(None), Picky, {"fail_in_init": False}, 2))
    with pytest.raises(Exception, match="the model cannot be read here"):
        list(map_on_actors(ray_session, items(None), Picky, {"fail_in_init": True}, 2))
    with pytest.raises(DataError, match="the input broke at row 3"):  # the reader thread's own exception
        list(map_on_actors(ray_session, items(3), Picky, {"fail_in_init": False}, 2))
    assert _free_cpus_again(ray_session)


def test_the_actor_pool_replaces_a_dead_actor_and_gives_out_its_items_again(ray_session, tmp_path):
    from sentiment.apps.actor_pool import RESTARTS_PER_ACTOR, map_on_actors

    class Fragile:
        def __init__(self, flag: str) -> None:
            self.flag = flag

        def ready(self) -> None:
            pass

        def __call__(self, x: int) -> int:
            if x == 5 and not os.path.exists(self.flag):  # its process dies the first time it meets item 5
                Path(self.flag).touch()
                os._exit(1)
            if x == 9 and self.flag.endswith("always"):
                os._exit(1)
            time.sleep(0.01)
            return x

    got = list(map_on_actors(ray_session, iter(range(40)), Fragile, {"flag": str(tmp_path / "died")}, 2))
    assert (tmp_path / "died").exists()  # it did die
    assert sorted(got) == list(range(40))  # every item once, item 5 and those queued with it given out again
    with pytest.raises(Exception, match="(?i)actor"):  # dies every time: the job fails after its restart budget
        list(map_on_actors(ray_session, iter(range(40)), Fragile, {"flag": str(tmp_path / "always")}, 1))
    assert RESTARTS_PER_ACTOR >= 1
    assert _free_cpus_again(ray_session)
