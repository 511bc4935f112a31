"""The losses by name: :func:`get_loss`, :func:`loss_names`, :func:`is_count_loss` and the groups
of names (binary, count, weighted, with per-feature parameters)."""

from __future__ import annotations

from collections.abc import Callable

from ..paper import PAPER_LOSSES
from .base import ReconstructionLoss
from .bce import BCELoss, WeightedBCELoss
from .dice import DiceLoss
from .focal import FocalLoss
from .mse import CountMSELoss, MSELoss, WeightedMSELoss
from .multinomial import MultinomialLoss
from .negative_binomial import NegativeBinomialLoss, ZINBLoss
from .poisson import FocalPoissonLoss, PoissonLoss, WeightedPoissonLoss

__all__ = [
    "BINARY_LOSSES",
    "COUNT_LOSSES",
    "PER_FEATURE_PARAMETER_LOSSES",
    "WEIGHTED_LOSSES",
    "get_loss",
    "is_count_loss",
    "loss_names",
]

_LOSSES: dict[str, Callable[..., ReconstructionLoss]] = {
    "mse": MSELoss,
    "bce": BCELoss,
    "wmse": WeightedMSELoss,
    "wbce": WeightedBCELoss,
    "focal": FocalLoss,
    "dice": DiceLoss,
    "multinomial": MultinomialLoss,
    "poisson": PoissonLoss,
    "nb": NegativeBinomialLoss,
    "zinb": ZINBLoss,
    "wpoisson": WeightedPoissonLoss,
    "focal_poisson": FocalPoissonLoss,
    "count_mse": CountMSELoss,
}

#: Losses that need per-feature positive weights ``alpha``.
WEIGHTED_LOSSES = ("wmse", "wbce", "wpoisson")

#: Losses of 0/1 data: the paper's six and the multinomial peer.
BINARY_LOSSES = (*PAPER_LOSSES, "multinomial")

#: Losses of non-negative integer counts: the five likelihoods, then squared error on the counts
#: (the baseline of source ``001``).
COUNT_LOSSES = ("poisson", "nb", "zinb", "wpoisson", "focal_poisson", "count_mse")

#: Count losses that own per-feature parameters and need ``n_features`` to have one per feature.
PER_FEATURE_PARAMETER_LOSSES = ("nb", "zinb")


def loss_names() -> tuple[str, ...]:
    """Names accepted by :func:`get_loss`: the binary losses in the paper's order plus the
    multinomial peer (:data:`BINARY_LOSSES`), then the count losses (:data:`COUNT_LOSSES`)."""
    return tuple(_LOSSES)


def is_count_loss(loss) -> bool:
    """Whether ``loss`` (a name or a loss module) takes count targets rather than 0/1 targets."""
    if isinstance(loss, ReconstructionLoss):
        return loss.target_kind == "counts"
    key = str(loss).lower()
    if key not in _LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {', '.join(_LOSSES)}.")
    return key in COUNT_LOSSES


def get_loss(name: str, **params) -> ReconstructionLoss:
    """Build a reconstruction loss by name.

    Parameters
    ----------
    name : {"mse", "bce", "wmse", "wbce", "focal", "dice", "multinomial", "poisson", "nb", "zinb", \
"wpoisson", "focal_poisson", "count_mse"}
    **params
        Keyword arguments of the loss class, e.g. ``alpha=positive_weights(X_train)`` for
        ``"wbce"``/``"wmse"`` (``positive_weights(X_train, counts=True)`` for ``"wpoisson"``),
        ``gamma=2`` for ``"focal"``, ``n_features=d`` for a per-feature dispersion of
        ``"nb"``/``"zinb"``, ``reduction="sum"``.

    Examples
    --------
    >>> import numpy as np
    >>> X_train = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0]])
    >>> loss = get_loss("wbce", alpha=positive_weights(X_train))

    Count losses, for non-negative integer targets:

    >>> counts = np.array([[3, 0, 0], [0, 0, 1], [2, 0, 0]])
    >>> zinb = get_loss("zinb", n_features=3)  # a dispersion and a dropout logit per feature
    >>> wpoisson = get_loss("wpoisson", alpha=positive_weights(counts, counts=True))
    """
    key = str(name).lower()
    if key not in _LOSSES:
        raise ValueError(f"Unknown loss {name!r}; choose one of {', '.join(_LOSSES)}.")
    if key in WEIGHTED_LOSSES and "alpha" not in params:
        raise ValueError(
            f"Loss {key!r} needs per-feature positive weights: get_loss({key!r}, "
            f"alpha=positive_weights(X_train{', counts=True' if key in COUNT_LOSSES else ''})), "
            "computed from the training split only."
        )
    try:
        return _LOSSES[key](**params)
    except TypeError as err:
        raise ValueError(f"Bad parameters for loss {key!r}: {err}") from None
