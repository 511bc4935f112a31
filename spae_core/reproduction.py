"""A reproduction of the published runs, compared with them: per run, per cell, per verdict.

``make reproduce`` retrains a preset's runs (all, or a seeded sample of ``SAMPLE`` of them) into a
store of its own, builds the book from it, and the reproducing page compares the retrained runs
with the published records (:mod:`spae_core.published`) using the functions here.

Training is chaotic: after hundreds of epochs two machines whose kernels differ in the last bit
end in different minima, so a retrained run need not match its published twin. The pass criterion
is therefore statistical: for each cell (dataset x loss x metric), are the retrained seeds and
the published seeds of one distribution? Both use the same seeds (initial weights and sample
order), so the comparison is a paired t-test of the per-seed differences, Holm-corrected over the
cells of each metric (:func:`cell_agreement`). Per-run differences are reported too, as a
distribution (:func:`difference_summary`), and each Figure 6 and claim verdict is compared
(:func:`verdict_changes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .claims import all_claim_verdicts
from .metrics import metric_range
from .statistics import holm, mean_ci, paired_t_pvalue
from .tables import figure6_table
from .verdicts import UNDEFINED, figure6_change_key

__all__ = ["MANIFEST", "ReproductionReport", "cell_agreement", "is_unstable_metric", "reproduction_report", "difference_summary", "metric_columns", "prepare", "read_manifest", "run_differences",
           "sample_runs", "summary_line", "verdict_changes"]

#: The file in a reproduction's store that says what it reproduces.
MANIFEST = "reproduction.json"

#: Metrics that are discrete or undefined by nature where a last-bit change can move them by a
#: whole step: DBSCAN's cluster counts, noise fraction and knee eps (a rounding moves a point across
#: eps), and the CH score on its clusters (undefined with one cluster, unbounded with degenerate
#: ones). They are reported, but a reproduction is not judged on them.
UNSTABLE_PREFIXES = ("dbscan_", "ch_dbscan")


def is_unstable_metric(name: str) -> bool:
    """Whether ``name`` is a DBSCAN-derived metric (:data:`UNSTABLE_PREFIXES`): compared, never a pass criterion."""
    return str(name).startswith(UNSTABLE_PREFIXES)


#: Record fields that are not metrics (configuration, bookkeeping, timings) and are not compared.
_NOT_METRICS = {"seed", "split_seed", "max_rows", "beta", "learning_rate", "batch_size", "max_epochs", "patience",
                "latent_dim", "ovr_lambda", "ovr_activity", "n_samples", "n_features", "dataset_sparsity", "n_train",
                "n_val", "n_test", "torch_threads", "metrics_version", "epochs", "best_epoch", "stopped_early",
                "best_val_loss", "ap_features_skipped", "contingency_pairs"}


def sample_runs(published, sample: int | None, seed: int = 0) -> list[str]:
    """The run names a reproduction retrains: all published runs, or ``sample`` of them drawn with ``seed``."""
    names = sorted(p.parent.name for p in Path(published).glob("runs/*/record.json"))
    if not names:
        raise FileNotFoundError(f"no published runs in {published}: nothing to reproduce.")
    if sample is None:
        return names
    if isinstance(sample, bool) or int(sample) != sample or not 1 <= sample <= len(names):
        raise ValueError(f"SAMPLE must be a whole number from 1 to {len(names)} (the published runs), got {sample!r}.")
    chosen = np.random.default_rng(seed).choice(len(names), size=int(sample), replace=False)
    return [names[i] for i in sorted(chosen)]


def prepare(published, store, sample: int | None = None, seed: int = 0) -> dict:
    """Set up ``store`` for a reproduction and write its manifest; return the manifest.

    With ``sample``, the runs not drawn are seeded from ``published`` (so the book still renders
    every section) and only the drawn ones are retrained by the build; without it the store
    starts empty and the build retrains everything. Re-running with the same arguments resumes:
    runs already retrained in ``store`` are kept.
    """
    from .published import seed_store

    published, store = Path(published).resolve(), Path(store)
    retrained = sample_runs(published, sample, seed)
    manifest = {"published": str(published), "sample": sample, "sample_seed": seed, "retrained": retrained}
    path = store / MANIFEST
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != manifest:
            raise ValueError(f"{store} holds a reproduction of other runs ({path}); remove the directory or use "
                             "the same SAMPLE to resume it.")
    store.mkdir(parents=True, exist_ok=True)
    if sample is not None:
        seed_store(published, store, exclude=retrained)
    path.write_text(json.dumps(manifest, indent=1))
    return manifest


def read_manifest(store) -> dict:
    """The manifest :func:`prepare` wrote in ``store``."""
    path = Path(store) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{store} is not a reproduction's store (no {MANIFEST}): run `make reproduce`.")
    return json.loads(path.read_text())


def metric_columns(records: pd.DataFrame) -> list[str]:
    """The numeric metric fields of run records: not configuration, bookkeeping or timings."""
    return [c for c in records.columns if c not in _NOT_METRICS and not c.startswith("seconds")
            and c not in ("train_seconds", "run_seconds")
            and pd.api.types.is_numeric_dtype(records[c]) and not pd.api.types.is_bool_dtype(records[c])]


def run_differences(published: pd.DataFrame, reproduced: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """Long table, one row per retrained run and metric: the published and reproduced values and their difference.

    Runs are matched by ``run_name`` (the spec's content hash, so the same configuration and
    seed). A reproduced run missing from ``published`` is an error; ``metrics`` defaults to
    every numeric metric field the two share.
    """
    unknown = sorted(set(reproduced["run_name"]) - set(published["run_name"]))
    if unknown:
        raise ValueError(f"{len(unknown)} reproduced run(s) have no published twin: {unknown[:3]}")
    metrics = list(metrics) if metrics is not None else [c for c in metric_columns(published) if c in reproduced]
    keys = ["run_name", "dataset", "loss", "seed"]
    left = published.set_index("run_name").loc[reproduced["run_name"]]
    rows = []
    for metric in metrics:
        rows.append(pd.DataFrame({
            **{k: reproduced[k].to_numpy() for k in keys}, "metric": metric,
            "published": left[metric].to_numpy(dtype=float), "reproduced": reproduced[metric].to_numpy(dtype=float),
        }))
    long = pd.concat(rows, ignore_index=True)
    long["difference"] = long["reproduced"] - long["published"]
    return long


def difference_summary(differences: pd.DataFrame) -> pd.DataFrame:
    """Per metric, the distribution of (reproduced - published) over runs.

    Returns
    -------
    DataFrame
        ``metric``, ``runs`` (with both values defined), ``identical`` (bit-equal), ``median``,
        ``p05``, ``p95``, ``max_abs``, and ``undefined_changed`` (runs where exactly one side is
        NaN, e.g. DBSCAN finding one cluster on one machine only).
    """
    rows = []
    for metric, group in differences.groupby("metric", sort=False):
        both = group.dropna(subset=["published", "reproduced"])
        d = both["difference"].to_numpy()
        one_side = int((group["published"].isna() ^ group["reproduced"].isna()).sum())
        quantiles = np.quantile(d, [0.05, 0.5, 0.95]) if d.size else [np.nan] * 3
        rows.append({"metric": metric, "runs": int(d.size), "identical": int((d == 0).sum()),
                     "median": quantiles[1], "p05": quantiles[0], "p95": quantiles[2],
                     "max_abs": float(np.abs(d).max()) if d.size else np.nan, "undefined_changed": one_side})
    return pd.DataFrame(rows)


def cell_agreement(differences: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per cell (dataset x loss x metric): the published mean against the reproduced 95% interval, and a paired test.

    Returns
    -------
    DataFrame
        ``dataset``, ``loss``, ``metric``, ``seeds`` (pairs with both values), ``published_mean``,
        ``reproduced_mean``, ``reproduced_low``, ``reproduced_high``, ``inside`` (the published
        mean inside the reproduced interval; None without an interval), ``p`` (paired t-test of
        the differences), ``judged`` (False for the DBSCAN-derived metrics of
        :func:`is_unstable_metric`, reported but not a pass criterion), ``p_holm`` (Holm over the
        metric's cells) and ``differs`` (``p_holm < alpha``). Cells with fewer than two pairs have
        no test (``p`` NaN, ``differs`` False) and are counted apart by :func:`summary_line`.
    """
    rows = []
    for (metric, dataset, loss), group in differences.groupby(["metric", "dataset", "loss"], sort=False):
        both = group.dropna(subset=["published", "reproduced"])
        mean, low, high, n = mean_ci(both["reproduced"], value_range=metric_range(metric))
        p, _ = paired_t_pvalue(both["reproduced"], both["published"])
        published_mean = float(both["published"].mean()) if len(both) else np.nan
        inside = bool(low <= published_mean <= high) if n >= 2 else None
        rows.append({"dataset": dataset, "loss": loss, "metric": metric, "seeds": len(both),
                     "published_mean": published_mean, "reproduced_mean": mean, "reproduced_low": low,
                     "reproduced_high": high, "inside": inside, "p": p})
    cells = pd.DataFrame(rows)
    cells["judged"] = ~cells["metric"].map(is_unstable_metric)
    cells["p_holm"] = np.nan
    for _, index in cells.groupby("metric", sort=False).groups.items():
        tested = [i for i in index if np.isfinite(cells.at[i, "p"])]
        if tested:
            cells.loc[tested, "p_holm"] = holm(cells.loc[tested, "p"].to_numpy())
    cells["differs"] = cells["p_holm"] < alpha
    return cells


