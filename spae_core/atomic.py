"""Atomic file writes: write a temporary file beside the target, then rename it over the target.

A reader (or a run resumed after a crash) sees the old file or the new one, never a half-written
one: ``os.replace`` within one folder is atomic on POSIX and Windows. If writing fails, the
temporary file is removed and the target is left as it was. The temporary file comes from
:func:`tempfile.mkstemp`, so the written file has mode 0600, as before this module existed.

This module sits at the bottom of the package: it imports nothing of spae's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_json"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; it replaces ``path`` when the block ends.

    The target's folder is created if missing. If the block raises, the temporary file is removed
    and the exception propagates. Use it for writers that take a path, e.g.::

        with atomic_path(checkpoint) as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(obj, path: str | os.PathLike, **dump_kwargs) -> None:
    """``json.dump(obj, ..., **dump_kwargs)`` into ``path``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        json.dump(obj, handle, **dump_kwargs)
