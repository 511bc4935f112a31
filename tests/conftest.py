"""Shared fixtures: small binary data with cluster structure, made here so tests need no dataset package."""

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_ignore_collect(collection_path, config):
    """Leave tests/browser/ out unless it is named on the command line (`make test-browser` does).

    They need a built book, Chromium and selenium, none of which `make test` has.
    """
    if collection_path == BROWSER_TESTS:
        named = any(Path(arg.split("::")[0]).resolve().is_relative_to(BROWSER_TESTS) for arg in config.args)
        return None if named else True
    return None


# Torch CPU results depend on the thread count; the Makefile pins it too.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def clustered_binary(n=300, d=40, n_clusters=3, density=0.1, seed=0):
    """Rows drawn from cluster-specific Bernoulli rates; returns a CSR float32 matrix and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(n_clusters, size=n)
    # Each cluster switches a different random subset of features to a high rate: distinct clusters.
    rates = np.where(rng.random((n_clusters, d)) < 0.25, 3 * density, density / 3)
    dense = (rng.random((n, d)) < rates[labels]).astype(np.float32)
    dense[np.arange(n), rng.integers(d, size=n)] = 1.0  # no empty rows
    return sp.csr_array(dense), labels


@pytest.fixture
def binary_data():
    X, labels = clustered_binary()
    return X, labels
