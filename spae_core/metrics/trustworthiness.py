"""Trustworthiness of an embedding (Venna and Kaski, 2001), exactly and in bounded memory.

Rows are processed in blocks by one of two backends with the same kernels: NumPy/SciPy on the
CPU (:class:`_NumpyRanks`) or PyTorch on any torch device (:class:`_TorchRanks`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..validation import MAX_EXACT_COUNT, as_matrix, check_int, check_same_n_samples, is_binary
from ._common import _SPARSE_DENSITY_LIMIT, _WORKING_MEMORY_BYTES, _segment_search

__all__ = ["trustworthiness"]


def _resolve_device(device):
    """None for the NumPy/SciPy backend, otherwise the ``torch.device`` to run on."""
    if isinstance(device, str) and device in ("auto", "numpy"):
        if device == "numpy":
            return None
        try:
            import torch
        except ImportError:
            return None
        return torch.device("cuda") if torch.cuda.is_available() else None
    try:
        import torch
    except ImportError as error:
        raise ValueError(
            f"device={device!r} needs PyTorch, which is not installed; use device='numpy'."
        ) from error
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'numpy' or a torch device such as 'cuda', got {device!r}."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA, but torch sees no CUDA device; "
            f"use device='auto' or 'numpy'."
        )
    return resolved


class _NumpyRanks:
    """Block kernels of :func:`trustworthiness` with NumPy/SciPy on the CPU.

    ``exact_integer`` selects the path for 0/1 inputs: Gram products, and so squared
    distances, are integers (int32 sparse products, or float32 BLAS products, exact below
    2**24), and the tie rule "(distance, then row index)" folds into one integer key
    ``distance * n + index``; a rank is then the number of smaller keys, read off the sorted
    row by binary search. Otherwise distances follow
    ``sklearn.metrics.pairwise.euclidean_distances`` in float64 and the (rare) exact ties are
    resolved by index afterwards. Sparse ``X`` below ``_SPARSE_DENSITY_LIMIT`` stays sparse
    (sparse-sparse Gram products); denser ``X`` is made dense for BLAS.
    """

    def __init__(self, X, E, exact_integer: bool):
        n_samples, n_features = X.shape
        self.n_samples = n_samples
        self.exact_integer = exact_integer
        keep_sparse = sp.issparse(X) and X.nnz < _SPARSE_DENSITY_LIMIT * n_samples * n_features
        if keep_sparse:
            self.X = sp.csr_array(X, dtype=np.int32 if exact_integer else np.float64)
            self.X_t = sp.csr_array(self.X.T)
            x_sq = np.asarray(self.X.multiply(self.X).sum(axis=1)).ravel()
        else:
            X = X.toarray() if sp.issparse(X) else X
            self.X = np.ascontiguousarray(X, dtype=np.float32 if exact_integer else np.float64)
            self.X_t = self.X.T
            x_sq = np.einsum("ij,ij->i", self.X, self.X)
        if exact_integer:
            # key(i, l) = (|x_l|^2 - 2 x_i.x_l) n + l: the squared distance less the row
            # constant |x_i|^2, times n, plus the index that breaks ties.
            self.key_dtype = _key_dtype(int(x_sq.max()), n_samples)
            self.key_base = _key_base(x_sq, self.key_dtype)
        else:
            self.x_sq = x_sq
        E = np.asarray(E, dtype=np.float64)
        # Centring only reduces the cancellation in |a|^2 + |b|^2 - 2 a.b; distances are unchanged.
        self.E = E - E.mean(axis=0)
        self.minus_2E_t = -2.0 * self.E.T
        self.e_sq = np.einsum("ij,ij->i", self.E, self.E)

    def _gram_rows(self, rows: slice) -> np.ndarray:
        product = self.X[rows] @ self.X_t
        return product.toarray() if sp.issparse(product) else product

    def embedding_neighbours(self, rows: slice, k: int) -> np.ndarray:
        # |e_j|^2 - 2 e_i.e_j orders row i as the squared distance does (|e_i|^2 is constant).
        scores = self.E[rows] @ self.minus_2E_t
        scores += self.e_sq[None, :]
        local = np.arange(rows.stop - rows.start)
        scores[local, local + rows.start] = np.inf
        # Puts the k smallest first (unordered) and the (k+1)-th smallest at position k.
        partition = np.argpartition(scores, k, axis=1)
        smallest = np.take_along_axis(scores, partition[:, : k + 1], axis=1)
        nearest = partition[:, :k]
        # argpartition picks arbitrarily among scores tied with the k-th smallest; such rows
        # are redone with a stable sort so that ties go to the lower index.
        ambiguous = np.flatnonzero(smallest[:, :k].max(axis=1) == smallest[:, k])
        if ambiguous.size:
            nearest[ambiguous] = np.argsort(scores[ambiguous], axis=1, kind="stable")[:, :k]
        return nearest

    def input_ranks(self, rows: slice, neighbours: np.ndarray) -> np.ndarray:
        n = self.n_samples
        local = np.arange(rows.stop - rows.start)
        gram = self._gram_rows(rows)
        if self.exact_integer:
            key = gram.astype(self.key_dtype, copy=False)
            key *= -2 * n
            key += self.key_base
            key[local, local + rows.start] = np.iinfo(self.key_dtype).max
            neighbour_keys = np.take_along_axis(key, neighbours, axis=1)
            key.sort(axis=1)
            return _rowwise_search(key, neighbour_keys, "left") + 1
        # The same operations, in the same order, as sklearn's euclidean_distances.
        dist = -2 * gram
        dist += self.x_sq[rows, None]
        dist += self.x_sq[None, :]
        np.maximum(dist, 0, out=dist)
        np.sqrt(dist, out=dist)
        dist[local, local + rows.start] = np.inf
        neighbour_dist = np.take_along_axis(dist, neighbours, axis=1)
        sorted_dist = np.sort(dist, axis=1)
        closer = _rowwise_search(sorted_dist, neighbour_dist, "left")
        # j itself is one of the entries equal to d(i, j); more than one is a tie.
        tied_row, tied_m = np.nonzero(
            _rowwise_search(sorted_dist, neighbour_dist, "right") - closer > 1
        )
        chunk = rows.stop - rows.start
        for start in range(0, tied_row.size, chunk):
            r, m = tied_row[start : start + chunk], tied_m[start : start + chunk]
            earlier_and_equal = (dist[r] == neighbour_dist[r, m][:, None]) & (
                np.arange(n)[None, :] < neighbours[r, m][:, None]
            )
            closer[r, m] += np.count_nonzero(earlier_and_equal, axis=1)
        return closer + 1


class _TorchRanks:
    """The kernels of :class:`_NumpyRanks` with PyTorch, for a GPU (or any torch device)."""

    def __init__(self, X, E, exact_integer: bool, device):
        import torch

        self.torch = torch
        self.device = device
        self.n_samples = X.shape[0]
        self.exact_integer = exact_integer
        np_dtype = np.float32 if exact_integer else np.float64
        if sp.issparse(X):
            self.X_host = sp.csr_array(X, dtype=np_dtype)
            coo = sp.coo_array(self.X_host)
            self.X = torch.sparse_coo_tensor(
                torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64)),
                torch.from_numpy(coo.data),
                size=coo.shape,
                device=device,
                check_invariants=False,
            ).coalesce()
            x_sq = np.asarray(self.X_host.multiply(self.X_host).sum(axis=1), dtype=np_dtype)
        else:
            self.X_host = None
            X = np.ascontiguousarray(X, dtype=np_dtype)
            self.X = torch.from_numpy(X).to(device)
            x_sq = np.einsum("ij,ij->i", X, X)
        self.x_sq = torch.from_numpy(np.ascontiguousarray(x_sq.ravel())).to(device)
        E = np.asarray(E, dtype=np.float64)
        self.E = torch.from_numpy(E - E.mean(axis=0)).to(device)
        self.e_sq = (self.E * self.E).sum(dim=1)
        if exact_integer:
            key_dtype = _key_dtype(int(x_sq.max()), self.n_samples)
            self.key_dtype = torch.int32 if key_dtype == np.int32 else torch.int64
            self.key_base = torch.from_numpy(_key_base(x_sq.ravel(), key_dtype)).to(device)

    def _gram_rows(self, rows: slice):
        if self.X_host is not None:
            block = self.torch.from_numpy(self.X_host[rows].toarray().T.copy()).to(self.device)
            return self.torch.sparse.mm(self.X, block).T
        return self.X[rows] @ self.X.T

    def embedding_neighbours(self, rows: slice, k: int):
        torch = self.torch
        scores = -2.0 * (self.E[rows] @ self.E.T) + self.e_sq[None, :]
        local = torch.arange(rows.stop - rows.start, device=self.device)
        scores[local, local + rows.start] = torch.inf
        smallest = torch.topk(scores, k + 1, dim=1, largest=False, sorted=True)
        nearest = smallest.indices[:, :k].contiguous()
        ambiguous = torch.nonzero(smallest.values[:, k - 1] == smallest.values[:, k]).ravel()
        if ambiguous.numel():
            nearest[ambiguous] = torch.sort(scores[ambiguous], dim=1, stable=True).indices[:, :k]
        return nearest

    def input_ranks(self, rows: slice, neighbours) -> np.ndarray:
        torch = self.torch
        n = self.n_samples
        local = torch.arange(rows.stop - rows.start, device=self.device)
        index = torch.arange(n, device=self.device)
        gram = self._gram_rows(rows)
        if self.exact_integer:
            key = gram.to(self.key_dtype) * (-2 * n) + self.key_base
            key[local, local + rows.start] = torch.iinfo(self.key_dtype).max
            neighbour_keys = torch.take_along_dim(key, neighbours, dim=1)
            closer = torch.searchsorted(torch.sort(key, dim=1).values.contiguous(), neighbour_keys)
            return (closer + 1).cpu().numpy()
        dist = -2 * gram
        dist += self.x_sq[rows, None]
        dist += self.x_sq[None, :]
        dist = dist.clamp_min_(0).sqrt_()
        dist[local, local + rows.start] = torch.inf
        neighbour_dist = torch.take_along_dim(dist, neighbours, dim=1)
        sorted_dist = torch.sort(dist, dim=1).values.contiguous()
        closer = torch.searchsorted(sorted_dist, neighbour_dist)
        tied = torch.searchsorted(sorted_dist, neighbour_dist, right=True) - closer > 1
        tied_row, tied_m = torch.nonzero(tied, as_tuple=True)
        chunk = rows.stop - rows.start
        for start in range(0, tied_row.numel(), chunk):
            r, m = tied_row[start : start + chunk], tied_m[start : start + chunk]
            earlier_and_equal = (dist[r] == neighbour_dist[r, m][:, None]) & (
                index[None, :] < neighbours[r, m][:, None]
            )
            closer[r, m] += earlier_and_equal.sum(dim=1)
        return (closer + 1).cpu().numpy()


def _key_dtype(largest_row_norm: int, n_samples: int) -> type:
    """Smallest integer type that holds every key ``(|x_l|^2 - 2 x_i.x_l) n + l``."""
    largest_key = (2 * largest_row_norm + 1) * n_samples
    return np.int32 if largest_key < np.iinfo(np.int32).max else np.int64


def _key_base(x_sq: np.ndarray, key_dtype: type) -> np.ndarray:
    """The part ``|x_l|^2 n + l`` of the keys that does not depend on the row ``i``."""
    n_samples = x_sq.shape[0]
    return x_sq.astype(key_dtype) * n_samples + np.arange(n_samples, dtype=key_dtype)


def _rowwise_search(sorted_rows: np.ndarray, queries: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted(sorted_rows[i], queries[i], side)`` for every row ``i``, vectorised."""
    n_rows, n_columns = sorted_rows.shape
    start = np.repeat(np.arange(n_rows) * n_columns, queries.shape[1])
    found = _segment_search(
        sorted_rows.ravel(), start, start + n_columns, queries.ravel(), side
    )
    return (found - start).reshape(queries.shape)


