"""spae: sparsity-aware autoencoders for sparse binary and count data.

The library behind the replication of *Improving autoencoder performance on sparse binary data
through sparsity-aware loss functions*. Layers, bottom to top: ``datasets``, ``losses``, ``model``,
``metrics``, ``statistics``, ``regularisers`` (import nothing of ours but ``validation``);
``train`` (model + losses + regularisers); ``estimator`` (train), ``evaluation`` (metrics); ``experiments`` and ``baselines`` (the
grid and its results store); ``figures`` and ``tables`` (results + statistics), which the notebooks
call.
"""

__version__ = "0.1.0"

__all__ = ["SparseAutoencoder", "__version__"]


def __getattr__(name):
    # Imported on first use, so that `import spae_core.metrics` or `spae_core.datasets` does not
    # pay for importing torch.
    if name == "SparseAutoencoder":
        from .estimator import SparseAutoencoder

        return SparseAutoencoder
    raise AttributeError(f"module 'spae_core' has no attribute {name!r}")
