"""Maths shared by the loss modules: reductions, positive weights, and stable logarithms of the
count losses' mean ``mu = softplus(z)``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    return reduction


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _as_weight_tensor(alpha, name: str) -> torch.Tensor:
    """Positive weights as a float32 tensor: a scalar or one value per feature."""
    if isinstance(alpha, torch.Tensor):
        weights = alpha.detach().to(torch.float32)
    else:
        weights = torch.as_tensor(np.asarray(alpha, dtype=np.float64), dtype=torch.float32)
    if weights.ndim > 1:
        raise ValueError(f"{name}: alpha must be a scalar or a 1-D vector of per-feature weights, got shape {tuple(weights.shape)}.")
    if not bool(torch.isfinite(weights).all()):
        raise ValueError(f"{name}: alpha contains NaN or infinite values; compute it with positive_weights(X_train).")
    if bool((weights <= 0).any()):
        raise ValueError(f"{name}: alpha must be strictly positive, got a minimum of {weights.min().item():.4g}.")
    return weights


# Below this output, softplus(z) = log1p(exp(z)) equals exp(z) to float64 precision (the next term
# of the series is exp(2z)/2, relative size 1e-16 at z = -37), so log(softplus(z)) is z itself.
_LOG_SOFTPLUS_LINEAR_BELOW = -37.0

# Below this mean, log(1 - exp(-mu)) = log(mu) - mu/2 + O(mu^2) to float64 precision, and
# expm1 would be asked for the log of a number that float32 cannot resolve.
_LOG1MEXP_SERIES_BELOW = 1e-6


def _log_softplus(z: torch.Tensor) -> torch.Tensor:
    """``log(softplus(z))``, finite with a finite gradient for every finite ``z``."""
    linear = z < _LOG_SOFTPLUS_LINEAR_BELOW
    # The branch not taken is evaluated at a harmless point: torch.where passes a zero gradient
    # to it, and 0 * inf from a log(0) there would still make the gradient NaN.
    safe = torch.where(linear, torch.zeros_like(z), z)
    return torch.where(linear, z, torch.log(F.softplus(safe)))


def _log1mexp_neg(mu: torch.Tensor, log_mu: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(-mu))`` for ``mu >= 0``, from ``mu`` and a stable ``log(mu)``."""
    small = mu < _LOG1MEXP_SERIES_BELOW
    safe = torch.where(small, torch.ones_like(mu), mu)
    return torch.where(small, log_mu - mu / 2, torch.log(-torch.expm1(-safe)))
