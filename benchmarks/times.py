"""Speed of reading time columns (``sentiment.io.times.parse_times``) on 1,000,000 values of each common form.

    python benchmarks/times.py [--rows 1000000]

Prints, per form, the distinct values and the seconds; warnings are errors (no pandas warning may appear).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from sentiment.io.times import parse_times


def columns(n: int) -> dict[str, pd.Series]:
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540 * 24 * 60, n), unit="min")
    days = pd.Series(stamps.floor("D").strftime("%Y년 %-m월 %-d일"))
    hour12 = ((stamps.hour + 11) % 12 + 1).astype(str)
    return {
        "2019년 12월 21일 (dates of 18 months)": days,
        "2019년 12월 21일 오후 3:05 (minutes of 18 months)": pd.Series(
            stamps.strftime("%Y년 %m월 %d일 ")
            + np.where(stamps.hour < 12, "오전 ", "오후 ")
            + hour12
            + stamps.strftime(":%M")
        ),
        "2019-12-21 15:05:07": pd.Series(
            (stamps + pd.to_timedelta(rng.integers(0, 60, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S")
        ),
        "mixed: dotted dates, 3일 전, ISO with a zone": pd.Series(
            np.where(
                rng.random(n) < 0.3,
                pd.Series(stamps.strftime("%Y.%m.%d")),
                np.where(
                    rng.random(n) < 0.5,
                    pd.Series(rng.integers(1, 30, n)).astype(str) + "일 전",
                    pd.Series(stamps.strftime("%Y-%m-%dT%H:%M:%S+09:00")),
                ),
            )
        ),
        "epoch seconds (integers)": pd.Series(stamps.astype("datetime64[s]").astype("int64")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    warnings.simplefilter("error")
    print("| column | distinct values | seconds | unreadable |\n|---|---|---|---|")
    for name, values in columns(args.rows).items():
        started = time.perf_counter()
        result = parse_times(values, reference="2024-07-01")
        seconds = time.perf_counter() - started
        print(f"| {name} | {values.nunique():,} | {seconds:.1f} | {result.unreadable:,} |")


if __name__ == "__main__":
    main()
