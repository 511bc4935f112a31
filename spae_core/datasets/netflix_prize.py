"""Reader for the original Netflix Prize files (``combined_data_*.txt``): the paper's Netflix data.

Format: a line ``MovieID:`` starts a movie's block; each following line is
``CustomerID,Rating,Date`` (rating an integer 1-5, date ``YYYY-MM-DD``). The four Kaggle files hold
100,480,507 ratings in about 2 GB of text, so the files are read in binary blocks and parsed with
vectorised numpy into integer arrays; the text is never held, and the matrix is filled in place:

1. first pass: validate every line and count the ratings of each customer and movie;
2. (only with thresholds) second pass: count the ratings that survive the thresholds, per row and
   column, so that rows and columns left empty can be dropped;
3. last pass: write each rating's column index straight into its row's slot of the CSR arrays.

Peak memory is the result (8 bytes per rating: int32 column index + float32 value) plus the arrays
of one block's parse (a few tens of MB).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from .binary import X_DTYPE
from .dataset import NO_TASK, BinaryDataset

#: Bytes read per block; a block is cut after its last complete line.
BLOCK_BYTES = 1 << 20
_NEWLINE, _CR, _COMMA, _COLON, _DASH, _ZERO = (ord(c) for c in "\n\r,:-0")
_MAX_ID_DIGITS = 9
_HEADER_LINE = re.compile(r"\d{1,9}:")


def load_netflix_prize(
    paths,
    *,
    min_ratings_per_user: int = 1,
    min_ratings_per_movie: int = 1,
    name: str = "netflix_prize",
    block_bytes: int = BLOCK_BYTES,
) -> BinaryDataset:
    """Binary customer x movie matrix (1 = rated) from Netflix Prize ``combined_data_*.txt`` files.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        One or more files in the Netflix Prize format, read in the order given.
    min_ratings_per_user, min_ratings_per_movie : int, default=1
        Keep only customers (movies) with at least this many rating lines in the input files. The
        thresholds are applied once, to the counts in the files, not iterated; customers and
        movies left without any rating afterwards are dropped.
    name : str, default="netflix_prize"
    block_bytes : int, default=1 MiB
        Size of the blocks the files are read in.

    Returns
    -------
    BinaryDataset
        Rows are customers (ascending CustomerID, in ``row_ids``), columns movies (ascending
        MovieID, in ``feature_names``); no targets. A customer who rated a movie twice gives one 1.
        Derive sparser or denser variants with :func:`spae_core.datasets.reduce_sparsity` or
        :func:`spae_core.datasets.maximize_sparsity`.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        On the first malformed line (message: file, line number, reason), or bad thresholds.
    """
    paths = _check_paths(paths)
    if isinstance(block_bytes, bool) or not isinstance(block_bytes, (int, np.integer)) or block_bytes < 1:
        raise ValueError(f"block_bytes must be a positive integer, got {block_bytes!r}.")
    thresholds = {"min_ratings_per_user": min_ratings_per_user, "min_ratings_per_movie": min_ratings_per_movie}
    for label, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}.")
    filtering = min_ratings_per_user > 1 or min_ratings_per_movie > 1
    n_passes = 3 if filtering else 2

    user_counts, movie_counts = _count(paths, block_bytes, f"pass 1/{n_passes}: validating, counting")
    n_rating_lines = int(user_counts.sum())
    users = np.flatnonzero(user_counts >= min_ratings_per_user)
    movies = np.flatnonzero(movie_counts >= min_ratings_per_movie)
    if filtering:
        row_code, column_code = _codes(users, len(user_counts)), _codes(movies, len(movie_counts))
        row_counts, column_counts = _count_kept(
            paths, block_bytes, row_code, column_code, len(users), len(movies),
            f"pass 2/{n_passes}: counting kept ratings",
        )
        users, movies = users[row_counts > 0], movies[column_counts > 0]
    row_code, column_code = _codes(users, len(user_counts)), _codes(movies, len(movie_counts))
    row_counts = row_counts[row_counts > 0] if filtering else user_counts[users]
    if len(users) == 0:
        why = "the thresholds remove every customer or movie" if n_rating_lines else "the files hold no rating lines"
        raise ValueError(f"no ratings to build a matrix from: {why}.")

    # int32 offsets while they fit, so that scipy keeps the index arrays as they are, uncopied.
    index_dtype = np.int32 if row_counts.sum() < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(len(users) + 1, dtype=index_dtype)
    np.cumsum(row_counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=index_dtype)
    _fill(paths, block_bytes, row_code, column_code, indptr, indices, f"pass {n_passes}/{n_passes}: filling the matrix")
    X = sp.csr_array((np.ones(len(indices), dtype=X_DTYPE), indices, indptr), shape=(len(users), len(movies)))
    n_entries = X.nnz
    X.sum_duplicates()
    X.data[:] = 1
    provenance = {
        "files": [{"path": str(p), "bytes": p.stat().st_size} for p in paths],
        "rating_lines": n_rating_lines,
        "duplicate_customer_movie_pairs": n_entries - X.nnz,
        "rule": (
            "rows = CustomerID, columns = MovieID (both ascending); entry 1 if the customer rated the "
            f"movie (any rating, any date). Kept customers with >= {min_ratings_per_user} and movies "
            f"with >= {min_ratings_per_movie} rating lines in the files (applied once, not iterated); "
            "customers and movies left without ratings dropped."
        ),
        "licence": "Netflix Prize data: Netflix's competition terms (see the Kaggle dataset page)",
        "X_dtype": "float32 (0/1), scipy.sparse.csr_array",
    }
    return BinaryDataset(
        name=name, X=X, feature_names=movies.astype(str), row_ids=users,
        task=NO_TASK, paper_counterpart="Netflix_1.0", provenance=provenance,
    )


def _check_paths(paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("pass at least one combined_data_*.txt file.")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"Netflix Prize file not found: {path}")
    return paths


def _codes(kept_ids: np.ndarray, size: int) -> np.ndarray:
    """Lookup table id -> position among ``kept_ids`` (-1 for ids not kept)."""
    codes = np.full(size, -1, dtype=np.int64)
    codes[kept_ids] = np.arange(len(kept_ids))
    return codes


def _count(paths, block_bytes, desc) -> tuple[np.ndarray, np.ndarray]:
    user_counts = np.zeros(0, dtype=np.int64)
    movie_counts = np.zeros(0, dtype=np.int64)
    for customers, movie_ids in _ratings(paths, block_bytes, desc):
        user_counts = _add_counts(user_counts, customers)
        movie_counts = _add_counts(movie_counts, movie_ids)
    return user_counts, movie_counts


def _add_counts(counts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    block = np.bincount(ids, minlength=len(counts))
    block[: len(counts)] += counts
    return block


def _count_kept(paths, block_bytes, row_code, column_code, n_rows, n_columns, desc):
    row_counts = np.zeros(n_rows, dtype=np.int64)
    column_counts = np.zeros(n_columns, dtype=np.int64)
    for customers, movie_ids in _ratings(paths, block_bytes, desc):
        rows, columns = row_code[customers], column_code[movie_ids]
        kept = (rows >= 0) & (columns >= 0)
        row_counts += np.bincount(rows[kept], minlength=n_rows)
        column_counts += np.bincount(columns[kept], minlength=n_columns)
    return row_counts, column_counts


def _fill(paths, block_bytes, row_code, column_code, indptr, indices, desc) -> None:
    """Counting sort: each block's ratings go to the next free slots of their rows."""
    next_free = indptr[:-1].copy()
    for customers, movie_ids in _ratings(paths, block_bytes, desc):
        rows, columns = row_code[customers], column_code[movie_ids]
        kept = (rows >= 0) & (columns >= 0)
        rows, columns = rows[kept], columns[kept]
        order = np.argsort(rows, kind="stable")
        rows, columns = rows[order], columns[order]
        group_starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        rank_in_row = np.arange(len(rows)) - np.repeat(group_starts, np.diff(np.r_[group_starts, len(rows)]))
        indices[next_free[rows] + rank_in_row] = columns
        next_free += np.bincount(rows, minlength=len(next_free))


