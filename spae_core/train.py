"""Training loop: Adam, mini-batches densified on the device, early stopping, resumable checkpoints.

The data stay a scipy CSR matrix for the whole run. Each mini-batch is sliced from it, moved to
the device as CSR tensors, and densified there (the loss needs a dense target); the whole matrix
is never densified. With ``input_path="sparse"`` the first layer multiplies the CSR batch directly.

Determinism: the model's initial weights come from the caller (see :func:`seeded_model`); the
order of samples in epoch ``e`` is a permutation drawn from ``numpy.random.default_rng([seed, e])``,
so it does not depend on how many epochs ran before in this process. Together with the optimiser
state in the checkpoint this makes a resumed run end with the same weights as an uninterrupted one.

Count losses train on count matrices, and any parameters they own (the NB dispersion, the ZINB
dropout) are optimised with the network's weights. ``TrainConfig.ovr_lambda > 0`` adds the
One-vs-Rest regulariser of :mod:`spae_core.regularisers` on the bottleneck code of every training
batch; at its default of 0 the loop runs exactly the computation it ran before the option existed.

Layout: :func:`train` checks its inputs and then loops over one :class:`TrainState` (the live
model and optimiser plus the bookkeeping: history, best epoch and weights, patience count):
:func:`_train_epoch` runs an epoch, :meth:`TrainState.end_epoch` books it and decides on early
stopping, and ``_Checkpoints`` saves the state (:meth:`TrainState.to_checkpoint`, written through
:mod:`spae_core.atomic`) and resumes from it (:meth:`TrainState.load_checkpoint`).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from .atomic import atomic_path
from .losses import ReconstructionLoss
from .model import Autoencoder, SparseBatch
from .regularisers import OVRRegulariser
from .validation import check_binary_matrix, check_count_matrix

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "apply_in_batches",
    "iterate_batches",
    "seeded_model",
    "select_device",
    "train",
]

_INPUT_PATHS = ("auto", "sparse", "dense")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run.

    Parameters
    ----------
    learning_rate : float, default=1e-3
        Adam's step size. The paper uses 1e-6 (:meth:`paper`); peers training comparable
        autoencoders on implicit-feedback data (Mult-DAE, Mult-VAE) use 5e-4 to 1e-3, and at 1e-6
        a 200-epoch budget moves the weights by at most ~2e-4 each (Adam's step is bounded by the
        learning rate), so early stopping can fire long before convergence. We default to 1e-3
        and keep the paper's value one call away.
    batch_size : int, default=256
        Mini-batch size (the paper gives none). A last batch of a single sample is merged into
        the previous one, because batch normalisation cannot train on one sample.
    max_epochs : int, default=200
    patience : int, default=10
        Epochs without an improvement of the validation loss larger than ``min_delta`` before
        training stops; the weights of the best epoch are restored.
    min_delta : float, default=0.0
    seed : int, default=0
        Seed of the sample order in each epoch.
    input_path : {"auto", "sparse", "dense"}, default="auto"
        How the first layer sees a batch: ``"sparse"`` multiplies the CSR batch directly,
        ``"dense"`` densifies it first. ``"auto"`` takes ``"sparse"`` except on Apple's MPS,
        which has no sparse CSR kernels.
    ovr_lambda : float >= 0, default=0.0
        Strength ``lambda`` of the One-vs-Rest regulariser of the bottleneck code
        (:mod:`spae_core.regularisers`), added to the reconstruction loss of every training
        batch. 0 (the default) switches it off and trains exactly as without it.
    ovr_activity : float >= 0, default=1.0
        Weight ``mu`` of the regulariser's anti-collapse activity term; used only when
        ``ovr_lambda > 0``.
    """

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 10
    min_delta: float = 0.0
    seed: int = 0
    input_path: str = "auto"
    ovr_lambda: float = 0.0
    ovr_activity: float = 1.0

    def __post_init__(self):
        problems = []
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 2:
            problems.append(f"batch_size must be an integer >= 2 (batch normalisation needs two samples), got {self.batch_size}")
        if int(self.max_epochs) != self.max_epochs or self.max_epochs < 1:
            problems.append(f"max_epochs must be an integer >= 1, got {self.max_epochs}")
        if int(self.patience) != self.patience or self.patience < 1:
            problems.append(f"patience must be an integer >= 1, got {self.patience}")
        if self.min_delta < 0:
            problems.append(f"min_delta must be >= 0, got {self.min_delta}")
        if self.input_path not in _INPUT_PATHS:
            problems.append(f"input_path must be one of {_INPUT_PATHS}, got {self.input_path!r}")
        for name in ("ovr_lambda", "ovr_activity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (0 <= value < np.inf):
                problems.append(f"{name} must be a finite number >= 0, got {value!r}")
        if problems:
            raise ValueError("Invalid TrainConfig: " + "; ".join(problems) + ".")

    @classmethod
    def paper(cls, **overrides) -> "TrainConfig":
        """The paper's optimiser setting (Appendix B: Adam, learning rate 1e-6)."""
        return cls(**{"learning_rate": 1e-6, **overrides})

    def record(self) -> dict:
        """The settings a checkpoint is written with and checked against on resume.

        The OVR settings are left out while the regulariser is off: they change nothing then,
        and checkpoints written before the option existed stay resumable.
        """
        settings = asdict(self)
        if self.ovr_lambda == 0:
            del settings["ovr_lambda"], settings["ovr_activity"]
        return settings


@dataclass
class TrainResult:
    """What a training run did.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch`` (1-based), ``train_loss`` (mean over the epoch's
        batches, weighted by batch size), ``val_loss`` (NaN without validation data), ``seconds``.
    best_epoch : int
        Epoch whose weights the model holds at the end.
    stopped_early : bool
        Whether early stopping ended the run before ``max_epochs``.
    device : str
    input_path : str
        ``"sparse"`` or ``"dense"``, as resolved.
    resumed_from_epoch : int
        Epochs already done in the checkpoint this run resumed from (0 for a fresh run).
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    device: str = "cpu"
    input_path: str = "sparse"
    resumed_from_epoch: int = 0

    @property
    def seconds(self) -> float:
        """Training time summed over epochs (including epochs done before a resume)."""
        return float(sum(h["seconds"] for h in self.history))


def select_device(device=None) -> torch.device:
    """The device to train on: ``device`` if given, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        chosen = torch.device(device)
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available here; use device='cpu' or None.")
        if chosen.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device={device!r} was requested but Apple MPS is not available here; use device='cpu' or None.")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seeded_model(n_features: int, seed: int, **sizes) -> Autoencoder:
    """An :class:`Autoencoder` whose initial weights depend only on ``seed``.

    Initialisation runs on the CPU under a forked RNG, so the caller's global RNG state is left
    as it was and the weights are the same whichever device the model later moves to.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Autoencoder(n_features, **sizes)


def _resolve_input_path(input_path: str, device: torch.device) -> str:
    if input_path == "auto":
        return "dense" if device.type == "mps" else "sparse"
    if input_path == "sparse" and device.type == "mps":
        raise ValueError("input_path='sparse' is not supported on MPS (no sparse CSR kernels); use 'dense' or 'auto'.")
    return input_path


def _batch_bounds(n_rows: int, batch_size: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges covering ``n_rows``; a trailing batch of one is merged."""
    starts = list(range(0, n_rows, batch_size))
    bounds = [(s, min(s + batch_size, n_rows)) for s in starts]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n_rows)
        bounds.pop()
    return bounds


