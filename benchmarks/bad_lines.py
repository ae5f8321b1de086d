"""Reading a big UTF-8 export with one CP949 line: --encoding-errors replace/skip-rows beside a strict read of
the same file without the bad line (the baseline), and the time to the strict error. Each mode runs in its own
process (for its peak memory); no model is loaded, so this measures the reader only.

    python benchmarks/bad_lines.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(folder: Path, rows: int) -> tuple[Path, Path, int]:
    bad_row = int(rows * 0.734)
    bad, clean = folder / "bad.csv", folder / "clean.csv"
    with open(bad, "wb") as b, open(clean, "wb") as c:
        b.write(b"id,document\n")
        c.write(b"id,document\n")
        for i in range(1, rows + 1):
            line = f"{i},정말 재미있는 영화였어요 배우 연기도 좋고 {i}\n"
            c.write(line.encode())
            b.write(line.encode("cp949") if i == bad_row else line.encode())
    return bad, clean, bad_row + 1


def run(mode: str, path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from sentiment.errors import DataError
    from sentiment.io.readers import iter_table

    started = time.perf_counter()
    rows, note = 0, ""
    try:
        info = None
        for chunk, info in iter_table(path, chunksize=50_000, encoding_errors=mode):  # noqa: B007 (info: the last chunk's)
            rows += len(chunk)
        note = f"bad lines {info.bad_lines}, skipped {info.skipped_rows}"
    except DataError as exc:
        note = str(exc)[:90]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = time.perf_counter() - started
    print(f"{mode:10} {path.name:10} {seconds:6.1f} s  peak {peak:5.0f} MiB  rows {rows:,}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mode")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.mode:
        run(args.mode, Path(args.path))
        return
    with tempfile.TemporaryDirectory() as tmp:
        bad, clean, line = make(Path(tmp), args.rows)
        print(f"{args.rows:,} rows, {bad.stat().st_size / 2**20:.0f} MiB; line {line:,} is CP949")
        for mode, path in (("strict", clean), ("strict", bad), ("replace", bad), ("skip-rows", bad)):
            subprocess.run([sys.executable, __file__, "--mode", mode, "--path", str(path)], check=True)


if __name__ == "__main__":
    main()