def _ratings(paths, block_bytes, desc) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(customer ids, movie ids) of the rating lines of every block of every file."""
    total = sum(p.stat().st_size for p in paths)
    with tqdm(total=total, desc=f"Netflix Prize {desc}", unit="B", unit_scale=True, leave=False) as progress:
        for path in paths:
            current_movie = -1
            for block, first_line in _blocks(path, block_bytes):
                customers, movie_ids, current_movie = _parse_block(block, first_line, path, current_movie)
                progress.update(len(block))
                yield customers, movie_ids


def _blocks(path: Path, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines (each ending in a newline) and the line number each starts at."""
    line_number, carry = 1, b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(block_bytes)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            yield block, line_number
            line_number += block.count(b"\n")
    if carry:
        yield carry + b"\n", line_number


def _parse_block(block: bytes, first_line: int, path: Path, current_movie: int):
    """Validate a block's lines and return its ratings' (customer, movie) ids and the last movie."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == _NEWLINE)
    starts = np.concatenate(([0], ends[:-1] + 1))
    stops = ends - ((ends > starts) & (buf[ends - 1] == _CR))  # tolerate Windows line ends
    is_header = (stops > starts) & (buf[np.maximum(stops - 1, 0)] == _COLON)
    commas = np.flatnonzero(buf == _COMMA)
    first_comma = np.searchsorted(commas, starts)
    n_commas = np.searchsorted(commas, stops) - first_comma

    headers = np.flatnonzero(is_header)
    header_ids, header_ok = _parse_ids(buf, starts[headers], stops[headers] - 1)
    ratings = np.flatnonzero(~is_header)
    padded = np.concatenate((commas, [0, 0]))  # safe gathers for lines with fewer than two commas
    comma1 = padded[first_comma[ratings]]
    comma2 = padded[first_comma[ratings] + 1]
    customer_ids, customer_ok = _parse_ids(buf, starts[ratings], comma1)
    rating_digit = buf[np.minimum(comma1 + 1, len(buf) - 1)]
    rating_ok = (
        (n_commas[ratings] == 2) & customer_ok & (comma2 - comma1 == 2)
        & (rating_digit >= ord("1")) & (rating_digit <= ord("5"))
        & _is_date(buf, comma2 + 1, stops[ratings])
    )
    header_ok &= n_commas[headers] == 0
    if not (header_ok.all() and rating_ok.all()):
        first_bad = min(np.concatenate((headers[~header_ok], ratings[~rating_ok])))
        _raise_bad_line(block, starts, stops, int(first_bad), first_line, path)

    # Each rating belongs to the latest 'MovieID:' line above it, in this block or an earlier one.
    latest_header = np.searchsorted(headers, ratings) - 1
    movie_of_header = header_ids[np.maximum(latest_header, 0)] if len(headers) else -1
    movie_ids = np.where(latest_header >= 0, movie_of_header, current_movie)
    if len(movie_ids) and movie_ids[0] < 0:
        raise ValueError(f"{path}, line {first_line + int(ratings[0])}: rating line before any 'MovieID:' line.")
    if len(headers):
        current_movie = int(header_ids[-1])
    return customer_ids, movie_ids, current_movie


def _parse_ids(buf: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers written in ``buf[lo:hi]`` per line, and whether each is 1-9 digits only."""
    width = hi - lo
    ok = (width >= 1) & (width <= _MAX_ID_DIGITS)
    values = np.zeros(len(lo), dtype=np.int64)
    last = len(buf) - 1
    for k in range(min(int(width.max(initial=0)), _MAX_ID_DIGITS)):
        inside = k < width
        digit = buf[np.minimum(lo + k, last)] - np.uint8(_ZERO)  # non-digits wrap above 9
        ok &= ~inside | (digit <= 9)
        values = np.where(inside, values * 10 + digit, values)
    return values, ok


def _is_date(buf: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether ``buf[lo:hi]`` has the shape ``DDDD-DD-DD`` per line."""
    ok = hi - lo == 10
    last = len(buf) - 1
    for k in range(10):
        character = buf[np.minimum(lo + k, last)]
        ok &= (character == _DASH) if k in (4, 7) else ((character - np.uint8(_ZERO)) <= 9)
    return ok


def _raise_bad_line(block: bytes, starts, stops, index: int, first_line: int, path: Path):
    text = block[starts[index]: stops[index]].decode("utf-8", errors="replace")
    if not text:
        reason = "empty line"
    elif _HEADER_LINE.fullmatch(text) is None and text.endswith(":"):
        reason = "a 'MovieID:' line needs a MovieID of 1-9 digits"
    else:
        reason = "expected 'MovieID:' or 'CustomerID,Rating,Date' (ids of 1-9 digits, rating 1-5, date YYYY-MM-DD)"
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise ValueError(f"{path}, line {first_line + index}: {reason}; found {shown!r}.")
