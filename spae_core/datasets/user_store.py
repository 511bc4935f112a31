"""A user's own datasets, saved once so that the experiment grid can load them by name.

The grid refers to a dataset by its name (:class:`spae_core.experiments.RunSpec`), and its runs
may train in other processes (joblib workers, a notebook kernel), so a dataset read from a user's
file is saved to a directory and found there by name: the directories listed in the environment
variable :data:`USER_DATA_ENV` (``os.pathsep``-separated) are searched by :func:`find_user_dataset`,
which :func:`spae_core.datasets.load` and :func:`spae_core.datasets.load_counts` consult for names
that are not the built-in datasets'. Child processes inherit the variable, so set it before the
grid starts (``spae compare`` does).

An entry is ``<directory>/<name>/`` in the layout of the dataset cache
(:mod:`spae_core.datasets.cache`), plus the SHA-256 of its content, so that a directory can tell
whether it already holds the same data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .cache import read_entry, write_entry
from .dataset import BinaryDataset

__all__ = ["USER_DATA_ENV", "check_user_dataset_name", "dataset_digest", "find_user_dataset", "save_user_dataset", "user_dataset_names"]

#: Directories (``os.pathsep``-separated) searched for saved user datasets.
USER_DATA_ENV = "SPAE_USER_DATA"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def dataset_digest(dataset: BinaryDataset) -> str:
    """SHA-256 (hex) of what a run trains and is scored on: the kind, the matrix, names, row ids and targets."""
    digest = hashlib.sha256()
    X = dataset.X
    digest.update(f"{type(dataset).__name__}|{X.shape}|{dataset.task}".encode())
    for array in (X.indptr, X.indices, X.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    for values in (dataset.feature_names, dataset.row_ids.astype(str)):
        digest.update("\x1f".join(map(str, values)).encode())
    for column in dataset.targets.columns:
        digest.update(f"\x1e{column}\x1d".encode())
        digest.update("\x1f".join(map(str, dataset.targets[column].to_numpy())).encode())
    return digest.hexdigest()


def check_user_dataset_name(name: str) -> str:
    """``name`` if it can name a saved dataset (and a run directory); a ValueError saying the rule otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"dataset name {name!r} cannot name a saved dataset: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. name='grants', or --name grants on the command line)."
        )
    return name


def save_user_dataset(dataset: BinaryDataset, directory) -> Path:
    """Save ``dataset`` as ``<directory>/<dataset.name>/`` and return that path.

    Saving the same content again is a no-op; another dataset under a saved name is refused.

    Raises
    ------
    ValueError
        If the name is not a plain file name, or ``directory`` already holds a different dataset
        of that name (the message says how to proceed).
    """
    name = check_user_dataset_name(dataset.name)
    path = Path(directory) / name
    digest = dataset_digest(dataset)
    existing = _read(path)
    if existing is not None:
        if dataset_digest(existing) == digest:
            return path
        raise ValueError(
            f"{path} already holds another dataset named {name!r} (different rows, columns, values or labels); "
            "use another directory or another name."
        )
    write_entry(path, dataset, {"user_dataset": name, "sha256": digest})
    return path


def _read(path: Path) -> BinaryDataset | None:
    return read_entry(path) if (path / "meta.json").is_file() else None


def _directories() -> list[Path]:
    return [Path(part) for part in os.environ.get(USER_DATA_ENV, "").split(os.pathsep) if part]


def find_user_dataset(name: str) -> BinaryDataset | None:
    """The saved user dataset called ``name`` in the directories of :data:`USER_DATA_ENV`, or None."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    for directory in _directories():
        dataset = _read(directory / name)
        if dataset is not None:
            return dataset
    return None


def user_dataset_names(kind: str = "binary") -> list[str]:
    """Names of the saved user datasets of ``kind`` (``"binary"`` or ``"counts"``) in :data:`USER_DATA_ENV`'s directories."""
    if kind not in ("binary", "counts"):
        raise ValueError(f"kind must be 'binary' or 'counts', got {kind!r}.")
    names = []
    for directory in _directories():
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if not (entry / "meta.json").is_file() or entry.name in names:
                continue
            if _is_counts(entry) == (kind == "counts"):
                names.append(entry.name)
    return names


def _is_counts(entry: Path) -> bool:
    return json.loads((entry / "meta.json").read_text(encoding="utf-8")).get("kind") == "counts"

