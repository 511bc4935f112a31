"""The soft Dice loss (Eq. 8; Sudre et al. 2017), per sample or over the batch."""

from __future__ import annotations

import torch

from .base import ReconstructionLoss

__all__ = ["DiceLoss"]


class DiceLoss(ReconstructionLoss):
    """Soft Dice loss (Eq. 8; Sudre et al. 2017).

    ``1 - (2 sum_j x_j x_hat_j + eps) / (sum_j x_j + sum_j x_hat_j + eps)``.

    Parameters
    ----------
    eps : float, default=1e-5
        Smoothing in numerator and denominator, MONAI's ``DiceLoss`` default. The paper names an
        ``eps`` without a value. With a small ``eps`` a sample whose target row is all zeros has a
        loss near 1 unless its reconstruction sums to ~0, so such rows push every output to 0.
    batch : bool, default=False
        ``False``: one Dice score per sample (Eq. 8 as printed; MONAI's default), and
        ``reduction`` acts over samples, ``"none"`` returning shape ``(n_samples,)``.
        ``True``: the sums run over the whole batch (segmentation_models_pytorch's convention),
        giving one value; ``reduction`` then has nothing to reduce and ``"none"`` returns a
        0-d tensor.
    """

    def __init__(self, eps: float = 1e-5, batch: bool = False, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        if eps < 0:
            raise ValueError(f"DiceLoss: eps must be >= 0, got {eps}.")
        self.eps = float(eps)
        self.batch = bool(batch)

    def unreduced(self, logits, target):
        x_hat = torch.sigmoid(logits)
        dims = tuple(range(logits.ndim)) if self.batch else tuple(range(1, logits.ndim))
        overlap = (target * x_hat).sum(dim=dims)
        total = target.sum(dim=dims) + x_hat.sum(dim=dims)
        return 1 - (2 * overlap + self.eps) / (total + self.eps)

    def extra_repr(self):
        return f"eps={self.eps}, batch={self.batch}, reduction={self.reduction!r}"
