"""Writing files whole or not at all: a temporary file in the same folder, renamed into place.

Two processes writing the same file never see half of it, and a failed write leaves
nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(temporary_path)``, then rename it into place.

    Parameters
    ----------
    path : pathlib.Path
        The file; its folder is created when missing.
    write : callable
        Writes the content to the path it is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