def iterate_batches(X: sp.csr_array, batch_size: int, device, order: np.ndarray | None = None,
                    with_transpose: bool = False, dense_target: bool = True):
    """Yield ``(SparseBatch, target)`` for consecutive batches of rows of ``X`` on ``device``.

    ``with_transpose`` builds each batch's transpose, which only the sparse path's backward needs.
    The target is the batch as a dense tensor, or with ``dense_target=False`` the batch's own
    sparse CSR tensor (for a loss that :attr:`~spae_core.losses.ReconstructionLoss.accepts_sparse_target`).
    """
    if order is not None:
        # One gather for the epoch, then contiguous slices: the same batches as gathering each
        # batch's rows, for a fraction of scipy's per-call overhead.
        X = X[order]
    for start, stop in _batch_bounds(X.shape[0], batch_size):
        batch = SparseBatch.from_scipy(X[start:stop], device=device, with_transpose=with_transpose)
        yield batch, batch.to_dense() if dense_target else batch.matrix


def apply_in_batches(model: Autoencoder, X, fn: Callable, *, batch_size: int = 1024, device=None,
                     counts: bool = False) -> np.ndarray:
    """``fn(model, batch)`` over the rows of ``X`` in eval mode, concatenated as a numpy array.

    ``fn`` receives a dense batch tensor, e.g. ``lambda m, x: m.encode(x)``. ``X`` must be 0/1,
    or non-negative integer counts with ``counts=True``.
    """
    X = check_count_matrix(X, "X") if counts else check_binary_matrix(X, "X")
    if X.shape[1] != model.n_features:
        raise ValueError(f"X has {X.shape[1]} features but the model was trained on {model.n_features}.")
    device = next(model.parameters()).device if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                dense = torch.from_numpy(X[start : start + batch_size].toarray()).to(device)
                outputs.append(fn(model, dense).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outputs, axis=0)


