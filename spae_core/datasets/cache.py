"""On-disk cache of processed datasets.

An entry is a directory ``<cache_dir>/<name>-<key>/`` holding ``X.npz`` (``scipy.sparse.save_npz``),
``arrays.npz`` (feature names, row ids and one array per target column; saved without pickle) and
``meta.json`` (task, paper counterpart, provenance, and the identity the key was computed from).
The key is a hash of everything that determines the content: dataset name, rule version, rule
parameters, source package and its version, and this file format's version; changing any of them
gives a new key, so stale entries are never read. Entries are written to a temporary directory
and renamed into place, so a reader never sees a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .counts import CountDataset
from .dataset import BinaryDataset

#: Environment variable that sets the cache directory.
CACHE_ENV_VAR = "SPAE_CACHE_DIR"
#: Version of the on-disk layout; part of every key.
CACHE_FORMAT = "spae-datasets-cache-1"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir`` if given, else ``$SPAE_CACHE_DIR``, else ``~/.cache/spae``."""
    if cache_dir is not None:
        return Path(cache_dir)
    from_env = os.environ.get(CACHE_ENV_VAR)
    return Path(from_env) if from_env else Path.home() / ".cache" / "spae"


def cache_key(identity: dict[str, Any]) -> str:
    """A short hash of a JSON-serialisable identity (key order does not matter)."""
    text = json.dumps({"format": CACHE_FORMAT, **identity}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def entry_path(root: Path, name: str, identity: dict[str, Any]) -> Path:
    """Directory of the entry for ``name`` with this identity."""
    return root / f"{name}-{cache_key(identity)}"


def read_entry(path: Path) -> BinaryDataset | None:
    """The cached dataset at ``path``, or None if there is no complete entry."""
    if not (path / "meta.json").is_file():
        return None
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    X = sp.csr_array(sp.load_npz(path / "X.npz"))
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        targets = pd.DataFrame(
            {column: arrays[f"target_{i}"] for i, column in enumerate(meta["target_columns"])},
            index=pd.RangeIndex(X.shape[0]),
        )
        feature_names, row_ids = arrays["feature_names"], arrays["row_ids"]
    # Entries written before count datasets existed have no "kind": they are binary.
    cls = CountDataset if meta.get("kind") == "counts" else BinaryDataset
    return cls(
        name=meta["name"], X=X, feature_names=feature_names, row_ids=row_ids, targets=targets,
        task=meta["task"], paper_counterpart=meta["paper_counterpart"], provenance=meta["provenance"],
    )


def write_entry(path: Path, dataset: BinaryDataset, identity: dict[str, Any]) -> None:
    """Write ``dataset`` to ``path`` atomically (temporary directory, then rename).

    An existing entry (broken, or being refreshed) is first renamed out of the way, so a reader
    sees the old entry, the new one, or none (and rebuilds), never a mixture.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new.", dir=path.parent))
    retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
    try:
        _write_files(staging, dataset, identity)
        if path.exists():
            os.replace(path, retired / "entry")
        os.replace(staging, path)
    except OSError:
        if (path / "meta.json").is_file():
            # Another process finished the same entry first; same identity, same content.
            return
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def _write_files(directory: Path, dataset: BinaryDataset, identity: dict[str, Any]) -> None:
    sp.save_npz(directory / "X.npz", dataset.X)
    targets = {
        f"target_{i}": _without_objects(dataset.targets[c].to_numpy())
        for i, c in enumerate(dataset.targets.columns)
    }
    np.savez(directory / "arrays.npz", feature_names=dataset.feature_names, row_ids=dataset.row_ids, **targets)
    meta = {
        "name": dataset.name,
        "task": dataset.task,
        "paper_counterpart": dataset.paper_counterpart,
        "provenance": dataset.provenance,
        "target_columns": [str(c) for c in dataset.targets.columns],
        "identity": identity,
    }
    if isinstance(dataset, CountDataset):
        meta["kind"] = "counts"
    (directory / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")


def _without_objects(values: np.ndarray) -> np.ndarray:
    """numpy would pickle an object array; text columns are stored as fixed-width strings."""
    return values.astype(str) if values.dtype == object else values
