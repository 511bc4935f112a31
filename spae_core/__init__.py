"""spae: sparsity-aware autoencoders for sparse binary data.

The library behind the replication of *Improving autoencoder performance on sparse binary data
through sparsity-aware loss functions*. Layers, bottom to top: ``datasets``, ``losses``, ``model``,
``metrics`` (import nothing of ours); ``train`` (model + losses); ``estimator`` (train).
"""

__version__ = "0.1.0"

from .estimator import SparseAutoencoder

__all__ = ["SparseAutoencoder", "__version__"]
