#!/usr/bin/env python
"""Stage 4 - train the (Bi)LSTM: --run-dir RUN for the stage, or --data FILE --out DIR in one go.

Thin wrapper: the same as `sentiment train ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
