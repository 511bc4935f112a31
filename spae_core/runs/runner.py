"""Training and evaluating the grid's runs: one run, a grid of them in parallel, a retrain of stored runs.

- A finished run (a current ``record.json``, see :func:`spae_core.runs.store.finished_record`) is
  never redone: re-running a grid skips it; if the metrics changed since
  (:data:`spae_core.evaluation.METRICS_VERSION`), the run is re-evaluated from its saved weights,
  not retrained; a stale record without weights stops the grid
  (:class:`spae_core.runs.store.StaleRecordsError`).
- An interrupted run resumes from its per-epoch checkpoint with the same final weights.

Grids run in parallel through joblib (``n_jobs``); with joblib's Dask backend the same code runs on
a Dask cluster. Each run pins its torch thread count (``threads_per_run``), so a parallel grid
gives the same numbers as a serial one.
"""

from __future__ import annotations

import functools
import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed, parallel_config
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ..atomic import atomic_path
from ..datasets import load, load_counts
from ..estimator import SparseAutoencoder
from ..evaluation import METRICS_VERSION, evaluate, evaluate_counts
from ..provenance import machine_provenance, package_versions
from .spec import RunSpec, check_spec, is_count_dataset, subsample_rows
from .store import (atomic_write_json, check_pending, finished_record, load_records, load_specs,
                    run_dir, write_distribution)

__all__ = ["CHECKPOINT_EVERY_SECONDS", "retrain_stored", "run_grid", "run_one", "unfinished_runs"]

#: A grid's runs are short; a checkpoint after every epoch would cost more than the minute of
#: training an interruption can lose with this interval.
CHECKPOINT_EVERY_SECONDS = 60.0


def run_one(spec: RunSpec, results_dir, *, device=None, threads_per_run: int | None = None,
            cache_dir=None, progress: bool = False) -> dict:
    """Train and evaluate one run, or return its stored record if it already finished.

    Parameters
    ----------
    spec : RunSpec
    results_dir : path
        Root of the results store.
    device : str, optional
        Training device; default CUDA, then MPS, then CPU.
    threads_per_run : int, optional
        torch and BLAS threads for this run (results depend on them); default: leave as is.
    cache_dir : path, optional
        Dataset cache (see :func:`spae_core.datasets.load`).
    progress : bool
        Show the per-run training progress bar.

    Returns
    -------
    dict
        The run's record (also stored as ``record.json``).
    """
    check_spec(spec)
    directory = run_dir(results_dir, spec)
    record = finished_record(directory)
    if record is not None:
        return record
    check_pending([spec], results_dir)
    # Inside a Dask task joblib's Dask backend is inherited by nested Parallel calls, so
    # scikit-learn's own joblib calls (neighbours, DBSCAN) would become cluster tasks, and the
    # waiting worker would start a second run in the same process: keep a run's inner work local.
    if threads_per_run is None:
        with parallel_config(backend="sequential"):
            return _train_and_evaluate(spec, directory, device, cache_dir, progress)
    # Results depend on thread counts (torch's and the BLAS behind numpy's): pin both, so a run
    # gives the same numbers in a serial grid and in a parallel worker.
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads_per_run))
    try:
        with threadpool_limits(limits=int(threads_per_run)), parallel_config(backend="sequential"):
            return _train_and_evaluate(spec, directory, device, cache_dir, progress)
    finally:
        torch.set_num_threads(previous)


def _train_and_evaluate(spec: RunSpec, directory: Path, device, cache_dir, progress: bool) -> dict:
    """Fit (or load) the run's model, evaluate it, store the distribution and the record; return the record."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(spec.as_dict(), directory / "spec.json")
    dataset = subsample_rows(_load_dataset(spec.dataset, cache_dir), spec.max_rows, spec.split_seed)
    split = dataset.split(seed=spec.split_seed, stratify="auto")  # the grid's rule: its records depend on it
    started = time.perf_counter()
    estimator = _fitted_estimator(spec, directory, split, device, progress)
    # Undefined metrics (one DBSCAN cluster, a label without positives in a small split) are NaN
    # in the record; their explanations are kept with it rather than printed once per run.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if is_count_dataset(spec.dataset):
            metrics, distribution = evaluate_counts(estimator, split, return_distribution=True)
        else:
            metrics, distribution = evaluate(estimator, split, task=dataset.task, return_distribution=True)
    write_distribution(distribution, directory / "distribution.json")
    record = _record(spec, dataset, split, estimator, metrics, caught, time.perf_counter() - started)
    atomic_write_json(record, directory / "record.json")
    (directory / "checkpoint.pt").unlink(missing_ok=True)
    return record


def _fitted_estimator(spec: RunSpec, directory: Path, split, device, progress: bool) -> SparseAutoencoder:
    """The run's stored model if training finished before, else a newly fitted one, stored with its history."""
    model_path = directory / "model.pt"
    if model_path.exists():
        # Training finished before; only the evaluation is (re)done, e.g. after a metric changed.
        return SparseAutoencoder.load(model_path, device=device)
    estimator = spec.estimator(device=device, verbose=progress)
    # A run that ends at max_epochs still improving says so in its record (best_epoch == epochs,
    # stopped_early False; see unfinished_runs); one ConvergenceWarning per run would bury a grid's output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(split.train.X, X_val=split.val.X, checkpoint=directory / "checkpoint.pt",
                      checkpoint_every=CHECKPOINT_EVERY_SECONDS)
    with atomic_path(model_path) as tmp:
        estimator.save(tmp)
    atomic_write_json(estimator.history_, directory / "history.json")
    return estimator