def _sparse_target(loss, input_path: str) -> bool:
    # On the sparse path a loss that takes the batch's CSR tensor as its target needs no dense copy
    # of the batch at all; the dense path builds one for the model's input anyway.
    return input_path == "sparse" and getattr(loss, "accepts_sparse_target", False)


def _mean_loss(model, loss, X, batch_size, device, input_path) -> float:
    model.eval()
    # Summed on the device: converting each batch's loss to a Python float would synchronise a GPU.
    total = torch.zeros((), device=device)
    with torch.no_grad():
        for batch, target in iterate_batches(X, batch_size, device,
                                             dense_target=not _sparse_target(loss, input_path)):
            logits = model(batch if input_path == "sparse" else target)
            total += loss(logits, target) * target.shape[0]
    return float(total) / X.shape[0]


def _cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _make_optimizer(model, loss, config: TrainConfig, device: torch.device) -> torch.optim.Adam:
    # The fused kernel updates all parameters in one pass (CPU and CUDA); it computes the same
    # update as the default implementation up to floating-point rounding. A loss's own
    # parameters (NB dispersion, ZINB dropout) follow the network's, so a loss without any
    # leaves the parameter list, and the run, as they were.
    fused = device.type in ("cpu", "cuda")
    parameters = [*model.parameters(), *loss.parameters()]
    return torch.optim.Adam(parameters, lr=config.learning_rate, fused=fused)


def _check_loss_shapes(loss: ReconstructionLoss, n_features: int) -> None:
    alpha = getattr(loss, "alpha", None)
    if isinstance(alpha, torch.Tensor) and alpha.ndim == 1 and alpha.numel() != n_features:
        raise ValueError(f"The loss has {alpha.numel()} per-feature weights but the data have {n_features} features.")
    for name, parameter in loss.named_parameters():
        if parameter.ndim == 1 and parameter.numel() != n_features:
            raise ValueError(
                f"The loss's parameter {name!r} has {parameter.numel()} per-feature values but the data have "
                f"{n_features} features; build the loss with n_features={n_features}."
            )