def verdict_changes(published: pd.DataFrame, reproduced: pd.DataFrame) -> pd.DataFrame:
    """Every Figure 6 verdict and claim verdict, from the published and the reproduced records: same or changed.

    Both record sets should cover the same runs (the reproduction's store holds the published
    twin of every run it did not retrain).
    """
    rows = []
    tables = [figure6_table(records) for records in (published, reproduced)]
    merged = tables[0].merge(tables[1], on=["dataset", "metric"], how="outer", suffixes=("_published", "_reproduced"))
    for row in merged.itertuples(index=False):
        (published_text, published_key), (reproduced_text, reproduced_key) = (
            _cell(row, "_published"), _cell(row, "_reproduced"))
        rows.append({"kind": "Figure 6", "item": f"{row.dataset} / {row.metric}", "published": published_text,
                     "reproduced": reproduced_text, "same": published_key == reproduced_key})
    claims = [all_claim_verdicts(records).set_index("claim")["verdict"] for records in (published, reproduced)]
    for claim in claims[0].index.union(claims[1].index, sort=False):
        before, after = claims[0].get(claim, "absent"), claims[1].get(claim, "absent")
        rows.append({"kind": "claim", "item": claim, "published": before, "reproduced": after, "same": before == after})
    return pd.DataFrame(rows)


