"""Loaders for the paper's original files and for users' own files, on small files written here.

Every malformed input must raise, naming the line (or the position of a non-binary value); none
may be skipped silently.
"""

import re

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from spae_core import datasets

# ---------------------------------------------------------------- Netflix Prize

NETFLIX_1 = """1:
1488844,3,2005-09-06
822109,5,2005-05-13
885013,4,2005-10-19
2:
822109,1,2005-12-01
6,2,2004-01-02
"""
NETFLIX_2 = """3:
885013,5,2005-09-06
6,4,2005-05-13
1488844,2,2005-10-19
10:
6,1,2004-03-04
"""
# Expected matrix, written by hand: customers 6, 822109, 885013, 1488844 x movies 1, 2, 3, 10.
NETFLIX_EXPECTED = np.array([
    [0, 1, 1, 1],  # customer 6
    [1, 1, 0, 0],  # customer 822109
    [1, 0, 1, 0],  # customer 885013
    [1, 0, 1, 0],  # customer 1488844
])


@pytest.fixture
def netflix_files(tmp_path):
    first, second = tmp_path / "combined_data_1.txt", tmp_path / "combined_data_2.txt"
    first.write_text(NETFLIX_1)
    second.write_text(NETFLIX_2)
    return first, second


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 22])
def test_netflix_prize_binary_matrix_from_several_files(netflix_files, block_bytes):
    ds = datasets.load_netflix_prize(netflix_files, block_bytes=block_bytes)
    np.testing.assert_array_equal(ds.X.toarray(), NETFLIX_EXPECTED)
    np.testing.assert_array_equal(ds.row_ids, [6, 822109, 885013, 1488844])
    assert list(ds.feature_names) == ["1", "2", "3", "10"]
    assert ds.X.dtype == np.float32 and ds.targets.shape[1] == 0
    assert ds.provenance["rating_lines"] == 9 and ds.provenance["duplicate_customer_movie_pairs"] == 0


def test_netflix_prize_thresholds_are_applied_to_the_file_counts(netflix_files):
    # Counts in the files: customer 6 -> 3, 822109 -> 2, 885013 -> 2, 1488844 -> 2;
    # movie 1 -> 3, 2 -> 2, 3 -> 3, 10 -> 1.
    ds = datasets.load_netflix_prize(netflix_files, min_ratings_per_user=3)
    np.testing.assert_array_equal(ds.row_ids, [6])
    assert list(ds.feature_names) == ["2", "3", "10"]
    ds = datasets.load_netflix_prize(netflix_files, min_ratings_per_movie=3)
    assert list(ds.feature_names) == ["1", "3"]
    # Every customer rated movie 1 or 3, so all rows stay.
    np.testing.assert_array_equal(ds.X.toarray(), NETFLIX_EXPECTED[:, [0, 2]])
    ds = datasets.load_netflix_prize(netflix_files, min_ratings_per_user=2, min_ratings_per_movie=2)
    np.testing.assert_array_equal(ds.X.toarray(), NETFLIX_EXPECTED[:, :3])


def test_netflix_prize_drops_customers_left_without_ratings(tmp_path):
    path = tmp_path / "c.txt"
    # Movie 2 has one rating, so it goes, and with it customer 8, who rated nothing else.
    path.write_text("1:\n5,3,2005-01-01\n7,3,2005-01-01\n2:\n8,1,2005-01-01\n")
    ds = datasets.load_netflix_prize(path, min_ratings_per_movie=2)
    np.testing.assert_array_equal(ds.row_ids, [5, 7])
    assert list(ds.feature_names) == ["1"]


def test_netflix_prize_repeated_rating_gives_one_entry_and_crlf_is_read(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"1:\r\n5,3,2005-01-01\r\n5,4,2005-02-01\r\n1:\r\n5,2,2005-03-01\r\n")
    ds = datasets.load_netflix_prize(path)
    np.testing.assert_array_equal(ds.X.toarray(), [[1]])
    assert ds.provenance["duplicate_customer_movie_pairs"] == 2