def trustworthiness(
    X,
    E,
    n_neighbors: int = 15,
    *,
    block_size: int | None = None,
    device="auto",
) -> float:
    """Trustworthiness of an embedding (Venna and Kaski, 2001), exactly, in bounded memory.

    ``T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k(i)} max(0, r(i, j) - k)``, where
    ``N_k(i)`` are the ``k`` nearest neighbours of ``i`` in the embedding and ``r(i, j)`` is
    the rank of ``j`` among the neighbours of ``i`` in the input space (Euclidean distances),
    the same formula as :func:`sklearn.manifold.trustworthiness`.

    Ties. Binary inputs have many tied distances, and how ties are ranked moves T by several
    hundredths. Here ``r(i, j) = 1 + #{l != i : (d(i, l), l) < (d(i, j), j)}``: ties are ranked
    by row index. This is exactly scikit-learn's formula with a stable sort (scikit-learn as
    shipped sorts unstably and differs from it by ~1e-4 on binary data). Ties in the
    embedding (rare for continuous embeddings) also go to the lower index. On continuous data
    the result equals scikit-learn's.

    Cost. Rows are processed in blocks: for a block only the distances of its rows to all
    samples are held (O(block_size x n) memory, not O(n^2)). Each of these rows is sorted once
    and the ranks of the k embedding neighbours are read off by binary search (scikit-learn
    argsorts the full matrix and builds an n x n inverse index). For 0/1 inputs squared
    distances are integers computed exactly from (sparse) Gram products in float32. On a
    torch device, ``X`` (dense, or sparse COO) and ``E`` are copied to the device once.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input data (any real values; 0/1 data takes the exact integer path).
    E : array-like of shape (n_samples, n_components)
        Embeddings of the same samples, in the same order.
    n_neighbors : int, default=15
        ``k``; the paper uses 15 (Appendix C). Must be less than ``n_samples / 2``.
    block_size : int or None, default=None
        Rows per block. None picks about 256 MiB of working memory. The result does not
        depend on it.
    device : {"auto", "numpy"} or torch device, default="auto"
        ``"numpy"``: NumPy/SciPy on the CPU. A torch device (``"cuda"``, ``"cuda:1"``, or
        ``"cpu"`` for torch on the CPU) runs the same algorithm with PyTorch. ``"auto"``: CUDA
        when torch sees a GPU, NumPy otherwise.

    Returns
    -------
    float
        Trustworthiness in [0, 1].
    """
    X = as_matrix("X", X)
    E = as_matrix("E", E, allow_sparse=False)
    check_same_n_samples("X", X, "E", E)
    n_samples = X.shape[0]
    k = check_int("n_neighbors", n_neighbors, 1)
    if k >= n_samples / 2:
        raise ValueError(
            f"n_neighbors={k} must be less than n_samples / 2 = {n_samples / 2} (the "
            f"normaliser 2 / (n k (2n - 3k - 1)) keeps T in [0, 1] only then); use fewer "
            f"neighbours or more samples."
        )
    block_size = (
        max(1, _WORKING_MEMORY_BYTES // (48 * n_samples))
        if block_size is None
        else check_int("block_size", block_size, 1)
    )
    torch_device = _resolve_device(device)
    # Squared distances between 0/1 rows are at most 2 * n_features, exact in float32 below 2**24.
    exact_integer = is_binary(X) and 2 * X.shape[1] < MAX_EXACT_COUNT
    backend = (
        _NumpyRanks(X, E, exact_integer)
        if torch_device is None
        else _TorchRanks(X, E, exact_integer, torch_device)
    )
    excess = 0
    for start in range(0, n_samples, block_size):
        rows = slice(start, min(start + block_size, n_samples))
        ranks = backend.input_ranks(rows, backend.embedding_neighbours(rows, k))
        excess += int(np.maximum(ranks - k, 0).sum())
    return 1.0 - excess * (2.0 / (n_samples * k * (2.0 * n_samples - 3.0 * k - 1.0)))
