"""Durable file writes shared by the file-backed parts of the service (audio store, file drop)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable: a crash right after would otherwise lose the
    file. Not every platform or file system opens or syncs a directory (Windows, some network
    file systems); there the rename is as durable as that file system makes it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
