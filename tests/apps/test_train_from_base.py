"""`sentiment train` on a user's own labeled file: CP949, Korean column and label names, the packaged model as the
start, the user's label names in the outputs; the same column and label rules in `adapt` and `evaluate`."""

import json

import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, assert_user_error, run_cli


def _cp949(text: str) -> bool:
    try:
        text.encode("cp949")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def apps_csv(tmp_path_factory):
    """The sample as an app-store export: CP949, columns 번호/리뷰/평가, values 긍정/부정."""
    frame = pd.read_csv(SAMPLE)
    frame = frame[[_cp949(t) for t in frame["document"]]]  # what a CP949 sheet can hold (no emoji)
    path = tmp_path_factory.mktemp("apps") / "apps.csv"
    pd.DataFrame(
        {"번호": range(len(frame)), "리뷰": frame["document"], "평가": frame["label"].map({1: "긍정", 0: "부정"})}
    ).to_csv(path, index=False, encoding="cp949")
    return path


@pytest.fixture(scope="module")
def apps_model(apps_csv):
    out = apps_csv.parent / "models" / "apps"
    # the default command; only the fine-tuning epochs are cut for speed
    result = run_cli(
        "train", "--data", str(apps_csv), "--out", str(out), "--set", "finetune.epochs=1", cwd=apps_csv.parent
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stderr


@pytest.mark.slow  # fine-tunes the packaged BiLSTM (about a minute)
def test_default_train_starts_from_the_packaged_model_and_keeps_the_label_names(apps_model, apps_csv, tmp_path):
    out, log = apps_model
    assert "text column '리뷰', label column '평가'" in log
    assert "starting from the packaged model: the labels are two classes read as negative/positive" in log
    assert "negative = 부정, positive = 긍정 (known names)" in log
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["부정", "긍정"]  # (negative, positive), the user's names
    training = meta["training"]
    assert training["init_from"]["bundle"] == "default" and len(training["init_from"]["bundle_id"]) == 64
    assert training["label_mapping"] == {
        "negative": ["부정"],
        "positive": ["긍정"],
        "how": "known names",
        "classes": ["부정", "긍정"],
    }
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Started from the bundle `default`" in card and "부정 → negative, 긍정 → positive" in card
    assert "Labeled file: `" in card and "text column `리뷰`, label column `평가`" in card
    assert f"Training rows: {training['rows']:,}" in card

    new = tmp_path / "new.csv"
    new.write_text("리뷰\n정말 최고예요 강추합니다\n최악이에요 돈 아까워요\n", encoding="utf-8")
    scored = tmp_path / "scored.csv"
    result = run_cli("score", str(new), "-o", str(scored), "--model", str(out), "-q")
    assert result.returncode == 0, result.stderr[-2000:]
    frame = pd.read_csv(scored)
    assert {"prob_부정", "prob_긍정"} <= set(frame.columns) and frame["pred_label"].tolist() == ["긍정", "부정"]

    # evaluate: a file labeled 1/0 maps onto the model's 긍정/부정
    numeric = tmp_path / "numeric.csv"
    sample = pd.read_csv(SAMPLE)
    sample[["document", "label"]].to_csv(numeric, index=False)
    result = run_cli(
        "evaluate", "--model", str(out), "--data", str(numeric), "--json", "--report-dir", str(tmp_path / "report")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout)
    assert metrics["labels"] == ["부정", "긍정"] and metrics["accuracy"] > 0.8


def test_unknown_label_names_ask_for_the_positive_label(tmp_path, apps_csv):
    """Refused before any tokenizing or training, naming the values seen and both ways out."""
    odd = tmp_path / "odd.csv"
    frame = pd.read_csv(apps_csv, encoding="cp949")
    frame.assign(평가=frame["평가"].map({"긍정": "재밌음", "부정": "노잼"})).to_csv(odd, index=False)
    assert_user_error(
        run_cli("train", "--data", str(odd), "--out", str(tmp_path / "m")),
        f"{odd}: the label values",
        "'재밌음'",
        "'노잼'",
        "--positive-label",
        "--from-scratch",
    )
    assert not (tmp_path / "m").exists()
    assert_user_error(
        run_cli("train", "--data", str(odd), "--out", str(tmp_path / "m"), "--positive-label", "최고"),
        "--positive-label '최고' is not one of",
    )


@pytest.mark.slow
def test_from_scratch_learns_any_two_names(tmp_path, apps_csv):
    odd = tmp_path / "odd.csv"
    frame = pd.read_csv(apps_csv, encoding="cp949")
    frame.assign(평가=frame["평가"].map({"긍정": "재밌음", "부정": "노잼"})).to_csv(odd, index=False)
    result = run_cli(
        "train",
        "--data",
        str(odd),
        "--out",
        str(tmp_path / "m"),
        "--from-scratch",
        "--config",
        "configs/tiny.toml",
        "--set",
        "train.epochs=1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training a new network (train.init_from = 'none', --from-scratch)" in result.stderr
    meta = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))
    assert sorted(meta["labels"]) == ["노잼", "재밌음"] and "init_from" not in meta["training"]


def test_adapt_finds_the_labeled_files_columns_on_its_own(tiny_model_dir, tmp_path, apps_csv):
    """The unlabeled texts' column (document) and the labeled file's (리뷰/평가, 긍정/부정) are found separately."""
    sample = pd.read_csv(SAMPLE)
    texts = tmp_path / "texts.csv"
    sample[["document"]].to_csv(texts, index=False)
    labeled = tmp_path / "labeled.csv"
    pd.read_csv(apps_csv, encoding="cp949").head(40).to_csv(labeled, index=False)
    out = tmp_path / "adapted"
    result = run_cli(
        "adapt",
        "--model",
        str(tiny_model_dir),
        "--texts",
        str(texts),
        "--labeled",
        str(labeled),
        "--out",
        str(out),
        "--set",
        "adapt.min_texts=50",
        "--set",
        "adapt.epochs=1",
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "text column '리뷰', label column '평가'" in result.stderr
    assert json.loads(result.stdout)["labeled_rows"] == 40
    assert_user_error(
        run_cli(
            "adapt",
            "--model",
            str(tiny_model_dir),
            "--texts",
            str(texts),
            "--labeled",
            str(labeled),
            "--labeled-text-column",
            "document",
            "--out",
            str(tmp_path / "x"),
        ),
        "no column 'document'",
        "--labeled-text-column",
    )


def test_a_skewed_class_mix_gets_a_fitted_threshold_as_the_bundles_decision_rule(tmp_path):
    from sentiment import SentimentClassifier
    from sentiment.config import Config

    frame = pd.read_csv(SAMPLE)
    skewed = pd.concat([frame[frame["label"] == 1].head(60), frame[frame["label"] == 0]])  # about 23% positive
    cfg = Config.from_toml(ROOT / "configs" / "tiny.toml").with_overrides(
        {"train.epochs": 3, "train.validation_split": 0.25}
    )
    clf = SentimentClassifier(config=cfg).fit(skewed["document"].tolist(), skewed["label"].tolist())
    fitted = clf.training_["decision"]
    assert fitted["minority_share"] < 0.4 and fitted["macro_f1"] > fitted["macro_f1_at_0.5"]
    clf.save(tmp_path / "m")
    loaded = SentimentClassifier.load(tmp_path / "m")
    assert loaded.decision_.threshold == fitted["threshold"]  # predict, score, serve and evaluate decide by it
