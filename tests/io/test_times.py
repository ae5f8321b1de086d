"""Reading time columns (sentiment.io.times): Korean, dotted, ISO, Excel serial, epoch and relative forms."""

import datetime as dt
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import DataError
from sentiment.io.times import file_reference, parse_reference, parse_times

REFERENCE = pd.Timestamp("2020-06-15 12:00")
EXPECTED = {  # as written -> as read (naive; zoned ones in UTC)
    "2019년 12월 21일": "2019-12-21",
    "2019년 12월 21일 오후 3:05": "2019-12-21 15:05",
    "2019년 12월 21일 오전 12:30": "2019-12-21 00:30",
    "2019년 12월 21일 (토) 오후 3시 5분": "2019-12-21 15:05",
    "19년 12월 21일": "2019-12-21",
    "2019.12.21": "2019-12-21",
    "2019. 12. 21.": "2019-12-21",
    "19.12.21": "2019-12-21",
    "2019.12.21(토) 15:05": "2019-12-21 15:05",
    "2019. 12. 21. 오후 3:05": "2019-12-21 15:05",
    "2019-12-21": "2019-12-21",
    "2019/12/21 15:05": "2019-12-21 15:05",
    "2019-12-21 15:05:07.5": "2019-12-21 15:05:07.5",
    "2019-12-21T15:05:00+09:00": "2019-12-21 06:05",
    "2019-12-21T15:05:00Z": "2019-12-21 15:05",
    "12/21/2019": "2019-12-21",
    "21/12/2019": "2019-12-21",
    "Dec 21, 2019": "2019-12-21",
    "21 December 2019 3:05 PM": "2019-12-21 15:05",
    "20191221": "2019-12-21",
    "201912211505": "2019-12-21 15:05",
    "43820": "2019-12-21",
    "43820.5": "2019-12-21 12:00",
    "1576940700": "2019-12-21 15:05",
    "1576940700000": "2019-12-21 15:05",
    "１２월 ２１일": "2019-12-21",
    # relative to REFERENCE, and a date without its year: the latest such date not after it
    "3일 전": "2020-06-12 12:00",
    "2시간 전": "2020-06-15 10:00",
    "5분전": "2020-06-15 11:55",
    "어제": "2020-06-14 12:00",
    "방금": "2020-06-15 12:00",
    "방금 전": "2020-06-15 12:00",
    "일주일 전": "2020-06-08 12:00",
    "한 달 전": "2020-05-16 12:00",
    "1년 전": "2019-06-16 12:00",
    "5 days ago": "2020-06-10 12:00",
    "12월 21일": "2019-12-21",
    "6월 1일": "2020-06-01",
}
RELATIVE = (
    "3일 전",
    "2시간 전",
    "5분전",
    "어제",
    "방금",
    "방금 전",
    "일주일 전",
    "한 달 전",
    "1년 전",
    "5 days ago",
    "12월 21일",
    "6월 1일",
    "１２월 ２１일",
)


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' "Could not infer format" and friends fail the test
        yield


def test_every_form_is_read():
    written = list(EXPECTED)
    result = parse_times(pd.Series(written * 3), reference=REFERENCE)  # repeated: read once per distinct value
    got = result.times.iloc[: len(written)]
    for value, stamp in zip(written, got):
        assert stamp == pd.Timestamp(EXPECTED[value]), value
    assert result.unreadable == 0 and result.empty == 0 and result.example is None
    assert result.relative == 3 * len(RELATIVE)
    assert result.forms["Korean (2019년 12월 21일)"] > 0 and result.forms["relative"] > 0


def test_unreadable_values_are_counted_with_an_example():
    values = pd.Series(["2019.12.21", "알 수 없음", "2019.13.45", "2019.02.30", "", None, "  ", "3일 전", "1분기"])
    result = parse_times(values)  # no reference: relative values cannot be read
    assert result.times.notna().tolist() == [True] + [False] * 8
    assert result.empty == 3 and result.unreadable == 5 and result.example == "알 수 없음"
    assert result.problem() == "5 values could not be read as a date or time (e.g. '알 수 없음')"
    assert parse_times(pd.Series(["2019.12.21"])).problem() is None


def test_numbers_and_datetime_cells():
    stamps = parse_times(pd.Series([1714521600, 1714521600_000, 43820, 20191221, 3, -5])).times
    assert stamps.iloc[:4].tolist() == [
        pd.Timestamp("2024-05-01"),
        pd.Timestamp("2024-05-01"),
        pd.Timestamp("2019-12-21"),
        pd.Timestamp("2019-12-21"),
    ]
    assert stamps.iloc[4:].isna().all()  # small numbers are no dates
    cells = pd.Series(
        [
            dt.datetime(2020, 1, 1, 5),
            dt.date(2020, 1, 2),
            "2020-01-03",
            pd.Timestamp("2020-01-04 00:00", tz="Asia/Seoul"),
        ],
        dtype=object,
    )  # an Excel column
    assert parse_times(cells).times.tolist() == [
        pd.Timestamp("2020-01-01 05:00"),
        pd.Timestamp("2020-01-02"),
        pd.Timestamp("2020-01-03"),
        pd.Timestamp("2020-01-03 15:00"),
    ]
    typed = pd.Series(pd.to_datetime(["2020-01-01 09:00"]).tz_localize("Asia/Seoul"))
    assert parse_times(typed).times.tolist() == [pd.Timestamp("2020-01-01 00:00")]


def test_reference_time(tmp_path):
    assert parse_reference("2024년 5월 1일 오후 1:45") == pd.Timestamp("2024-05-01 13:45")
    with pytest.raises(DataError, match=r"--time-reference 'soon' is not a date or time; give one such as"):
        parse_reference("soon")
    path = tmp_path / "f.csv"
    path.write_text("x\n")
    stamp = dt.datetime(2021, 3, 4, 5, 6, 7).timestamp()
    import os

    os.utime(path, (stamp, stamp))
    assert file_reference(path) == pd.Timestamp("2021-03-04 05:06:07")


def test_a_million_rows_in_seconds():
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540, 1_000_000), unit="D")
    korean = pd.Series(days.strftime("%Y년 %m월 %d일"))
    started = time.perf_counter()
    result = parse_times(korean)
    assert time.perf_counter() - started < 10  # ~0.2 s on an idle core
    assert result.unreadable == 0 and (result.times == days).all()
    minutes = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540 * 1440, 50_000), unit="min")
    written = pd.Series(
        minutes.strftime("%Y. %m. %d. ")
        + np.where(minutes.hour < 12, "오전 ", "오후 ")
        + ((minutes.hour + 11) % 12 + 1).astype(str)
        + minutes.strftime(":%M")
    )
    started = time.perf_counter()
    result = parse_times(written)  # 50,000 distinct values, each parsed
    assert time.perf_counter() - started < 10
    assert (result.times == minutes).all()
