#!/usr/bin/env python
"""Stage 1 - read, clean, deduplicate and split labeled data into RUN/prepared/.

Thin wrapper: the same as `sentiment prepare ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["prepare", *sys.argv[1:]]))
