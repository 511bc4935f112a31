"""Facts about the book's own build, for its reproducing page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

__all__ = ["notebook_runtimes"]


def notebook_runtimes(executed_dir) -> pd.DataFrame:
    """Wall time of each papermill-executed notebook in ``executed_dir``, from papermill's metadata.

    Returns
    -------
    DataFrame
        ``notebook``, ``seconds``, ``started`` (UTC), one row per executed notebook that carries
        papermill metadata; empty if there is none yet (e.g. this page runs before the others).
    """
    rows = []
    for path in sorted(Path(executed_dir).glob("*.ipynb")):
        papermill = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if papermill.get("duration") is not None:
            rows.append({"notebook": path.stem, "seconds": round(float(papermill["duration"]), 1),
                         "started": papermill.get("start_time")})
    return pd.DataFrame(rows, columns=["notebook", "seconds", "started"])
