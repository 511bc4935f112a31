"""The paper's protocol on a user's own dataset (``spae compare``): its grid, baselines and verdicts.

A comparison lives in one directory::

    DIR/comparison.json   what is compared: the dataset (name, kind, SHA-256, source file) and the preset
    DIR/data/<name>/      the dataset as read from the user's file (spae_core.datasets.save_user_dataset)
    DIR/results/          the runs (spae_core.runs) and the baselines, as the book stores them
    DIR/*.csv             the report's verdict tables, for scripts (written by ``spae compare``)
    DIR/report/           the HTML report (spae_core.report)

The grid is a preset's (:mod:`spae_core.presets`) with the user's dataset in place of the book's:
for 0/1 data the preset's losses (the paper's six and the Mult-DAE likelihood), its seeds and
training settings; for counts its count losses at its count settings. Every run is stored under
its content key, so running a comparison again trains only what is missing; a directory holding
another dataset is refused rather than mixed.

This module sits at the top layer beside :mod:`spae_core.presets`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .atomic import atomic_path
from .baselines import baseline_records, raw_input_downstream
from .claims import CLAIMS, all_claim_units, claim_verdicts
from .datasets import (USER_DATA_ENV, CountDataset, count_dataset_names, dataset_digest, dataset_names, load,
                       load_counts, save_user_dataset)
from .evaluation import downstream_metrics
from .experiments import RunSpec, grid_specs, run_grid
from .paper import FIGURE6_METRICS, PAPER_LOSSES
from .presets import Preset, load_preset, training_settings
from .tables import best_loss_table

__all__ = ["COMPARISON_FILE", "COUNT_METRICS", "Comparison", "comparison_baselines", "comparison_best_losses",
           "comparison_claims", "comparison_data", "comparison_metrics", "fit_baselines", "load_comparison",
           "prepare_comparison", "run_comparison"]

#: The file that says what a comparison directory compares.
COMPARISON_FILE = "comparison.json"

#: The metrics of a count comparison (section 11's), label -> record column; the error is lower-better.
COUNT_METRICS = {"non-zeros recovered exactly": "nonzero_exact", "zeros kept zero": "zero_kept",
                 "MAE on non-zeros": "mae_nonzero", "AP of the non-zero pattern": "ap_macro"}


@dataclass(frozen=True)
class Comparison:
    """One user dataset under one preset's protocol, stored in ``directory``.

    Parameters
    ----------
    directory : Path
    dataset : str
        The saved dataset's name (``directory/data/<dataset>``).
    kind : {"binary", "counts"}
    digest : str
        SHA-256 of the dataset (:func:`spae_core.datasets.dataset_digest`).
    source : str
        The file the data were read from, as given.
    preset : Preset
        Its ``datasets`` is ``[dataset]``; losses, seeds and training settings are the preset's.
    """

    directory: Path
    dataset: str
    kind: str
    digest: str
    source: str
    preset: Preset

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def store(self) -> Path:
        """The results store of the comparison's runs and baselines."""
        return self.directory / "results"

    @property
    def report_dir(self) -> Path:
        return self.directory / "report"

    @property
    def losses(self) -> list[str]:
        """The losses compared: the preset's binary losses, or its count losses for counts."""
        return list(self.preset.losses if self.kind == "binary" else self.preset.count_losses)

    def specs(self) -> list[RunSpec]:
        """The grid: the dataset x :attr:`losses` x the preset's seeds, at the preset's settings for this kind."""
        preset = self.preset
        if self.kind == "binary":
            return grid_specs([self.dataset], self.losses, preset.seeds, **preset.settings)
        return grid_specs([self.dataset], self.losses, preset.seeds, max_rows=preset.max_rows,
                          max_epochs=preset.count_max_epochs, patience=preset.patience,
                          learning_rate=preset.count_learning_rate, batch_size=preset.batch_size)

    def use(self) -> "Comparison":
        """Make the saved dataset loadable by name here and in processes started from now on; return self.

        Puts :attr:`data_dir` first in ``$SPAE_USER_DATA`` (:mod:`spae_core.datasets.user_store`):
        the grid's workers and the report's notebook kernel load the dataset by name.
        """
        parts = [p for p in os.environ.get(USER_DATA_ENV, "").split(os.pathsep) if p and p != str(self.data_dir)]
        os.environ[USER_DATA_ENV] = os.pathsep.join([str(self.data_dir), *parts])
        return self

    def load_dataset(self):
        """The saved dataset (loaded by name, after :meth:`use`)."""
        self.use()
        return (load_counts if self.kind == "counts" else load)(self.dataset)

    def grid_facts(self) -> dict[str, str]:
        """What is run, in words: the runs, the losses, the rows trained on and the training settings."""
        specs = self.specs()
        n_samples, max_rows = self.load_dataset().shape[0], specs[0].max_rows
        rows = ("all" if max_rows is None or n_samples <= max_rows
                else f"a seeded random subset of {max_rows:,} of {n_samples:,}")
        return {"runs": f"{len(specs)} ({self.dataset} x {len(self.losses)} losses x {len(self.preset.seeds)} seeds, "
                        f"preset {self.preset.name!r})",
                "losses": ", ".join(self.losses), "rows trained on": rows, "training": training_settings(specs[0])}

    def describe(self) -> str:
        """:meth:`grid_facts` as lines, for a terminal."""
        return "\n".join(f"{key}: {value}" for key, value in self.grid_facts().items())