def _checked_data(model: Autoencoder, loss: ReconstructionLoss, X_train, X_val):
    """``X_train`` and ``X_val`` as validated CSR matrices that fit ``model`` and ``loss``."""
    check_matrix = check_count_matrix if loss.target_kind == "counts" else check_binary_matrix
    X_train = check_matrix(X_train, "X_train", min_samples=2, require_positive=True)
    n_features = X_train.shape[1]
    if n_features != model.n_features:
        raise ValueError(f"X_train has {n_features} features but the model expects {model.n_features}.")
    if X_val is not None:
        X_val = check_matrix(X_val, "X_val")
        if X_val.shape[1] != n_features:
            raise ValueError(f"X_val has {X_val.shape[1]} features but X_train has {n_features}; they must match.")
    _check_loss_shapes(loss, n_features)
    return X_train, X_val


# How a TrainState field is stored: a live object (model, loss, optimiser) by its state dict, loaded
# back into the object; the bookkeeping as it is, cast back to its type on load where "cast" says.
_LIVE = {"live": True}


@dataclass(kw_only=True)
class TrainState:
    """Everything a run carries from one epoch to the next, and everything its checkpoint holds.

    Each field is one key of the checkpoint, in this order: :meth:`to_checkpoint` writes them and
    :meth:`load_checkpoint` reads them back, so the two cannot drift apart. ``loss`` and
    ``best_loss_state`` are written only for a loss with parameters of its own (the NB dispersion,
    the ZINB dropout), so a checkpoint of any other loss holds what it held before count losses.
    No RNG state is kept: epoch ``e``'s sample order is drawn from ``default_rng([seed, e])``.
    """

    model: Autoencoder = field(metadata=_LIVE)
    optimizer: torch.optim.Optimizer = field(metadata=_LIVE)
    history: list[dict] = field(default_factory=list, metadata={"cast": list})
    best_epoch: int = field(default=0, metadata={"cast": int})
    best_val: float = field(default=np.inf, metadata={"cast": float})
    best_state: dict | None = None
    epochs_without_improvement: int = field(default=0, metadata={"cast": int})
    finished: bool = field(default=False, metadata={"cast": bool})
    stopped_early: bool = field(default=False, metadata={"cast": bool})
    loss: ReconstructionLoss = field(metadata={**_LIVE, "own_parameters": True})
    best_loss_state: dict | None = field(default=None, metadata={"own_parameters": True})

    @classmethod
    def start(cls, model: Autoencoder, loss: ReconstructionLoss, optimizer: torch.optim.Optimizer) -> "TrainState":
        """The state before the first epoch."""
        state = cls(model=model, loss=loss, optimizer=optimizer)
        if state.loss_has_parameters:
            state.best_loss_state = _cpu_state(loss)
        return state

    @property
    def loss_has_parameters(self) -> bool:
        return any(True for _ in self.loss.parameters())

    def _stored_fields(self):
        return [f for f in fields(self) if self.loss_has_parameters or not f.metadata.get("own_parameters")]

    def to_checkpoint(self, config: TrainConfig) -> dict:
        """The checkpoint: ``config.record()`` under ``"config"``, then one key per stored field."""
        saved = {"config": config.record()}
        for f in self._stored_fields():
            value = getattr(self, f.name)
            if f.metadata.get("live"):
                value = _cpu_state(value) if isinstance(value, torch.nn.Module) else value.state_dict()
            saved[f.name] = value
        return saved

    def load_checkpoint(self, saved: dict, config: TrainConfig, path: Path) -> None:
        """Restore the state :meth:`to_checkpoint` wrote, refusing one written under another config."""
        if saved.get("config") != config.record():
            raise ValueError(
                f"Checkpoint {path} was written with config {saved.get('config')}, not {config.record()}; "
                "delete it or train with the config it was written with."
            )
        missing = [f.name for f in self._stored_fields() if f.name not in saved]
        if missing:
            raise ValueError(f"Checkpoint {path} lacks {missing}: it was not written by spae's train() for this "
                             "loss; delete it to train from scratch.")
        for f in self._stored_fields():
            if f.metadata.get("live"):
                getattr(self, f.name).load_state_dict(saved[f.name])
            else:
                cast = f.metadata.get("cast")
                setattr(self, f.name, cast(saved[f.name]) if cast else saved[f.name])

    def end_epoch(self, record: dict, monitored: float, config: TrainConfig) -> None:
        """Book an epoch: its record, the best weights so far, and whether training is over.

        ``monitored`` is the quantity early stopping minimises (the validation loss, or ``-epoch``
        without validation data, so that the last epoch is the best).
        """
        self.history.append(record)
        epoch = record["epoch"]
        if monitored < self.best_val - config.min_delta:
            self.best_val, self.best_state, self.epochs_without_improvement = monitored, _cpu_state(self.model), 0
            self.best_epoch = epoch
            if self.loss_has_parameters:
                self.best_loss_state = _cpu_state(self.loss)
        else:
            self.epochs_without_improvement += 1
        self.stopped_early = self.epochs_without_improvement >= config.patience and epoch < config.max_epochs
        self.finished = self.stopped_early or epoch >= config.max_epochs