def test_netflix_prize_file_without_final_newline(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("4:\n9,5,2005-09-06")
    ds = datasets.load_netflix_prize(path)
    assert ds.shape == (1, 1) and list(ds.row_ids) == [9]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("822109,5", "expected 'MovieID:' or 'CustomerID,Rating,Date'"),
        ("822109,6,2005-05-13", "rating 1-5"),
        ("822109,5,2005-05-13,extra", "expected 'MovieID:'"),
        ("82x109,5,2005-05-13", "ids of 1-9 digits"),
        ("822109,5,13.05.2005", "date YYYY-MM-DD"),
        ("1234567890,5,2005-05-13", "ids of 1-9 digits"),
        ("", "empty line"),
        ("x:", "needs a MovieID of 1-9 digits"),
        (",5,2005-05-13", "CustomerID,Rating,Date"),
    ],
)
@pytest.mark.parametrize("block_bytes", [16, 1 << 22])
def test_netflix_prize_bad_line_is_reported_with_its_number(tmp_path, line, reason, block_bytes):
    good = NETFLIX_1.splitlines()
    lines = good[:4] + [line] + good[4:]  # the bad line is line 5
    path = tmp_path / "combined_data_9.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"combined_data_9\.txt, line 5: .*{re.escape(reason)}"):
        datasets.load_netflix_prize(path, block_bytes=block_bytes)


def test_netflix_prize_bad_line_in_second_file_has_that_files_line_number(netflix_files):
    second = netflix_files[1]
    second.write_text(NETFLIX_2.replace("6,1,2004-03-04", "6,1,2004/03/04"))
    with pytest.raises(ValueError, match=r"combined_data_2\.txt, line 6:"):
        datasets.load_netflix_prize(netflix_files)


def test_netflix_prize_rating_before_any_movie_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("5,3,2005-01-01\n1:\n")
    with pytest.raises(ValueError, match=r"line 1: rating line before any 'MovieID:' line"):
        datasets.load_netflix_prize(path)


def test_netflix_prize_each_file_starts_without_a_movie(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("1:\n5,3,2005-01-01\n")
    second.write_text("6,3,2005-01-01\n")
    with pytest.raises(ValueError, match=r"b\.txt, line 1: rating line before"):
        datasets.load_netflix_prize([first, second])


def test_netflix_prize_bad_arguments(tmp_path, netflix_files):
    with pytest.raises(FileNotFoundError, match="not found"):
        datasets.load_netflix_prize(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="at least one"):
        datasets.load_netflix_prize([])
    with pytest.raises(ValueError, match="min_ratings_per_user must be an integer >= 1"):
        datasets.load_netflix_prize(netflix_files, min_ratings_per_user=0)
    with pytest.raises(ValueError, match="remove every customer"):
        datasets.load_netflix_prize(netflix_files, min_ratings_per_user=100)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="hold no rating lines"):
        datasets.load_netflix_prize(empty)


def test_netflix_prize_matches_a_naive_parse_of_a_larger_file(tmp_path):
    rng = np.random.default_rng(0)
    lines, pairs = [], set()
    for movie in rng.choice(np.arange(1, 5000), 40, replace=False):
        lines.append(f"{movie}:")
        for customer in rng.choice(np.arange(1, 2_700_000), rng.integers(1, 60), replace=False):
            lines.append(f"{customer},{rng.integers(1, 6)},2005-0{rng.integers(1, 10)}-1{rng.integers(0, 10)}")
            pairs.add((int(customer), int(movie)))
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    ds = datasets.load_netflix_prize(path, block_bytes=1000)
    found = {(int(ds.row_ids[r]), int(ds.feature_names[c])) for r, c in zip(*ds.X.nonzero())}
    assert found == pairs


# ---------------------------------------------------------------- Kaggle "Netflix popular movies" CSV

MOVIES_CSV = '''title,year,certificate,duration,genre,rating,description,stars,votes
Cobra Kai,(2018– ),TV-14,30 min,"Action, Comedy, Drama",8.5,"Decades later, the rivalry goes on.","['Ralph Macchio']","177,031"
The Crown,(2016– ),TV-MA,58 min,"Biography, Drama, History",8.7,A royal drama.,"['Claire Foy']","199,885"
Upcoming,(2023),,,Drama,,Not out yet.,[],
Untyped,(2020),,90 min,,6.1,No certificate or genre.,[],10
Lupin,(2021– ),TV-MA,45 min,"Action, Crime, Drama",7.5,"A thief, inspired.","['Omar Sy']","101,845"
'''


@pytest.fixture
def movies_csv(tmp_path):
    path = tmp_path / "n_movies.csv"
    path.write_text(MOVIES_CSV, encoding="utf-8")
    return path