def _record(spec: RunSpec, dataset, split, estimator, metrics: dict, caught, run_seconds: float) -> dict:
    """The run's ``record.json``: spec, data, training, machine, then the metrics and their warnings."""
    return {
        **{k: v for k, v in spec.as_dict().items() if k not in ("loss_params", "hidden_dims")},
        "loss_params": json.dumps(dict(spec.loss_params), sort_keys=True),
        "key": spec.key,
        "run_name": spec.run_name,
        "task": dataset.task,
        "data_kind": "counts" if is_count_dataset(spec.dataset) else "binary",
        "paper_counterpart": dataset.paper_counterpart,
        "n_samples": dataset.shape[0],
        "n_features": dataset.shape[1],
        "dataset_sparsity": dataset.sparsity,
        "n_train": split.train.X.shape[0],
        "n_val": split.val.X.shape[0],
        "epochs": len(estimator.history_),
        "best_epoch": estimator.best_epoch_,
        "stopped_early": estimator.stopped_early_,
        "best_val_loss": float(estimator.history_[estimator.best_epoch_ - 1]["val_loss"]),
        "train_seconds": sum(h["seconds"] for h in estimator.history_),
        "run_seconds": run_seconds,
        "device": estimator.device_,
        "torch_threads": torch.get_num_threads(),
        "versions": json.dumps(package_versions(), sort_keys=True),
        "provenance": json.dumps(machine_provenance(), sort_keys=True),
        "metrics_version": METRICS_VERSION,
        **metrics,
        "warnings": json.dumps(sorted({str(w.message) for w in caught})),
    }


@functools.lru_cache(maxsize=8)
def _load_dataset(name: str, cache_dir):
    """The named dataset, binary or count, read once per process.

    A grid's runs share a few datasets; reading the disk cache for each run cost about a second
    per run on the 20,740-row tweets, more than a short run's training. Datasets are frozen, and
    subsetting makes a new one, so sharing the object between runs is safe.
    """
    return (load_counts if is_count_dataset(name) else load)(name, cache_dir=cache_dir)


def run_grid(specs, results_dir, *, n_jobs: int = 1, threads_per_run: int | None = None, device=None,
             cache_dir=None, progress: bool = True) -> pd.DataFrame:
    """Run every spec not yet finished, ``n_jobs`` at a time, and return all their records.

    Parameters
    ----------
    specs : iterable of RunSpec
    results_dir : path
    n_jobs : int, default=1
        Parallel runs (joblib processes). To run on a Dask cluster, call inside
        ``with joblib.parallel_config(backend="dask"):`` with a ``distributed.Client`` open.
    threads_per_run : int, optional
        torch threads per run. Default: 1 when ``n_jobs > 1`` (so runs do not fight over
        cores), else unchanged. Set it explicitly to compare serial and parallel grids.
    device, cache_dir, progress
        See :func:`run_one`; ``progress`` shows one bar over the grid.

    Returns
    -------
    pandas.DataFrame
        One row per spec, in the order given.
    """
    specs = list(specs)
    for spec in specs:
        check_spec(spec)
    if threads_per_run is None and n_jobs != 1:
        threads_per_run = 1
    results_dir = Path(results_dir)
    pending = [s for s in specs if finished_record(run_dir(results_dir, s)) is None]
    check_pending(pending, results_dir)
    stream = _progress_stream()
    bar = tqdm(total=len(specs), initial=len(specs) - len(pending), desc="runs", unit="run", file=stream,
               disable=not progress or (stream is None and bool(os.environ.get("TQDM_DISABLE"))))
    try:
        jobs = (delayed(run_one)(s, results_dir, device=device, threads_per_run=threads_per_run, cache_dir=cache_dir)
                for s in pending)
        for _ in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
            bar.update(1)
    finally:
        bar.close()
        if stream is not None:
            stream.close()
    return pd.DataFrame([run_one(s, results_dir) for s in specs])


def unfinished_runs(records: pd.DataFrame) -> pd.DataFrame:
    """The runs whose training ended at ``max_epochs`` with the last epoch the best (validation loss still falling).

    Their models may be unfinished: the estimator's ``ConvergenceWarning``, read from the records.
    """
    last_is_best = records["best_epoch"] == records["epochs"]
    return records[last_is_best & ~records["stopped_early"].astype(bool) & (records["epochs"] >= records["max_epochs"])]


def _progress_stream():
    """The terminal, when ``SPAE_PROGRESS=terminal`` (set by ``make book``) and there is one.

    In a notebook kernel both ``sys.stderr`` and file descriptor 2 are forwarded into the
    notebook, so a bar written there would end up in the book; the controlling terminal of the
    ``make`` that started the kernel is not. Without a terminal (CI), there is no bar.
    """
    if os.environ.get("SPAE_PROGRESS") != "terminal":
        return None
    try:
        return open("/dev/tty", "w")
    except OSError:
        return None


def retrain_stored(source, target, run_names=None, progress: bool = False, n_jobs: int = 1) -> pd.DataFrame:
    """Retrain runs stored in ``source`` (or only ``run_names``) into ``target``, as they were trained.

    Each run gets the torch thread count its record states (results depend on it), ``n_jobs``
    runs at a time; the records of ``target`` are returned in the order of
    :func:`spae_core.runs.store.load_specs`.
    """
    specs = load_specs(source, run_names)
    threads = load_records(source).set_index("run_name")["torch_threads"]
    for count in sorted({int(threads[s.run_name]) for s in specs}):
        run_grid([s for s in specs if int(threads[s.run_name]) == count], target, n_jobs=n_jobs,
                 threads_per_run=count, progress=progress)
    return run_grid(specs, target, progress=False)