class _Checkpoints:
    """Where and how often a run's :class:`TrainState` is saved, and the resume from it."""

    def __init__(self, path, config: TrainConfig, every: float):
        self.path = Path(path) if path is not None else None
        self.config, self.every = config, every
        self.last = time.perf_counter()

    def resume(self, state: TrainState) -> None:
        """Load the checkpoint into ``state`` if there is one."""
        if self.path is not None and self.path.exists():
            state.load_checkpoint(torch.load(self.path, map_location="cpu", weights_only=True), self.config, self.path)

    def save(self, state: TrainState) -> None:
        """Write the checkpoint atomically if ``every`` seconds have passed, and always at the end."""
        if self.path is not None and (state.finished or time.perf_counter() - self.last >= self.every):
            self.last = time.perf_counter()
            with atomic_path(self.path) as tmp:
                torch.save(state.to_checkpoint(self.config), tmp)


@dataclass(frozen=True)
class _Setup:
    """What stays fixed over a run: the data, the device, how a batch reaches the model, the regulariser."""

    config: TrainConfig
    X_train: sp.csr_array
    X_val: sp.csr_array | None
    device: torch.device
    input_path: str
    regulariser: OVRRegulariser | None


def _train_epoch(state: TrainState, setup: _Setup) -> dict:
    """One pass over the training data in epoch order; the epoch's history record."""
    model, loss, optimizer, regulariser = state.model, state.loss, state.optimizer, setup.regulariser
    epoch = len(state.history) + 1
    started = time.perf_counter()
    model.train()
    order = np.random.default_rng([setup.config.seed, epoch]).permutation(setup.X_train.shape[0])
    total = torch.zeros((), device=setup.device)
    total_penalty = torch.zeros((), device=setup.device)
    for batch, target in iterate_batches(setup.X_train, setup.config.batch_size, setup.device, order,
                                         with_transpose=setup.input_path == "sparse",
                                         dense_target=not _sparse_target(loss, setup.input_path)):
        inputs = batch if setup.input_path == "sparse" else target
        if regulariser is None:
            batch_loss = objective = loss(model(inputs), target)
        else:
            codes = model.encode(inputs)
            batch_loss = loss(model.decode(codes), target)
            penalty = regulariser(codes)
            objective = batch_loss + penalty
            total_penalty += penalty.detach() * target.shape[0]
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        total += batch_loss.detach() * target.shape[0]
    train_loss = float(total) / setup.X_train.shape[0]
    if not np.isfinite(train_loss):
        raise FloatingPointError(
            f"Training loss became {train_loss} in epoch {epoch}; lower the learning rate "
            f"(now {setup.config.learning_rate})."
        )
    val_loss = (_mean_loss(model, loss, setup.X_val, setup.config.batch_size, setup.device, setup.input_path)
                if setup.X_val is not None else float("nan"))
    record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": time.perf_counter() - started}
    if regulariser is not None:
        record["train_ovr_penalty"] = float(total_penalty) / setup.X_train.shape[0]
    return record


