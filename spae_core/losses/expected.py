"""The expected loss against a sparse target of a reconstruction of given sparsity (Figure 1)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .registry import BINARY_LOSSES, COUNT_LOSSES, WEIGHTED_LOSSES, get_loss
from .weights import DEFAULT_BETA

__all__ = ["expected_loss"]


def expected_loss(
    name: str,
    target_sparsity: float,
    recon_sparsity,
    *,
    low: float = 0.01,
    high: float = 0.99,
    beta: float = DEFAULT_BETA,
    **loss_params,
) -> np.ndarray:
    """Expected loss against a sparse target of a reconstruction of given sparsity (Figure 1).

    The paper's Figure 1 scores a random reconstruction against a target of sparsity
    ``s(x) = 0.999`` as the reconstruction's sparsity ``s(x_hat)`` grows. We make that
    reconstruction precise: entries are independent of the target (the reconstruction knows
    nothing about where the positives are), each ``high`` with probability ``1 - s(x_hat)`` and
    ``low`` otherwise (``low``/``high`` keep the logarithms finite). The target's entries are 1
    with probability ``p = 1 - s(x)``. For an entry-wise loss ``l`` the expected per-entry loss is
    then exact::

        E = p [q l(1, high) + (1-q) l(1, low)] + (1-p) [q l(0, high) + (1-q) l(0, low)],
        q = 1 - s(x_hat)

    with ``l`` evaluated by the loss module itself. The weighted losses use the single-feature
    weight ``alpha = beta + log(1/p)``. Dice is not entry-wise; for it we return the limit of
    Eq. 8 as ``d -> infinity`` (sums replaced by their expectations, ``eps`` negligible):
    ``1 - 2 p m1 / (p + m)`` with ``m = q high + (1-q) low`` and ``m1 = m`` (independence).

    Parameters
    ----------
    name : {"mse", "bce", "wmse", "wbce", "focal", "dice"}
    target_sparsity : float in (0, 1)
    recon_sparsity : float or array-like of floats in [0, 1]
    low, high : float
        The two reconstruction values, ``0 < low < high < 1``.
    beta : float
        ``beta`` of the weighted losses.
    **loss_params
        Passed to the loss (e.g. ``gamma`` for focal, ``as_printed=True`` for WMSE).

    Returns
    -------
    ndarray of the same shape as ``recon_sparsity``
    """
    key = str(name).lower()
    if not 0 < target_sparsity < 1:
        raise ValueError(f"target_sparsity must be in (0, 1), got {target_sparsity}.")
    if not 0 < low < high < 1:
        raise ValueError(f"Need 0 < low < high < 1, got low={low}, high={high}.")
    s_hat = np.asarray(recon_sparsity, dtype=np.float64)
    if np.any((s_hat < 0) | (s_hat > 1)) or not np.all(np.isfinite(s_hat)):
        raise ValueError("recon_sparsity must lie in [0, 1].")
    p = 1.0 - target_sparsity
    q = 1.0 - s_hat
    if key == "dice":
        m = q * high + (1 - q) * low
        return 1.0 - 2.0 * p * m / (p + m)
    if key == "multinomial":
        raise ValueError("expected_loss: the multinomial likelihood is not entry-wise; it has no per-entry expectation.")
    if key in COUNT_LOSSES:
        raise ValueError(f"expected_loss: {key!r} is a count loss; Figure 1's expectation is over 0/1 targets and "
                         f"reconstruction probabilities, so it covers only {', '.join(BINARY_LOSSES[:-1])}.")
    if key in WEIGHTED_LOSSES:
        loss_params.setdefault("alpha", beta + math.log(1.0 / p))
    loss = get_loss(key, reduction="none", **loss_params)
    values = torch.tensor([low, high], dtype=torch.float64)
    logits = torch.log(values) - torch.log1p(-values)
    with torch.no_grad():
        on_pos = loss(logits, torch.ones(2, dtype=torch.float64)).numpy()
        on_neg = loss(logits, torch.zeros(2, dtype=torch.float64)).numpy()
    l1_low, l1_high = on_pos
    l0_low, l0_high = on_neg
    return p * (q * l1_high + (1 - q) * l1_low) + (1 - p) * (q * l0_high + (1 - q) * l0_low)
