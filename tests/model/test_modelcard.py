"""The model card describes the recipe the config really used."""

from sentiment.config import Config
from sentiment.model.modelcard import _distill_lines, _normalization, _soup_lines


def test_normalization_line_follows_the_config():
    on = _normalization(Config().with_overrides({"normalize.max_repeat": 3, "normalize.lowercase": False}))
    assert "cut to 3" in on and "URLs stripped" in on and "lowercased" not in on
    assert _normalization(Config().with_overrides({"normalize.enabled": False})).startswith("none")


def test_distill_line_names_each_teacher():
    report = {
        "teachers": [
            {"kind": "lstm", "network": "BiLSTM(128)", "seed": 43, "validation_accuracy": 0.88},
            {
                "kind": "char_ngram_tfidf_lr",
                "char_ngrams": [1, 5],
                "morpheme_ngrams": 3,
                "naive_bayes": True,
                "validation_accuracy": 0.884,
            },
            {"kind": "char_ngram_tfidf_lr", "validation_accuracy": 0.87},  # a bundle from before these keys existed
        ],
        "ensemble_validation_accuracy": 0.889,
        "transfer_rows": 1000,
    }
    (line,) = _distill_lines(report)
    assert "3 teachers" in line and "BiLSTM(128) seed 43: validation accuracy 0.8800" in line
    assert "char (1-5)-gram + morpheme (1-3)-gram TF-IDF, NB-scaled, + logistic regression" in line
    assert "char (2-4)-gram TF-IDF + logistic regression: validation accuracy 0.8700" in line
    assert "1,000 unlabeled texts" in line
    assert "their mean probabilities (ensemble validation accuracy 0.8890)" in line
    assert _distill_lines(None) == []
    (weighted,) = _distill_lines({**report, "char_ngram_share": 0.4})
    assert (
        "weighted mean probabilities (n-gram teacher share 0.40, chosen on the validation rows; ensemble "
        "validation accuracy 0.8890)" in weighted
    )
    (started,) = _distill_lines({**report, "student_init": {"teacher": 1, "validation_accuracy": 0.88}})
    assert started.endswith("beside the labeled rows. It started from teacher 1's weights (the best on validation).")
    assert "started from" not in line
    assert "reused" not in line
    teachers = [{**t, "reused": True} for t in report["teachers"][:2]] + report["teachers"][2:]
    (again,) = _distill_lines({**report, "teachers": teachers})
    assert "validation accuracy 0.8700) (2 reused from an earlier run, their training time not counted below);" in again


def test_training_line_names_the_stopping_rule_and_schedule():
    from sentiment.model.modelcard import render_model_card

    meta = {"training": {"rows": 100, "class_counts": {"0": 50, "1": 50}, "epochs_run": 5}}
    cfg = Config().with_overrides({"train.monitor": "accuracy", "train.lr_schedule": "cosine", "train.epochs": 6})
    card = render_model_card("m", cfg, meta, None, None, "make it")
    assert "lr 0.001 (cosine decay)" in card and "up to 6 epochs (ran 5)" in card
    assert "early stopping on validation accuracy (patience 1)" in card
    student = cfg.with_overrides({"distill.teachers": 1, "distill.student_epochs": 5})
    assert "up to 5 epochs (ran 5)" in render_model_card("m", student, meta, None, None, "make it")
    plain = render_model_card("m", Config(), meta, None, None, "make it")
    assert "early stopping on validation loss" in plain and "cosine" not in plain
    assert "vocabulary ? (0 = padding" in plain  # a figure the bundle lacks renders as "?"


def test_card_names_added_training_rows_and_class_weights():
    from sentiment.model.modelcard import render_model_card

    stats = {
        "read": 150,
        "test": 20,
        "added_train": [{"file": "more.tsv", "read": 90, "added": 80, "dropped_in_splits": 7, "dropped_duplicates": 3}],
    }
    cfg = Config().with_overrides({"train.class_weight": "balanced"})
    card = render_model_card("m", cfg, {"training": {"rows": 210}}, None, stats, "make it")
    assert "80 labeled rows of `more.tsv` (90 read; 7 already in a split, 3 duplicates dropped)" in card
    assert "batch 128, balanced class weights, up to" in card


