"""Choosing comments to label: sizes, the audit part's uniformity, uncertainty, diversity, near-duplicates, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from sentiment.errors import DataError
from sentiment.training.selection import (
    AUDIT,
    INFORMATIVE,
    NEAR_DUPLICATE,
    near_duplicate_vectors,
    select_rows,
    uncertainty,
)

TOPICS = [  # six kinds of comments, each with its own words
    ["배송", "포장", "택배", "상자", "꼼꼼", "빠르다", "도착", "주문"],
    ["배우", "연기", "결말", "감동", "영화", "장면", "감독", "연출"],
    ["게임", "최적화", "프레임", "렉", "서버", "패치", "캐릭터", "퀘스트"],
    ["식당", "국물", "반찬", "맛집", "메뉴", "가격", "사장님", "웨이팅"],
    ["업데이트", "로그인", "튕김", "알림", "버튼", "화면", "설정", "결제"],
    ["호텔", "객실", "직원", "침대", "수건", "조식", "체크인", "뷰"],
]
ENDINGS = ["", "!!", " ㅋㅋ", " 진짜", "~~", " 강추", " 별로", " ㅠㅠ", ".", " 다음에도"]


def corpus(n_per_variant: int = 4, big_topic: int = 8) -> list[tuple[int, str]]:
    """(topic, text): each topic has one comment repeated in many near-identical variants and 20 distinct
    comments from its own words; topic 0 has ``big_topic`` times as many distinct comments as the others."""
    rng = np.random.default_rng(0)
    rows = []
    for t, words in enumerate(TOPICS):
        for end in ENDINGS:
            rows += [(t, " ".join(words[:4]) + end)] * n_per_variant
        for _ in range(20 * (big_topic if t == 0 else 1)):
            rows.append((t, " ".join(rng.choice(words, size=5, replace=True))))
    return rows


def char_similarity(texts: list[str]) -> np.ndarray:
    X = near_duplicate_vectors(texts)
    return (X @ X.T).toarray()


def test_sizes_share_columns_and_order():
    rng = np.random.default_rng(1)
    texts = [f"댓글 {i} " + "좋아요 " * (i % 7) + "별로 " * (i % 5) for i in range(400)]
    proba = rng.random(400)
    sel = select_rows(texts, proba, 50, audit_share=0.3, seed=3)
    assert list(sel.columns) == ["row", "sample", "prob_1", "text"]
    assert len(sel) == 50 and sel["row"].is_unique
    assert (sel["sample"] == AUDIT).sum() == 15 and (sel["sample"] == INFORMATIVE).sum() == 35
    assert sel["text"].tolist() == [texts[r] for r in sel["row"]]
    np.testing.assert_allclose(sel["prob_1"], proba[sel["row"]])
    # the two parts are interleaved (labeling order hides which is which)
    first_half = sel["sample"].iloc[:25]
    assert 0 < (first_half == AUDIT).sum() < 25
    only_audit = select_rows(texts, proba, 40, audit_share=1.0, seed=3)
    assert (only_audit["sample"] == AUDIT).all() and len(only_audit) == 40
    no_audit = select_rows(texts, proba, 40, audit_share=0.0, seed=3)
    assert (no_audit["sample"] == INFORMATIVE).all() and len(no_audit) == 40


def test_rows_without_text_are_never_chosen():
    texts = ["좋다 정말", None, "  ", float("nan"), "별로다 진짜", "그냥 그래요", ""] * 3
    sel = select_rows(texts, np.full(len(texts), 0.5), 9, audit_share=1.0, seed=0)
    assert all(isinstance(texts[r], str) and texts[r].strip() for r in sel["row"])


def test_audit_part_is_uniform_and_ignores_the_model():
    """Every row with text has the same chance of being audited, whatever the model says about it."""
    n_rows, n, runs = 40, 8, 1000
    texts = [f"문장 {i}" for i in range(n_rows)]
    skewed = np.linspace(0.0, 1.0, n_rows)  # very different uncertainties per row
    counts = np.zeros(n_rows)
    for seed in range(runs):
        counts[select_rows(texts, skewed, n, audit_share=1.0, seed=seed)["row"]] += 1
    assert chisquare(counts).pvalue > 0.001
    # same seed, same audit rows, whatever the probabilities (and whether an informative part follows)
    texts2 = [text for _, text in corpus(1)]
    a = select_rows(texts2, np.full(len(texts2), 0.5), 30, audit_share=0.4, seed=7)
    b = select_rows(texts2, np.random.default_rng(0).random(len(texts2)), 30, audit_share=0.4, seed=7)
    assert set(a.loc[a["sample"] == AUDIT, "row"]) == set(b.loc[b["sample"] == AUDIT, "row"])


def test_informative_part_is_uncertain_diverse_and_free_of_near_duplicates():
    rows = corpus()
    texts = [text for _, text in rows]
    rng = np.random.default_rng(0)
    proba = np.where(
        rng.random(len(texts)) < 0.5, rng.uniform(0.35, 0.65, len(texts)), rng.choice([0.02, 0.98], len(texts))
    )
    sel = select_rows(texts, proba, 24, audit_share=0.25, seed=0)
    info = sel[sel["sample"] == INFORMATIVE]
    assert len(info) == 18
    unsure = uncertainty(proba)
    assert unsure[info["row"]].mean() > unsure.mean() + 0.2
    # no two informative rows, and no informative row and audit row, are near-duplicates
    chosen = sel["text"].tolist()
    sim = char_similarity(chosen)
    is_info = (sel["sample"] == INFORMATIVE).to_numpy()
    np.fill_diagonal(sim, 0)
    assert sim[is_info][:, is_info].max() < NEAR_DUPLICATE
    assert sim[is_info][:, ~is_info].max(initial=0) < NEAR_DUPLICATE
    assert len(set(info["text"])) == len(info)
    # spread: every topic is represented
    # spread: every kind of comment is represented although the first has 8 times as many comments
    assert {rows[r][0] for r in info["row"]} == set(range(len(TOPICS)))


def test_same_seed_same_selection_other_seed_other_selection():
    texts = [text for _, text in corpus(2)]
    proba = np.random.default_rng(5).random(len(texts))
    a = select_rows(texts, proba, 30, seed=11)
    b = select_rows(texts, proba, 30, seed=11)
    c = select_rows(texts, proba, 30, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["row"]) != set(c["row"])


def test_too_few_distinct_comments_returns_fewer_and_says_so():
    same = "배송이 빠르고 포장도 꼼꼼해서 정말 좋아요"
    texts = [same] * 50 + [same + "!"] * 30 + ["  " + same.replace(" ", "  ")] * 20 + ["최악이에요 환불"] * 5
    messages = []
    sel = select_rows(texts, np.full(len(texts), 0.5), 20, audit_share=0.0, seed=0, log=messages.append)
    assert len(sel) == 2 and len(set(sel["text"])) == 2
    assert any("distinct" in m for m in messages)


@pytest.mark.parametrize(
    "n, share, fragment",
    [
        (0, 0.3, "n=0"),
        (-5, 0.3, "n=-5"),
        (101, 0.3, "only 100 rows"),
        (10, 1.5, "audit share 1.5"),
        (10, -0.1, "audit share -0.1"),
    ],
)
def test_bad_arguments_are_clear_errors(n, share, fragment):
    texts = [f"댓글 {i}" for i in range(100)] + [None, " "]
    with pytest.raises(DataError, match=fragment):
        select_rows(texts, np.full(len(texts), 0.5), n, audit_share=share)


def test_classifier_select_for_labeling():
    from sentiment import SentimentClassifier

    clf = SentimentClassifier.load()  # the packaged model
    texts = [text for _, text in corpus(1)]
    sel = clf.select_for_labeling([*texts, None], 20, audit_share=0.3, seed=0)
    assert len(sel) == 20 and (sel["sample"] == AUDIT).sum() == 6
    # the probabilities of the rows as scored with all texts
    np.testing.assert_allclose(sel["prob_1"], clf.predict_proba(texts)[sel["row"], 1], atol=1e-6)
    with pytest.raises(DataError, match="only"):
        clf.select_for_labeling(texts[:5], 6)
