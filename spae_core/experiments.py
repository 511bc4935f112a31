"""The experiment grid (datasets x losses x seeds) and its results store.

Each run is described by a :class:`RunSpec`; its results live in their own directory under
``<results_dir>/runs/``, named by the spec's content hash, so that

- a finished run (``record.json`` present) is never redone: re-running a grid skips it; if the
  metrics changed since (:data:`spae_core.evaluation.METRICS_VERSION`), the run is re-evaluated
  from its saved weights, not retrained; a stale record without weights (a published record,
  see :mod:`spae_core.published`) stops the grid with :class:`StaleRecordsError` naming the runs;
- an interrupted run resumes from its per-epoch checkpoint with the same final weights;
- changing anything that affects a run (a hyper-parameter, the dataset rule, the seed) gives a
  new directory instead of silently reusing a stale result.

A run directory holds ``spec.json``, ``model.pt`` (the fitted estimator, see
:meth:`spae_core.SparseAutoencoder.save`),
``history.json`` (per-epoch losses and seconds), ``distribution.json`` (the Figure 3 histogram)
and ``record.json`` (spec, metrics, timings, device, versions, the machine's provenance), written
last and atomically. Only the JSON files are published; ``model.pt`` stays local.

Grids run in parallel through joblib (``n_jobs``); with joblib's Dask backend the same code runs on
a Dask cluster. Each run pins its torch thread count (``threads_per_run``), so a parallel grid
gives the same numbers as a serial one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed, parallel_config
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .datasets import count_dataset_names, load, load_counts
from .estimator import SparseAutoencoder
from .evaluation import METRICS_VERSION, evaluate, evaluate_counts
from .losses import DEFAULT_BETA, is_count_loss
from .provenance import machine_provenance, package_versions

__all__ = ["KEY_OMITTED_AT_DEFAULT", "RunSpec", "StaleRecordsError", "check_spec", "grid_specs", "is_count_dataset",
           "sweep_specs", "results_dir", "load_distributions", "load_histories", "load_records", "load_specs", "package_versions",
           "retrain_stored", "run_grid", "run_one", "subsample_rows", "training_allowed"]

#: Bumped when the meaning of a stored run changes (what is trained or measured), so that old
#: results are not mixed with new ones.
STORE_VERSION = 1

#: A grid's runs are short; a checkpoint after every epoch would cost more than the minute of
#: training an interruption can lose with this interval.
CHECKPOINT_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one training run and its evaluation.

    Parameters
    ----------
    dataset : str
        A name from :func:`spae_core.datasets.list_datasets`.
    loss : str
        A name from :func:`spae_core.losses.loss_names`.
    seed : int
        Seeds the initial weights and the sample order.
    split_seed : int, default=0
        Seeds the train/validation/test split; fixed across model seeds so that seeds measure
        the variance of training, not of the split.
    max_rows : int, optional
        Keep at most this many rows of the dataset (a seeded random subset, drawn before
        splitting with ``split_seed``) so that a preset fits its time budget.
    loss_params : tuple of (name, value) pairs
        Extra keyword arguments of the loss, as a sorted tuple so that the spec stays hashable.
    beta, learning_rate, batch_size, max_epochs, patience, latent_dim, hidden_dims
        See :class:`spae_core.SparseAutoencoder`.
    ovr_lambda, ovr_activity
        The One-vs-Rest regulariser of the code (:mod:`spae_core.regularisers`); see
        :class:`spae_core.SparseAutoencoder`.

    Notes
    -----
    ``dataset`` may also name a count dataset (:func:`spae_core.datasets.count_dataset_names`);
    such a run needs a count loss (:data:`spae_core.losses.COUNT_LOSSES`) and is scored by
    :func:`spae_core.evaluation.evaluate_counts`.

    Fields added after results were first stored (:data:`KEY_OMITTED_AT_DEFAULT`) enter the
    :attr:`key` only when they differ from their default, so every spec that existed before them
    keeps its key and its stored run.
    """

    dataset: str
    loss: str
    seed: int
    split_seed: int = 0
    max_rows: int | None = None
    loss_params: tuple = ()
    beta: float = DEFAULT_BETA
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 10
    latent_dim: int = 50
    hidden_dims: tuple = (200,)
    ovr_lambda: float = 0.0
    ovr_activity: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "loss_params", tuple(sorted(dict(self.loss_params).items())))
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        # As floats, so that ovr_lambda=1 and ovr_lambda=1.0 are one run with one key.
        for name in ("ovr_lambda", "ovr_activity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"RunSpec.{name} must be a finite number >= 0, got {value!r}.")
            object.__setattr__(self, name, float(value))

    def as_dict(self) -> dict:
        spec = asdict(self)
        spec["loss_params"] = dict(self.loss_params)
        spec["hidden_dims"] = list(self.hidden_dims)
        return spec

    @property
    def key(self) -> str:
        """Content hash of the spec (and of the store version)."""
        fields = {name: value for name, value in self.as_dict().items()
                  if not (name in KEY_OMITTED_AT_DEFAULT and value == KEY_OMITTED_AT_DEFAULT[name])}
        payload = json.dumps({"store_version": STORE_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def run_name(self) -> str:
        return f"{self.dataset}__{self.loss}__seed{self.seed}__{self.key}"

    def estimator(self, device=None, verbose: bool = False) -> SparseAutoencoder:
        return SparseAutoencoder(
            loss=self.loss,
            loss_params=dict(self.loss_params) or None,
            latent_dim=self.latent_dim,
            hidden_dims=self.hidden_dims,
            beta=self.beta,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            device=device,
            random_state=self.seed,
            verbose=verbose,
            ovr_lambda=self.ovr_lambda,
            ovr_activity=self.ovr_activity,
        )


#: RunSpec fields added after runs were first stored, with their defaults: a field at its default
#: is left out of :attr:`RunSpec.key`, so the runs stored before it existed keep their keys.
KEY_OMITTED_AT_DEFAULT = {"ovr_lambda": 0.0, "ovr_activity": 1.0}


def is_count_dataset(name: str) -> bool:
    """Whether ``name`` is a count dataset (:func:`spae_core.datasets.load_counts`) rather than a binary one."""
    return name in count_dataset_names()


def check_spec(spec: RunSpec) -> None:
    """Refuse a spec whose loss cannot take its dataset's data, before anything is trained.

    A binary loss rejects counts; a count loss on a binary dataset is allowed (0/1 are counts),
    and is scored as a binary run.

    Raises
    ------
    ValueError
        If a count dataset is paired with a binary loss (the message names the count losses).
    """
    if is_count_dataset(spec.dataset) and not is_count_loss(spec.loss):
        from .losses import COUNT_LOSSES

        raise ValueError(
            f"{spec.dataset!r} is a count dataset but {spec.loss!r} is a loss of 0/1 data; use one of "
            f"{', '.join(COUNT_LOSSES)} (squared error on counts is 'count_mse')."
        )


def grid_specs(datasets, losses, seeds, **settings) -> list[RunSpec]:
    """The full grid of :class:`RunSpec` (datasets x losses x seeds) with shared ``settings``."""
    return [RunSpec(dataset, loss, int(seed), **settings) for dataset in datasets for loss in losses for seed in seeds]


def sweep_specs(datasets, losses, seeds, parameter: str, values, **settings) -> list[RunSpec]:
    """The grid of :func:`grid_specs` repeated for each value of one setting (e.g. ``learning_rate``).

    ``settings`` are shared; ``parameter`` (a :class:`RunSpec` field) takes each of ``values`` in
    turn, overriding any value of it in ``settings``.
    """
    fields = set(RunSpec.__dataclass_fields__) - {"dataset", "loss", "seed"}
    if parameter not in fields:
        raise ValueError(f"parameter must be one of {sorted(fields)}, got {parameter!r}.")
    return [spec for value in values
            for spec in grid_specs(datasets, losses, seeds, **{**settings, parameter: value})]


def results_dir(preset: str) -> Path:
    """Where a preset's runs are stored: ``$SPAE_RESULTS_DIR`` if set, else ``<root>/results/<preset>``.

    ``<root>`` is ``$SPAE_ROOT`` (the Makefile exports the repository root) or, failing that, the
    directory above the installed ``spae_core`` package. Notebooks resolve paths through this
    function, never from their working directory.
    """
    if os.environ.get("SPAE_RESULTS_DIR"):
        return Path(os.environ["SPAE_RESULTS_DIR"])
    root = Path(os.environ.get("SPAE_ROOT") or Path(__file__).resolve().parents[1])
    return root / "results" / preset


def subsample_rows(dataset, max_rows: int | None, seed: int):
    """At most ``max_rows`` rows of ``dataset``: a seeded random subset, kept in source order."""
    if max_rows is None or dataset.shape[0] <= max_rows:
        return dataset
    rows = np.sort(np.random.default_rng(seed).choice(dataset.shape[0], size=max_rows, replace=False))
    return dataset.subset(rows, rule=f"a random subset of {max_rows} rows (numpy default_rng({seed}))")


def _atomic_write_json(obj, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(obj, handle, indent=1, default=_json_default)
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


class StaleRecordsError(RuntimeError):
    """Stored records computed by other metric code than this one, with no weights to re-evaluate them."""


def training_allowed() -> bool:
    """False when ``SPAE_TRAINING=off``: the exact test lane renders committed records and must train nothing."""
    return os.environ.get("SPAE_TRAINING", "on").strip().lower() not in ("off", "0", "false", "no")


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
    run_dir = Path(results_dir) / "runs" / spec.run_name
    record = _finished_record(run_dir)
    if record is not None:
        return record
    _check_pending([spec], Path(results_dir))
    # Inside a Dask task joblib's Dask backend is inherited by nested Parallel calls, so
    # scikit-learn's own joblib calls (neighbours, DBSCAN) would become cluster tasks, and the
    # waiting worker would start a second run in the same process: keep a run's inner work local.
    if threads_per_run is None:
        with parallel_config(backend="sequential"):
            return _train_and_evaluate(spec, run_dir, device, cache_dir, progress)
    # Results depend on thread counts (torch's and the BLAS behind numpy's): pin both, so a run
    # gives the same numbers in a serial grid and in a parallel worker.
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads_per_run))
    try:
        with threadpool_limits(limits=int(threads_per_run)), parallel_config(backend="sequential"):
            return _train_and_evaluate(spec, run_dir, device, cache_dir, progress)
    finally:
        torch.set_num_threads(previous)


def _train_and_evaluate(spec: RunSpec, run_dir: Path, device, cache_dir, progress: bool) -> dict:
    record_path = run_dir / "record.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_json(spec.as_dict(), run_dir / "spec.json")

    counts = is_count_dataset(spec.dataset)
    dataset = subsample_rows(_load_dataset(spec.dataset, cache_dir), spec.max_rows, spec.split_seed)
    split = dataset.split(seed=spec.split_seed)
    started = time.perf_counter()
    model_path = run_dir / "model.pt"
    if model_path.exists():
        # Training finished before; only the evaluation is (re)done, e.g. after a metric changed.
        estimator = SparseAutoencoder.load(model_path, device=device)
    else:
        estimator = spec.estimator(device=device, verbose=progress)
        estimator.fit(split.train.X, X_val=split.val.X, checkpoint=run_dir / "checkpoint.pt",
                      checkpoint_every=CHECKPOINT_EVERY_SECONDS)
        fd, tmp = tempfile.mkstemp(dir=run_dir, prefix="model.pt", suffix=".tmp")
        os.close(fd)
        estimator.save(tmp)
        os.replace(tmp, model_path)
        _atomic_write_json(estimator.history_, run_dir / "history.json")
    train_seconds = sum(h["seconds"] for h in estimator.history_)

    # Undefined metrics (one DBSCAN cluster, a label without positives in a small split) are NaN
    # in the record; their explanations are kept with it rather than printed once per run.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if counts:
            metrics, distribution = evaluate_counts(estimator, split, return_distribution=True)
        else:
            metrics, distribution = evaluate(estimator, split, task=dataset.task, return_distribution=True)
    _atomic_write_json(
        {"bin_edges": distribution.bin_edges, "density": distribution.density,
         "mass_above_threshold": distribution.mass_above_threshold, "threshold": distribution.threshold},
        run_dir / "distribution.json",
    )
    record = {
        **{k: v for k, v in spec.as_dict().items() if k not in ("loss_params", "hidden_dims")},
        "loss_params": json.dumps(dict(spec.loss_params), sort_keys=True),
        "key": spec.key,
        "run_name": spec.run_name,
        "task": dataset.task,
        "data_kind": "counts" if counts else "binary",
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
        "train_seconds": train_seconds,
        "run_seconds": time.perf_counter() - started,
        "device": estimator.device_,
        "torch_threads": torch.get_num_threads(),
        "versions": json.dumps(package_versions(), sort_keys=True),
        "provenance": json.dumps(machine_provenance(), sort_keys=True),
        "metrics_version": METRICS_VERSION,
        **metrics,
        "warnings": json.dumps(sorted({str(w.message) for w in caught})),
    }
    _atomic_write_json(record, record_path)
    (run_dir / "checkpoint.pt").unlink(missing_ok=True)
    return record


@functools.lru_cache(maxsize=8)
def _load_dataset(name: str, cache_dir):
    """The named dataset, binary or count, read once per process.

    A grid's runs share a few datasets; reading the disk cache for each run cost about a second
    per run on the 20,740-row tweets, more than a short run's training. Datasets are frozen, and
    subsetting makes a new one, so sharing the object between runs is safe.
    """
    return (load_counts if is_count_dataset(name) else load)(name, cache_dir=cache_dir)


def _finished_record(run_dir: Path) -> dict | None:
    """The stored record if the run finished and was evaluated by the current metrics."""
    path = run_dir / "record.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return record if record.get("metrics_version") == METRICS_VERSION else None


def _check_pending(pending, results_dir: Path) -> None:
    """Refuse what no run can fix: stale records without weights, or any training with training off.

    ``pending`` are specs without a current record, so a record.json among them is stale; without
    its model.pt (a published record) nothing can re-evaluate it.
    """
    stale = [s.run_name for s in pending if (results_dir / "runs" / s.run_name / "record.json").exists()
             and not (results_dir / "runs" / s.run_name / "model.pt").exists()]
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
    pending = [s for s in specs if _finished_record(results_dir / "runs" / s.run_name) is None]
    _check_pending(pending, results_dir)
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
    for run_dir in dirs:
        spec = RunSpec(**json.loads((run_dir / "spec.json").read_text()))
        if spec.run_name != run_dir.name:
            raise ValueError(f"the spec stored in {run_dir} now gives the run name {spec.run_name}: the store's key "
                             "scheme changed since; regenerate these records.")
        specs.append(spec)
    return specs


def retrain_stored(source, target, run_names=None, progress: bool = False, n_jobs: int = 1) -> pd.DataFrame:
    """Retrain runs stored in ``source`` (or only ``run_names``) into ``target``, as they were trained.

    Each run gets the torch thread count its record states (results depend on it), ``n_jobs``
    runs at a time; the records of ``target`` are returned in the order of :func:`load_specs`.
    """
    specs = load_specs(source, run_names)
    threads = load_records(source).set_index("run_name")["torch_threads"]
    for count in sorted({int(threads[s.run_name]) for s in specs}):
        run_grid([s for s in specs if int(threads[s.run_name]) == count], target, n_jobs=n_jobs,
                 threads_per_run=count, progress=progress)
    return run_grid(specs, target, progress=False)


def _run_dirs(results_dir, specs, marker: str) -> list[Path]:
    """The run directories of ``specs``, or of every run that has ``marker``."""
    if specs is None:
        return sorted(p.parent for p in Path(results_dir).glob(f"runs/*/{marker}"))
    return [Path(results_dir) / "runs" / s.run_name for s in specs]


def load_distributions(results_dir, specs=None) -> pd.DataFrame:
    """Figure 3 histograms (long format: one row per run and bin) of the given specs, or of every finished run."""
    frames = []
    for run_dir in _run_dirs(results_dir, specs, "distribution.json"):
        spec = json.loads((run_dir / "spec.json").read_text())
        stored = json.loads((run_dir / "distribution.json").read_text())
        edges = np.asarray(stored["bin_edges"])
        frames.append(pd.DataFrame({
            "dataset": spec["dataset"], "loss": spec["loss"], "seed": spec["seed"], "run_name": run_dir.name,
            "bin_left": edges[:-1], "bin_right": edges[1:], "density": stored["density"],
            "mass_above_threshold": stored["mass_above_threshold"], "threshold": stored["threshold"],
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_histories(results_dir, specs=None) -> pd.DataFrame:
    """Per-epoch histories (long format) of the given specs, or of every finished run."""
    frames = []
    for run_dir in _run_dirs(results_dir, specs, "record.json"):
        spec = json.loads((run_dir / "spec.json").read_text())
        history = pd.DataFrame(json.loads((run_dir / "history.json").read_text()))
        frames.append(history.assign(dataset=spec["dataset"], loss=spec["loss"], seed=spec["seed"],
                                     learning_rate=spec["learning_rate"], beta=spec["beta"], run_name=run_dir.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
