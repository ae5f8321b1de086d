"""Training loop options of sentiment.model.network on small synthetic sequences (real Keras training)."""

import numpy as np
import pytest

from sentiment.config import Config
from sentiment.errors import ConfigError
from sentiment.model.network import _learning_rate, build_model, fit_model, predict_sequences


def _config(**overrides) -> Config:
    base = {
        "sequence.maxlen": 12,
        "model.lstm_units": [8],
        "model.embedding_dropout": 0.0,
        "model.dropout": 0.0,
        "train.batch_size": 16,
        "train.learning_rate": 0.01,
        "train.epochs": 3,
        "train.seed": 3,
    }
    return Config().with_overrides({**base, **overrides})


def _data(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Sequences over tokens 2..39 labelled by whether token 2 ("good") outnumbers token 3 ("bad"); noisy on purpose."""
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(2, 40, size=rng.integers(3, 12)).astype(np.int32) for _ in range(n)]
    y = np.array([int((s == 2).sum() >= (s == 3).sum()) for s in seqs])
    flip = rng.random(n) < 0.15
    return seqs, np.where(flip, 1 - y, y)


def _matrix() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)


def test_cosine_schedule_values():
    schedule = _learning_rate(_config(**{"train.lr_schedule": "cosine"}), steps=100)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.005, rel=1e-4)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    assert _learning_rate(_config(), steps=100) == 0.01


@pytest.mark.parametrize("schedule, final", [("cosine", 0.0), ("constant", 0.01)])
def test_schedule_runs_to_the_last_step(schedule, final):
    cfg = _config(**{"train.lr_schedule": schedule, "train.epochs": 2})
    x, y = _data(96, seed=1)
    model = build_model(cfg, _matrix(), 2)
    fit_model(model, cfg, (x, y), None, 2)
    steps = 2 * int(np.ceil(96 / 16))
    assert int(model.optimizer.iterations) == steps
    assert float(model.optimizer.learning_rate) == pytest.approx(final, abs=1e-7)


@pytest.mark.parametrize("monitor", ["loss", "accuracy"])
def test_best_epoch_of_the_monitored_value_is_restored(monitor):
    cfg = _config(**{"train.monitor": monitor, "train.epochs": 6, "train.patience": 6})
    (x, y), valid = _data(160, seed=1), _data(48, seed=2)
    model = build_model(cfg, _matrix(), 2)
    history = fit_model(model, cfg, (x, y), valid, 2)
    assert len(history["loss"]) == 6  # patience outlasts the run: the restore happens at the end
    proba = predict_sequences(lambda ids: model(ids, training=False).numpy(), valid[0], cfg, 2)
    if monitor == "accuracy":
        assert (proba.argmax(axis=1) == valid[1]).mean() == pytest.approx(max(history["val_accuracy"]), abs=1e-6)
    else:
        p = np.clip(proba[np.arange(len(valid[1])), valid[1]], 1e-7, 1.0)
        assert float(-np.log(p).mean()) == pytest.approx(min(history["val_loss"]), rel=1e-3)


@pytest.mark.parametrize("key, value", [("train.monitor", "f1"), ("train.lr_schedule", "linear")])
def test_bad_choices_name_the_options(key, value):
    with pytest.raises(ConfigError) as err:
        _config(**{key: value})
    assert value in str(err.value) and ("accuracy" in str(err.value) or "cosine" in str(err.value))


def _epoch_weights():
    import keras

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    return Record()


def test_average_of_the_last_epochs_without_validation():
    cfg = _config(**{"train.average_epochs": 3, "train.epochs": 4})
    x, y = _data(96, seed=1)
    model, record = build_model(cfg, _matrix(), 2), _epoch_weights()
    history = fit_model(model, cfg, (x, y), None, 2, callbacks=[record])
    assert history["averaged"] == {"epochs": 3, "kept": True}
    for got, *epochs in zip(model.get_weights(), *record.weights[-3:]):
        np.testing.assert_allclose(got, np.mean(epochs, axis=0), rtol=1e-6, atol=1e-7)
    assert not np.allclose(model.get_weights()[-2], record.weights[-1][-2])  # not just the last epoch


@pytest.mark.parametrize("seed, kept", [(4, False), (5, True)])  # seeds chosen so that both branches run
def test_average_is_kept_only_when_validation_says_so(seed, kept):
    import keras

    cfg = _config(
        **{
            "train.average_epochs": 3,
            "train.epochs": 5,
            "train.patience": 5,
            "train.monitor": "accuracy",
            "train.seed": seed,
        }
    )
    (x, y), valid = _data(160, seed=seed), _data(48, seed=seed + 1)
    keras.utils.set_random_seed(seed)
    model, record = build_model(cfg, _matrix(), 2), _epoch_weights()
    history = fit_model(model, cfg, (x, y), valid, 2, callbacks=[record])
    averaged = history["averaged"]
    accuracy = (
        predict_sequences(lambda ids: model(ids, training=False).numpy(), valid[0], cfg, 2).argmax(axis=1) == valid[1]
    ).mean()
    best = max(history["val_accuracy"])
    assert averaged["kept"] is kept
    if kept:
        assert averaged["val_accuracy"] >= best and accuracy == pytest.approx(averaged["val_accuracy"], abs=1e-6)
        mean = [np.mean(layer, axis=0) for layer in zip(*record.weights[-3:])]
        np.testing.assert_allclose(model.get_weights()[-1], mean[-1], rtol=1e-6)
    else:
        assert averaged["val_accuracy"] < best and accuracy == pytest.approx(best, abs=1e-6)


def test_no_averaging_by_default():
    cfg = _config()
    x, y = _data(64, seed=1)
    assert "averaged" not in fit_model(build_model(cfg, _matrix(), 2), cfg, (x, y), None, 2)


def _by_domain(proba: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    hits = proba.argmax(axis=1) == y
    losses = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0))
    names = sorted(set(groups.tolist()))
    return (
        float(np.mean([hits[groups == n].mean() for n in names])),
        float(np.mean([losses[groups == n].mean() for n in names])),
    )


@pytest.mark.parametrize("monitor", ["loss", "accuracy"])
def test_domain_monitor_restores_the_best_mean_over_domains(monitor):
    """The restored epoch is the one with the best mean of the domains' figures, which are each domain's own."""
    cfg = _config(**{"train.monitor": monitor, "train.monitor_domains": True, "train.epochs": 5, "train.patience": 5})
    (x, y), valid = _data(160, seed=1), _data(60, seed=2)
    groups = np.array(["big"] * 50 + ["small"] * 10)  # pooled, the big domain would outweigh the small one 5 to 1
    model = build_model(cfg, _matrix(), 2)
    history = fit_model(model, cfg, (x, y), valid, 2, valid_groups=groups)
    assert len(history["val_domain_accuracy"]) == len(history["val_accuracy"]) == 5
    proba = predict_sequences(lambda ids: model(ids, training=False).numpy(), valid[0], cfg, 2)
    accuracy, loss = _by_domain(proba, valid[1], groups)
    if monitor == "accuracy":
        assert accuracy == pytest.approx(max(history["val_domain_accuracy"]), abs=1e-6)
    else:
        assert loss == pytest.approx(min(history["val_domain_loss"]), rel=1e-4)
    pooled = (proba.argmax(axis=1) == valid[1]).mean()
    best = int(
        np.argmax(history["val_domain_accuracy"]) if monitor == "accuracy" else np.argmin(history["val_domain_loss"])
    )
    assert pooled == pytest.approx(history["val_accuracy"][best], abs=1e-6)  # the pooled figure of that same epoch


def test_domain_monitor_stops_on_the_mean_over_domains():
    cfg = _config(
        **{"train.monitor": "accuracy", "train.monitor_domains": True, "train.epochs": 6, "train.patience": 0}
    )
    (x, y), valid = _data(160, seed=3), _data(60, seed=4)
    groups = np.array(["a", "b"] * 30)
    history = fit_model(build_model(cfg, _matrix(), 2), cfg, (x, y), valid, 2, valid_groups=groups)
    means = history["val_domain_accuracy"]
    stop = next((i for i in range(1, 6) if means[i] <= max(means[:i])), 5)  # the first epoch that is no better
    assert len(means) == stop + 1


def test_domain_monitor_needs_two_domains_and_the_switch():
    (x, y), valid = _data(96, seed=1), _data(40, seed=2)
    one = fit_model(
        build_model(_config(), _matrix(), 2),
        _config(**{"train.monitor_domains": True}),
        (x, y),
        valid,
        2,
        valid_groups=np.array(["only"] * 40),
    )
    off = fit_model(
        build_model(_config(), _matrix(), 2), _config(), (x, y), valid, 2, valid_groups=np.array(["a", "b"] * 20)
    )
    assert "val_domain_accuracy" not in one and "val_domain_accuracy" not in off and "val_accuracy" in one
