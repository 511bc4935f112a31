"""The `spae` command: help, one-line errors with exit status 2, the model commands, and `spae compare` end to end."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spae_core.cli import BAD_INPUT, main
from spae_core.datasets import make_sparse_binary

COMMANDS = ["fit", "embed", "reconstruct", "evaluate", "compare"]
SPAE = Path(sys.executable).with_name("spae")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 0/1 CSV with a header (no row ids) and a label file of text classes, one label per data row."""
    directory = tmp_path_factory.mktemp("data")
    X, clusters = make_sparse_binary(360, 40, 0.9, n_clusters=3, random_state=0)
    X = X.toarray().astype(int)
    pd.DataFrame(X, columns=[f"item{j}" for j in range(X.shape[1])]).to_csv(directory / "data.csv", index=False)
    names = np.array(["alpha", "beta", "gamma"])[clusters]
    pd.DataFrame({"group": names}).to_csv(directory / "labels.csv", index=False)
    return directory


def test_main_leaves_the_callers_environment_as_it_was(files, tmp_path, monkeypatch):
    from spae_core.datasets import USER_DATA_ENV

    monkeypatch.setenv(USER_DATA_ENV, "/somewhere/else")
    assert main(["compare", str(files / "data.csv"), "--preset", "ci", "-o", str(tmp_path / "cmp"), "-q",
                 "--no-report"]) == 0
    assert os.environ[USER_DATA_ENV] == "/somewhere/else"


