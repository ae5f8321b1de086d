"""Shared fixtures: the hand-written sample data and one tiny model trained on it (real KoNLPy, gensim, Keras)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "comments.csv"
TINY_CONFIG = ROOT / "configs" / "tiny.toml"


@pytest.fixture(scope="session", autouse=True)
def token_cache_dir(tmp_path_factory):
    """Keep the token cache of the tests (and their subprocesses) out of the home directory."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["SENTIMENT_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


@pytest.fixture(scope="session")
def tiny_config():
    from sentiment.config import Config

    return Config.from_toml(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, sample_frame, tiny_config) -> Path:
    """A model trained for a few epochs on the sample, saved as a bundle."""
    from sentiment import SentimentClassifier

    cfg = tiny_config.with_overrides({"train.epochs": 8, "train.validation_split": 0.0})
    clf = SentimentClassifier(config=cfg).fit(sample_frame["document"].tolist(), sample_frame["label"].tolist())
    path = tmp_path_factory.mktemp("models") / "tiny"
    clf.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from sentiment import SentimentClassifier

    return SentimentClassifier.load(tiny_model_dir)


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 300, input_text: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m sentiment ARGS`` in a real subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "sentiment", *args],
        cwd=cwd or ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        input=input_text,
    )


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, one clear 'error:' line naming the fragments, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "error:" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr[-2000:])
