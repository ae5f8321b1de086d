#!/usr/bin/env python
"""Stage 2 - tokenize the prepared splits with KoNLPy into RUN/tokens/.

(Named so that it does not shadow Python's own tokenize module.)

Thin wrapper: the same as `sentiment tokenize ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["tokenize", *sys.argv[1:]]))