def prepare_comparison(dataset, directory, preset: str | Preset = "ci", source: str | os.PathLike | None = None
                       ) -> Comparison:
    """Save ``dataset`` in ``directory`` and return its :class:`Comparison` under ``preset``.

    Parameters
    ----------
    dataset : BinaryDataset or CountDataset
        The user's data (e.g. from :func:`spae_core.datasets.read_data`); its name names the runs.
    directory : path
        Created if missing. Running again on the same data (any preset) reuses its finished runs.
    preset : str or Preset, default="ci"
        The protocol: ``"ci"`` (a smoke test: 300 rows, 3 epochs, 3 seeds) or ``"default"`` (the
        book's: every row, up to 500 epochs, 5 seeds).
    source : path, optional
        The file the data came from, for the report.

    Raises
    ------
    ValueError
        If the dataset's name is a built-in dataset's (runs would load the built-in), or
        ``directory`` already compares another dataset (the message says what it holds).
    """
    directory = Path(directory)
    builtin = set(dataset_names()) | set(count_dataset_names(include_saved=False))
    if dataset.name in builtin:
        raise ValueError(f"the dataset name {dataset.name!r} is a built-in dataset's (runs would load that one); "
                         "give the data another name (--name on the command line).")
    base = load_preset(preset)
    kind = "counts" if isinstance(dataset, CountDataset) else "binary"
    digest = dataset_digest(dataset)
    description = directory / COMPARISON_FILE
    if description.exists():
        held = json.loads(description.read_text(encoding="utf-8"))
        if held["digest"] != digest or held["dataset"] != dataset.name:
            raise ValueError(
                f"{directory} already holds a comparison of {held['dataset']!r} read from {held['source']} "
                f"(SHA-256 {held['digest'][:12]}...), not of these data; choose another output directory."
            )
    directory.mkdir(parents=True, exist_ok=True)
    save_user_dataset(dataset, directory / "data")
    comparison = Comparison(directory=directory.resolve(), dataset=dataset.name, kind=kind, digest=digest,
                            source=str(source) if source is not None else dataset.provenance.get("file", "?"),
                            preset=_with_dataset(base, dataset.name))
    with atomic_path(description) as tmp:
        Path(tmp).write_text(json.dumps({"dataset": comparison.dataset, "kind": kind, "digest": digest,
                                         "source": comparison.source, "preset": base.name}, indent=1),
                             encoding="utf-8")
    return comparison


def load_comparison(directory) -> Comparison:
    """The :class:`Comparison` prepared in ``directory`` (by :func:`prepare_comparison` or ``spae compare``)."""
    directory = Path(directory)
    description = directory / COMPARISON_FILE
    if not description.is_file():
        raise ValueError(f"{directory} holds no comparison ({COMPARISON_FILE} is missing); run `spae compare` first.")
    held = json.loads(description.read_text(encoding="utf-8"))
    return Comparison(directory=directory.resolve(), dataset=held["dataset"], kind=held["kind"],
                      digest=held["digest"], source=held["source"],
                      preset=_with_dataset(load_preset(held["preset"]), held["dataset"]))


def _with_dataset(preset: Preset, name: str) -> Preset:
    """``preset`` with ``name`` as its only dataset (of the main grid or the count grid), no side studies."""
    return Preset(**{**preset.__dict__, "datasets": [name], "count_datasets": [name], "lr_datasets": [],
                     "beta_datasets": [], "ovr_datasets": []})


