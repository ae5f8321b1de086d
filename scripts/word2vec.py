#!/usr/bin/env python
"""Stage 3 - train gensim Word2Vec on the tokenized train split into RUN/word2vec/.

Thin wrapper: the same as `sentiment word2vec ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["word2vec", *sys.argv[1:]]))
