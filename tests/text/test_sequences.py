import numpy as np
import pytest

from sentiment.text.sequences import batch_width, bucketed_batches, count_batches, length_sorted_batches, pad
from sentiment.text.vocab import OOV_ID, Vocabulary

SEQS = [np.array([1, 2, 3, 4, 5]), np.array([6, 7]), np.array([], dtype=np.int32)]


@pytest.mark.parametrize(
    "padding, truncating, expected",
    [
        ("post", "pre", [[2, 3, 4, 5], [6, 7, 0, 0], [0, 0, 0, 0]]),
        ("post", "post", [[1, 2, 3, 4], [6, 7, 0, 0], [0, 0, 0, 0]]),
        ("pre", "pre", [[2, 3, 4, 5], [0, 0, 6, 7], [0, 0, 0, 0]]),
        ("pre", "post", [[1, 2, 3, 4], [0, 0, 6, 7], [0, 0, 0, 0]]),
    ],
)
def test_pad_sides(padding, truncating, expected):
    out = pad(SEQS, maxlen=4, padding=padding, truncating=truncating)
    assert out.dtype == np.int32 and out.shape == (3, 4)
    assert out.tolist() == expected


def test_pad_to_batch_width():
    out = pad(SEQS, maxlen=80, padding="post", truncating="pre", length=8)
    assert out.shape == (3, 8) and out[0, :5].tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        pad(SEQS, maxlen=80, length=3)


def test_batch_width_rounds_and_caps():
    assert batch_width(np.array([3, 5]), 80) == 8
    assert batch_width(np.array([9]), 80) == 16
    assert batch_width(np.array([200]), 80) == 80
    assert batch_width(np.array([0]), 80) == 8


@pytest.mark.parametrize("n, batch", [(1, 4), (10, 3), (1000, 7), (20_000, 128)])
def test_bucketed_batches_cover_every_row_once(n, batch):
    lengths = np.random.default_rng(0).integers(1, 80, n)
    batches = bucketed_batches(lengths, batch, np.random.default_rng(1))
    assert len(batches) == count_batches(n, batch, windowed=True)
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    sorted_batches = length_sorted_batches(lengths, batch)
    assert len(sorted_batches) == count_batches(n, batch, windowed=False)
    assert sorted(np.concatenate(sorted_batches).tolist()) == list(range(n))


def test_bucketing_reduces_padding():
    lengths = np.random.default_rng(0).integers(1, 80, 10_000)
    buckets = bucketed_batches(lengths, 128, np.random.default_rng(0))
    padded = sum(batch_width(lengths[b], 80) * len(b) for b in buckets)
    assert padded < 0.7 * 80 * len(lengths)


def test_vocabulary():
    vocab = Vocabulary(["영화", "최고"])
    assert vocab.tokens[:2] == ["<pad>", "<unk>"]
    assert vocab.encode(["영화", "없는말", "최고"]).tolist() == [2, OOV_ID, 3]
    assert vocab.encode([]).tolist() == [OOV_ID]


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary(["영화", "최고", "😍"])
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").tokens == vocab.tokens