def test_the_console_script_is_installed_and_every_command_has_help():
    assert SPAE.exists(), "the package installs a `spae` console script ([project.scripts])"
    done = subprocess.run([str(SPAE), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and all(command in done.stdout for command in COMMANDS)
    for command in COMMANDS:
        done = subprocess.run([str(SPAE), command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "DATA" in done.stdout and "--header" in done.stdout


def test_bad_input_ends_with_one_line_and_exit_status_2(files, tmp_path):
    done = subprocess.run([str(SPAE), "fit", str(tmp_path / "absent.csv"), "--loss", "wbce", "-o", str(tmp_path / "m.pt")],
                          capture_output=True, text=True)
    assert done.returncode == BAD_INPUT
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("spae fit: error:")
    assert "absent.csv" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv, expected", [
    (["fit", "{data}", "--loss", "no_such_loss", "-o", "{out}/m.pt"], "no_such_loss"),
    (["fit", "{bad}", "--loss", "wbce", "-o", "{out}/m.pt"], "0 or 1"),
    (["embed", "{out}/absent.pt", "{data}", "-o", "{out}/codes.csv"], "no such model file"),
    (["embed", "{corrupt}", "{data}", "-o", "{out}/codes.csv"], "corrupt"),
    (["embed", "{out}/absent.pt", "{data}", "-o", "{out}/codes.parquet"], ".csv, .tsv, .npy"),
    (["compare", "{data}", "--labels", "{short}", "-o", "{out}/cmp"], "rows"),
])
def test_each_kind_of_bad_input_is_one_line_naming_it(files, tmp_path, capsys, argv, expected):
    (tmp_path / "bad.csv").write_text("a,b\n" + "0,1\n" * 30 + "2,0\n")
    (tmp_path / "short.csv").write_text("group\nalpha\nbeta\n")
    (tmp_path / "corrupt.pt").write_bytes(b"not a model")
    values = {"data": files / "data.csv", "bad": tmp_path / "bad.csv", "out": tmp_path, "short": tmp_path / "short.csv",
              "corrupt": tmp_path / "corrupt.pt"}
    status = main([part.format(**values) for part in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == BAD_INPUT
    assert err[-1].startswith(f"spae {argv[0]}: error:") and expected in err[-1], err


def test_fit_embed_reconstruct_evaluate_agree_with_the_library(files, tmp_path, capsys):
    from spae_core.datasets import read_data
    from spae_core.estimator import SparseAutoencoder
    from spae_core.evaluation import evaluate

    model = tmp_path / "model.pt"
    assert main(["fit", str(files / "data.csv"), "--loss", "wbce", "--epochs", "3", "--latent-dim", "4",
                 "--hidden-dims", "16", "-o", str(model), "-q"]) == 0
    assert "no header" not in capsys.readouterr().err  # the header line was detected as a header
    estimator = SparseAutoencoder.load(model)
    dataset = read_data(files / "data.csv", labels=files / "labels.csv")

    assert main(["embed", str(model), str(files / "data.csv"), "-o", str(tmp_path / "codes.csv")]) == 0
    codes = pd.read_csv(tmp_path / "codes.csv")
    assert list(codes.columns) == ["row_id", "z0", "z1", "z2", "z3"] and len(codes) == 360
    np.testing.assert_allclose(codes.iloc[:, 1:].to_numpy(), estimator.transform(dataset.X), rtol=1e-5, atol=1e-6)

    assert main(["reconstruct", str(model), str(files / "data.csv"), "-o", str(tmp_path / "recon.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "recon.npy"), estimator.predict_proba(dataset.X), rtol=1e-6)

    capsys.readouterr()
    assert main(["evaluate", str(model), str(files / "data.csv"), "--labels", str(files / "labels.csv"),
                 "--json", str(tmp_path / "scores.json")]) == 0
    printed = dict(line.split(None, 1) for line in capsys.readouterr().out.strip().splitlines())
    expected = evaluate(estimator, dataset.split(seed=0, stratify="auto"), task=dataset.task)
    stored = json.loads((tmp_path / "scores.json").read_text())
    assert float(printed["ap_macro"]) == pytest.approx(expected["ap_macro"], rel=1e-5)
    assert stored["ap_label_mean"] == pytest.approx(expected["ap_label_mean"], rel=1e-9)
    assert {"ap_label_group=alpha", "ap_label_group=beta", "ap_label_group=gamma"} <= set(printed)


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts (header rows included)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_compare_writes_a_report_whose_verdicts_are_the_librarys_and_resumes(files, tmp_path, capsys):
    from spae_core.comparison import comparison_best_losses, comparison_claims, load_comparison
    from spae_core.experiments import load_records
    from spae_core.table_format import loss_label

    out = tmp_path / "cmp"
    argv = ["compare", str(files / "data.csv"), "--labels", str(files / "labels.csv"), "--preset", "ci", "-o", str(out),
            "-q"]
    assert main(argv) == 0
    page = out / "report" / "report.html"
    assert (out / "report" / "index.html").is_file() and page.is_file()

    # The library's verdicts, recomputed here from the stored runs.
    comparison = load_comparison(out)
    records = load_records(comparison.store)
    assert len(records) == len(comparison.specs()) == 21
    best = comparison_best_losses(comparison, records)
    verdicts, _ = comparison_claims(records)

    html = page.read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(html)
    shown = next(t for t in parser.tables if t and "outcome" in t[0])
    header = shown[0]
    rows = [dict(zip(header, row)) for row in shown[1:] if len(row) == len(header)]
    assert [(r["metric"], r["outcome"], r["best"]) for r in rows] == [
        (m, o, loss_label(b) if isinstance(b, str) else "n/a") for m, o, b in best[["metric", "outcome", "best"]].to_numpy()]
    shown_claims = re.findall(r'<article class="spae-claim spae-verdict--[a-z-]+" id="claim-([a-z_]+)">'
                              r'<div class="spae-claim__head"><span class="spae-badge [^"]+">([a-z ]+)</span>', html)
    assert shown_claims == list(zip(verdicts["claim"], verdicts["verdict"]))
    # The CSV tables are the same verdicts.
    pd.testing.assert_frame_equal(pd.read_csv(out / "claims.csv")[["claim", "verdict"]], verdicts[["claim", "verdict"]])

    # A second run trains nothing: every record is left as it was.
    stamps = {p: p.stat().st_mtime_ns for p in comparison.store.glob("runs/*/record.json")}
    assert main(argv + ["--no-report"]) == 0
    assert {p: p.stat().st_mtime_ns for p in comparison.store.glob("runs/*/record.json")} == stamps


def test_compare_routes_counts_to_the_count_losses_and_reports_them(tmp_path):
    from spae_core.comparison import comparison_best_losses, load_comparison
    from spae_core.datasets import make_sparse_counts
    from spae_core.experiments import load_records
    from spae_core.presets import load_preset
    from spae_core.table_format import loss_label

    X, _ = make_sparse_counts(240, 30, 0.85, n_clusters=2, random_state=0)
    pd.DataFrame(X.toarray().astype(int), columns=[f"word{j}" for j in range(30)]).to_csv(tmp_path / "tallies.csv",
                                                                                           index=False)
    assert main(["compare", str(tmp_path / "tallies.csv"), "-o", str(tmp_path / "cmp"), "-q"]) == 0
    comparison = load_comparison(tmp_path / "cmp")
    records = load_records(comparison.store)
    assert comparison.kind == "counts" and set(records["loss"]) == set(load_preset("ci").count_losses)
    parser = _Tables()
    parser.feed((tmp_path / "cmp" / "report" / "report.html").read_text(encoding="utf-8"))
    shown = next(t for t in parser.tables if t and "outcome" in t[0])
    rows = [dict(zip(shown[0], row)) for row in shown[1:] if len(row) == len(shown[0])]
    best = comparison_best_losses(comparison, records)
    assert [(r["metric"], r["outcome"], r["best"]) for r in rows] == [
        (m, o, loss_label(b)) for m, o, b in best[["metric", "outcome", "best"]].to_numpy()]
    assert not (tmp_path / "cmp" / "claims.csv").exists()  # the paper's claims are about 0/1 data