def train(
    model: Autoencoder,
    loss: ReconstructionLoss,
    X_train,
    X_val=None,
    config: TrainConfig | None = None,
    *,
    device=None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = 0.0,
    progress: bool = True,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place to reconstruct ``X_train`` under ``loss``.

    Parameters
    ----------
    model : Autoencoder
        Initialised model (see :func:`seeded_model`); it is moved to ``device``.
    loss : ReconstructionLoss
        Any loss of :mod:`spae_core.losses`. Its weights (``alpha``) must come from ``X_train``.
        A loss with parameters of its own (the NB dispersion, the ZINB dropout) is trained with
        the model and, like the model, holds its best epoch's values on return.
    X_train, X_val : array-like or scipy sparse matrix
        Training and validation data: 0/1 for a binary loss, non-negative integer counts for a
        count loss. Without ``X_val`` there is no early stopping and the last epoch's weights are
        kept.
    config : TrainConfig, optional
    device : str or torch.device, optional
        Default: :func:`select_device`.
    checkpoint : path, optional
        File written atomically after every epoch (a :class:`TrainState`: model, optimiser,
        history, best weights). If it exists when training starts, training resumes from it; a
        checkpoint of a finished run returns at once with its best weights loaded. One written
        with another config, or lacking any of the state's fields, is refused with a ValueError.
    checkpoint_every : float, default=0
        Seconds between checkpoints: 0 writes one after every epoch. A checkpoint holds the
        weights three times over (model, Adam's two moments) plus the best weights, which costs
        as much as a whole epoch on small data; a grid of short runs may prefer to risk redoing a
        minute of training over paying that every epoch. The last epoch is always written.
    progress : bool, default=True
        Show a tqdm bar over epochs (``TQDM_DISABLE=1`` also hides it).
    on_epoch_end : callable, optional
        Called with each epoch's history record after its checkpoint is written.

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    X_train, X_val = _checked_data(model, loss, X_train, X_val)
    device = select_device(device)
    input_path = _resolve_input_path(config.input_path, device)
    model.to(device)
    # The data were validated above; checking every batch again would only cost time.
    run_loss = copy.deepcopy(loss).to(device)
    run_loss.check_target = False
    # Codes out of the bottleneck's ReLU are non-negative by construction: no per-batch check.
    regulariser = OVRRegulariser(config.ovr_lambda, config.ovr_activity, check=False) if config.ovr_lambda > 0 else None
    setup = _Setup(config, X_train, X_val, device, input_path, regulariser)
    state = TrainState.start(model, run_loss, _make_optimizer(model, run_loss, config, device))
    checkpoints = _Checkpoints(checkpoint, config, checkpoint_every)
    checkpoints.resume(state)
    resumed_from_epoch = len(state.history)

    with tqdm(total=config.max_epochs, initial=resumed_from_epoch, desc=f"{type(run_loss).__name__} on {device}",
              unit="epoch", disable=not progress or bool(os.environ.get("TQDM_DISABLE")), leave=False) as bar:
        while not state.finished:
            record = _train_epoch(state, setup)
            # Early stopping watches the validation loss; without one, the last epoch is the best.
            monitored = record["val_loss"] if X_val is not None else -record["epoch"]
            state.end_epoch(record, monitored, config)
            checkpoints.save(state)
            bar.update(1)
            bar.set_postfix(train=f"{record['train_loss']:.4g}", val=f"{record['val_loss']:.4g}")
            if on_epoch_end is not None:
                on_epoch_end(record)

    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    if state.loss_has_parameters:
        # The caller's loss is the one the estimator keeps and saves: hand it the trained values.
        loss.load_state_dict(state.best_loss_state)
    model.eval()
    return TrainResult(history=state.history, best_epoch=state.best_epoch, stopped_early=state.stopped_early,
                       device=str(device), input_path=input_path, resumed_from_epoch=resumed_from_epoch)
