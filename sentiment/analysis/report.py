"""``sentiment report``: one self-contained HTML page about a scored file.

Reads the output of ``sentiment score`` (columns ``status``, ``pred_label``,
``prob_<label>``, possibly with a ``--column-prefix``) and writes one HTML file
with no external resource (charts are inline PNG, the page's Korean font is
an inline subset of NanumGothic, there is no script), with:

* overview: counts, share per label, rows by status, distribution of P(positive); the share positive
  corrected with audit labels when given (:mod:`sentiment.analysis.shares`), else marked as the model's count;
* by group (``group_by``): share positive with 95% Wilson intervals, top groups by volume;
* over time (``time_column``): share positive and volume per day, week or month
  (chosen from the span), per group when both are given;
* what drives it: morphemes over-represented in positive against negative comments
  (weighted log-odds with an informative Dirichlet prior, Monroe et al. 2008),
  overall and per group, with example comments;
* comments to read first: the most confident negatives and the least certain
  comments, their morphemes highlighted by :mod:`sentiment.analysis.explain`.

Every aggregate uses every row; the morpheme statistics tokenize a random
sample (``sample`` rows, default 20,000) and the examples come from it.
The statistics live in :mod:`sentiment.analysis.report_stats`, the page's HTML in
:mod:`sentiment.analysis.report_html`.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.columns import TEXT_COLUMN_NAMES, choose_text_column
from ..io.decoding import detect_encoding
from ..io.readers import check_input, read_table, table_kind
from ..io.times import describe, file_reference, parse_reference, parse_times
from ..io.writers import atomic_target, check_output_file
from . import report_html as markup
from .report_stats import PERIODS, group_table, log_odds_z, period_of
from .shares import METHOD_MODEL, MIN_LABELS, ShareEstimate, corrected_share, group_shares, model_share

if TYPE_CHECKING:
    from ..model.fitted import FittedClassifier
    from .audit_sample import AuditLabels
    from .explain import Explanation

NEUTRAL = "#4d4d4d"
GROUP_COLOUR = "#5b8db8"
MAX_GROUP_PANELS = 6  # groups with their own drivers table / line in the time chart
MIN_PERIOD_ROWS = 10  # periods get coarser until the median one holds this many; sparser group points are not drawn
# Tags of content morphemes (MeCab/Komoran/Kkma Sejong-style tags, Okt tags) for the drivers.
CONTENT_TAGS = (
    "NN",
    "NP",
    "VV",
    "VA",
    "VX",
    "MAG",
    "MM",
    "XR",
    "IC",
    "SL",
    "SH",
    "SY",
    "UNKNOWN",
    "Noun",
    "Verb",
    "Adjective",
    "Adverb",
    "Exclamation",
    "KoreanParticle",
    "Alpha",
    "Foreign",
    "Unknown",
)


@dataclass
class ScoredData:
    """The columns of a scored file that the report reads, under fixed names."""

    path: str
    frame: pd.DataFrame  # status, pred, p (P(positive)), text, [group], [time]
    labels: list[str]
    positive: str
    columns: dict[str, str]  # role -> column name in the file
    read_seconds: float = 0.0
    time_reference: pd.Timestamp | None = None  # what relative times (3일 전, 어제) count back from
    time_reference_source: str = ""  # where it came from, for the page

    @property
    def ok(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] == "ok"]


@dataclass
class ShareFigures:
    """The share positive overall and per group: corrected with audit labels where there are enough."""

    overall: ShareEstimate
    groups: pd.DataFrame | None  # index: group; columns of ShareEstimate; largest group first
    audit: AuditLabels | None = None
    min_labels: int = MIN_LABELS

    def as_json(self) -> dict[str, Any]:
        """``{"share_positive": {...}, "groups": [...], "audit": {...} | None}``, shares as fractions."""
        groups = (
            []
            if self.groups is None
            else [{"group": str(g), **_finite(row.to_dict())} for g, row in self.groups.iterrows()]
        )
        audit = None
        if self.audit is not None:
            a = self.audit
            audit = {
                "file": a.path,
                "labels_used": a.used,
                "join": a.join,
                "sample_column": a.sample_column,
                "labeled_rows": a.labeled,
                "informative_left_out": a.not_audit,
                "unmatched": a.unmatched,
                "unscored": a.unscored,
                "min_labels": self.min_labels,
                "notes": a.notes,
            }
        return {"share_positive": _finite(self.overall.as_dict()), "groups": groups, "audit": audit}


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (no scored comments) as None, so that the JSON is valid; numpy numbers as Python numbers."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (float, np.floating)):
            value = None if not np.isfinite(value) else float(value)
        elif isinstance(value, np.integer):
            value = int(value)
        out[key] = value
    return out


def share_figures(data: ScoredData, audit: AuditLabels | None = None, min_labels: int = MIN_LABELS) -> ShareFigures:
    """Share positive of the scored comments, overall and per group, corrected by ``audit`` when given."""
    ok = data.ok
    decided = (ok["pred"] == data.positive).to_numpy()
    p = ok["p"].to_numpy(dtype=float)
    p = np.where(np.isnan(p), decided.astype(float), p)
    if audit is None:
        index, truth = np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
        overall = model_share(decided)
    else:
        index = ok.index.get_indexer(audit.positions)  # audit positions are scored rows, so all are found
        truth = audit.positive
        overall = corrected_share(p, decided, index, truth, min_labels=min_labels)
    groups = None
    if "group" in ok:
        groups = group_shares(p, decided, ok["group"].to_numpy(), index, truth, min_labels=min_labels)
    return ShareFigures(overall, groups, audit, min_labels)


@dataclass
class ReportSummary:
    output: str
    rows: int
    scored: int
    sample: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    shares: ShareFigures | None = None

    def lines(self) -> list[str]:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        lines = [f"rows: {self.rows:,} (scored: {self.scored:,}); morphemes from a sample of {self.sample:,}"]
        if self.shares is not None and self.shares.audit is not None:
            s = self.shares.overall
            lines.append(self.shares.audit.describe())
            if s.corrected:
                lines.append(
                    f"share positive {s.estimate:.1%} (95% interval {s.low:.1%} - {s.high:.1%}), corrected "
                    f"with {s.labels:,} labels; the model's count: {s.uncorrected:.1%}"
                )
            else:
                lines.append(
                    f"share positive not corrected: {s.labels:,} audit labels, at least "
                    f"{self.shares.min_labels} are needed (--min-labels)"
                )
        return lines + [f"elapsed: {self.seconds:.1f} s ({steps})", f"report: {self.output}"]


# -- reading --------------------------------------------------------------------------
def scored_columns(columns: list[str], path: str, prefix: str | None = None) -> tuple[str, list[str]]:
    """The column prefix of ``sentiment score``'s added columns and the labels of its ``prob_*`` columns."""
    names = [str(c) for c in columns]
    if prefix is None:
        prefixes = [c[: -len("pred_label")] for c in names if c.endswith("pred_label")]
        prefixes = [p for p in prefixes if f"{p}status" in names and any(c.startswith(f"{p}prob_") for c in names)]
        if len(prefixes) > 1:
            raise DataError(
                f"{path} holds the columns of several scoring runs (prefixes "
                f"{', '.join(repr(p) for p in prefixes)}); choose one with --column-prefix"
            )
        prefix = prefixes[0] if prefixes else ""
    labels = [c[len(f"{prefix}prob_") :] for c in names if c.startswith(f"{prefix}prob_")]
    missing = [c for c in (f"{prefix}status", f"{prefix}pred_label") if c not in names]
    if missing or len(labels) < 2:
        if len(labels) < 2:
            missing.append(f"{prefix}prob_<label> (one per class)")
        raise DataError(
            f"{path} is not the output of `sentiment score`: missing column(s) "
            f"{', '.join(map(repr, missing))}; columns found: {', '.join(map(repr, names))}. "
            f"Score the comments first (sentiment score FILE -o scored.csv), or pass --column-prefix "
            f"if they were scored with one"
        )
    return prefix, labels


