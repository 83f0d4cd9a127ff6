"""Writing files whole or not at all: a temporary file in the same folder, renamed into place.

Two processes writing the same file never see half of it, and a failed write leaves
nothing behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(temporary_path)``, then rename it into place.

    The file gets the mode other tools give a new file (``0o666`` less the umask, e.g.
    ``0o644``), not the owner-only mode of a private temporary file.

    Parameters
    ----------
    path : pathlib.Path
        The file; its folder is created when missing.
    write : callable
        Writes the content to the path it is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # a fresh name, created here (O_EXCL), so the umask applies to its mode
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        break
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
