"""gensim Word2Vec training and the embedding matrix that initialises the LSTM."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from ..config import Word2VecConfig
from .vocab import Vocabulary


def stable_hash(text: str) -> int:
    """Process-independent hash for gensim's vector seeding (Python's ``hash`` varies per run)."""
    return zlib.crc32(text.encode("utf-8"))


def train_word2vec(sentences: Sequence[Sequence[str]], cfg: Word2VecConfig, seed: int, workers: int = 1):
    """Train Word2Vec on token lists; returns gensim ``KeyedVectors``.

    With ``workers=1`` the result is reproducible for a given seed.
    """
    from gensim.models import Word2Vec

    sentences = [list(s) for s in sentences if s]
    if not sentences:
        raise ValueError("Word2Vec needs at least one non-empty tokenized text")
    model = Word2Vec(
        sentences=sentences,
        vector_size=cfg.vector_size,
        window=cfg.window,
        min_count=cfg.min_count,
        sg=int(cfg.sg),
        epochs=cfg.epochs,
        seed=seed,
        workers=max(1, workers),
        max_final_vocab=cfg.max_vocab,
        hashfxn=stable_hash,
    )
    return model.wv


def vocabulary_from_vectors(keyed_vectors, max_vocab: int) -> Vocabulary:
    """Most frequent Word2Vec tokens first (gensim keeps them sorted by frequency)."""
    return Vocabulary(keyed_vectors.index_to_key[:max_vocab])


def embedding_matrix(vocab: Vocabulary, keyed_vectors, seed: int) -> np.ndarray:
    """Rows in vocabulary order; padding is zeros, ``<unk>`` a small random vector."""
    dim = keyed_vectors.vector_size
    matrix = np.zeros((len(vocab), dim), dtype=np.float32)
    rng = np.random.default_rng(seed)
    matrix[1] = rng.normal(0.0, 0.1, dim)
    for i, token in enumerate(vocab.tokens[2:], start=2):
        if token in keyed_vectors.key_to_index:
            matrix[i] = keyed_vectors[token]
        else:
            matrix[i] = rng.normal(0.0, 0.1, dim)
    return matrix
