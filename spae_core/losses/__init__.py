"""Reconstruction losses for autoencoders on sparse binary and count data (Section 3 of the paper).

Every loss is an :class:`torch.nn.Module` whose ``forward(logits, target)`` takes the network's
**logits** ``z`` and a binary target ``x`` of the same shape. The reconstruction probability is
``x_hat = sigmoid(z)``; it is never formed where a logarithm of it is needed, because
``log(sigmoid(z))`` computed as ``logsigmoid(z)`` stays finite for logits of any size, whereas
``log(sigmoid(100.))`` in float32 is ``log(1.0) = 0`` and ``log(1 - sigmoid(100.)) = -inf``.

``reduction`` follows PyTorch: ``"mean"`` averages the per-entry loss over all entries (the paper's
``1/d sum_j`` averaged over the batch), ``"sum"`` adds it up, ``"none"`` returns it unreduced. Dice and
the multinomial likelihood are defined per sample, not per entry; their ``"none"`` returns one value
per sample (see each class).

Build a loss by name with :func:`get_loss`; compute the per-feature positive weights of the weighted
losses with :func:`positive_weights` from the training split only.

BCE and weighted BCE also take the target as a torch sparse CSR tensor that stores the 1s
(``reduction`` ``"mean"`` or ``"sum"``; see :attr:`ReconstructionLoss.accepts_sparse_target`), and
reduce along a faster route than torch's per-entry kernel; both give torch's gradient bit for bit,
so a model trains to the same weights whichever route it takes. That holds on every CPU: the
backward is torch's own elementwise formula, operation for operation, on ``sigmoid`` of the same
tensor, and elementwise additions and multiplications are correctly rounded IEEE operations
wherever they run. Only the loss value is summed in another order, and agrees with torch's to
float32 rounding.

**Count losses** (:data:`COUNT_LOSSES`; the paper's "future work", and the forum user of
``001``) take the same unconstrained network outputs ``z`` and a target of non-negative integer
counts. Their mean is ``mu = softplus(z)``: it grows linearly rather than exponentially, so no
float32 output overflows, and the gradient of every count loss with respect to ``z`` stays
bounded by ``max(1, x)`` (with the canonical ``exp`` link it is ``mu - x``, unbounded). Where
``log(mu)`` is needed it is computed from ``z`` directly (``log(softplus(z)) ~ z`` for very
negative ``z``), so a mean that underflows to 0 still has a finite log-likelihood. Every count
likelihood is a full negative log-likelihood (``lgamma(x + 1)`` included), so its values are nats
per entry and agree with ``scipy.stats``; ``"count_mse"``, squared error on the counts, is the
non-likelihood baseline. For a count loss :meth:`ReconstructionLoss.mean` is the
expected count and :meth:`ReconstructionLoss.probabilities` is the probability that an entry is
non-zero, which lets the binary metrics score a count model.

One module per family of losses, all imported from here (shared maths in ``_functional``):

=====================  ===========================================================================
``base``               :class:`ReconstructionLoss` and :class:`CountLoss`, the base classes
``mse``                :class:`MSELoss`, :class:`WeightedMSELoss`, :class:`CountMSELoss`
``bce``                :class:`BCELoss`, :class:`WeightedBCELoss` (with the fast summed route)
``focal``              :class:`FocalLoss`
``dice``               :class:`DiceLoss`
``multinomial``        :class:`MultinomialLoss`
``poisson``            :class:`PoissonLoss`, :class:`WeightedPoissonLoss`, :class:`FocalPoissonLoss`
``negative_binomial``  :class:`NegativeBinomialLoss`, :class:`ZINBLoss`
``registry``           :func:`get_loss`, :func:`loss_names`, :func:`is_count_loss`, the name groups
``weights``            :func:`positive_weights`, :data:`DEFAULT_BETA`
``expected``           :func:`expected_loss` (Figure 1)
=====================  ===========================================================================

The targets are checked by :mod:`spae_core.validation`.
"""

from .base import CountLoss, ReconstructionLoss
from .bce import BCELoss, WeightedBCELoss
from .dice import DiceLoss
from .expected import expected_loss
from .focal import FocalLoss
from .mse import CountMSELoss, MSELoss, WeightedMSELoss
from .multinomial import MultinomialLoss
from .negative_binomial import NegativeBinomialLoss, ZINBLoss
from .poisson import FocalPoissonLoss, PoissonLoss, WeightedPoissonLoss
from .registry import (
    BINARY_LOSSES,
    COUNT_LOSSES,
    PER_FEATURE_PARAMETER_LOSSES,
    WEIGHTED_LOSSES,
    get_loss,
    is_count_loss,
    loss_names,
)
from .weights import DEFAULT_BETA, positive_weights, smoothed_rates

__all__ = [
    "BINARY_LOSSES",
    "COUNT_LOSSES",
    "DEFAULT_BETA",
    "PER_FEATURE_PARAMETER_LOSSES",
    "WEIGHTED_LOSSES",
    "BCELoss",
    "CountLoss",
    "CountMSELoss",
    "FocalPoissonLoss",
    "NegativeBinomialLoss",
    "PoissonLoss",
    "WeightedPoissonLoss",
    "ZINBLoss",
    "DiceLoss",
    "FocalLoss",
    "MSELoss",
    "MultinomialLoss",
    "ReconstructionLoss",
    "WeightedBCELoss",
    "WeightedMSELoss",
    "expected_loss",
    "get_loss",
    "is_count_loss",
    "loss_names",
    "positive_weights",
    "smoothed_rates",
]
