"""Which comments to label: an audit part drawn uniformly at random and an informative part.

``select_rows(texts, proba, n, audit_share=0.3, seed=0)`` returns ``n`` rows in labeling order:

* **audit** (``round(n * audit_share)`` rows): a simple random sample, without replacement, of the rows that
  have text. Because every such row had the same chance, figures measured on these labels (accuracy, the share
  of positive comments, a threshold) are unbiased estimates for the whole input.
* **informative** (the rest): comments the model is unsure about, spread over the kinds of comments in the
  input, no two of them (and none of them and an audit row) near-duplicates. The recipe follows "Diverse
  mini-batch active learning" (Zhdanov 2019, arXiv:1901.05954), a cheap member of the uncertainty + diversity
  family of BADGE (Ash et al., ICLR 2020): keep the ``POOL_FACTOR``·k most uncertain distinct comments
  (margin between the two likeliest classes), cluster them into k groups with k-means weighted by uncertainty,
  and take from each group the comment nearest its centre. Features: character 2-4-gram TF-IDF (robust to
  Korean spacing and spelling, no tokenizer needed), reduced to ``SVD_DIMS`` dimensions and L2-normalized.
  Near-duplicates: cosine similarity of binary character 2-4-gram vectors at least ``NEAR_DUPLICATE`` (0.8);
  the most uncertain of such a group stays in the pool, the others leave it.

The two parts are shuffled together, so the person labeling cannot tell them apart (no anchoring on "hard"
comments) and the running accuracy on the audit rows fills in from the start. See docs/labeling.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

AUDIT = "audit"
INFORMATIVE = "informative"
POOL_FACTOR = 10  # uncertain candidates kept per informative row (Zhdanov's beta)
SVD_DIMS = 64
NEAR_DUPLICATE = 0.8  # cosine similarity of char 2-4-gram TF-IDF vectors at which two comments count as one
_SPACE = re.compile(r"\s+")


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """1 - (p_top - p_second): 1 at a tie between the two likeliest classes, 0 when the model is sure."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.stack([1.0 - proba, proba], axis=1)
    top2 = np.sort(proba, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def check_selection_args(n_rows: int, n: int, audit_share: float) -> None:
    """Refuse a size or share that cannot be met, naming the value and what would work."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"n={n!r}: give a positive number of comments to label, e.g. 300")
    if not 0.0 <= float(audit_share) <= 1.0:
        raise DataError(
            f"audit share {audit_share!r} is not between 0 and 1; 0.3 (the default) keeps 30% of the "
            f"labels as a uniform random sample for unbiased figures"
        )
    if n > n_rows:
        raise DataError(
            f"n={n:,} comments were asked for, but the input has only {n_rows:,} rows with text; "
            f"give a smaller n (at most {n_rows:,})"
        )


def _features(texts: Sequence[str], seed: int):
    """(TF-IDF rows, L2-normalized ``SVD_DIMS``-d dense rows) for ``texts``."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 4),
        sublinear_tf=True,
        lowercase=True,
        min_df=2 if len(texts) >= 50 else 1,
        dtype=np.float32,
    ).fit_transform(texts)
    dims = min(SVD_DIMS, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    # 2 power iterations (default 5): 4x faster, and k-means only needs the broad directions
    dense = TruncatedSVD(dims, n_iter=2, random_state=seed).fit_transform(tfidf) if dims >= 2 else tfidf.toarray()
    return tfidf, normalize(dense)


def near_duplicate_vectors(texts: Sequence[str]):
    """Rows whose dot products are the texts' pairwise similarities: L2-normalized binary char 2-4-gram vectors
    (of whitespace-normalized, lower-cased text). A pair's value depends on the two texts only, not on the others
    (no IDF), so "near-duplicate" means the same thing in every input."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    counts = CountVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), binary=True, lowercase=True, dtype=np.float32
    ).fit_transform([_key(t) for t in texts])
    return normalize(counts).tocsr()


def _distinct(order: np.ndarray, vectors, blocked, limit: int, block: int = 512) -> list[int]:
    """Walk ``order`` (positions into ``vectors``, from :func:`near_duplicate_vectors`), keeping each row whose
    cosine similarity to every kept row and every ``blocked`` row is below ``NEAR_DUPLICATE``; stop after ``limit``
    kept rows."""
    import scipy.sparse as sp

    kept: list[int] = []
    kept_rows = blocked
    for start in range(0, len(order), block):
        if len(kept) >= limit:
            break
        chunk = order[start : start + block]
        X = vectors[chunk]
        against = (
            (X @ kept_rows.T).toarray().max(axis=1)
            if kept_rows is not None and kept_rows.shape[0]
            else np.zeros(len(chunk))
        )
        within = (X @ X.T).toarray()
        chosen: list[int] = []
        for i in range(len(chunk)):
            if against[i] >= NEAR_DUPLICATE or (chosen and within[i, chosen].max() >= NEAR_DUPLICATE):
                continue
            chosen.append(i)
            if len(kept) + len(chosen) >= limit:
                break
        kept.extend(int(chunk[i]) for i in chosen)
        if chosen:
            new = X[chosen]
            kept_rows = new if kept_rows is None else sp.vstack([kept_rows, new]).tocsr()
    return kept


def select_rows(
    texts: Sequence[str],
    proba: np.ndarray,
    n: int,
    *,
    audit_share: float = 0.3,
    seed: int = 0,
    log: Callable[[str], None] = lambda msg: None,
) -> pd.DataFrame:
    """Choose ``n`` rows of ``texts`` to label; ``proba`` is the model's ``(len(texts), n_classes)`` probabilities
    (or P(positive) as a vector). Returns a DataFrame in labeling order with ``row`` (position in ``texts``),
    ``sample`` (``"audit"`` / ``"informative"``), ``prob_1`` (two-class models: P(second class), the model's
    P(positive)) and ``text``. Rows without text (missing, or
    only spaces) are never chosen. Deterministic for a given ``seed``.

    Fewer than ``n`` rows come back only when the input has too few distinct comments for the informative part
    (said through ``log``).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small matrices: one BLAS/OpenMP thread is as fast, and the same everywhere
        return _select_rows(list(texts), np.asarray(proba, dtype=np.float64), n, audit_share, seed, log)


def _select_rows(
    texts: list[str], proba: np.ndarray, n: int, audit_share: float, seed: int, log: Callable[[str], None]
) -> pd.DataFrame:
    if len(proba) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(proba)} rows of probabilities")
    has_text = np.array([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=bool)
    eligible = np.flatnonzero(has_text)
    check_selection_args(len(eligible), n, audit_share)
    rng = np.random.default_rng(seed)
    n_audit = round(n * float(audit_share))
    audit = np.sort(rng.choice(eligible, size=n_audit, replace=False)) if n_audit else np.array([], dtype=np.int64)
    n_info = n - n_audit
    unsure = uncertainty(proba)
    info: list[int] = []
    if n_info:
        info = _informative(texts, unsure, eligible, audit, n_info, seed, log)
        if len(info) < n_info:
            log(
                f"only {len(info):,} distinct comments (no two near-duplicates) were left for the informative part; "
                f"selected {n_audit + len(info):,} rows instead of {n:,}"
            )
    rows = np.concatenate([audit, np.asarray(info, dtype=np.int64)])
    samples = np.array([AUDIT] * len(audit) + [INFORMATIVE] * len(info), dtype=object)
    order = rng.permutation(len(rows))
    rows, samples = rows[order], samples[order]
    out = pd.DataFrame({"row": rows.astype(np.int64), "sample": samples})
    if proba.ndim == 1 or proba.shape[1] == 2:
        out["prob_1"] = (proba if proba.ndim == 1 else proba[:, 1])[rows]
    out["text"] = [texts[r] for r in rows]
    return out


def _informative(
    texts: list[str],
    unsure: np.ndarray,
    eligible: np.ndarray,
    audit: np.ndarray,
    k: int,
    seed: int,
    log: Callable[[str], None],
) -> list[int]:
    """Up to ``k`` uncertain, diverse, mutually distinct rows outside ``audit`` (see the module docstring)."""
    from sklearn.cluster import KMeans

    audit_set = set(audit.tolist())
    candidates = np.array([r for r in eligible.tolist() if r not in audit_set], dtype=np.int64)
    # most uncertain first; ties (and exact duplicates) broken by a seeded shuffle, then one row per exact text
    shuffled = np.random.default_rng(seed + 1).permutation(candidates)
    ranked = shuffled[np.argsort(-unsure[shuffled], kind="stable")]
    seen: set[str] = {_key(texts[r]) for r in audit.tolist()}
    unique: list[int] = []
    wanted = POOL_FACTOR * k
    for r in ranked.tolist():
        key = _key(texts[r])
        if key not in seen:
            seen.add(key)
            unique.append(r)
            if len(unique) >= 2 * wanted:  # near-duplicate removal below thins this out
                break
    if not unique:
        return []
    pool_rows = np.asarray(unique, dtype=np.int64)
    all_rows = np.concatenate([pool_rows, audit])
    pool_texts = [texts[r] for r in all_rows]
    vectors = near_duplicate_vectors(pool_texts)
    blocked = vectors[len(pool_rows) :] if len(audit) else None
    kept = _distinct(np.arange(len(pool_rows)), vectors, blocked, wanted)
    if len(kept) <= k:
        return [int(pool_rows[i]) for i in kept]
    kept_arr = np.asarray(kept)
    _, dense = _features([pool_texts[i] for i in kept_arr], seed)
    X = dense
    weights = np.maximum(unsure[pool_rows[kept_arr]], 1e-3)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X, sample_weight=weights)
    distance = np.linalg.norm(X - km.cluster_centers_[km.labels_], axis=1)
    chosen: list[int] = []
    for cluster in range(k):
        members = np.flatnonzero(km.labels_ == cluster)
        if len(members):
            chosen.append(int(members[np.argmin(distance[members])]))
    if len(chosen) < k:  # an empty cluster: fill with the most uncertain rows not chosen yet
        taken = set(chosen)
        chosen.extend([i for i in range(len(kept_arr)) if i not in taken][: k - len(chosen)])
    log(f"informative part: {k:,} of the {len(kept_arr):,} most uncertain distinct comments, one per k-means group")
    return [int(pool_rows[kept_arr[i]]) for i in chosen]


def _key(text: str) -> str:
    return _SPACE.sub(" ", text.strip().lower())