def _cell(row, suffix: str) -> tuple[str, str]:
    """A Figure 6 cell as text, and the key that decides "same" (:func:`spae_core.verdicts.figure6_change_key`)."""
    verdict = getattr(row, "verdict" + suffix)
    if not isinstance(verdict, str):
        return UNDEFINED, UNDEFINED
    best, separated = getattr(row, "ours_best" + suffix), bool(getattr(row, "separated" + suffix))
    text = f"{verdict}: {best}" if separated else f"{verdict}: highest mean {best}, not separated"
    return text, figure6_change_key(verdict, best, separated)


def summary_line(manifest: dict, cells: pd.DataFrame, verdicts: pd.DataFrame) -> str:
    """One line: what was retrained, how many cells and verdicts agree with the published ones.

    PASS when no judged cell (every metric but the DBSCAN-derived ones) differs after Holm's
    correction; the DBSCAN-derived cells and the verdicts are reported beside it.
    """
    retrained = len(manifest["retrained"])
    scope = f"{retrained} run(s) retrained" + (f" (a seeded sample of {manifest['sample']})"
                                                if manifest.get("sample") is not None else " (every published run)")
    tested = cells[cells["p"].notna()]
    judged, unstable = tested[tested["judged"]], tested[~tested["judged"]]
    untested = len(cells) - len(tested)
    figure6 = verdicts[verdicts["kind"] == "Figure 6"]
    claims = verdicts[verdicts["kind"] == "claim"]
    passed = not judged["differs"].any()
    inside = judged["inside"].dropna().astype(bool)
    return (f"{'PASS' if passed else 'FAIL'}: {scope}; {int(judged['differs'].sum())} of {len(judged)} testable "
            f"cells differ from the published seeds after Holm's correction (DBSCAN-derived, not judged: "
            f"{int(unstable['differs'].sum())} of {len(unstable)}; {untested} cells with fewer than 2 seeds "
            f"untested); published mean inside the reproduced 95% interval in {int(inside.sum())} of {len(inside)} "
            f"judged cells; Figure 6 verdicts same in {int(figure6['same'].sum())} of {len(figure6)}, claim "
            f"verdicts same in {int(claims['same'].sum())} of {len(claims)}.")


