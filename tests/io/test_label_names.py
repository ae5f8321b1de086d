"""Label names read as negative/positive (sentiment.io.labeled), label-column detection, the start of training."""

import numpy as np
import pandas as pd
import pytest

from sentiment.config import Config
from sentiment.errors import DataError
from sentiment.io.labeled import binary_mapping, class_indices, class_polarity, load_labeled, match_labels
from sentiment.training.recipe import choose_start, fit_threshold


@pytest.mark.parametrize(
    "values, negative, positive",
    [
        ([1, 0, 1], 0, 1),
        (["긍정", "부정"], "부정", "긍정"),
        (["부정", "긍정", "부정"], "부정", "긍정"),
        (["True", "False"], "False", "True"),
        (["pos", "NEG"], "NEG", "pos"),
        (["positive", "negative"], "negative", "positive"),
        (["좋음", "나쁨"], "나쁨", "좋음"),
        (["비추천", "추천"], "비추천", "추천"),
        ([True, False], False, True),
    ],
)
def test_known_names_map_in_either_order_and_keep_the_users_names(values, negative, positive):
    mapping = binary_mapping(np.asarray(values))
    assert mapping.classes == (negative, positive) and mapping.how == "known names"
    labels = np.asarray(values)
    assert mapping.polarity(labels).tolist() == [int(str(v) == str(positive)) for v in values]
    assert [str(v) for v in mapping.apply(labels)] == [str(v) for v in values]  # predictions use the same names


def test_unknown_names_ask_for_the_positive_label_and_stars_need_positive_from():
    with pytest.raises(DataError, match="'재밌음' and '노잼' are not names.*--positive-label"):
        binary_mapping(np.asarray(["재밌음", "노잼"]), where="apps.csv")
    mapping = binary_mapping(np.asarray(["재밌음", "노잼"]), positive_label="재밌음")
    assert mapping.classes == ("노잼", "재밌음")
    with pytest.raises(DataError, match="--positive-label '최고' is not one of"):
        binary_mapping(np.asarray(["재밌음", "노잼"]), positive_label="최고")
    stars = np.asarray([1, 2, 3, 4, 5, 5])
    assert binary_mapping(stars) is None  # five classes: another task
    mapping = binary_mapping(stars, positive_from=4)
    assert mapping.apply(stars).tolist() == [0, 0, 0, 1, 1, 1] and mapping.classes == (0, 1)
    with pytest.raises(DataError, match="puts every rating"):
        binary_mapping(stars, positive_from=9)
    with pytest.raises(DataError, match="needs numeric ratings"):
        binary_mapping(np.asarray(["a", "b"]), positive_from=4)


def test_match_labels_maps_names_onto_a_models_classes():
    assert match_labels(np.asarray(["긍정", "부정"]), np.asarray([0, 1]), "f").tolist() == [1, 0]
    assert match_labels(np.asarray([1, 0]), np.asarray(["부정", "긍정"]), "f").tolist() == ["긍정", "부정"]
    assert match_labels(np.asarray(["pos"]), np.asarray([0, 1]), "f").tolist() == [1]  # one class in a sample
    assert match_labels(np.asarray([5, 2]), np.asarray([0, 1]), "f", positive_from=4).tolist() == [1, 0]
    with pytest.raises(DataError, match=r"'x', 'y' are not among the model's labels \['0', '1'\].*--positive-label"):
        match_labels(np.asarray(["x", "y"]), np.asarray([0, 1]), "f")
    assert class_polarity(np.asarray(["긍정", "부정"])) == (1, 0)  # names decide, not the position
    assert class_indices(np.asarray(["긍정", "부정"]), np.asarray(["부정", "긍정"])).tolist() == [1, 0]


def test_label_column_detected_by_name_or_values(tmp_path):
    path = tmp_path / "apps.csv"
    pd.DataFrame(
        {"번호": [1, 2, 3], "리뷰": ["좋아요 정말", "별로예요 진짜", "최고"], "평가": ["긍정", "부정", "긍정"]}
    ).to_csv(path, index=False, encoding="cp949")
    data = load_labeled(path)
    assert (data.text_column, data.label_column) == ("리뷰", "평가")
    odd = tmp_path / "odd.csv"
    pd.DataFrame(
        {"id": [7, 8, 9], "body": ["좋아요 정말", "별로예요", "최고"], "verdict": ["pos", "neg", "pos"]}
    ).to_csv(odd, index=False)
    assert load_labeled(odd).label_column == "verdict"  # the only column of known label values
    with pytest.raises(DataError, match="--labeled-label-column"):
        load_labeled(odd, label_column="nope", label_option="--labeled-label-column")


def test_choose_start_says_which_and_why():
    cfg = Config()
    start, why, mapping = choose_start(cfg, np.asarray(["긍정", "부정"]))
    assert start == "default" and "packaged model" in why and mapping.classes == ("부정", "긍정")
    start, why, _ = choose_start(cfg.with_overrides({"train.init_from": "none"}), np.asarray(["긍정", "부정"]))
    assert start is None and "--from-scratch" in why
    start, why, mapping = choose_start(cfg, np.asarray(["a", "b", "c"]))
    assert start is None and mapping is None and "3 classes" in why
    start, why, _ = choose_start(cfg, np.asarray([1, 2, 3, 4, 5]))
    assert start is None and "--positive-from 4" in why
    start, why, _ = choose_start(cfg.with_overrides({"model.lstm_units": [16]}), np.asarray([0, 1]))
    assert start is None and "model.lstm_units" in why
    with pytest.raises(DataError, match="--positive-label"):
        choose_start(cfg, np.asarray(["재밌음", "노잼"]))
    start, _, mapping = choose_start(cfg.with_overrides({"train.init_from": "none"}), np.asarray(["재밌음", "노잼"]))
    assert start is None and mapping is None  # a new network learns any two names


def test_threshold_fitted_only_when_the_mix_is_skewed():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    p = np.clip(0.15 * y + rng.normal(0.3, 0.05, 400), 0, 1)  # positives score higher, nearly all below 0.5
    decision = fit_threshold(p, y, np.bincount(y))
    assert decision and decision["threshold"] < 0.5 and decision["macro_f1"] > decision["macro_f1_at_0.5"]
    balanced = np.bincount(np.r_[np.zeros(50, int), np.ones(50, int)])
    assert fit_threshold(p, y, balanced) is None
