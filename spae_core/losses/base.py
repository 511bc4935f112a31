"""The base classes of the losses: :class:`ReconstructionLoss` (0/1 targets) and
:class:`CountLoss` (non-negative integer counts, mean ``mu = softplus(z)``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_binary_target, check_count_target
from ._functional import _check_reduction, _reduce

__all__ = ["CountLoss", "ReconstructionLoss"]


class ReconstructionLoss(nn.Module):
    """Base class: validates inputs, computes the unreduced loss, reduces.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
    check_target : bool, default=True
        Check on every call that the target is binary and shaped like the logits. The training
        loop validates the whole matrix once and switches this off, since checking each batch
        again costs a full pass over it.
    """

    #: What the target holds: ``"binary"`` (0/1) or ``"counts"`` (non-negative integers).
    target_kind = "binary"
    #: Whether ``forward`` also takes the target as a torch sparse CSR tensor of its 1s (with
    #: reduction ``"mean"`` or ``"sum"``), which spares the training loop densifying each batch.
    accepts_sparse_target = False

    def __init__(self, reduction: str = "mean", check_target: bool = True):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.check_target = check_target

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.layout == torch.sparse_csr and not self.accepts_sparse_target:
            raise ValueError(f"{type(self).__name__} needs a dense target; pass target.to_dense().")
        if self.check_target:
            check_binary_target(logits, target, type(self).__name__)
        return self._reduced(logits, target)

    def _reduced(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss under ``self.reduction``; a subclass may override it with a faster route to
        the same value."""
        return _reduce(self.unreduced(logits, target), self.reduction)

    def unreduced(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Reconstruction probabilities from logits (the inverse link of this loss)."""
        return torch.sigmoid(logits)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected value of an entry given the network's outputs.

        For a binary loss the mean of a 0/1 entry is its probability, so this equals
        :meth:`probabilities`; count losses return expected counts.
        """
        return self.probabilities(logits)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CountLoss(ReconstructionLoss):
    """Base class of the count losses: the target holds non-negative integer counts.

    The mean of an entry is ``mu = softplus(z)`` (see the module docstring for why not ``exp``).
    Subclasses implement :meth:`unreduced` (the negative log-likelihood per entry) and, where the
    distribution is not parameterised by ``mu`` alone, :meth:`mean` and :meth:`log_prob_zero`.
    """

    target_kind = "counts"

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.layout != torch.strided:
            raise ValueError(f"{type(self).__name__} needs a dense target; pass target.to_dense().")
        if self.check_target:
            check_count_target(logits, target, type(self).__name__)
        return _reduce(self.unreduced(logits, target), self.reduction)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected count of each entry, ``softplus(z)``."""
        return F.softplus(logits)

    def log_prob_zero(self, logits: torch.Tensor) -> torch.Tensor:
        """``log P(x = 0)`` of each entry; Poisson: ``-mu``."""
        return -F.softplus(logits)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Probability that each entry is non-zero, ``1 - P(x = 0)``.

        Not a reconstruction of the counts (use :meth:`mean`), but the natural input of the
        binary metrics (average precision, thresholded contingency) for a count model.
        """
        # log P(0) <= 0 exactly, but ZINB's difference of two softplus terms rounds to a few ulp
        # above 0 where P(0) is 1 to float precision; those would be "probabilities" of -1e-8.
        return -torch.expm1(torch.clamp(self.log_prob_zero(logits), max=0.0))