@dataclass(frozen=True)
class ReproductionReport:
    """What the reproducing page shows; the tables are None in a build that reproduced nothing."""

    summary: str
    differences: pd.DataFrame | None = None
    differing_cells: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    verdicts: pd.DataFrame | None = None


def reproduction_report(store, main_grid, alpha: float = 0.05) -> ReproductionReport:
    """Compare the runs retrained in ``store`` with their published twins.

    Parameters
    ----------
    store : path
        The store of a ``make reproduce`` build (with its :data:`MANIFEST`); any other store
        gives a report that says no reproduction was run.
    main_grid : sequence of RunSpec
        The preset's main grid (datasets x losses x seeds at the preset's settings): Figure 6 and
        the claims are recomputed on these runs only, as in their sections.
    alpha : float, default=0.05
        Family-wise error rate of each metric's cell tests.
    """
    from .experiments import load_records

    store = Path(store)
    if not (store / MANIFEST).exists():
        return ReproductionReport("This build renders the published records; no reproduction was run here. "
                                  "`make reproduce` (or `make reproduce SAMPLE=20`) retrains the runs and fills "
                                  "this page.")
    manifest = read_manifest(store)
    published = load_records(manifest["published"])
    current = load_records(store)
    retrained = current[current["run_name"].isin(manifest["retrained"])]
    missing = sorted(set(manifest["retrained"]) - set(retrained["run_name"]))
    if missing:
        raise RuntimeError(f"{len(missing)} run(s) of the reproduction were not retrained (e.g. {missing[0]}); "
                           "they are outside this preset's sections. Re-run `make reproduce` with the same SAMPLE.")
    differences = run_differences(published, retrained)
    cells = cell_agreement(differences, alpha=alpha)
    names = {spec.run_name for spec in main_grid}
    verdicts = verdict_changes(published[published["run_name"].isin(names)], current[current["run_name"].isin(names)])
    coverage = (cells[cells["inside"].notna()].assign(inside=lambda t: t["inside"].astype(bool))
                .groupby("metric", sort=False)
                .agg(judged=("judged", "first"), cells=("inside", "size"), inside=("inside", "sum"),
                     differ=("differs", "sum")).reset_index())
    return ReproductionReport(
        summary=summary_line(manifest, cells, verdicts),
        differences=difference_summary(differences),
        differing_cells=cells[cells["differs"]].reset_index(drop=True),
        coverage=coverage,
        verdicts=verdicts,
    )


def main(argv=None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m spae_core.reproduction",
                                     description="Set up a store for `make reproduce`.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="write the manifest; with --sample, seed the runs not drawn")
    prep.add_argument("published")
    prep.add_argument("store")
    prep.add_argument("--sample", type=int, default=None, help="retrain this many runs drawn with --seed")
    prep.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        manifest = prepare(args.published, args.store, args.sample, args.seed)
    except (ValueError, FileNotFoundError) as error:
        print(f"make reproduce: {error}", file=sys.stderr)
        return 2
    print(f"reproduction of {manifest['published']}: {len(manifest['retrained'])} run(s) to retrain into {args.store}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