def test_netflix_movies_one_hot_with_rating_target(movies_csv):
    ds = datasets.load_netflix_movies(movies_csv)
    # Upcoming has no rating, Untyped has neither certificate nor genre: both dropped.
    assert list(ds.row_ids) == [2, 3, 6]
    assert list(ds.feature_names) == [
        "certificate=TV-14", "certificate=TV-MA",
        "genre=Action", "genre=Biography", "genre=Comedy", "genre=Crime", "genre=Drama", "genre=History",
    ]
    np.testing.assert_array_equal(ds.X.toarray(), [
        [1, 0, 1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0, 0, 1, 1],
        [0, 1, 1, 0, 0, 1, 1, 0],
    ])
    np.testing.assert_allclose(ds.targets["rating"], [8.5, 8.7, 7.5])
    assert ds.task == "regression: rating" and ds.paper_counterpart == "IMDB_1.0"
    assert "rows without a rating dropped (1)" in ds.provenance["rule"]


def test_netflix_movies_user_chosen_columns_and_no_target(movies_csv):
    ds = datasets.load_netflix_movies(movies_csv, columns=["duration"], target=None)
    assert list(ds.feature_names) == ["duration=30 min", "duration=45 min", "duration=58 min", "duration=90 min"]
    assert ds.shape == (4, 4) and ds.targets.shape[1] == 0


def test_netflix_movies_ragged_record_reports_its_line(movies_csv):
    text = MOVIES_CSV.replace("The Crown,(2016– ),TV-MA,", "The Crown,(2016– ),TV-MA,extra,")
    movies_csv.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 3: expected 9 fields .*found 10"):
        datasets.load_netflix_movies(movies_csv)


def test_netflix_movies_non_numeric_rating_reports_its_line(movies_csv):
    movies_csv.write_text(MOVIES_CSV.replace(",7.5,", ",seven,"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 6: rating must be a number, found 'seven'"):
        datasets.load_netflix_movies(movies_csv)


def test_netflix_movies_missing_column_lists_the_header(movies_csv):
    with pytest.raises(ValueError, match=r"\['language'\] not in the header"):
        datasets.load_netflix_movies(movies_csv, columns=["language"])


# ---------------------------------------------------------------- user's dense CSV

def test_binary_csv_with_header_and_ids(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,a,b,c\nu1,1,0,1\nu2,0,0,0\nu3,0,1.0,1\n")
    ds = datasets.load_binary_csv(path, id_column="id")
    np.testing.assert_array_equal(ds.X.toarray(), [[1, 0, 1], [0, 0, 0], [0, 1, 1]])
    assert list(ds.feature_names) == ["a", "b", "c"] and list(ds.row_ids) == ["u1", "u2", "u3"]
    assert ds.name == "mine"


def test_binary_csv_without_header(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,0\n0,1\n")
    ds = datasets.load_binary_csv(path)
    np.testing.assert_array_equal(ds.X.toarray(), np.eye(2))
    assert list(ds.feature_names) == ["0", "1"] and list(ds.row_ids) == [1, 2]


@pytest.mark.parametrize(
    "body, message",
    [
        ("a,b\n1,0\n1\n", r"line 3: expected 2 fields, found 1"),
        ("a,b\n1,0\n1,0,1\n", r"line 3: expected 2 fields, found 3"),
        ("a,b\n1,0\n\n0,1\n", r"line 3: expected 2 fields, found 0"),
        ("a,b\n1,0\n1,\n", r"1 missing cell\(s\) .*; the first: line 3, column 'b'\. Pass na='zero'"),
        ("a,b\n1,maybe\n", r"line 2, column 'b': non-numeric value 'maybe'"),
        ("a,b\n1,0\n2,1\n0,-1\n3,1\n", r"3 value\(s\) are not 0 or 1; the first is '2' at line 3, column 'a'\.$"),
        ("a,b\n1,0\n2,1\n", r"1 value\(s\) are not 0 or 1; the first is '2' .* for counts use read_data"),
        ("a,b\n1,-nan\n", r"1 missing cell\(s\) .*; the first: line 2, column 'b'"),
    ],
)
@pytest.mark.parametrize("engine", ["auto", "reference"])
def test_binary_csv_malformed(tmp_path, body, message, engine):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        datasets.load_binary_csv(path, engine=engine)


def test_binary_csv_bad_id_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,0\n")
    with pytest.raises(ValueError, match=r"id_column 'id' is not a column; the columns are \['a', 'b'\]"):
        datasets.load_binary_csv(path, id_column="id")
    with pytest.raises(ValueError, match=r"is not a column; the columns are \['0', '1'\] \(no header \(header=False\)"):
        datasets.load_binary_csv(path, header=False, id_column="a")


# ---------------------------------------------------------------- .npz and .mtx

def test_npz_round_trip_and_names(tmp_path):
    X = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1]], dtype=np.int64))
    sp.save_npz(tmp_path / "m.npz", X)
    ds = datasets.load_npz(tmp_path / "m.npz", feature_names=["x", "y", "z"], row_ids=["r", "s"])
    np.testing.assert_array_equal(ds.X.toarray(), X.toarray())
    assert ds.X.dtype == np.float32 and list(ds.feature_names) == ["x", "y", "z"]