def test_soup_line_says_which_weights_were_kept():
    report = {
        "students": 2,
        "seeds": [42, 1042],
        "validation_accuracies": [0.89, 0.8912],
        "soup_validation_accuracy": 0.8931,
        "kept": True,
    }
    (line,) = _soup_lines(report)
    assert "2 students from the same start with seeds 42, 1042 (validation accuracies 0.8900, 0.8912)" in line
    assert line.endswith("the mean of their weights is the saved network (validation accuracy 0.8931).")
    (worse,) = _soup_lines({**report, "soup_validation_accuracy": 0.88, "kept": False, "kept_student": 2})
    assert "did worse on validation (0.8800), student 2 is the saved network" in worse
    assert _soup_lines(None) == []


def test_card_names_domain_teachers_teacher_bundles_and_the_label_audit():
    from sentiment.model.modelcard import _distill_lines, render_model_card

    training = {
        "rows": 1000,
        "domain_teachers": {
            "labeled_share": 0.5,
            "teachers": {
                "movie": {"training_rows": 600, "epochs_run": 2, "validation_accuracy": 0.91},
                "steam": {"training_rows": 400, "epochs_run": 4, "validation_accuracy": 0.77},
            },
        },
        "label_noise": {"mode": "drop", "rows": 1000, "flagged": 63, "flagged_share": 0.063},
    }
    card = render_model_card("m", Config(), {"training": training}, None, None, "make it")
    assert "Domain teachers (`distill.domain_teachers`)" in card
    assert "movie: 600 rows, 2 epoch(s), validation accuracy 0.9100; steam: 400 rows" in card
    assert "0.5 x its label + 0.5 x its domain teacher's probabilities" in card
    assert '`train.label_noise = "drop"`): 63 of 1,000 rows flagged (6.3%)' in card
    bundle = {"kind": "model", "network": "the bundle runs/big/model (BiLSTM(128))", "validation_accuracy": 0.88}
    line = _distill_lines(
        {"teachers": [bundle], "ensemble_validation_accuracy": 0.88, "transfer_rows": 10, "teacher_weights": [1.0]}
    )[0]
    assert "the bundle runs/big/model (BiLSTM(128)): validation accuracy 0.8800" in line


def test_card_says_when_early_stopping_watched_the_mean_over_domains_and_a_teacher_was_reused():
    from sentiment.model.modelcard import render_model_card

    teacher = {"training_rows": 900, "epochs_run": 2, "validation_accuracy": 0.8}
    meta = {
        "training": {
            "rows": 1000,
            "class_counts": {"0": 500, "1": 500},
            "epochs_run": 2,
            "domains": {"labeled_rows": {"movie": 900, "steam": 100}, "balance": 0.5},
            "domain_teachers": {
                "labeled_share": 0.5,
                "teachers": {"movie": {**teacher, "reused": True}, "steam": teacher},
            },
        }
    }
    cfg = Config().with_overrides({"train.monitor": "accuracy", "train.monitor_domains": True})
    card = render_model_card("m", cfg, meta, None, None, "make it")
    assert "early stopping on validation accuracy (the mean over the domains) (patience 1)" in card
    assert (
        "movie: 900 rows, 2 epoch(s) (fine-tuned by an earlier run of the same recipe and reused), validation" in card
    )
    assert "steam: 900 rows, 2 epoch(s), validation accuracy 0.8000" in card
    plain = render_model_card("m", cfg.with_overrides({"train.monitor_domains": False}), meta, None, None, "make it")
    assert "the mean over the domains" not in plain and "class weights" not in plain
    weighted = cfg.with_overrides({"train.class_weight": "balanced_by_domain"})
    assert "class weights balanced within each domain, up to" in render_model_card("m", weighted, meta, None, None, "x")
