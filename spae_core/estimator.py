"""A scikit-learn estimator around the autoencoder, its losses and its training loop."""

from __future__ import annotations

import hashlib
import json
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .losses import (
    DEFAULT_BETA,
    PER_FEATURE_PARAMETER_LOSSES,
    WEIGHTED_LOSSES,
    get_loss,
    is_count_loss,
    loss_names,
    positive_weights,
)
from .train import TrainConfig, apply_in_batches, seeded_model, select_device, train
from .validation import check_binary_matrix, check_count_matrix, check_int, check_real

__all__ = ["SparseAutoencoder"]

_INPUT_PATHS = ("auto", "sparse", "dense")
#: The groups of tensors in a model file; everything else in it is configuration.
_TENSOR_GROUPS = ("model", "loss_buffers")
_CHECKSUM_KEY = "sha256"


def _check_hidden_dims(hidden_dims) -> None:
    widths = hidden_dims if isinstance(hidden_dims, Sequence) and not isinstance(hidden_dims, str) else None
    if widths is None or any(isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in widths):
        raise ValueError(
            "hidden_dims must be a sequence of positive integers, the widths of the encoder's hidden "
            f"layers (e.g. (200,) or [256, 64]), got {hidden_dims!r}."
        )


def _check_choices(params: dict) -> None:
    """The parameters that take a name, a mapping, a device or a flag."""
    names = loss_names()
    if not isinstance(params["loss"], str) or params["loss"].lower() not in names:
        raise ValueError(f"loss must be one of {names}, got {params['loss']!r}.")
    if params["loss_params"] is not None and not isinstance(params["loss_params"], Mapping):
        raise ValueError(f"loss_params must be a dict or None, got {params['loss_params']!r}.")
    if params["input_path"] not in _INPUT_PATHS:
        raise ValueError(f"input_path must be one of {_INPUT_PATHS}, got {params['input_path']!r}.")
    if params["device"] is not None and not isinstance(params["device"], (str, torch.device)):
        raise ValueError(f"device must be None, a string or a torch.device (e.g. 'cpu', 'cuda'), got {params['device']!r}.")
    if not isinstance(params["verbose"], (numbers.Integral, np.bool_)):
        raise ValueError(f"verbose must be a bool (or an int), got {params['verbose']!r}.")


def _check_estimator_params(params: dict) -> None:
    """Raise a ValueError naming the first invalid constructor parameter (``random_state`` is
    checked by scikit-learn's ``check_random_state``)."""
    _check_choices(params)
    _check_hidden_dims(params["hidden_dims"])
    check_int("latent_dim", params["latent_dim"], 1)
    check_int("batch_size", params["batch_size"], 2)  # batch normalisation needs two samples
    check_int("max_epochs", params["max_epochs"], 1)
    check_int("patience", params["patience"], 1)
    check_real("learning_rate", params["learning_rate"], low=0.0, high=np.inf, low_open=True)
    for name in ("beta", "ovr_lambda", "ovr_activity"):
        check_real(name, params[name], low=0.0, high=np.inf)
    fraction = params["validation_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}.")


def _hash_tensor(digest, name: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())


def _model_file_checksum(state: dict) -> str:
    """SHA-256 over a model file's configuration (as sorted JSON) and every tensor (name, dtype,
    shape, bytes) in sorted key order."""
    config = {k: v for k, v in state.items() if k not in (*_TENSOR_GROUPS, _CHECKSUM_KEY)}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=repr).encode())
    for group in _TENSOR_GROUPS:
        for name in sorted(state[group]):
            _hash_tensor(digest, f"{group}/{name}", state[group][name])
    return digest.hexdigest()


def _read_model_file(path, verify: bool) -> dict:
    """The dict in a model file, its checksum checked unless ``verify`` is False."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises unpickling, zip and runtime errors for a damaged file
        raise ValueError(f"Cannot read the model file {path}: {error}") from error
    if not isinstance(state, dict) or not all(k in state for k in ("params", *_TENSOR_GROUPS, "n_features_in")):
        raise ValueError(f"{path} is not a model file written by SparseAutoencoder.save.")
    if not verify:
        warnings.warn(f"Loading {path} with verify=False: its checksum is not verified.", UserWarning, stacklevel=3)
    elif _CHECKSUM_KEY not in state:
        raise ValueError(
            f"The model file {path} has no checksum: it was written by an older version of spae_core, so "
            "whether it was changed since it was saved cannot be checked. Fit the model again and save it, "
            "or, if you trust the file, load it with SparseAutoencoder.load(path, verify=False) and save it "
            "again, which adds a checksum."
        )
    elif state[_CHECKSUM_KEY] != _model_file_checksum(state):
        raise ValueError(
            f"The model file {path} was changed or corrupted since it was saved: the SHA-256 checksum of its "
            "weights and configuration does not match the one written with it. Refit and save the model."
        )
    return state


def _check_weight_shapes(expected: dict, stored: dict, path, config: str) -> None:
    """Compare the weights a configuration implies with the file's, before ``load_state_dict``."""
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise ValueError(f"The model file {path} does not match its configuration ({config}): weights "
                         f"missing {missing}, unexpected {unexpected}.")
    for name in expected:
        want, got = tuple(expected[name].shape), tuple(stored[name].shape)
        if want != got:
            raise ValueError(f"The model file {path} does not match its configuration ({config}): that "
                             f"configuration gives {name} the shape {want}, the file holds {got}.")


