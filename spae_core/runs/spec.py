"""What one run of the grid is: its :class:`RunSpec`, the key and name it is stored under, and the
grids of specs (datasets x losses x seeds, and sweeps of one setting).

A spec's :attr:`RunSpec.key` is a content hash, so changing anything that affects a run (a
hyper-parameter, the dataset rule, the seed) gives a new run instead of silently reusing a stale
result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from ..datasets import count_dataset_names
from ..estimator import SparseAutoencoder
from ..losses import DEFAULT_BETA, is_count_loss

__all__ = ["KEY_OMITTED_AT_DEFAULT", "STORE_VERSION", "RunSpec", "check_spec", "content_key", "grid_specs",
           "is_count_dataset", "subsample_rows", "sweep_specs"]

#: Bumped when the meaning of a stored run changes (what is trained or measured), so that old
#: results are not mixed with new ones.
STORE_VERSION = 1


def content_key(payload: dict) -> str:
    """The 16 hex digits of the SHA-256 of ``payload`` as sorted JSON: a stored result's key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


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
        return content_key({"store_version": STORE_VERSION, **fields})

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
        from ..losses import COUNT_LOSSES

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


def subsample_rows(dataset, max_rows: int | None, seed: int):
    """At most ``max_rows`` rows of ``dataset``: a seeded random subset, kept in source order.

    The rows a run with this ``max_rows`` and ``split_seed`` (``seed``) keeps; the baselines use
    the same rows (:mod:`spae_core.baselines`).
    """
    if max_rows is None or dataset.shape[0] <= max_rows:
        return dataset
    rows = np.sort(np.random.default_rng(seed).choice(dataset.shape[0], size=max_rows, replace=False))
    return dataset.subset(rows, rule=f"a random subset of {max_rows} rows (numpy default_rng({seed}))")
