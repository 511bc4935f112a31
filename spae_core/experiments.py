"""The experiment grid (datasets x losses x seeds) and its results store: the names users import.

The grid lives in :mod:`spae_core.runs`, one concern per module:

- :mod:`spae_core.runs.spec`: what a run is (:class:`RunSpec`, its key and run name,
  :func:`grid_specs`, :func:`sweep_specs`, :func:`check_spec`, :func:`subsample_rows`);
- :mod:`spae_core.runs.store`: where runs live on disk and reading them back
  (:func:`results_dir`, :func:`load_records`, :func:`load_specs`, :func:`load_distributions`,
  :func:`load_histories`, :class:`StaleRecordsError`, :func:`training_allowed`);
- :mod:`spae_core.runs.runner`: training and evaluating runs (:func:`run_one`, :func:`run_grid`
  in parallel through joblib, :func:`retrain_stored`).

This module re-exports their public names, so ``from spae_core.experiments import run_grid`` and
the like keep working.
"""

from __future__ import annotations

from .provenance import package_versions
from .runs.runner import CHECKPOINT_EVERY_SECONDS, retrain_stored, run_grid, run_one, unfinished_runs
from .runs.spec import (KEY_OMITTED_AT_DEFAULT, STORE_VERSION, RunSpec, check_spec, grid_specs, is_count_dataset,
                        subsample_rows, sweep_specs)
from .runs.store import (StaleRecordsError, load_distributions, load_histories, load_records, load_specs,
                         results_dir, training_allowed)

__all__ = ["CHECKPOINT_EVERY_SECONDS", "KEY_OMITTED_AT_DEFAULT", "STORE_VERSION", "RunSpec", "StaleRecordsError",
           "check_spec", "grid_specs", "is_count_dataset", "sweep_specs", "results_dir", "load_distributions",
           "load_histories", "load_records", "load_specs", "package_versions", "retrain_stored", "run_grid", "run_one",
           "subsample_rows", "training_allowed", "unfinished_runs"]
