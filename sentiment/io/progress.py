"""Progress bars (tqdm) that switch themselves off when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Any


def progress_enabled(enable: bool | None) -> bool:
    """``None`` means: on when stderr is a terminal."""
    if enable is None:
        return sys.stderr.isatty()
    return enable


def progress_bar(total: int | None, unit: str, desc: str, enable: bool | None = None) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        disable=not progress_enabled(enable),
        unit_scale=True,
        dynamic_ncols=True,
        file=sys.stderr,
    )