def test_npz_non_binary_and_wrong_file(tmp_path):
    sp.save_npz(tmp_path / "counts.npz", sp.csr_matrix(np.array([[0, 3], [2, 1]])))
    with pytest.raises(ValueError, match=r"2 entries are not; the first is 3.0 at row 0, column 1"):
        datasets.load_npz(tmp_path / "counts.npz")
    np.savez(tmp_path / "dense.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a scipy.sparse .npz"):
        datasets.load_npz(tmp_path / "dense.npz")


def test_mtx_coordinate_pattern_and_array(tmp_path):
    X = sp.coo_matrix(np.array([[0, 1], [1, 1], [0, 0]]))
    scipy.io.mmwrite(tmp_path / "m.mtx", X)
    np.testing.assert_array_equal(datasets.load_mtx(tmp_path / "m.mtx").X.toarray(), X.toarray())
    (tmp_path / "p.mtx").write_text("%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n")
    np.testing.assert_array_equal(datasets.load_mtx(tmp_path / "p.mtx").X.toarray(), [[0, 0, 1], [1, 0, 0]])
    scipy.io.mmwrite(tmp_path / "d.mtx", np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(datasets.load_mtx(tmp_path / "d.mtx").X.toarray(), [[1, 0]])


@pytest.mark.parametrize(
    "entries, message",
    [
        ("1 1 1\n2 x 1\n", r"Line 4"),
        ("1 1 1\n3 4 1\n", r"Line 4"),
        ("1 1 1\n", r"Truncated file"),
    ],
)
def test_mtx_malformed_lines(tmp_path, entries, message):
    path = tmp_path / "bad.mtx"
    path.write_text("%%MatrixMarket matrix coordinate real general\n3 3 2\n" + entries)
    with pytest.raises(ValueError, match=rf"bad\.mtx is not a valid MatrixMarket file: .*{message}"):
        datasets.load_mtx(path)


def test_mtx_non_binary(tmp_path):
    path = tmp_path / "v.mtx"
    path.write_text("%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 1 0.5\n2 2 4\n")
    with pytest.raises(ValueError, match=r"2 entries are not; the first is 0.5 at row 1, column 0"):
        datasets.load_mtx(path)


# ---------------------------------------------------------------- long (row, column) pairs

def test_pairs_csv_with_integer_labels_sorted_numerically(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("user,item,when\n10,3,x\n2,3,y\n10,20,z\n2,3,again\n")
    ds = datasets.load_pairs_csv(path, row_column="user", column_column="item")
    np.testing.assert_array_equal(ds.row_ids, [2, 10])
    assert list(ds.feature_names) == ["3", "20"]
    np.testing.assert_array_equal(ds.X.toarray(), [[1, 0], [1, 1]])
    assert ds.provenance["repeated_pairs"] == 1


def test_pairs_csv_with_text_labels(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("row,column\nbob,tea\nann,coffee\nbob,coffee\n")
    ds = datasets.load_pairs_csv(path)
    assert list(ds.row_ids) == ["ann", "bob"] and list(ds.feature_names) == ["coffee", "tea"]
    np.testing.assert_array_equal(ds.X.toarray(), [[1, 0], [1, 1]])


@pytest.mark.parametrize(
    "body, message",
    [
        ("row,column\n1,2\n3\n", r"line 3: expected 2 fields, found 1"),
        ("row,column\n1,2\n3,4,5\n", r"line 3: expected 2 fields, found 3"),
        ("row,column\n1,2\n ,4\n", r"line 3: empty 'row' label"),
        ("row,column\n1,\n", r"line 2: empty 'column' label"),
        ("r,c\n1,2\n", r"\['row', 'column'\] not in the header"),
        ("", r"is empty"),
    ],
)
def test_pairs_csv_malformed(tmp_path, body, message):
    path = tmp_path / "bad_pairs.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        datasets.load_pairs_csv(path)
