"""The book's presets, loaded by name: what each grid of a preset runs, and the grids' records.

A preset is a YAML file in this package (``ci.yaml``, ``default.yaml``, ``paper.yaml``): the
datasets, losses, seeds and training settings of the main grid (sections 2-10), of the
learning-rate and beta studies (sections 7, 8), of the count grid (section 11) and of the OVR
grid (section 12). Every notebook takes one parameter, ``preset`` (``make book PRESET=...``
passes it to papermill), loads the preset with :func:`load_preset` and reads its grids through
the ``run_*`` functions below, so no notebook spells a grid out.

This module sits above :mod:`spae_core.experiments` and :mod:`spae_core.baselines`; the top layer
(:mod:`spae_core.kernel_checks`, the notebooks) uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

import pandas as pd

from ..baselines import baseline_records, raw_input_downstream
from ..paper import PAPER_LOSSES
from ..datasets import load_counts
from ..experiments import RunSpec, grid_specs, results_dir, run_grid, sweep_specs
from ..losses import DEFAULT_BETA

__all__ = ["Preset", "describe_count_grid", "describe_learning_rate_study", "describe_main_grid", "describe_ovr_grid",
           "load_preset", "preset_names", "run_baselines", "run_beta_study", "run_count_grid",
           "run_learning_rate_study", "run_main_grid", "run_ovr_grid", "run_raw_input_downstream", "training_settings"]


@dataclass(frozen=True)
class Preset:
    """The settings of one preset, as its YAML file states them (lists stay lists).

    Parameters
    ----------
    name : str
        The preset's name (its file's stem).
    datasets, losses, seeds, max_rows, max_epochs, patience, learning_rate, batch_size
        The main grid: ``datasets x losses x seeds`` with these training settings
        (see :class:`spae_core.experiments.RunSpec`).
    n_jobs : int
        Runs trained at a time.
    lr_datasets, lr_values
        The learning-rate study: the paper's losses on ``lr_datasets`` at ``lr_values`` besides
        ``learning_rate``.
    beta_datasets, beta_values
        The beta study: WMSE and WBCE on ``beta_datasets`` at ``beta_values`` besides the default.
    count_datasets, count_losses, count_max_rows, count_max_epochs, count_learning_rate
        The count grid of section 11 (seeds, patience and batch size as the main grid's).
    ovr_datasets, ovr_loss, ovr_lambdas, ovr_batch_sizes, ovr_max_rows
        The OVR grid of section 12: one loss at each lambda (0 always included) and batch size.
    """

    name: str
    datasets: list
    losses: list
    seeds: list
    max_rows: int | None
    max_epochs: int
    patience: int
    learning_rate: float
    batch_size: int
    n_jobs: int
    lr_datasets: list
    lr_values: list
    beta_datasets: list
    beta_values: list
    count_datasets: list
    count_losses: list
    count_max_rows: int | None
    count_max_epochs: int
    count_learning_rate: float
    ovr_datasets: list
    ovr_loss: str
    ovr_lambdas: list
    ovr_batch_sizes: list
    ovr_max_rows: int | None

    @property
    def store(self) -> Path:
        """The preset's results store (:func:`spae_core.experiments.results_dir`)."""
        return results_dir(self.name)

    @property
    def settings(self) -> dict:
        """The main grid's training settings, as :func:`spae_core.experiments.grid_specs` takes them."""
        return dict(max_rows=self.max_rows, max_epochs=self.max_epochs, patience=self.patience,
                    learning_rate=self.learning_rate, batch_size=self.batch_size)

    @property
    def paper_losses(self) -> list:
        """The preset's losses that the paper tests (its Mult-DAE peer left out), in the preset's order."""
        return [loss for loss in self.losses if loss in PAPER_LOSSES]

    @property
    def learning_rates(self) -> list:
        """The learning-rate study's rates: ``learning_rate`` and ``lr_values``, ascending."""
        return sorted({self.learning_rate, *self.lr_values})

    @property
    def betas(self) -> list:
        """The beta study's betas: the default beta and ``beta_values``, ascending."""
        return sorted({DEFAULT_BETA, *self.beta_values})

    @property
    def ovr_lambda_values(self) -> list:
        """The OVR grid's lambdas: 0 (no penalty, the reference) and ``ovr_lambdas``, ascending."""
        return sorted({0.0, *self.ovr_lambdas})

    def main_specs(self) -> list[RunSpec]:
        """The main grid: ``datasets x losses x seeds`` with :attr:`settings`."""
        return grid_specs(self.datasets, self.losses, self.seeds, **self.settings)

    def learning_rate_specs(self) -> list[RunSpec]:
        """The learning-rate study: :attr:`paper_losses` on ``lr_datasets`` at each of :attr:`learning_rates`."""
        return sweep_specs(self.lr_datasets, self.paper_losses, self.seeds, "learning_rate", self.learning_rates,
                           **self.settings)

    def beta_specs(self) -> list[RunSpec]:
        """The beta study: the paper's weighted losses (WMSE, WBCE) on ``beta_datasets`` at each of :attr:`betas`."""
        return sweep_specs(self.beta_datasets, ["wmse", "wbce"], self.seeds, "beta", self.betas, **self.settings)

    def count_specs(self) -> list[RunSpec]:
        """The count grid: ``count_datasets x count_losses x seeds`` with the count settings."""
        return grid_specs(self.count_datasets, self.count_losses, self.seeds, max_rows=self.count_max_rows,
                          max_epochs=self.count_max_epochs, patience=self.patience,
                          learning_rate=self.count_learning_rate, batch_size=self.batch_size)

    def ovr_specs(self) -> list[RunSpec]:
        """The OVR grid: ``ovr_loss`` on ``ovr_datasets`` at each of :attr:`ovr_lambda_values`, per batch size."""
        settings = dict(max_rows=self.ovr_max_rows, max_epochs=self.max_epochs, patience=self.patience,
                        learning_rate=self.learning_rate)
        return [spec for size in self.ovr_batch_sizes
                for spec in sweep_specs(self.ovr_datasets, [self.ovr_loss], self.seeds, "ovr_lambda",
                                        self.ovr_lambda_values, batch_size=size, **settings)]


def preset_names() -> list[str]:
    """The names of the presets shipped with the package, sorted."""
    return sorted(Path(entry.name).stem for entry in resources.files(__name__).iterdir() if entry.name.endswith(".yaml"))


def load_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (a :class:`Preset` is returned as it is).

    Raises
    ------
    ValueError
        If no preset has that name (the message lists the available ones), or if its file lacks a
        setting, has one :class:`Preset` does not know, or names another preset.
    """
    if isinstance(name, Preset):
        return name
    available = preset_names()
    if name not in available:
        raise ValueError(f"no preset named {name!r}; available presets: {', '.join(available)}.")
    import yaml  # installed with the book's and the tests' extras (papermill needs it)

    values = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text())
    stated = values.pop("preset", name)
    if stated != name:
        raise ValueError(f"the preset file {name}.yaml says it is preset {stated!r}.")
    known = {field.name for field in fields(Preset)} - {"name"}
    missing, unknown = sorted(known - set(values)), sorted(set(values) - known)
    if missing or unknown:
        raise ValueError(f"preset {name!r}: missing settings {missing}, unknown settings {unknown}.")
    return Preset(name=name, **values)


def _runs(specs, preset: Preset, n_jobs: int | None) -> pd.DataFrame:
    return run_grid(specs, preset.store, n_jobs=preset.n_jobs if n_jobs is None else n_jobs)


def run_main_grid(preset: str | Preset, n_jobs: int | None = None) -> pd.DataFrame:
    """The records of the preset's main grid (stored runs are read back, missing ones trained).

    ``n_jobs`` defaults to the preset's; the same for every ``run_*`` function of this module.
    """
    preset = load_preset(preset)
    return _runs(preset.main_specs(), preset, n_jobs)


def run_learning_rate_study(preset: str | Preset, n_jobs: int | None = None) -> pd.DataFrame:
    """The records of the preset's learning-rate study (its default rate's runs are the main grid's)."""
    preset = load_preset(preset)
    return _runs(preset.learning_rate_specs(), preset, n_jobs)


def run_beta_study(preset: str | Preset, n_jobs: int | None = None) -> pd.DataFrame:
    """The records of the preset's beta study (its default beta's runs are the main grid's)."""
    preset = load_preset(preset)
    return _runs(preset.beta_specs(), preset, n_jobs)


def run_count_grid(preset: str | Preset, n_jobs: int | None = None) -> pd.DataFrame:
    """The records of the preset's count grid (section 11)."""
    preset = load_preset(preset)
    return _runs(preset.count_specs(), preset, n_jobs)


def run_ovr_grid(preset: str | Preset, n_jobs: int | None = None) -> pd.DataFrame:
    """The records of the preset's OVR grid (section 12), every batch size."""
    preset = load_preset(preset)
    return _runs(preset.ovr_specs(), preset, n_jobs)


def run_baselines(preset: str | Preset) -> pd.DataFrame:
    """The baselines on the main grid's datasets and rows (:func:`spae_core.baselines.baseline_records`)."""
    preset = load_preset(preset)
    return baseline_records(preset.datasets, preset.store, max_rows=preset.max_rows)


def run_raw_input_downstream(preset: str | Preset) -> pd.DataFrame:
    """The downstream models on the raw inputs of the main grid's datasets and rows."""
    preset = load_preset(preset)
    return raw_input_downstream(preset.datasets, max_rows=preset.max_rows)


def describe_main_grid(preset: str | Preset, device) -> str:
    """Three lines on the main grid for section 2: the preset and ``device``, the grid's size and settings, its rows."""
    preset = load_preset(preset)
    rows = "all" if preset.max_rows is None else f"a seeded random subset of at most {preset.max_rows}"
    return (f"preset {preset.name!r}: training on {device}\n"
            f"{len(preset.datasets)} datasets x {len(preset.losses)} losses x {len(preset.seeds)} seeds; "
            f"{training_settings(preset.main_specs()[0])}\n"
            f"rows per dataset: {rows}")


def training_settings(spec: RunSpec) -> str:
    """A run's training settings in words (its learning rate, batch size, epochs and patience), as
    section 2 and ``spae compare`` print them."""
    return (f"learning rate {spec.learning_rate}, batch size {spec.batch_size}, at most {spec.max_epochs} epochs, "
            f"early stopping after {spec.patience} epochs without improvement")


def describe_learning_rate_study(preset: str | Preset) -> str:
    """One line on the learning-rate study for section 7: its runs, datasets, losses, seeds and rates."""
    preset = load_preset(preset)
    return (f"{len(preset.learning_rate_specs())} runs: {_listed(preset.lr_datasets)} x {len(preset.paper_losses)} losses x "
            f"{len(preset.seeds)} seeds x learning rates {_listed(preset.learning_rates)}; at most {preset.max_epochs} epochs")


def _listed(values) -> str:
    """Values as a reader writes them: ``"thyroid, omdb_metadata"``, ``"1e-06, 0.001"`` (never a list's repr)."""
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def describe_count_grid(preset: str | Preset, records: pd.DataFrame) -> str:
    """Section 11's account of its count grid: per dataset its size and the rows trained on, then the runs.

    ``records`` are :func:`run_count_grid`'s; the share of runs that stopped early is theirs.
    """
    preset = load_preset(preset)
    lines = []
    for name in preset.count_datasets:
        full = load_counts(name)
        used = records[records["dataset"] == name].iloc[0]
        subset = ("all rows" if used["n_samples"] == full.shape[0]
                  else f"a seeded random subset of {used['n_samples']:,} rows")
        lines.append(f"{name}: {full.shape[0]:,} x {full.shape[1]:,}, {100 * full.sparsity:.2f}% zeros, largest count "
                     f"{int(full.X.max())}; trained on {subset} ({used['n_train']:,} training, "
                     f"{used['n_test']:,} test rows)")
    lines.append(f"{len(records)} runs: {len(preset.count_datasets)} datasets x {len(preset.count_losses)} losses x "
                 f"{len(preset.seeds)} seeds, Adam at learning rate {preset.count_learning_rate:g}, batch size "
                 f"{preset.batch_size}, at most {preset.count_max_epochs} epochs (early stopping after "
                 f"{preset.patience} without improvement); {records['stopped_early'].mean():.0%} of the runs stopped "
                 f"early, the others used every epoch")
    return "\n".join(lines)


def describe_ovr_grid(preset: str | Preset, records: pd.DataFrame) -> str:
    """One line on section 12's OVR grid: its runs (``records``, :func:`run_ovr_grid`'s), settings and rows."""
    preset = load_preset(preset)
    rows = ", ".join(f"{d} {n:,}" for d, n in records.groupby("dataset")["n_samples"].first().items())
    limit = ("" if preset.ovr_max_rows is None
             else f" (at most {preset.ovr_max_rows:,}: a seeded random subset of larger datasets)")
    return (f"{len(records)} runs: {_listed(preset.ovr_datasets)} x loss {preset.ovr_loss} x lambda "
            f"{_listed(preset.ovr_lambda_values)} x batch sizes {_listed(preset.ovr_batch_sizes)} x {len(preset.seeds)} seeds, at most {preset.max_epochs} epochs; "
            f"rows per dataset: {rows}{limit}")
