"""Facts about the book's own build, for its reproducing page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

__all__ = ["build_environment", "notebook_runtimes"]


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


def build_environment() -> str:
    """The platform, CPU count, torch threads, CUDA and the version of every pinned package, one per line."""
    import os
    import platform

    import torch

    from .provenance import package_versions

    lines = [f"{platform.platform()}; {os.cpu_count()} CPUs; torch threads: {torch.get_num_threads()}; "
             f"CUDA available: {torch.cuda.is_available()}"]
    lines += [f"{package:>14} {version}" for package, version in package_versions().items()]
    return "\n".join(lines)
