"""File modes for what the package writes.

Temporary files and folders (``tempfile.mkstemp``/``mkdtemp``) are private (0600/0700); an output renamed into
place from one must get the mode a plain ``open()``/``mkdir()`` would have given it, so that the user's umask
decides who may read scored files and model bundles, as for any other file they create.
"""

from __future__ import annotations

import os


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The mode ``open()`` (0o666) or ``mkdir()`` (0o777) gives a new file or folder under the current umask."""
    return (0o777 if directory else 0o666) & ~current_umask()
