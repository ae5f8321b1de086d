"""Text processing: normalization, KoNLPy tokenizers, vocabulary, padded sequences, the token cache, Word2Vec."""
