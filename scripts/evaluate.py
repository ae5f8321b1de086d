#!/usr/bin/env python
"""Stage 5 - metrics, plots and mistakes: --run-dir RUN, or --model DIR --data FILE.

Thin wrapper: the same as `sentiment evaluate ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["evaluate", *sys.argv[1:]]))
