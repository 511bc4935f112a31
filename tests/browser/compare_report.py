"""Build a `spae compare` report for the browser suite: `python tests/browser/compare_report.py WORK SITE_DIR`.

A synthetic 0/1 CSV (600 rows, 80 features, three clusters) with a file of text labels goes through
the `spae compare` command with the `ci` preset; the report is copied to SITE_DIR, inside the built
book, so that every page check of tests/browser runs on its pages too.
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from spae_core.cli import main
from spae_core.datasets import make_sparse_binary


def build(work: Path, site_dir: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    X, clusters = make_sparse_binary(600, 80, 0.95, n_clusters=3, random_state=0)
    pd.DataFrame(X.toarray().astype(int), columns=[f"item{j}" for j in range(80)]).to_csv(work / "items.csv", index=False)
    pd.DataFrame({"group": np.array(["alpha", "beta", "gamma"])[clusters]}).to_csv(work / "groups.csv", index=False)
    status = main(["compare", str(work / "items.csv"), "--labels", str(work / "groups.csv"), "--preset", "ci",
                   "-o", str(work / "comparison"), "-q"])
    if status != 0:
        raise SystemExit(f"spae compare failed with status {status}")
    shutil.rmtree(site_dir, ignore_errors=True)
    shutil.copytree(work / "comparison" / "report", site_dir)


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
