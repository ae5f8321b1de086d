#!/usr/bin/env python
"""Score a comment file: INPUT -o OUTPUT [--model DIR].

Thin wrapper: the same as `sentiment score ...`; see `--help`.
"""

import sys

from sentiment.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["score", *sys.argv[1:]]))