def run_comparison(comparison: Comparison, n_jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Train what is missing of the comparison's grid and return every run's record.

    ``n_jobs`` defaults to the preset's; finished runs are read back, an interrupted one resumes
    from its checkpoint.
    """
    comparison.use()
    return run_grid(comparison.specs(), comparison.store,
                    n_jobs=comparison.preset.n_jobs if n_jobs is None else n_jobs, progress=progress)


def fit_baselines(comparison: Comparison) -> pd.DataFrame:
    """PCA, SVD and EASE on the comparison's rows (:func:`spae_core.baselines.baseline_records`), fitted
    once and stored with the runs; read back afterwards (the report reads them with training off).

    Only for 0/1 data (the baselines score reconstructions as probabilities).
    """
    if comparison.kind != "binary":
        raise ValueError("the baselines compare 0/1 reconstructions; this comparison holds counts.")
    comparison.use()
    return baseline_records([comparison.dataset], comparison.store, max_rows=comparison.preset.max_rows)


def comparison_baselines(comparison: Comparison) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`fit_baselines` and the downstream models on the raw inputs of the same rows (empty without labels;
    computed, not stored: :func:`spae_core.baselines.raw_input_downstream`)."""
    baselines = fit_baselines(comparison)
    return baselines, raw_input_downstream([comparison.dataset], max_rows=comparison.preset.max_rows)


def comparison_metrics(comparison: Comparison, records: pd.DataFrame) -> dict:
    """The metrics the comparison's verdicts are about, display label -> record column.

    0/1 data: Figure 6's reconstruction and embedding metrics (AP, pairwise contingency,
    trustworthiness, CH on DBSCAN clusters and on sparsity groups) and the downstream scores the
    records hold (the mean AP over labels, or an R^2 per target); counts: :data:`COUNT_METRICS`.
    """
    if comparison.kind == "counts":
        return dict(COUNT_METRICS)
    metrics = {label: column for label, column in FIGURE6_METRICS.items() if not column.startswith(("r2_", "ap_label_"))}
    for column in downstream_metrics(records.columns):
        if column == "ap_label_mean":
            metrics["AP of the labels (mean)"] = column
        elif column.startswith("r2_"):
            metrics[f"R2 of {column[3:]}"] = column
    return metrics


def comparison_best_losses(comparison: Comparison, records: pd.DataFrame) -> pd.DataFrame:
    """Per metric of :func:`comparison_metrics`, the best loss and whether seed-paired tests separate it
    (:func:`spae_core.tables.best_loss_table`; the MAE of counts is lower-better)."""
    return best_loss_table(records, comparison_metrics(comparison, records), lower_is_better={"mae_nonzero"})


def comparison_claims(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's general claims (:data:`spae_core.claims.CLAIMS`) tested on a comparison's runs of 0/1 data.

    The paper's six losses only, as in the book. Left out: the claims about its own datasets (the
    IMDB contingency claim, Figure 6's cells), which a user's dataset has no counterpart for.

    Returns
    -------
    verdicts : DataFrame
        :func:`spae_core.claims.claim_verdicts`.
    units : DataFrame
        :func:`spae_core.claims.all_claim_units`.
    """
    paper_runs = records[records["loss"].isin(PAPER_LOSSES)]
    return claim_verdicts(paper_runs), all_claim_units(paper_runs, CLAIMS)


def comparison_data(comparison: Comparison) -> pd.DataFrame:
    """The comparison in one table, one fact per row: the dataset (where it was read from and how, its size,
    sparsity and labels), then the grid (:meth:`Comparison.grid_facts`)."""
    dataset = comparison.load_dataset()
    facts = dataset.summary()
    provenance = dataset.provenance
    rows = {"dataset": comparison.dataset, "file": comparison.source,
            "entries": "counts (non-negative integers)" if comparison.kind == "counts" else "0/1",
            "rows x features": f"{facts['n_samples']:,} x {facts['n_features']:,}",
            "non-zero entries": f"{facts['n_positives']:,}", "sparsity": f"{facts['sparsity']:.4f}",
            "labels": facts["task"],
            "how it was read": " ".join(_sentence(provenance[k]) for k in ("header", "rule") if provenance.get(k)) or "n/a",
            **comparison.grid_facts()}
    return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="fact"))


def _sentence(text) -> str:
    """``text`` capitalised and ending with a full stop, to stand beside another sentence."""
    text = str(text).strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
