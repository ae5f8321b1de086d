"""The one place the package imports TensorFlow and Keras, without TensorFlow's native log noise.

TensorFlow's C++ code logs through absl. Lines logged before absl's logging is initialised (``WARNING: All
log messages before absl::InitializeLog() is called are written to STDERR``, ``I0000 … port.cc] oneDNN custom
operations are on …``) ignore ``TF_CPP_MIN_LOG_LEVEL`` and go straight to file descriptor 2 while
``import tensorflow`` runs; later ones (``E0000 … oneDNN supports DT_BOOL only on platforms with AVX-512``, at
the first prediction) obey it. So, the first time TensorFlow is imported through this module:

* ``TF_CPP_MIN_LOG_LEVEL`` defaults to ``3`` (only fatal native messages) unless it is already set: set it to
  ``0`` (or run the CLI with ``-v``) to see everything;
* what the import writes to file descriptor 2 is held back and written out again afterwards, minus the absl
  lines below that level (and the message continuation lines that belong to them).

Nothing else changes: TensorFlow's numerics (oneDNN stays on), Python's ``logging`` and ``warnings``, and any
TensorFlow the application imported itself, which is left alone.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile
import threading
from types import ModuleType

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "3"
# absl's line format: severity letter, MMDD, time (00:00:<epoch seconds> before absl is initialised), thread id,
# file:line]
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s\]]+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_IMPORT_LOCK = threading.Lock()


def import_tensorflow() -> ModuleType:
    """``import tensorflow``, quietly the first time (see the module's docstring)."""
    return _import_quietly("tensorflow")


def import_keras() -> ModuleType:
    """``import keras`` (which imports its TensorFlow backend), quietly the first time."""
    import_tensorflow()
    return _import_quietly("keras")


def _import_quietly(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    with _IMPORT_LOCK:  # two threads must not swap file descriptor 2 at once
        if name in sys.modules:
            return sys.modules[name]
        os.environ.setdefault(LOG_LEVEL_VARIABLE, DEFAULT_LOG_LEVEL)
        try:
            level = int(os.environ[LOG_LEVEL_VARIABLE])
        except ValueError:
            level = 0
        if level <= 0:
            return importlib.import_module(name)
        with _filtered_stderr(level):
            return importlib.import_module(name)


def filter_native_log(text: str, level: int) -> str:
    """``text`` without the absl log lines below ``level`` (TF_CPP_MIN_LOG_LEVEL's meaning: 1 hides INFO,
    2 also WARNING, 3 also ERROR) and without the lines that continue a hidden message."""
    kept, hiding = [], False
    for line in text.splitlines(keepends=True):
        match = _ABSL_LINE.match(line)
        if match:
            hiding = _SEVERITY[match.group(1)] < level
        elif line.rstrip("\r\n") == _ABSL_PREAMBLE:
            hiding = level > _SEVERITY["W"]
        elif hiding and not _starts_like_a_record(line):
            pass  # a continuation line of the hidden message
        else:
            hiding = False
        if not hiding:
            kept.append(line)
    return "".join(kept)


def _starts_like_a_record(line: str) -> bool:
    """A line that starts something new (a Python warning or traceback), not a continuation."""
    return line.startswith(("Traceback", "WARNING", "ERROR", "/", "<")) or ": " in line.split(" ", 1)[0]


class _filtered_stderr:
    """Send file descriptor 2 to a temporary file for the duration, then write it back filtered."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.saved: int | None = None

    def __enter__(self) -> None:
        try:
            sys.stderr.flush()
            self.capture = tempfile.TemporaryFile()
            self.saved = os.dup(2)
            os.dup2(self.capture.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded interpreters, closed stderr)
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        if self.saved is None:
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.capture.seek(0)
        text = filter_native_log(self.capture.read().decode("utf-8", "replace"), self.level)
        self.capture.close()
        if text:
            os.write(2, text.encode("utf-8"))
