"""Where the grid's runs live on disk, and reading them back.

Each run lives in its own directory ``<results_dir>/runs/<run name>`` (:attr:`RunSpec.run_name`,
which ends in the spec's content hash). A run directory holds ``spec.json``, ``model.pt`` (the
fitted estimator, see :meth:`spae_core.SparseAutoencoder.save`), ``history.json`` (per-epoch
losses and seconds), ``distribution.json`` (the Figure 3 histogram) and ``record.json`` (spec,
metrics, timings, device, versions, the machine's provenance), written last. Every file is written
atomically (:mod:`spae_core.atomic`). Only the JSON files are published; ``model.pt`` stays local.

A record counts as finished only if the current metrics computed it
(:data:`spae_core.evaluation.METRICS_VERSION`); a stale record without weights (a published
record, see :mod:`spae_core.published`) cannot be re-evaluated, and :func:`check_pending` stops
with :class:`StaleRecordsError` naming the runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic
from ..evaluation import METRICS_VERSION
from .spec import RunSpec

__all__ = ["StaleRecordsError", "atomic_write_json", "check_pending", "finished_record",
           "load_distributions", "load_histories", "load_records", "load_specs", "results_dir", "run_dir",
           "training_allowed", "write_distribution"]


def results_dir(preset: str) -> Path:
    """Where a preset's runs are stored: ``$SPAE_RESULTS_DIR`` if set, else ``<root>/results/<preset>``.

    ``<root>`` is ``$SPAE_ROOT`` (the Makefile exports the repository root) or, failing that, the
    directory above the installed ``spae_core`` package. Notebooks resolve paths through this
    function, never from their working directory.
    """
    if os.environ.get("SPAE_RESULTS_DIR"):
        return Path(os.environ["SPAE_RESULTS_DIR"])
    root = Path(os.environ.get("SPAE_ROOT") or Path(__file__).resolve().parents[2])
    return root / "results" / preset


def run_dir(results_dir, spec: RunSpec) -> Path:
    """The directory of ``spec``'s run in the store rooted at ``results_dir``."""
    return Path(results_dir) / "runs" / spec.run_name


def training_allowed() -> bool:
    """False when ``SPAE_TRAINING=off``: the exact test lane renders committed records and must train nothing."""
    return os.environ.get("SPAE_TRAINING", "on").strip().lower() not in ("off", "0", "false", "no")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def atomic_write_json(obj, path) -> None:
    """Store ``obj`` as indented JSON at ``path``, atomically (numpy values as Python's)."""
    atomic.atomic_write_json(obj, path, indent=1, default=_json_default)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def write_distribution(distribution, path) -> None:
    """Store a :class:`spae_core.metrics.ReconstructionDistribution` (Figure 3) as ``distribution.json``."""
    atomic_write_json(
        {"bin_edges": distribution.bin_edges, "density": distribution.density,
         "mass_above_threshold": distribution.mass_above_threshold, "threshold": distribution.threshold},
        path,
    )


# --------------------------------------------------------------------------------------------
# Finished, stale and pending runs
# --------------------------------------------------------------------------------------------


class StaleRecordsError(RuntimeError):
    """Stored records computed by other metric code than this one, with no weights to re-evaluate them."""


def finished_record(run_dir: Path) -> dict | None:
    """The stored record if the run finished and was evaluated by the current metrics."""
    path = Path(run_dir) / "record.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return record if record.get("metrics_version") == METRICS_VERSION else None