def read_scored(
    path: str | Path,
    *,
    text_column: str | None = None,
    group_by: str | None = None,
    time_column: str | None = None,
    column_prefix: str | None = None,
    positive: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    time_reference: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> ScoredData:
    """Read only the columns the report needs (fast: pyarrow for CSV/TSV and Parquet), checking each one.

    ``time_reference``: the time relative values of the time column (``3일 전``, ``어제``) count back from;
    by default the file's modification time.
    """
    started = time.perf_counter()
    path = check_input(path)
    if time_reference is not None:
        reference, source = parse_reference(time_reference), "--time-reference"
    else:
        reference, source = file_reference(path), f"the modification time of {path.name}"
    kind, gz = table_kind(path)
    if kind == "delimited":  # decode-check the file once; both reads below use the encoding found
        encoding = detect_encoding(path, gz, encoding)
    header, head = _peek(path, sep, encoding)
    prefix, labels = scored_columns(header, str(path), column_prefix)
    if positive is None:
        positive = labels[-1]
    elif str(positive) not in labels:
        raise DataError(
            f"--positive {positive!r} is not a label of {path}; its labels (prob_* columns) are "
            f"{', '.join(map(repr, labels))}"
        )
    choice = choose_text_column({None: head.set_axis(header, axis=1)}, str(path), text_column, TEXT_COLUMN_NAMES)
    text = choice.column
    if text_column is None:
        log(choice.message())
    roles = {"status": f"{prefix}status", "pred": f"{prefix}pred_label", "p": f"{prefix}prob_{positive}", "text": text}
    for role, column, option in (("group", group_by, "--group-by"), ("time", time_column, "--time-column")):
        if column is not None:
            if column not in header:
                raise DataError(
                    f"{path}: no column {column!r} for {option}; columns found: {', '.join(map(repr, header))}"
                )
            roles[role] = column
    as_text = [roles[r] for r in ("status", "pred", "text", "group") if r in roles]
    raw = _read_columns(path, list(dict.fromkeys(roles.values())), as_text, sep, encoding)
    frame = pd.DataFrame({role: raw[column] for role, column in roles.items()})
    frame["status"] = _as_labels(frame["status"])
    frame["pred"] = _as_labels(frame["pred"])
    frame["p"] = pd.to_numeric(frame["p"], errors="coerce")
    if "group" in frame:
        frame["group"] = _as_labels(frame["group"]).replace("", "(missing)")
    return ScoredData(str(path), frame, labels, str(positive), roles, time.perf_counter() - started, reference, source)


def _peek(path: Path, sep: str | None, encoding: str | None) -> tuple[list[str], pd.DataFrame]:
    """Column names and the first rows (to guess the text column); ``encoding`` is resolved for delimited files."""
    kind, gz = table_kind(path)
    if kind == "delimited":
        head = pd.read_csv(
            path,
            sep=sep or _sep(path),
            encoding=encoding,
            nrows=200,
            dtype=str,
            quoting=3 if (sep or _sep(path)) == "\t" else 0,
            compression="gzip" if gz else None,
        )
    elif kind == "parquet":
        import pyarrow.parquet as pq

        head = next(pq.ParquetFile(path).iter_batches(batch_size=200)).to_pandas()
    else:
        head = read_table(path, sep=sep, encoding=encoding)[0].head(200)
    return [str(c) for c in head.columns], head


def _sep(path: Path) -> str:
    return "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"


def _as_labels(values: pd.Series) -> pd.Series:
    """Labels as strings as ``sentiment score`` wrote them: 1.0 (an integer column with gaps) as '1', missing as ''."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & (values == values.round())
        text = values.astype(object).where(~whole, values.where(whole, 0).astype("int64"))
        return text.where(values.notna(), "").astype(str)
    return values.fillna("").astype(str)


def _read_columns(
    path: Path, columns: list[str], as_text: list[str], sep: str | None, encoding: str | None
) -> pd.DataFrame:
    kind, gz = table_kind(path)
    if kind == "parquet":
        return pd.read_parquet(path, columns=columns)
    if kind != "delimited":
        return read_table(path, sep=sep, encoding=encoding)[0][columns]
    sep = sep or _sep(path)
    options = dict(sep=sep, usecols=columns, dtype={c: str for c in as_text}, compression="gzip" if gz else None)
    try:  # pyarrow skips a UTF-8 byte-order mark itself, and decodes plain UTF-8 without transcoding
        return pd.read_csv(path, engine="pyarrow", encoding="utf-8" if encoding == "utf-8-sig" else encoding, **options)
    except Exception:  # pyarrow refuses some quoting/multiline cases: the C parser reads everything
        return pd.read_csv(path, engine="c", encoding=encoding, quoting=3 if sep == "\t" else 0, **options)


# -- the report -------------------------------------------------------------------------
def write_report(
    data: ScoredData,
    clf: FittedClassifier,
    output: str | Path,
    *,
    top: int = 15,
    sample: int = 20_000,
    seed: int = 0,
    overwrite: bool = False,
    title: str | None = None,
    model_name: str = "default (packaged)",
    audit: AuditLabels | None = None,
    min_labels: int = MIN_LABELS,
    log: Callable[[str], None] = lambda msg: None,
) -> ReportSummary:
    """Compute every section and write the page atomically; returns what was done.

    ``audit``: labeled audit comments (:func:`sentiment.analysis.audit_sample.read_audit_labels`) that correct the share
    positive, overall and in each group with at least ``min_labels`` of them."""
    started = time.perf_counter()
    output = Path(output)
    check_report_options(output, overwrite, top, sample, min_labels)
    model_labels = [str(c) for c in clf.classes_.tolist()]
    if sorted(model_labels) != sorted(data.labels):
        raise DataError(
            f"{data.path} was scored with labels {data.labels}, but the model has {model_labels}; "
            f"pass the model used for scoring with --model"
        )
    timings = {"read": data.read_seconds}
    ok = data.ok
    sections: list[str] = []
    step = time.perf_counter()
    shares = share_figures(data, audit, min_labels)
    sections.append(_overview(data, shares))
    sample_size = 0
    if ok.empty:
        none = '<p class="note">No scored comments (status <code>ok</code>) in this file.</p>'
        sections += [markup.section(key, none) for key in ("groups", "time", "drivers", "read-first")]
    else:
        sections.append(_groups(data, top, shares))
        sections.append(_time(data, shares, log))
        timings["aggregates"] = time.perf_counter() - step
        step = time.perf_counter()
        drivers_html, sample_size = _drivers(data, clf, top, sample, seed, log)
        sections.append(drivers_html)
        timings["drivers"] = time.perf_counter() - step
        step = time.perf_counter()
        sections.append(_read_first(data, clf, top))
        timings["explanations"] = time.perf_counter() - step
    sections.append(_method(data, sample_size, model_name, shares))
    page_title = title or f"Sentiment report: {Path(data.path).name}"
    step = time.perf_counter()
    page = markup.render_page(
        page_title,
        sections,
        subtitle=f"{len(data.frame):,} rows, {len(ok):,} scored · model: "
        f"{model_name} · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    )
    timings["page"] = time.perf_counter() - step
    tmp = atomic_target(output)
    try:
        tmp.write_text(page, encoding="utf-8")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ReportSummary(
        str(output),
        len(data.frame),
        len(ok),
        sample_size,
        time.perf_counter() - started + data.read_seconds,
        timings,
        shares,
    )


def check_report_options(output: Path, overwrite: bool, top: int, sample: int, min_labels: int = MIN_LABELS) -> None:
    """Fail before any work if the report cannot be written where asked or an option is out of range."""
    check_output_file(output, overwrite, example="report.html")
    if top < 1:
        raise DataError(f"--top {top} is invalid; give a positive number of rows per ranking, e.g. 15")
    if sample < 1:
        raise DataError(f"--sample {sample} is invalid; give a positive number of comments, e.g. 20000")
    if min_labels < 3:
        raise DataError(
            f"--min-labels {min_labels} is invalid; a corrected share needs at least 3 audit labels "
            f"(default {MIN_LABELS})"
        )


def _label_name(data: ScoredData, label: str) -> str:
    if len(data.labels) == 2:
        return f"{'positive' if label == data.positive else 'negative'} ({label})"
    return label


def _overview(data: ScoredData, shares: ShareFigures) -> str:
    from .plotting import korean_plots, new_figure, png_data_uri

    frame, ok = data.frame, data.ok
    n_ok = len(ok)
    s = shares.overall
    pct = lambda v: f"{v:.1%}" if n_ok else "–"  # noqa: E731
    if s.corrected:
        cards = [
            ("rows", f"{len(frame):,}"),
            ("scored", f"{n_ok:,}"),
            ("share positive, corrected", pct(s.estimate)),
            ("95% interval (incl. model error)", f"{s.low:.1%} – {s.high:.1%}"),
            ("model's count (uncorrected)", pct(s.uncorrected)),
            ("labels used", f"{s.labels:,}"),
            ("mean P(positive)", f"{ok['p'].mean():.3f}"),
        ]
    else:
        cards = [
            ("rows", f"{len(frame):,}"),
            ("scored", f"{n_ok:,}"),
            ("share positive (model's count)", pct(s.estimate)),
            ("95% interval (sampling only)", f"{s.low:.1%} – {s.high:.1%}" if n_ok else "–"),
            ("mean P(positive)", f"{ok['p'].mean():.3f}" if n_ok else "–"),
        ]
    note = _share_note(shares)
    counts = ok["pred"].value_counts()
    label_rows = [
        [
            _label_name(data, label),
            f"{int(counts.get(label, 0)):,}",
            f"{counts.get(label, 0) / n_ok:.1%}" if n_ok else "–",
        ]
        for label in data.labels
    ]
    status = frame["status"].value_counts()
    status_rows = [[s, f"{int(c):,}", f"{c / len(frame):.1%}"] for s, c in status.items()]
    chart = ""
    if n_ok:
        counts_hist, edges = np.histogram(ok["p"].dropna().to_numpy(), bins=40, range=(0.0, 1.0))
        with korean_plots():
            fig = new_figure(8, 2.8)
            ax = fig.add_subplot()
            centres = (edges[:-1] + edges[1:]) / 2
            ax.bar(
                centres,
                counts_hist,
                width=edges[1] - edges[0],
                color=[_mix(c) for c in centres],
                edgecolor="white",
                linewidth=0.5,
            )
            ax.axvline(0.5, color=NEUTRAL, linestyle="--", linewidth=1)
            ax.set_xlim(0, 1)
            ax.set_xlabel(f"P({_label_name(data, data.positive)})")
            ax.set_ylabel("comments")
            ax.set_title("Distribution of the positive probability")
            ax.spines[["top", "right"]].set_visible(False)
            chart = markup.img(png_data_uri(fig), "histogram of the positive probability")
    body = (
        markup.cards(cards)
        + note
        + '<div class="row">'
        + markup.table(["predicted label", "comments", "share"], label_rows, "Share per label (the model's)")
        + markup.table(["status", "rows", "share"], status_rows, "Rows by status")
        + "</div>"
        + chart
    )
    if len(frame) > n_ok:
        body += (
            f'<p class="note">{len(frame) - n_ok:,} rows were not scored (status other than '
            f"<code>ok</code>: empty, missing or non-text comments); they are left out of every figure below.</p>"
        )
    return markup.section("overview", body)


def _share_note(shares: ShareFigures) -> str:
    """What the share positive is: corrected with audit labels (and how), or the model's count (and its risk)."""
    s, audit = shares.overall, shares.audit
    label_hint = (
        "label a few hundred comments drawn at random (<code>sentiment label COMMENTS -o labels.csv</code>, "
        "which draws an audit sample) and pass them with <code>--labeled labels.csv</code>"
    )
    if audit is None:
        return (
            '<p class="warn"><b>These counts are the model\'s.</b> They may be biased on comments unlike its '
            "training data (another domain, platform, product or year): there, a model that ranks comments well "
            "can still call a share of them wrongly, and the 95% intervals cover only sampling noise, not the "
            f"model's errors. To correct them, {label_hint}.</p>"
        )
    text = markup.esc(audit.describe())
    notes = "".join(f" {markup.esc(n[0].upper() + n[1:])}." for n in audit.notes)
    if not s.corrected:
        return (
            f'<p class="warn"><b>Not corrected:</b> {text}{notes} At least {shares.min_labels} audit labels are '
            f"needed to correct the share (<code>--min-labels</code>); the figures are the model's count. To "
            f"correct them, {label_hint}.</p>"
        )
    if not audit.sample_column:
        text += (
            " If they were not drawn uniformly at random from the scored comments (e.g. chosen because the "
            "model was unsure), the correction is biased."
        )
    return (
        f'<p class="ok">Share positive <b>corrected</b> with the labels of a random audit sample: {text}{notes} '
        f"The model calls {s.uncorrected:.1%} positive; the labels say it is {s.estimate:.1%} "
        f"({s.low:.1%} – {s.high:.1%}). The interval includes the model's errors measured on the labeled "
        "comments, not only sampling noise (method: How this was computed).</p>"
    )


def _groups(data: ScoredData, top: int, shares: ShareFigures) -> str:
    from .plotting import korean_plots, new_figure, png_data_uri

    if "group" not in data.frame:
        return markup.section(
            "groups",
            '<p class="note">Pass <code>--group-by COLUMN</code> (e.g. the product, app or '
            "channel) to compare groups.</p>",
        )
    table = shares.groups
    assert table is not None
    labeled = shares.audit is not None
    shown = table.head(top).sort_values("estimate", ascending=False)  # the table comes largest first
    note = (
        f"The {len(shown)} largest of {len(table):,} groups, sorted by share positive."
        if len(table) > len(shown)
        else f"All {len(table):,} groups, sorted by share positive."
    )
    if labeled:
        n_corrected = int((table["method"] != METHOD_MODEL).sum())
        note += (
            f" {n_corrected:,} of {len(table):,} groups had at least {shares.min_labels} audit labels and are "
            "corrected (interval including the model's errors)"
            + ("." if n_corrected == len(table) else "; the others show the model's count, marked <i>uncorrected</i>.")
        )
        rows = [
            [
                markup.esc(g),
                f"{int(r.comments):,}",
                f"{int(r.labels):,}",
                f"{r.uncorrected:.1%}",
                f"{r.estimate:.1%}",
                f"{r.low:.1%} – {r.high:.1%}",
                "corrected"
                if r.method != METHOD_MODEL
                else f'<span class="warn">uncorrected ({int(r.labels)} label{"s" if r.labels != 1 else ""})</span>',
            ]
            for g, r in shown.iterrows()
        ]
        header = ["group", "comments", "labels", "model's count", "share positive", "95% interval", ""]
    else:
        rows = [
            [markup.esc(g), f"{int(r.comments):,}", f"{r.estimate:.1%}", f"{r.low:.1%} – {r.high:.1%}"]
            for g, r in shown.iterrows()
        ]
        header = ["group", "comments", "share positive", "95% interval"]
    with korean_plots():
        fig = new_figure(8, 0.9 + 0.32 * len(shown))
        ax = fig.add_subplot()
        y = np.arange(len(shown))[::-1]
        corrected = (shown["method"] != METHOD_MODEL).to_numpy()
        colours = [GROUP_COLOUR if (c or not labeled) else "#c7c7c7" for c in corrected]
        ax.barh(y, shown["estimate"], color=colours, height=0.65)
        ax.errorbar(
            shown["estimate"],
            y,
            xerr=[shown["estimate"] - shown["low"], shown["high"] - shown["estimate"]],
            fmt="none",
            ecolor=NEUTRAL,
            capsize=3,
            linewidth=1,
        )
        if labeled:
            ax.scatter(shown["uncorrected"], y, marker="|", s=120, color="black", zorder=3, label="model's count")
        ax.set_yticks(y, [f"{_label(g)}  (n={int(n):,})" for g, n in zip(shown.index, shown["comments"])])
        overall = shares.overall.estimate
        ax.axvline(overall, color=NEUTRAL, linestyle="--", linewidth=1, label=f"all comments {overall:.1%}")
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(_percent())
        ax.set_xlabel(
            "share positive, corrected with audit labels (grey: uncorrected), 95% interval"
            if labeled
            else "share positive (the model's count, 95% Wilson interval)"
        )
        ax.legend(loc="lower right", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        chart = markup.img(png_data_uri(fig), "share positive per group")
    body = (
        f"<p>Column <code>{markup.esc(data.columns['group'])}</code>. {note}</p>" + chart + markup.table(header, rows)
    )
    return markup.section("groups", body)


def _time(data: ScoredData, shares: ShareFigures, log: Callable[[str], None] = lambda msg: None) -> str:
    from .plotting import korean_plots, new_figure, png_data_uri

    if "time" not in data.frame:
        return markup.section(
            "time",
            '<p class="note">Pass <code>--time-column COLUMN</code> (a date or time) to see sentiment over time.</p>',
        )
    ok = data.ok
    column = f"<code>{markup.esc(data.columns['time'])}</code>"
    parsed = parse_times(ok["time"], reference=data.time_reference)
    times = parsed.times
    readable = times.notna()
    n_bad = int((~readable).sum())
    problem = f" {markup.esc(parsed.problem())}." if parsed.unreadable else ""
    log(
        f"time column {data.columns['time']!r}: {parsed.readable:,} values read ({describe(parsed) or 'none'})"
        + (f"; {parsed.problem()}" if parsed.unreadable else "")
        + (
            f"; relative times counted back from {parsed.reference:%Y-%m-%d %H:%M} ({data.time_reference_source})"
            if parsed.relative
            else ""
        )
    )
    if not readable.any():
        return markup.section(
            "time",
            f'<p class="note">No value of column {column} could be read as a date or time '
            f"(forms read: 2019-12-21, 2019.12.21, 2019년 12월 21일 오후 3:05, 3일 전, Excel serial "
            f"dates, epoch seconds; see docs/report.md).{problem}</p>",
        )
    times = times[readable]
    unit = period_of(times.max() - times.min())
    while True:  # coarser periods while the typical one holds too few comments to say anything
        frame = ok[readable].assign(period=times.dt.to_period(PERIODS[unit]).dt.start_time)
        table = group_table(frame, data.positive, key="period").sort_index()
        if unit == "month" or table["n"].median() >= MIN_PERIOD_ROWS:
            break
        unit = {"day": "week", "week": "month"}[unit]
    with korean_plots():
        fig = new_figure(9, 4.2)
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        x = table.index
        ax.fill_between(
            x, table["lo"], table["hi"], color=markup.POSITIVE, alpha=0.15, linewidth=0, label="95% Wilson interval"
        )
        ax.plot(x, table["share"], color=markup.POSITIVE, marker="o", markersize=3, label="share positive")
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(_percent())
        ax.set_title(f"Share positive and volume per {unit}")
        ax.legend(loc="lower left", frameon=False, fontsize=8)
        width = {"day": 0.8, "week": 5.6, "month": 24}[unit]
        ax2.bar(x, table["n"], width=width, color="#8c8c8c")
        ax2.set_ylabel("comments")
        for a in (ax, ax2):
            a.spines[["top", "right"]].set_visible(False)
        fig.autofmt_xdate()
        charts = markup.img(png_data_uri(fig), f"share positive and volume per {unit}")
        if "group" in frame:
            groups = frame["group"].value_counts().index[:MAX_GROUP_PANELS]
            per = group_table(frame[frame["group"].isin(groups)], data.positive, key=["period", "group"])
            fig = new_figure(9, 3.4)
            ax = fig.add_subplot()
            for g in groups:
                line = per.xs(g, level="group").sort_index()
                line = line["share"].where(line["n"] >= MIN_PERIOD_ROWS)
                ax.plot(line.index, line.to_numpy(), marker="o", markersize=3, label=_label(g))
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(_percent())
            ax.set_title(
                f"Share positive per {unit}, {len(groups)} largest groups "
                f"(points with at least {MIN_PERIOD_ROWS} comments)"
            )
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            fig.autofmt_xdate()
            charts += markup.img(png_data_uri(fig), f"share positive per {unit} and group")
    fmt = "%Y-%m" if unit == "month" else "%Y-%m-%d"
    rows = [
        [
            f"{p:{fmt}}" + (" (week)" if unit == "week" else ""),
            f"{int(r.n):,}",
            f"{r.share:.1%}",
            f"{r.lo:.1%} – {r.hi:.1%}",
        ]
        for p, r in table.iterrows()
    ]
    note = (
        f" {n_bad:,} rows without a readable time are left out of this section"
        f"{' (' + markup.esc(parsed.problem()) + ')' if parsed.unreadable else ''}."
        if n_bad
        else ""
    )
    if parsed.relative:
        given = data.time_reference_source == "--time-reference"
        source = (
            "the time given with <code>--time-reference</code>"
            if given
            else f"{markup.esc(data.time_reference_source)} (give another with <code>--time-reference</code>)"
        )
        note += (
            f" {parsed.relative:,} relative times (such as 3일 전, 어제, or a date without a year) were "
            f"counted back from {parsed.reference:%Y-%m-%d %H:%M}, {source}."
        )
    if shares.audit is not None:
        note += " Shares per period are the model's counts (not corrected with the labels)."
    body = (
        f"<p>Column {column}, from {times.min():%Y-%m-%d} to "
        f"{times.max():%Y-%m-%d}: one point per {unit}.{note}</p>"
        + charts
        + "<details><summary>Table per "
        + unit
        + "</summary>"
        + markup.table([unit, "comments", "share positive", "95% interval"], rows)
        + "</details>"
    )
    return markup.section("time", body)


def _drivers(
    data: ScoredData, clf: FittedClassifier, top: int, sample: int, seed: int, log: Callable[[str], None]
) -> tuple[str, int]:
    """Weighted log-odds of morphemes in positive against negative comments, on a random sample."""
    from .plotting import korean_plots, new_figure, png_data_uri

    ok = data.ok
    rows = ok.sample(n=min(sample, len(ok)), random_state=seed) if len(ok) > sample else ok
    if rows.empty:
        return markup.section("drivers", '<p class="note">No scored comments.</p>'), 0
    log(f"report: tokenizing a sample of {len(rows):,} comments for the morpheme statistics")
    texts = rows["text"].astype(str).tolist()
    docs = [frozenset(token for token, tag in clf.tokenizer_.tagged(text) if _is_content(token, tag)) for text in texts]
    is_pos = (rows["pred"] == data.positive).to_numpy()
    groups = rows["group"].to_numpy() if "group" in rows else None
    total = Counter(token for doc in docs for token in doc)
    min_docs = max(3, round(len(docs) * 0.0005))
    vocab = sorted(t for t, c in total.items() if c >= min_docs)
    if not vocab or is_pos.all() or not is_pos.any():
        return markup.section(
            "drivers", '<p class="note">Too few comments on one side (positive or negative) to compare morphemes.</p>'
        ), len(rows)
    index = {t: i for i, t in enumerate(vocab)}
    background = np.array([total[t] for t in vocab], dtype=float)
    picker = _ExamplePicker(texts, docs, rows["p"].to_numpy(), is_pos, clf.tokenizer_)

    def ranking(mask: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        pos, neg = np.zeros(len(vocab)), np.zeros(len(vocab))
        for doc, p, m in zip(docs, is_pos, mask):
            if m:
                target = pos if p else neg
                for t in doc:
                    if t in index:
                        target[index[t]] += 1
        if pos.sum() == 0 or neg.sum() == 0:
            return None
        prior = background * (pos.sum() + neg.sum()) / background.sum()
        z = log_odds_z(pos, neg, prior)
        frame = pd.DataFrame({"token": vocab, "z": z, "pos": pos, "neg": neg})
        frame = frame[(frame["pos"] + frame["neg"]) > 0]
        return (frame[frame["z"] > 0].nlargest(top, "z"), frame[frame["z"] < 0].nsmallest(top, "z"))

    everything = np.ones(len(docs), dtype=bool)
    overall = ranking(everything)
    assert overall is not None
    with korean_plots():
        chart = markup.img(png_data_uri(_drivers_chart(new_figure, *overall, data)), "morphemes that drive sentiment")
    body = (
        "<p>Morphemes that appear in a larger share of positive than of negative comments (and the reverse), "
        f"ranked by the z-score of their weighted log-odds ratio; from a random sample of {len(rows):,} scored "
        f"comments, morphemes in at least {min_docs} of them. Each comes with one example.</p>"
        + chart
        + '<div class="row">'
        + _driver_table(overall[0], "More in positive comments", picker, True, everything)
        + _driver_table(overall[1], "More in negative comments", picker, False, everything)
        + "</div>"
    )
    if groups is not None:
        largest = pd.Series(groups).value_counts().index[: min(MAX_GROUP_PANELS, top)]
        small = max(3, top // 2)
        for g in largest:
            mask = groups == g
            result = ranking(mask)
            body += f'<h3>{markup.esc(g)} <span class="muted">({int(mask.sum()):,} sampled comments)</span></h3>'
            if result is None:
                body += '<p class="note">All sampled comments of this group have the same predicted label.</p>'
                continue
            body += (
                '<div class="row">'
                + _driver_table(result[0].head(small), "More in positive", picker, True, mask)
                + _driver_table(result[1].head(small), "More in negative", picker, False, mask)
                + "</div>"
            )
    return markup.section("drivers", body), len(rows)


def _drivers_chart(new_figure: Callable, pos: pd.DataFrame, neg: pd.DataFrame, data: ScoredData) -> Any:
    n = max(len(pos), len(neg), 1)
    fig = new_figure(9, 0.8 + 0.26 * n)
    left, right = fig.subplots(1, 2)
    for ax, part, colour, title in (
        (left, neg, markup.NEGATIVE, "more in negative comments"),
        (right, pos, markup.POSITIVE, "more in positive comments"),
    ):
        y = np.arange(len(part))[::-1]
        ax.barh(y, part["z"].abs(), color=colour, height=0.7)
        ax.set_yticks(y, [_label(t, 14) for t in part["token"]])
        ax.set_ylim(-0.5 - (n - len(part)), len(part) - 0.5)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("|z| of the weighted log-odds")
        ax.spines[["top", "right"]].set_visible(False)
    left.invert_xaxis()
    left.yaxis.tick_right()
    left.spines[["right"]].set_visible(True)
    left.spines[["left"]].set_visible(False)
    return fig


class _ExamplePicker:
    """One example comment per morpheme, its occurrences marked: the most confident comment of the right side
    containing it, preferring comments not shown yet and at most 200 characters long."""

    def __init__(
        self, texts: list[str], docs: list[frozenset], p: np.ndarray, is_pos: np.ndarray, tokenizer: Any
    ) -> None:
        self.texts, self.docs, self.is_pos, self.tokenizer = texts, docs, is_pos, tokenizer
        self.order_pos = np.argsort(-p, kind="stable")
        self.order_neg = np.argsort(p, kind="stable")
        self.used: set[int] = set()

    def pick(self, token: str, positive: bool, mask: np.ndarray) -> int | None:
        order = self.order_pos if positive else self.order_neg
        fallback = None
        for i in order:
            if mask[i] and self.is_pos[i] == positive and token in self.docs[i]:
                if i not in self.used and len(self.texts[i]) <= 200:
                    self.used.add(i)
                    return int(i)
                fallback = int(i) if fallback is None else fallback
        return fallback

    def example(self, token: str, positive: bool, mask: np.ndarray) -> str:
        i = self.pick(token, positive, mask)
        if i is None:
            return ""
        text = self.texts[i]
        weight = 1.0 if positive else -1.0
        return markup.marked(
            text, [(s.start, s.end, weight, token) for s in self.tokenizer.spans(text) if s.token == token]
        )


def _driver_table(part: pd.DataFrame, caption: str, picker: _ExamplePicker, positive: bool, mask: np.ndarray) -> str:
    rows = [
        [
            f"<b>{markup.esc(r.token)}</b>",
            f"{r.z:+.1f}",
            f"{int(r.pos):,} / {int(r.neg):,}",
            picker.example(r.token, positive, mask),
        ]
        for r in part.itertuples()
    ]
    return markup.table(
        ["morpheme", "z", "in pos. / neg.", "example"],
        rows,
        caption,
        escape=False,
        css="drivers " + ("pos" if positive else "neg"),
    )


def _read_first(data: ScoredData, clf: FittedClassifier, top: int) -> str:
    """The most confident negatives and the least certain comments, highlighted by the explanations."""
    ok = data.ok.dropna(subset=["p"])
    negatives = ok[ok["pred"] != data.positive].nsmallest(top * 3, "p")
    uncertain = ok.assign(distance=(ok["p"] - 0.5).abs()).nsmallest(top * 3, "distance")
    negatives, uncertain = (part.drop_duplicates("text").head(top) for part in (negatives, uncertain))
    texts = negatives["text"].astype(str).tolist() + uncertain["text"].astype(str).tolist()
    explanations = clf.explain(texts) if texts else []
    body = (
        '<p>Each morpheme is coloured by how much it moved the model: <span class="key pos">towards '
        'positive</span> or <span class="key neg">towards negative</span> (leave-one-token-out: the change in '
        "probability when the morpheme is removed; stronger colour = larger change, relative to the "
        "comment's strongest morpheme; faint ones are not marked). Hover a morpheme for its value. In very confident "
        "comments one morpheme alone moves the probability little (values like 0.001).</p>"
    )
    parts = (
        (negatives, explanations[: len(negatives)], "Most confident negatives"),
        (uncertain, explanations[len(negatives) :], "Least certain (P(positive) closest to 50%)"),
    )
    for frame, exps, caption in parts:
        rows = []
        for (_, row), e in zip(frame.iterrows(), exps):
            towards = _towards_positive(e, data.positive)
            scale = max((abs(c) for c in towards), default=0.0) or 1.0
            marks = [(t.start, t.end, c / scale, f"{t.token} {c:+.3f}") for t, c in zip(e.tokens, towards)]
            strongest = sorted(zip(e.tokens, towards), key=lambda tc: -abs(tc[1]))[:3]
            extra = [markup.esc(row["group"])] if "group" in frame else []
            rows.append(
                [
                    f"{row['p']:.3f}",
                    markup.marked(e.text, marks),
                    " · ".join(f'<span class="nowrap">{markup.esc(t.token)} {c:+.2g}</span>' for t, c in strongest),
                    *extra,
                ]
            )
        header = ["P(positive)", "comment", "strongest morphemes (towards positive)"]
        body += markup.table(
            header + (["group"] if "group" in frame else []), rows, caption, escape=False, css="comments"
        )
    return markup.section("read-first", body)


def _towards_positive(e: Explanation, positive: str) -> list[float]:
    """Each token's contribution towards the positive label (for two classes: exactly; the contribution to
    the predicted label, negated when that label is not the positive one)."""
    sign = 1.0 if str(e.label) == positive else -1.0
    return [sign * t.contribution for t in e.tokens]


def _method(data: ScoredData, sample_size: int, model_name: str, shares: ShareFigures) -> str:
    cols = ", ".join(f"{role}: <code>{markup.esc(c)}</code>" for role, c in data.columns.items())
    items = [
        f"Input: <code>{markup.esc(data.path)}</code> ({len(data.frame):,} rows; columns used: {cols}). "
        f"Labels: {', '.join(map(markup.esc, data.labels))}; positive: <code>{markup.esc(data.positive)}</code>.",
        "Share positive: the share of scored comments (status <code>ok</code>) whose predicted label is the "
        "positive one, as decided when the file was scored (including any <code>--threshold</code>). Intervals: "
        "95% Wilson score intervals. Every aggregate uses every row.",
        _correction_method(shares),
        "Over time: one point per day when the times span at most 92 days, per week (starting Monday) up to two "
        f"years, else per month, and coarser while the median period holds fewer than {MIN_PERIOD_ROWS} comments; "
        "times with a zone are converted to UTC.",
        f"What drives it: a random sample of {sample_size:,} scored comments is tokenized with the model's "
        "tokenizer; content morphemes only (nouns, verbs and adjectives, adverbs, interjections, roots, foreign "
        "words, symbols; particles and endings are left out). A morpheme's count is the number of comments that "
        "contain it. Score: z of the weighted log-odds ratio with an informative Dirichlet prior (Monroe, "
        "Colaresi &amp; Quinn 2008, <i>Fightin' Words</i>): the prior is the morpheme's frequency in the whole "
        "sample, scaled to the compared comments. Per group, the same within the group.",
        "Highlighted morphemes: leave-one-token-out occlusion (<code>sentiment explain</code>): the model scores "
        "each comment with each morpheme removed; the change in the probability of its predicted label is the "
        "morpheme's contribution. Very confident predictions change little when one morpheme goes (saturation).",
        f"Model: {markup.esc(model_name)}.",
    ]
    return markup.section("method", "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")


def _correction_method(shares: ShareFigures) -> str:
    if shares.audit is None:
        return (
            "Correction: none (no <code>--labeled</code> file). The share positive and its interval are the "
            "model's count and its sampling noise only; they are biased by however often the model calls "
            "comments wrongly one way more than the other, which is common on comments unlike its training data."
        )
    return (
        "Correction with audit labels: the difference estimator of survey sampling, also called "
        "prediction-powered inference (Angelopoulos et al., <i>Science</i> 2023). The model's P(positive) is "
        "recalibrated on the labeled audit comments (a logistic regression on its logit, Platt scaling); the "
        "estimate is the mean recalibrated probability over all scored comments plus the mean of (label − "
        "recalibrated probability) over the audited ones, which removes the model's bias whatever its errors, "
        "because the audit comments were drawn at random. Variance: s²(recalibrated probability)/N + "
        "s²(label − recalibrated probability)/n, so the 95% interval (normal approximation) includes the "
        "model's errors. Per group, the recalibration fitted on all labels and a correction from the group's "
        f"own audit comments; groups with fewer than {shares.min_labels} of them show the model's count "
        "(uncorrected). Only audit rows (column <code>sample</code> = audit) are used: comments chosen because "
        "the model was unsure are not a random sample. " + markup.esc(shares.audit.describe())
    )


def _label(value: Any, width: int = 24) -> str:
    """A chart label: at most ``width`` characters, emoji written as their names (the chart fonts lack them)."""
    from .plotting import chart_text

    text = str(value)
    text = text if len(text) <= width else text[: width - 1] + "…"
    return chart_text(text)


def _mix(value: float) -> str:
    """Red (0) through grey (0.5) to green (1)."""
    grey, red, green = np.array([189, 189, 189]), np.array([215, 48, 39]), np.array([26, 152, 80])
    v = float(min(max(value, 0.0), 1.0))
    rgb = red + (grey - red) * (v / 0.5) if v < 0.5 else grey + (green - grey) * ((v - 0.5) / 0.5)
    r, g, b = (int(round(c)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _is_content(token: str, tag: str) -> bool:
    """A content morpheme (see CONTENT_TAGS; bound nouns and punctuation-only tokens are left out)."""
    if not tag.startswith(CONTENT_TAGS) or tag.startswith("NNB"):
        return False
    return not all(unicodedata.category(ch).startswith("P") for ch in token)
