"""Reading a column of dates and times as written in Korean comment exports.

:func:`parse_times` reads, vectorized over the distinct values of a column:

* Korean dates: ``2019년 12월 21일``, ``2019년 12월 21일 (토) 오후 3:05``, ``12월 21일`` (year from the reference
  time: the latest such date not after it), ``19년 12월 21일 15시 5분``;
* dotted, slashed and dashed dates, year first: ``2019.12.21``, ``2019. 12. 21.``, ``19.12.21``, ``2019/12/21``,
  ISO 8601 (``2019-12-21``, ``2019-12-21T15:05:00+09:00``, ``...Z``), each with an optional time
  (``15:05``, ``15:05:07.123``, ``오후 3:05``, ``3:05 PM``) and zone (``Z``, ``UTC``, ``KST``, ``+09:00``);
  month/day/year ``12/21/2019`` (day/month/year when the first number is over 12);
* English month names: ``Dec 21, 2019``, ``21 December 2019 15:05``;
* numbers (numeric cells or digit strings): ``20191221`` (YYYYMMDD, also with HHMM or HHMMSS), Excel serial
  dates (days since 1899-12-30, e.g. ``43820`` or ``43820.63``), Unix epoch seconds, milliseconds,
  microseconds or nanoseconds (told apart by magnitude);
* relative times, counted back from a reference time: ``방금``, ``방금 전``, ``지금``, ``오늘``, ``어제``,
  ``그저께``, ``3일 전``, ``2시간 전``, ``5분 전``, ``1주 전``, ``일주일 전``, ``한 달 전``, ``2개월 전``, ``1년 전``
  (a month is 30 days, a year 365), ``3 days ago``, ``yesterday``, ``just now``;
* datetime cells (Excel, Parquet), kept as they are.

Times with a zone are converted to UTC; times without one are kept as written. Values whose year falls outside
1900-2200 are unreadable. Nothing here prints a warning: pandas is never asked to guess a format.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

MIN_YEAR, MAX_YEAR = 1900, 2200
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DAY_NS = 86_400 * 10**9

_TIME = (
    r"(?:(?:\s*[T ,]\s*|\s+)(?:(?P<ap1>오전|오후|새벽|밤|[AaPp]\.?[Mm]\.?)\s*)?(?P<H>\d{1,2})\s*(?::|시)\s*"
    r"(?:(?P<M>\d{1,2})\s*분?)?(?:\s*:\s*(?P<S>\d{1,2})(?:[.,](?P<F>\d{1,9}))?|\s*(?P<S2>\d{1,2})\s*초)?"
    r"\s*(?P<ap2>[AaPp]\.?[Mm]\.?|오전|오후)?\s*(?P<tz>Z|UTC|GMT|KST|JST|[+-]\d{2}:?\d{2})?)?"
)
_WEEKDAY = r"(?:\s*\(?\s*(?:[월화수목금토일](?:요일)?|Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?\s*\)?)?"
_END = r"\.?\s*$"
PATTERNS = {
    "year first (2019.12.21, 2019-12-21, ISO 8601)": re.compile(
        r"^(?P<y>\d{4}|\d{2})\s*(?P<sep>[-./])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})\.?"
        + _WEEKDAY
        + _TIME
        + _END
    ),
    "Korean (2019년 12월 21일)": re.compile(
        r"^(?:(?P<y>\d{4}|\d{2})\s*년\s*)?(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일" + _WEEKDAY + _TIME + _END
    ),
    "month first (12/21/2019)": re.compile(
        r"^(?P<a>\d{1,2})\s*(?P<sep>[-./])\s*(?P<b>\d{1,2})\s*(?P=sep)\s*(?P<y>\d{4})" + _TIME + _END
    ),
    "month name (Dec 21, 2019)": re.compile(
        r"^(?:[A-Za-z]{3,9},?\s+)?(?:(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?|"
        r"(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon2>[A-Za-z]{3,9})\.?),?\s+(?P<y>\d{4})" + _TIME + _END
    ),
}
MONTHS = {
    name: i
    for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_RELATIVE = re.compile(
    r"^(?:약\s*)?(?P<n>\d+|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|an?|one)\s*"
    r"(?P<u>초|분|시간|일|주일?|개월|달|년|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|"
    r"weeks?|months?|years?)\s*(?:전|ago)\s*$",
    re.IGNORECASE,
)
_RELATIVE_WORDS = {
    "방금": 0,
    "방금 전": 0,
    "방금전": 0,
    "지금": 0,
    "now": 0,
    "just now": 0,
    "오늘": 0,
    "today": 0,
    "어제": 1,
    "yesterday": 1,
    "그제": 2,
    "그저께": 2,
    "엊그제": 2,
    "일주일 전": 7,
    "일주일전": 7,
}
_NUMBER_WORDS = {
    "한": 1,
    "두": 2,
    "세": 3,
    "네": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
    "열": 10,
    "a": 1,
    "an": 1,
    "one": 1,
}
_UNIT_SECONDS = {
    "초": 1,
    "분": 60,
    "시간": 3600,
    "일": 86_400,
    "주": 604_800,
    "주일": 604_800,
    "개월": 2_592_000,
    "달": 2_592_000,
    "년": 31_536_000,
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "hr": 3600,
    "hour": 3600,
    "day": 86_400,
    "week": 604_800,
    "month": 2_592_000,
    "year": 31_536_000,
}
_ZONES = {"Z": 0, "UTC": 0, "GMT": 0, "KST": 540, "JST": 540}
FORM_NAMES = {"year": "year first (2019.12.21, 2019-12-21, ISO 8601)", "korean": "Korean (2019년 12월 21일)"}
# Common forms read first with explicit formats (pandas' compiled strptime: ~1 s per million values); the
# regular expressions of PATTERNS read the rest value by value.
FAST_FORMATS = (
    ("year", "ISO8601"),
    ("korean", "%Y년 %m월 %d일"),
    ("korean", "%Y년 %m월 %d일 %p %I:%M"),
    ("korean", "%Y년 %m월 %d일 %H:%M"),
    ("korean", "%Y년 %m월 %d일 %p %I:%M:%S"),
    ("korean", "%Y년 %m월 %d일 %H:%M:%S"),
    ("year", "%Y.%m.%d"),
    ("year", "%Y.%m.%d."),
    ("year", "%Y. %m. %d."),
    ("year", "%Y.%m.%d %H:%M"),
    ("year", "%Y.%m.%d %H:%M:%S"),
    ("year", "%Y. %m. %d. %p %I:%M"),
    ("year", "%Y. %m. %d. %p %I:%M:%S"),
    ("year", "%y.%m.%d"),
    ("year", "%Y/%m/%d"),
    ("year", "%Y/%m/%d %H:%M"),
    ("year", "%Y/%m/%d %H:%M:%S"),
)
FAST_SAMPLE = 500
_DIGITS = re.compile(r"^\d{1,19}(?:\.\d+)?$")


@dataclass
class ParsedTimes:
    """What :func:`parse_times` read: the times (naive datetime64, NaT where unreadable or empty) and counts."""

    times: pd.Series
    unreadable: int = 0  # non-empty values that are no date or time this module reads
    example: str | None = None  # one of them, as written
    empty: int = 0
    relative: int = 0  # values read against the reference time (3일 전, 어제, a date without a year)
    reference: pd.Timestamp | None = None
    forms: dict[str, int] = field(default_factory=dict)  # values read per form (the keys of PATTERNS, ...)

    @property
    def readable(self) -> int:
        return int(self.times.notna().sum())

    def problem(self) -> str | None:
        """'N values could not be read as a date or time (e.g. 'x')', or None when every value was read."""
        if not self.unreadable:
            return None
        return (
            f"{self.unreadable:,} value{'s' if self.unreadable != 1 else ''} could not be read as a date or time "
            f"(e.g. {self.example!r})"
        )


def parse_times(values: pd.Series | list | np.ndarray, reference: Any = None) -> ParsedTimes:
    """Read every value of ``values`` as a date/time (see the module docstring); vectorized over distinct values.

    ``reference``: the time relative values (``3일 전``) count back from and the year of dates written without
    one; without it those values are unreadable.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    ref = None if reference is None else _naive(pd.Timestamp(reference))
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        times = _naive_series(series)
        return ParsedTimes(
            times, empty=int(times.isna().sum()), reference=ref, forms={"datetime": int(times.notna().sum())}
        )
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    parsed, form, relative = _parse_unique(np.asarray(uniques, dtype=object), ref)
    ns = parsed.view("int64")
    valid = codes >= 0
    out = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[valid] = parsed[codes[valid]]
    times = pd.Series(out, index=series.index, name=series.name)
    blank_unique = np.zeros(len(uniques), dtype=bool)  # blank strings count as empty, not unreadable
    if not pd.api.types.is_numeric_dtype(uniques.dtype):
        objects = np.asarray(uniques, dtype=object)
        is_str = (
            np.array([isinstance(v, str) for v in objects], dtype=bool)
            if (pd.api.types.infer_dtype(objects, skipna=False) != "string")
            else np.ones(len(objects), dtype=bool)
        )
        blank_unique[is_str] = _stripped(objects[is_str]).eq("").to_numpy(dtype=bool)
    counts = np.bincount(codes[valid], minlength=len(uniques))
    empty = int((~valid).sum() + counts[blank_unique].sum())
    bad_unique = (ns == np.iinfo(np.int64).min) & ~blank_unique
    unreadable = int(counts[bad_unique].sum())
    example = None
    if unreadable:
        first = int(np.flatnonzero(bad_unique)[0])
        example = str(uniques[first])
    forms: dict[str, int] = {}
    for name in pd.unique(form[form != ""]):
        forms[str(name)] = int(counts[form == name].sum())
    return ParsedTimes(times, unreadable, example, empty, int(counts[relative].sum()), ref, forms)


