#!/usr/bin/env python
"""All stages in order, skipping those whose inputs did not change.

Thin wrapper: the same as `sentiment pipeline ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["pipeline", *sys.argv[1:]]))