def check_pending(pending, results_dir) -> None:
    """Refuse what no run can fix: stale records without weights, or any training with training off.

    ``pending`` are specs without a current record, so a record.json among them is stale; without
    its model.pt (a published record) nothing can re-evaluate it.

    Raises
    ------
    StaleRecordsError
        If a pending run has a record but no weights (the message names the runs and the fix).
    RuntimeError
        If anything is pending and :func:`training_allowed` is false.
    """
    results_dir = Path(results_dir)
    stale = [s.run_name for s in pending if (run_dir(results_dir, s) / "record.json").exists()
             and not (run_dir(results_dir, s) / "model.pt").exists()]
    if stale:
        found = sorted({json.loads((results_dir / "runs" / name / "record.json").read_text()).get("metrics_version")
                        for name in stale}, key=str)
        raise StaleRecordsError(
            f"{len(stale)} stored run(s) in {results_dir} were evaluated by metrics version(s) {found}, but the code "
            f"is at METRICS_VERSION {METRICS_VERSION}, and their weights are not stored (published records carry "
            f"none), so they cannot be re-evaluated: {', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}. "
            "Regenerate them by retraining: `make publish PRESET=<preset>` (then commit published/<preset>/), or, "
            "for the ci golden records, `make golden`."
        )
    if pending and not training_allowed():
        names = [s.run_name for s in pending]
        raise RuntimeError(
            f"{len(pending)} run(s) are not in the store {results_dir} and training is off (SPAE_TRAINING=off: "
            f"the exact test lane renders committed records only): {', '.join(names[:5])}"
            f"{' ...' if len(names) > 5 else ''}. Regenerate the committed records with `make golden`."
        )


# --------------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------------


def load_records(results_dir) -> pd.DataFrame:
    """Every finished run's record under ``results_dir``."""
    paths = sorted(Path(results_dir).glob("runs/*/record.json"))
    return pd.DataFrame([json.loads(p.read_text()) for p in paths])


def load_specs(results_dir, run_names=None) -> list[RunSpec]:
    """The :class:`RunSpec` of every finished run under ``results_dir`` (or of ``run_names``), by run name.

    Raises
    ------
    ValueError
        If a stored spec no longer gives its run's name (the key scheme or the store version
        changed since it was stored): such a run cannot be retrained as the same run.
    """
    dirs = _run_dirs(results_dir, None, "record.json")
    if run_names is not None:
        wanted = set(run_names)
        dirs = [d for d in dirs if d.name in wanted]
    specs = []
    for directory in dirs:
        spec = RunSpec(**json.loads((directory / "spec.json").read_text()))
        if spec.run_name != directory.name:
            raise ValueError(f"the spec stored in {directory} now gives the run name {spec.run_name}: the store's key "
                             "scheme changed since; regenerate these records.")
        specs.append(spec)
    return specs


def _run_dirs(results_dir, specs, marker: str) -> list[Path]:
    """The run directories of ``specs``, or of every run that has ``marker``."""
    if specs is None:
        return sorted(p.parent for p in Path(results_dir).glob(f"runs/*/{marker}"))
    return [run_dir(results_dir, s) for s in specs]


def load_distributions(results_dir, specs=None) -> pd.DataFrame:
    """Figure 3 histograms (long format: one row per run and bin) of the given specs, or of every finished run."""
    frames = []
    for directory in _run_dirs(results_dir, specs, "distribution.json"):
        spec = json.loads((directory / "spec.json").read_text())
        stored = json.loads((directory / "distribution.json").read_text())
        edges = np.asarray(stored["bin_edges"])
        frames.append(pd.DataFrame({
            "dataset": spec["dataset"], "loss": spec["loss"], "seed": spec["seed"], "run_name": directory.name,
            "bin_left": edges[:-1], "bin_right": edges[1:], "density": stored["density"],
            "mass_above_threshold": stored["mass_above_threshold"], "threshold": stored["threshold"],
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_histories(results_dir, specs=None) -> pd.DataFrame:
    """Per-epoch histories (long format) of the given specs, or of every finished run."""
    frames = []
    for directory in _run_dirs(results_dir, specs, "record.json"):
        spec = json.loads((directory / "spec.json").read_text())
        history = pd.DataFrame(json.loads((directory / "history.json").read_text()))
        frames.append(history.assign(dataset=spec["dataset"], loss=spec["loss"], seed=spec["seed"],
                                     learning_rate=spec["learning_rate"], beta=spec["beta"], run_name=directory.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