def parse_reference(text: str, option: str = "--time-reference") -> pd.Timestamp:
    """A reference time given by the user (any absolute form :func:`parse_times` reads), else a DataError."""
    result = parse_times(pd.Series([str(text)]))
    if result.times.isna().all():
        raise DataError(
            f"{option} {text!r} is not a date or time; give one such as 2024-05-01, "
            f"'2024-05-01 13:45' or '2024년 5월 1일 오후 1:45'"
        )
    return result.times.iloc[0]


def file_reference(path: str | Path) -> pd.Timestamp:
    """The file's modification time, in the machine's local time zone (naive): the default reference time."""
    return pd.Timestamp(datetime.fromtimestamp(os.stat(path).st_mtime)).floor("s")


# -- internals --------------------------------------------------------------------
def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _naive_series(series: pd.Series) -> pd.Series:
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ns]")


def _parse_unique(values: np.ndarray, ref: pd.Timestamp | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values -> (datetime64[ns] with NaT, form name per value ('' if unread), relative flags)."""
    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    form = np.full(n, "", dtype=object)
    relative = np.zeros(n, dtype=bool)
    inferred = pd.api.types.infer_dtype(values, skipna=False) if n else "empty"
    if inferred == "string":
        kinds = np.full(n, "str", dtype=object)
    elif inferred in ("integer", "floating", "mixed-integer-float"):
        kinds = np.where(np.isfinite(values.astype(float)), "number", "other").astype(object)
    else:
        kinds = np.array([_kind(v) for v in values], dtype=object)
    stamps = np.flatnonzero(kinds == "datetime")
    if len(stamps):
        parsed = pd.to_datetime(pd.Series(values[stamps], dtype=object), errors="coerce", utc=True)
        out[stamps] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        form[stamps] = "datetime"
    numbers = np.flatnonzero(kinds == "number")
    if len(numbers):
        out[numbers], form[numbers] = _from_numbers(np.array(values[numbers], dtype=float), digits=None)
    strings = np.flatnonzero(kinds == "str")
    if len(strings):
        text = _stripped(values[strings])
        if re.search("[\u3000\uff00-\uffef]", "".join(text.iloc[:1000])):  # full-width digits, ideographic space
            import pyarrow.compute as pc

            text = pd.Series(pc.utf8_normalize(pa_strings(text), "NFKC").to_numpy(zero_copy_only=False), dtype=object)
        parsed, names, rel = _from_strings(text.reset_index(drop=True), ref)
        out[strings], form[strings], relative[strings] = parsed, names, rel
    # out of range: unreadable
    ns = out.view("int64")
    bad = (ns != np.iinfo(np.int64).min) & (
        (out < np.datetime64(f"{MIN_YEAR}-01-01")) | (out >= np.datetime64(f"{MAX_YEAR + 1}-01-01"))
    )
    out[bad] = np.datetime64("NaT")
    form[bad] = ""
    relative[bad] = False
    return out, form, relative


def pa_strings(values: pd.Series | np.ndarray) -> Any:
    """A pyarrow string array of string values (vectorized string functions in C++)."""
    import pyarrow as pa

    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _stripped(values: np.ndarray) -> pd.Series:
    """String values without surrounding whitespace, as an object Series (pyarrow's trim: no Python loop)."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(pa_strings(values))
    return pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, (bool, np.bool_)):
        return "other"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number" if np.isfinite(value) else "other"
    if isinstance(value, (datetime, date, pd.Timestamp, np.datetime64)):
        return "datetime"
    return "other"


def _from_numbers(x: np.ndarray, digits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Numbers by magnitude: YYYYMMDD[HHMM[SS]], Excel serial days, epoch s/ms/us/ns."""
    out = np.full(len(x), np.datetime64("NaT"), dtype="datetime64[ns]")
    form = np.full(len(x), "", dtype=object)
    whole = x == np.floor(x)
    ndigits = digits if digits is not None else np.where(whole & (x > 0), np.floor(np.log10(np.maximum(x, 1))) + 1, 0)
    for width, name in ((8, "YYYYMMDD"), (12, "YYYYMMDDHHMM"), (14, "YYYYMMDDHHMMSS")):
        mask = whole & (ndigits == width)
        if width == 12:  # 12 digits: YYYYMMDDHHMM when it starts like a year 1900-2200, else epoch milliseconds
            mask &= (x >= 1.9e11) & (x < 2.2e11)
        if not mask.any():
            continue
        v = x[mask].astype(np.int64)
        scale = 10 ** (width - 8)
        day, rest = v // scale, v % scale
        parts = {"year": day // 10_000, "month": day // 100 % 100, "day": day % 100}
        if width >= 12:
            sec = rest % 100 if width == 14 else np.zeros_like(rest)
            hm = rest // 100 if width == 14 else rest
            parts.update(hour=hm // 100, minute=hm % 100, second=sec)
        stamps = _assemble(parts)
        out[mask], form[mask] = stamps, np.where(np.isnat(stamps), "", name)
    stamp_like = (ndigits == 8) | (ndigits == 14) | ((ndigits == 12) & (x >= 1.9e11) & (x < 2.2e11))
    todo = np.isnat(out) & ~(whole & stamp_like)  # an impossible YYYYMMDD is no epoch time either
    ranges = (
        ("Excel serial date", 2e4, 1e5, None),
        ("epoch seconds", 1e8, 1e10, 10**9),
        ("epoch milliseconds", 1e11, 1e13, 10**6),
        ("epoch microseconds", 1e14, 1e16, 10**3),
        ("epoch nanoseconds", 1e17, 1e19, 1),
    )
    for name, lo, hi, ns_per in ranges:
        mask = todo & (x >= lo) & (x < hi)
        if not mask.any():
            continue
        if ns_per is None:
            ns = EXCEL_EPOCH.value + np.round(x[mask] * DAY_NS / 10**9).astype(np.int64) * 10**9
        else:
            ns = (x[mask] * ns_per).astype(np.int64) if ns_per > 1 else x[mask].astype(np.int64)
        out[mask] = ns.astype("datetime64[ns]")
        form[mask] = name
    return out, form


def _assemble(parts: dict[str, Any]) -> np.ndarray:
    """datetime64[ns] from year/month/day[/hour/minute/second/ns/offset minutes] arrays; NaT where invalid."""
    frame = pd.DataFrame(
        {
            k: pd.to_numeric(pd.Series(np.asarray(v)), errors="coerce")
            for k, v in parts.items()
            if k in ("year", "month", "day", "hour", "minute", "second")
        }
    )
    ok = frame.notna().all(axis=1)
    ok &= frame["month"].between(1, 12) & frame["day"].between(1, 31) & frame["year"].between(MIN_YEAR, MAX_YEAR)
    for unit, top in (("hour", 23), ("minute", 59), ("second", 59)):
        if unit in frame:
            ok &= frame[unit].between(0, top)
    out = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    if ok.any():
        good = frame[ok].astype("int64")
        stamps = pd.to_datetime(good, errors="coerce").to_numpy(dtype="datetime64[ns]")  # Feb 30 -> NaT
        extra = np.zeros(len(good), dtype=np.int64)
        if "ns" in parts:
            extra += np.asarray(parts["ns"], dtype=np.int64)[ok.to_numpy()]
        if "offset" in parts:
            extra -= np.asarray(parts["offset"], dtype=np.int64)[ok.to_numpy()] * 60 * 10**9
        valid = ~np.isnat(stamps)
        stamps[valid] = (stamps[valid].view("int64") + extra[valid]).view("datetime64[ns]")
        out[ok.to_numpy()] = stamps
    return out


def _from_strings(text: pd.Series, ref: pd.Timestamp | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(text)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    form = np.full(n, "", dtype=object)
    relative = np.zeros(n, dtype=bool)
    import pyarrow.compute as pc

    digits = pc.match_substring_regex(pa_strings(text), _DIGITS.pattern).to_numpy(zero_copy_only=False)
    if digits.any():
        body = text[digits].str.split(".", n=1).str[0]
        out[digits], form[digits] = _from_numbers(
            pd.to_numeric(text[digits]).to_numpy(dtype=float), digits=body.str.len().to_numpy()
        )
    todo = ~digits
    _fast(text, todo, out, form)
    for name, pattern in PATTERNS.items():
        if not todo.any():
            break
        rest = text[todo]
        found = rest.str.extract(pattern)
        hit = found.notna().any(axis=1)
        if not hit.any():
            continue
        found = found[hit.to_numpy()]
        stamps, rel = _components(name, found, ref)
        where = np.flatnonzero(todo)[hit.to_numpy()]
        out[where], relative[where] = stamps, rel & ~np.isnat(stamps)
        form[where] = np.where(np.isnat(stamps), "", name)
        todo[where] = np.isnat(stamps)  # a match that is no valid date (month 13) may be another form
    if todo.any() and ref is not None:
        stamps = _relative(text[todo], ref)
        where = np.flatnonzero(todo)
        read = ~np.isnat(stamps)
        out[where[read]], form[where[read]], relative[where[read]] = stamps[read], "relative", True
    return out, form, relative


def _fast(text: pd.Series, todo: np.ndarray, out: np.ndarray, form: np.ndarray) -> None:
    """Read the values of ``text`` still ``todo`` in the FAST_FORMATS that a sample of them uses (in place)."""
    if todo.sum() < 2 * FAST_SAMPLE:
        return  # few values: the patterns are as fast
    rest = text[todo]
    variants = [
        (family, fmt.replace("%p", word), half)
        for family, fmt in FAST_FORMATS
        for word, half in ((("오전", "am"), ("오후", "pm")) if "%p" in fmt else (("", ""),))
    ]
    for family, fmt, half in variants:
        if not len(rest):
            break
        if _to_datetime(rest.iloc[:FAST_SAMPLE], fmt).isna().all():
            continue
        stamps = _to_datetime(rest, fmt)
        read = stamps.notna().to_numpy()
        stamps = stamps[read]
        if half:  # %I read 12 as 12: 오전 12:30 is 00:30, 오후 3:05 is 15:05
            noon = stamps.dt.hour == 12
            shift = (noon if half == "am" else ~noon).to_numpy() * (-12 if half == "am" else 12)
            stamps = stamps + pd.to_timedelta(shift, unit="h")
        where = np.flatnonzero(todo)[read]
        out[where] = stamps.to_numpy(dtype="datetime64[ns]")
        form[where] = FORM_NAMES[family]
        todo[where] = False
        rest = rest[~read]


def _to_datetime(values: pd.Series, fmt: str) -> pd.Series:
    """``values`` read with one explicit format (no guessing, no warning), naive (UTC where zoned), NaT else."""
    if fmt == "ISO8601":
        stamps = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
        return stamps.dt.tz_localize(None).astype("datetime64[ns]")
    import pyarrow.compute as pc

    # Arrow's strptime (C++, ~30x pandas') rolls impossible days over (Feb 30 -> Mar 2): values that land on
    # day 1-3 are read again by pandas, which refuses them.
    parsed = pc.strptime(pa_strings(values), format=fmt, unit="ns", error_is_null=True)
    stamps = pd.Series(parsed.to_numpy(zero_copy_only=False), index=values.index).astype("datetime64[ns]")
    check = (stamps.dt.day <= 3).to_numpy()
    if check.any():
        stamps[check] = pd.to_datetime(values[check], format=fmt, errors="coerce").astype("datetime64[ns]")
    return stamps


def _components(name: str, found: pd.DataFrame, ref: pd.Timestamp | None) -> tuple[np.ndarray, np.ndarray]:
    num = {
        c: pd.to_numeric(found[c], errors="coerce")
        for c in found.columns
        if c not in ("sep", "ap1", "ap2", "tz", "mon", "mon2", "F")
    }
    relative = np.zeros(len(found), dtype=bool)
    if name.startswith("month first"):
        a, b = num["a"], num["b"]
        day_first = a > 12
        month, day, year = a.where(~day_first, b), b.where(~day_first, a), num["y"]
    elif name.startswith("month name"):
        month_name = found["mon"].fillna(found["mon2"]).str[:3].str.lower()
        month, day, year = month_name.map(MONTHS), num["d"].fillna(num["d2"]), num["y"]
    else:
        month, day, year = num["m"], num["d"], num["y"]
        no_year = year.isna()
        if no_year.any():  # 12월 21일: the latest such date not after the reference time
            relative = no_year.to_numpy()
            if ref is not None:
                this = pd.Series(ref.year, index=year.index, dtype=float)
                later = (month > ref.month) | ((month == ref.month) & (day > ref.day))
                year = year.where(~no_year, this - later.astype(float))
    year = year.where(year >= 100, year + np.where(year < 70, 2000, 1900))  # two-digit years: 1970-2069
    hour = num["H"].fillna(0)
    ampm = found["ap1"].fillna(found["ap2"]).fillna("").str.upper().str.replace(".", "", regex=False)
    pm = ampm.isin(["오후", "PM", "밤"]) & (hour < 12)
    am = ampm.isin(["오전", "AM", "새벽"]) & (hour == 12)
    hour = hour + 12 * pm - 12 * am
    second = num["S"].fillna(num["S2"]).fillna(0)
    fraction = found["F"].fillna("").str.ljust(9, "0").str[:9]
    ns = pd.to_numeric(fraction.where(fraction != "", "0")).astype("int64")
    zone = found["tz"].fillna("")
    offset = zone.map(_ZONES)
    signed = zone.str.fullmatch(r"[+-]\d{2}:?\d{2}")
    if signed.any():
        z = zone[signed].str.replace(":", "", regex=False)
        sign = np.where(z.str[0] == "-", -1, 1)
        offset[signed] = sign * (z.str[1:3].astype(int) * 60 + z.str[3:5].astype(int))
    offset = offset.fillna(0).astype("int64")
    stamps = _assemble(
        {
            "year": year,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": num["M"].fillna(0),
            "second": second,
            "ns": ns.to_numpy(),
            "offset": offset.to_numpy(),
        }
    )
    return stamps, relative


def _relative(text: pd.Series, ref: pd.Timestamp) -> np.ndarray:
    """'3일 전', '2 hours ago', '어제', '방금' -> the reference time minus that much; NaT otherwise."""
    lowered = text.str.lower().str.replace(r"\s+", " ", regex=True)
    seconds = lowered.map(_RELATIVE_WORDS).astype(float) * 86_400
    found = lowered.str.extract(_RELATIVE)
    hit = found["n"].notna() & seconds.isna()
    if hit.any():
        count = found.loc[hit, "n"].map(lambda v: _NUMBER_WORDS.get(v, v)).astype(float)
        unit = found.loc[hit, "u"].str.lower().str.rstrip("s").map(lambda u: _UNIT_SECONDS.get(u, np.nan))
        seconds[hit] = count * unit.astype(float)
    seconds = seconds.to_numpy(dtype=float)
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    read = ~np.isnan(seconds)
    out[read] = (ref.value - seconds[read].astype(np.int64) * 10**9).view("datetime64[ns]")
    return out


def describe(parsed: ParsedTimes) -> str:
    """The forms read, most common first, e.g. 'Korean (2019년 12월 21일): 53; relative: 4'."""
    return "; ".join(f"{name}: {count:,}" for name, count in sorted(parsed.forms.items(), key=lambda kv: -kv[1]))


__all__ = ["ParsedTimes", "parse_times", "parse_reference", "file_reference", "describe", "PATTERNS"]
