"""Several domains in one run: named data files, per-domain splits and weights, per-domain figures."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, TINY_CONFIG, assert_user_error, run_cli

from sentiment.errors import ConfigError
from sentiment.training.domains import domain_weights, metrics_by_group, named_files, split_named


def test_domain_weights_give_each_domain_its_share():
    domains = ["movie"] * 900 + ["shop"] * 100
    assert domain_weights(domains, 1.0) is None  # rows count as they come
    assert domain_weights(["a"] * 10, 0.0) is None  # one domain: nothing to balance
    equal = domain_weights(domains, 0.0)
    totals = {d: equal[np.asarray(domains) == d].sum() for d in ("movie", "shop")}
    assert totals["movie"] == pytest.approx(totals["shop"]) and equal.mean() == pytest.approx(1.0)
    root = domain_weights(domains, 0.5)
    share = root[np.asarray(domains) == "shop"].sum() / root.sum()
    assert share == pytest.approx(10 / (30 + 10))  # sqrt(100) / (sqrt(900) + sqrt(100))


def test_class_weights_balanced_within_each_domain():
    """A mostly positive domain does not tilt a balanced one: its weights stay 1, and each domain's classes
    weigh the same in total within it; over all rows ("balanced") the balanced domain's negatives would count
    about 3 times its positives."""
    from sentiment.config import Config
    from sentiment.training.recipe import class_weights

    y = np.array([1] * 900 + [0] * 100 + [1] * 50 + [0] * 50)
    domains = np.array(["movie"] * 1000 + ["steam"] * 100)
    by_domain = class_weights(Config().with_overrides({"train.class_weight": "balanced_by_domain"}), y, 2, domains)
    pooled = class_weights(Config().with_overrides({"train.class_weight": "balanced"}), y, 2, domains)
    steam, movie = domains == "steam", domains == "movie"
    np.testing.assert_allclose(by_domain[steam], 1.0)
    assert by_domain[movie & (y == 0)].sum() == pytest.approx(by_domain[movie & (y == 1)].sum())
    assert by_domain[movie].mean() == pytest.approx(1.0)
    ratio = pooled[steam & (y == 0)][0] / pooled[steam & (y == 1)][0]
    assert ratio == pytest.approx(950 / 150)  # pooled: inverse of the overall class counts
    soft = np.eye(2, dtype=np.float32)[y] * 0.8 + 0.1  # soft targets count as their likeliest class
    np.testing.assert_allclose(
        class_weights(Config().with_overrides({"train.class_weight": "balanced_by_domain"}), soft, 2, domains),
        by_domain,
    )
    one = class_weights(Config().with_overrides({"train.class_weight": "balanced_by_domain"}), y, 2, None)
    np.testing.assert_allclose(one, pooled)  # without domains: the same as "balanced"
    assert class_weights(Config(), y, 2, domains) is None


def test_named_paths(tmp_path):
    assert split_named("shopping=data/x.tsv") == ("shopping", "data/x.tsv")
    odd = tmp_path / "a=b.csv"
    odd.write_text("x")
    assert split_named(str(odd)) == (None, str(odd))  # an existing file whose name holds '='
    assert named_files(["x.csv", "app=y.csv"], "movie") == [("movie", "x.csv"), ("app", "y.csv")]
    with pytest.raises(ConfigError, match="domain name"):
        split_named("bad name!=x.csv")


def test_metrics_by_group_match_the_rows_of_each_group():
    labels = np.array([0, 1, 0, 1, 1, 0])
    proba1 = np.array([0.1, 0.9, 0.8, 0.7, 0.4, 0.2])
    proba = np.stack([1 - proba1, proba1], axis=1)
    groups = ["a", "a", "a", "b", "b", "b"]
    out = metrics_by_group(labels, proba, np.array([0, 1]), groups)
    assert out["a"]["rows"] == 3 and out["a"]["accuracy"] == pytest.approx(2 / 3)
    assert out["b"]["accuracy"] == pytest.approx(2 / 3) and out["b"]["roc_auc"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def domain_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("domains")
    frame = pd.read_csv(SAMPLE)
    paths = {}
    for name, part in frame.groupby("domain"):
        paths[name] = folder / f"{name}.csv"
        part.drop(columns="domain").to_csv(paths[name], index=False)
    unlabeled = folder / "shopping_unlabeled.txt"
    unlabeled.write_text("배송 빠르고 포장 꼼꼼해요\n사이즈가 너무 작아서 반품합니다\n가성비 최고\n", encoding="utf-8")
    return paths, unlabeled


def test_multi_domain_pipeline_and_group_by(tmp_path, domain_files):
    paths, unlabeled = domain_files
    run = tmp_path / "run"
    result = run_cli(
        "pipeline",
        "--data",
        f"movie={paths['movie']}",
        "--data",
        f"shopping={paths['shopping']}",
        "--data",
        f"news={paths['news']}",
        "--test-size",
        "0.25",
        "--test-size",
        "movie=40",
        "--extra-texts",
        f"shopping={unlabeled}",
        "--run-dir",
        str(run),
        "--config",
        str(TINY_CONFIG),
        "--set",
        "train.domain_balance=0.5",
        "--set",
        "distill.char_ngram_teacher=true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    train = pd.read_parquet(run / "prepared" / "train.parquet")
    test = pd.read_parquet(run / "prepared" / "test.parquet")
    sample = pd.read_csv(SAMPLE)
    assert set(test["domain"]) == {"movie", "shopping", "news"}
    assert (test["domain"] == "movie").sum() == 40
    for name in ("shopping", "news"):  # 25% of each domain's rows
        assert (test["domain"] == name).sum() == pytest.approx(0.25 * (sample["domain"] == name).sum(), abs=1)
    assert not set(train["text"]) & set(test["text"])
    assert len(train) + len(test) == len(sample)
    extra = pd.read_parquet(run / "tokens" / "extra.parquet")
    assert set(extra["domain"]) == {"shopping"}

    meta = json.loads((run / "model" / "meta.json").read_text())
    domains = meta["training"]["domains"]
    assert domains["balance"] == 0.5 and set(domains["labeled_rows"]) == {"movie", "shopping", "news"}
    assert set(meta["training"]["metrics"]["validation"]["by_domain"]) <= {"movie", "shopping", "news"}
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert {name: m["rows"] for name, m in metrics["by_domain"].items()} == test["domain"].value_counts().to_dict()
    assert "domain" in result.stderr and (run / "report" / "metrics_by_domain.csv").is_file()

    # evaluate --group-by on the sample's own domain column gives the same figures as the stage, per group
    test_file = tmp_path / "test.csv"
    test.rename(columns={"text": "document"}).to_csv(test_file, index=False)
    out = run_cli(
        "evaluate",
        "--model",
        str(run / "model"),
        "--data",
        str(test_file),
        "--group-by",
        "domain",
        "--json",
        "--report-dir",
        str(tmp_path / "rep"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    by_group = json.loads(out.stdout)["by_group"]
    for name, m in metrics["by_domain"].items():
        assert by_group[name]["rows"] == m["rows"]
        assert by_group[name]["accuracy"] == pytest.approx(m["accuracy"], abs=1e-6)

    bad = run_cli("evaluate", "--model", str(run / "model"), "--data", str(test_file), "--group-by", "product")
    assert_user_error(bad, "no column 'product'", "'domain'")


def test_multi_domain_errors(tmp_path, domain_files):
    paths, _ = domain_files
    base = ["prepare", "--run-dir", str(tmp_path / "r"), "--data", f"movie={paths['movie']}"]
    assert_user_error(run_cli(*base, "--data", f"movie={paths['news']}"), "given twice")
    assert_user_error(run_cli(*base, "--test-size", "steam=0.2"), "unknown domain(s) steam")
    assert_user_error(run_cli(*base, "--test-size", "5000"), "not below its")
    assert_user_error(run_cli(*base, "--test-size", "abc"), "neither a share")


def test_training_can_start_from_a_bundle_with_capped_domains(tmp_path, domain_files, tiny_model_dir):
    """train.init_from continues from a trained network (its vocabulary grown); domain_max_rows caps a domain."""
    from sentiment import SentimentClassifier

    paths, _ = domain_files
    run = tmp_path / "run"
    result = run_cli(
        "pipeline",
        "--data",
        f"movie={paths['movie']}",
        "--data",
        f"shopping={paths['shopping']}",
        "--test-size",
        "0.25",
        "--run-dir",
        str(run),
        "--config",
        str(TINY_CONFIG),
        "--set",
        f"train.init_from={tiny_model_dir}",
        "--set",
        "train.domain_max_rows=60",
        "--set",
        "train.epochs=1",
        "--set",
        "adapt.new_token_min_count=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads((run / "model" / "meta.json").read_text())
    start = meta["training"]["init_from"]
    assert start["bundle"] == str(tiny_model_dir) and len(start["bundle_id"]) == 64
    assert meta["training"]["domain_max_rows"]["kept"] == 60 + 60  # both domains capped at 60 rows
    source = SentimentClassifier.load(tiny_model_dir)
    tokens = json.loads((run / "model" / "vocab.json").read_text())["tokens"]
    assert tokens[: len(source.vocabulary_)] == source.vocabulary_.tokens  # the source's ids are kept
    assert len(tokens) == len(source.vocabulary_) + start["new_tokens"]
    bad = run_cli(
        "train",
        "--run-dir",
        str(run),
        "--config",
        str(TINY_CONFIG),
        "--force",
        "--set",
        f"train.init_from={tiny_model_dir}",
        "--set",
        "model.lstm_units=[8]",
    )
    assert_user_error(bad, "model.lstm_units = [8]", "[16]")