class SparseAutoencoder(TransformerMixin, BaseEstimator):
    """Autoencoder for sparse binary or count data, trained with a (sparsity-aware) reconstruction loss.

    ``fit`` trains the Appendix B architecture; ``transform`` returns the embeddings (the
    bottleneck); ``predict_proba`` returns reconstruction probabilities; ``predict_mean`` returns
    the expected reconstruction (expected counts for a count loss); ``inverse_transform`` decodes
    embeddings. Inputs may be numpy arrays or scipy sparse matrices, of 0/1 values for a binary
    loss and of non-negative integer counts for a count loss (``"poisson"``, ``"nb"``, ``"zinb"``,
    ``"wpoisson"``, ``"focal_poisson"``, ``"count_mse"``); a binary loss rejects anything but 0/1. Sparse inputs are
    never densified as a whole.

    ``fit`` validates every parameter below (a ValueError naming it) and warns with scikit-learn's
    ``ConvergenceWarning`` when ``max_epochs`` ends a fit whose validation loss was still falling.
    :meth:`save` writes a SHA-256 checksum over the weights and configuration, and :meth:`load`
    refuses a file changed or corrupted since.

    Parameters
    ----------
    loss : {"focal", "mse", "bce", "wmse", "wbce", "dice", "multinomial", "poisson", "nb", "zinb", \
"wpoisson", "focal_poisson", "count_mse"}, default="focal"
    loss_params : dict, optional
        Keyword arguments of the loss (e.g. ``{"gamma": 1.0}``). For ``"wmse"``/``"wbce"``/
        ``"wpoisson"`` the per-feature ``alpha`` is computed from the training rows with ``beta``
        unless given here; ``"nb"``/``"zinb"`` get one dispersion (and dropout logit) per feature
        unless ``{"n_features": None}`` asks for a shared one.
    latent_dim : int, default=50
    hidden_dims : tuple of int, default=(200,)
    beta : float, default=2.0
        ``beta`` of ``alpha_j = beta + log(1/p_j)`` for the weighted losses.
    learning_rate, batch_size, max_epochs, patience : see :class:`spae_core.train.TrainConfig`
    validation_fraction : float in [0, 1), default=0.1
        Share of the rows given to ``fit`` held out for early stopping when no ``X_val`` is
        passed (drawn with ``random_state``). 0 disables early stopping.
    input_path : {"auto", "sparse", "dense"}, default="auto"
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default picks CUDA, then MPS, then CPU.
    random_state : int, RandomState or None, default=0
        Seeds the initial weights, the validation split and the sample order.
    verbose : bool, default=False
        Show a progress bar over epochs.
    ovr_lambda : float >= 0, default=0.0
        Strength of the One-vs-Rest regulariser of the bottleneck code
        (:mod:`spae_core.regularisers`); 0 switches it off.
    ovr_activity : float >= 0, default=1.0
        Weight of the regulariser's anti-collapse activity term (used when ``ovr_lambda > 0``).

    Examples
    --------
    Sparse counts (the setting of source ``001``), scored by exact recovery of the non-zeros:

    >>> from spae_core.datasets import make_sparse_counts
    >>> from spae_core.metrics import count_reconstruction
    >>> X, _ = make_sparse_counts(500, 64, 0.95, n_clusters=4, random_state=0)
    >>> ae = SparseAutoencoder(loss="nb", latent_dim=8, max_epochs=5).fit(X)
    >>> result = count_reconstruction(X, ae.predict_mean(X))  # .nonzero_exact, .zero_kept, ...

    Attributes
    ----------
    model_ : spae_core.model.Autoencoder
    loss_ : spae_core.losses.ReconstructionLoss
    history_ : list of dict
        Per-epoch ``train_loss``, ``val_loss``, ``seconds``.
    best_epoch_ : int
    stopped_early_ : bool
    n_features_in_ : int
    """

    def __init__(
        self,
        loss="focal",
        loss_params=None,
        latent_dim=50,
        hidden_dims=(200,),
        beta=DEFAULT_BETA,
        learning_rate=1e-3,
        batch_size=256,
        max_epochs=200,
        patience=10,
        validation_fraction=0.1,
        input_path="auto",
        device=None,
        random_state=0,
        verbose=False,
        ovr_lambda=0.0,
        ovr_activity=1.0,
    ):
        self.loss = loss
        self.loss_params = loss_params
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.beta = beta
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.input_path = input_path
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.ovr_lambda = ovr_lambda
        self.ovr_activity = ovr_activity

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.non_deterministic = self.random_state is None
        # The network computes in float32 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _split(self, X, seed):
        n_val = int(np.floor(self.validation_fraction * X.shape[0]))
        if n_val == 0:
            return X, None
        order = np.random.default_rng(seed).permutation(X.shape[0])
        return X[np.sort(order[n_val:])], X[np.sort(order[:n_val])]

    def fit(self, X, y=None, X_val=None, checkpoint=None, checkpoint_every=0.0):
        """Train on the rows of ``X``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            0/1 for a binary loss, non-negative integer counts for a count loss.
        y : ignored
        X_val : array-like or sparse matrix, optional
            Validation rows for early stopping; if omitted, ``validation_fraction`` of ``X`` is
            held out.
        checkpoint : path, optional
            Per-epoch checkpoint file; an interrupted ``fit`` with the same data, parameters and
            checkpoint resumes where it stopped (see :func:`spae_core.train.train`).
        checkpoint_every : float, default=0
            Seconds between checkpoints (0: after every epoch).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a constructor parameter is invalid (the message names it), or the data are not 0/1
            (not non-negative counts for a count loss).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            If training used all ``max_epochs`` and the last epoch had the best validation loss
            (still improving: the model may be unfinished). Not raised without validation rows.
        """
        _check_estimator_params(self.get_params())
        validate_data(self, X, accept_sparse=True, dtype=None, ensure_all_finite=False, ensure_min_samples=2)
        counts = is_count_loss(self.loss)
        check_matrix = check_count_matrix if counts else check_binary_matrix
        X = check_matrix(X, "X", min_samples=2)
        seed = self._seed()
        if X_val is None:
            X_train, X_val = self._split(X, seed)
        else:
            X_train, X_val = X, check_matrix(X_val, "X_val")
        if X_train.shape[0] < 2:
            raise ValueError(
                f"Only {X_train.shape[0]} training row(s) remain after holding out validation rows; "
                "batch normalisation needs at least 2. Pass more data or lower validation_fraction."
            )
        params = dict(self.loss_params or {})
        key = str(self.loss).lower()
        if key in WEIGHTED_LOSSES and "alpha" not in params:
            params["alpha"] = positive_weights(X_train, beta=self.beta, counts=counts)
        if key in PER_FEATURE_PARAMETER_LOSSES:
            params.setdefault("n_features", X.shape[1])
        self.loss_ = get_loss(self.loss, **params)
        config = TrainConfig(
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=seed,
            input_path=self.input_path,
            ovr_lambda=self.ovr_lambda,
            ovr_activity=self.ovr_activity,
        )
        self.model_ = seeded_model(X.shape[1], seed, hidden_dims=tuple(self.hidden_dims), latent_dim=self.latent_dim)
        result = train(
            self.model_, self.loss_, X_train, X_val, config, device=self.device, checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, progress=self.verbose
        )
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.stopped_early_ = result.stopped_early
        self.device_ = result.device
        self._warn_if_unconverged(validated=X_val is not None)
        return self

    def _warn_if_unconverged(self, validated: bool) -> None:
        """scikit-learn's ConvergenceWarning when the budget ran out while the validation loss still fell."""
        if validated and not self.stopped_early_ and self.best_epoch_ == len(self.history_) == self.max_epochs:
            warnings.warn(
                f"Training stopped at max_epochs={self.max_epochs} while the validation loss was still "
                f"improving (the best epoch is the last, {self.best_epoch_}); the model may be unfinished. "
                "Raise max_epochs or learning_rate.", ConvergenceWarning, stacklevel=3,
            )

    def save(self, path) -> None:
        """Write the fitted estimator (parameters, weights, the loss's weights and parameters, history) to ``path``.

        The file holds only tensors and plain Python values, so :meth:`load` reads it with
        ``torch.load(..., weights_only=True)``, and a SHA-256 checksum (key ``"sha256"``) over the
        configuration and every tensor, which :meth:`load` checks.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self, "model_")
        params = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.get_params().items()}
        if params.get("loss_params"):
            params["loss_params"] = {k: (np.asarray(v).tolist() if isinstance(v, (np.ndarray, torch.Tensor)) else v)
                                     for k, v in params["loss_params"].items()}
        state = {
            "params": params,
            "model": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "loss_buffers": {k: v.detach().cpu() for k, v in self.loss_.state_dict().items()},
            "n_features_in": int(self.n_features_in_),
            "history": list(self.history_),
            "best_epoch": int(self.best_epoch_),
            "stopped_early": bool(self.stopped_early_),
            "device": str(self.device_),
        }
        state[_CHECKSUM_KEY] = _model_file_checksum(state)
        torch.save(state, path)

    @classmethod
    def load(cls, path, device=None, verify=True) -> "SparseAutoencoder":
        """Read an estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        device : str, optional
            Where the model goes (default: as chosen by ``select_device``).
        verify : bool, default=True
            Check the file's SHA-256 checksum. A file changed or corrupted since it was saved, or one
            written by a version before checksums (no ``"sha256"`` key), is refused with a ValueError.
            ``verify=False`` is the escape hatch for such an older file you trust: it loads with a
            warning, and saving it again adds a checksum. Shapes are checked either way.

        Returns
        -------
        SparseAutoencoder
        """
        state = _read_model_file(path, verify)
        estimator = cls(**state["params"])
        params = dict(estimator.loss_params or {})
        loss_state = state["loss_buffers"]
        if str(estimator.loss).lower() in PER_FEATURE_PARAMETER_LOSSES:
            # Trained parameters, not constructor arguments: build the loss at their shape, then load them.
            log_theta = loss_state["log_theta"]
            params["n_features"] = None if log_theta.ndim == 0 else int(log_theta.numel())
            estimator.loss_ = get_loss(estimator.loss, **params)
            estimator.loss_.load_state_dict(loss_state)
        else:
            params.update(loss_state)
            estimator.loss_ = get_loss(estimator.loss, **params)
        estimator.model_ = seeded_model(state["n_features_in"], 0, hidden_dims=tuple(estimator.hidden_dims),
                                        latent_dim=estimator.latent_dim)
        config = (f"n_features_in={state['n_features_in']}, hidden_dims={tuple(estimator.hidden_dims)}, "
                  f"latent_dim={estimator.latent_dim}")
        _check_weight_shapes(estimator.model_.state_dict(), state["model"], path, config)
        estimator.model_.load_state_dict(state["model"])
        estimator.model_.to(select_device(device if device is not None else estimator.device)).eval()
        estimator.n_features_in_ = state["n_features_in"]
        estimator.history_ = state["history"]
        estimator.best_epoch_ = state["best_epoch"]
        estimator.stopped_early_ = state["stopped_early"]
        estimator.device_ = state["device"]
        return estimator

    def _check_fitted_input(self, X) -> None:
        # scikit-learn's bookkeeping (fitted, feature count and names); the 0/1 (or count) check
        # follows in apply_in_batches, once.
        check_is_fitted(self, "model_")
        validate_data(self, X, accept_sparse=True, dtype=None, ensure_all_finite=False, reset=False)

    def _apply(self, X, fn) -> np.ndarray:
        self._check_fitted_input(X)
        return apply_in_batches(self.model_, X, fn, counts=self.loss_.target_kind == "counts")

    def transform(self, X) -> np.ndarray:
        """Embeddings (the bottleneck), shape ``(n_samples, latent_dim)``."""
        return self._apply(X, lambda m, x: m.encode(x))

    def predict_proba(self, X) -> np.ndarray:
        """Reconstruction probabilities, shape ``(n_samples, n_features)`` (dense).

        For a binary loss, the probability that each entry is 1. For a count loss, the
        probability that each entry is non-zero, ``1 - P(x = 0)`` under the fitted distribution,
        which the binary metrics (average precision, contingency) can score; the count
        reconstruction itself is :meth:`predict_mean`.
        """
        return self._apply(X, lambda m, x: self.loss_.probabilities(m(x)))

    def predict_mean(self, X) -> np.ndarray:
        """Expected reconstruction, shape ``(n_samples, n_features)`` (dense).

        For a count loss, the expected count of each entry under the fitted distribution
        (``mu`` for Poisson and NB, ``(1 - pi) mu`` for ZINB); round it to compare with integer
        data (:func:`spae_core.metrics.count_reconstruction`). For a binary loss the mean of a
        0/1 entry is its probability, so this equals :meth:`predict_proba`.
        """
        return self._apply(X, lambda m, x: self.loss_.mean(m(x)))

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructions decoded from embeddings ``Z`` of shape ``(n, latent_dim)``.

        Probabilities for a binary loss, expected counts for a count loss (as :meth:`predict_mean`).
        """
        check_is_fitted(self, "model_")
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.model_.latent_dim:
            raise ValueError(f"Z must have shape (n_samples, {self.model_.latent_dim}), got {Z.shape}.")
        if not np.isfinite(Z).all():
            raise ValueError("Z contains NaN or infinite values.")
        device = next(self.model_.parameters()).device
        self.model_.eval()
        with torch.no_grad():
            logits = self.model_.decode(torch.from_numpy(Z).to(device))
            return self.loss_.mean(logits).cpu().numpy()
