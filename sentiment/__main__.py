"""``python -m sentiment``: the same command as ``sentiment``."""

from .apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
