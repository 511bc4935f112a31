"""The ``spae`` command: train, apply and compare the paper's autoencoders on your own files.

::

    spae fit DATA --loss wbce -o model.pt          # train one model (progress per epoch)
    spae embed model.pt DATA -o codes.csv          # the codes of DATA's rows
    spae reconstruct model.pt DATA -o recon.npy    # reconstruction probabilities (expected counts for a count loss)
    spae evaluate model.pt DATA [--labels FILE]    # every metric of the paper on DATA's held-out test rows
    spae compare DATA [--labels FILE] [--preset ci|default] -o DIR   # the paper's whole protocol, as an HTML report

DATA is a dense CSV (with or without a header line: detected, or set with --header/--no-header),
a CSV of (row, column) pairs, a scipy ``.npz`` or a MatrixMarket ``.mtx``; 0/1 entries train the
binary losses, non-negative integer counts the count losses. Bad input ends the command with a
one-line reason and exit status 2; ``spae <command> --help`` describes every option.

``fit`` trains on the training rows of DATA's split (70/15/15, ``--split-seed``) with early
stopping on its validation rows; ``evaluate`` scores the test rows of the same split, so a model
fitted and evaluated on one file with one split seed is scored on rows it never saw.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .datasets.user_store import USER_DATA_ENV

__all__ = ["main"]

#: Exit status for bad input (a file, an option or data the command cannot use), as argparse's.
BAD_INPUT = 2
#: Exit status when something failed while running (e.g. the report's build).
FAILED = 1

_OUTPUT_SUFFIXES = (".csv", ".tsv", ".npy")


class _BadInput(Exception):
    """An error of the user's input, reported as one line."""


def _data_options(parser: argparse.ArgumentParser) -> None:
    reading = parser.add_argument_group("reading DATA")
    reading.add_argument("--format", choices=["auto", "csv", "pairs", "npz", "mtx"], default="auto",
                         help="file format (default: from the suffix; a CSV whose header is 'row,column' is pairs)")
    header = reading.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None,
                        help="the CSV's first line names the columns (default: detected; a numeric first line is data)")
    header.add_argument("--no-header", dest="header", action="store_false", help="the CSV's first line is data")
    reading.add_argument("--delimiter", help="the CSV's field separator (default: detected among , ; tab |)")
    reading.add_argument("--na", choices=["error", "zero", "drop-rows"], default="error",
                         help="missing cells (empty, NA, nan, ...): an error naming them (default), read as 0, or "
                              "drop their rows; the count is reported either way")
    reading.add_argument("--id-column", help="a CSV column of row identifiers (not a feature)")
    reading.add_argument("--name", help="the dataset's name in outputs (default: the file's stem)")
    labels = parser.add_argument_group("labels (for the downstream scores)")
    labels.add_argument("--labels", metavar="FILE",
                        help="a CSV of labels: one label column (and optionally an id column, --label-id-column), "
                             "one row per data row in the same order, or matched by id")
    labels.add_argument("--label-column", help="a column of DATA (or of --labels FILE) holding the label")
    labels.add_argument("--label-id-column", help="the column of --labels FILE matching DATA's row ids")
    labels.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                        help="what the label is (default: text or 0/1 labels are classes, other numbers regression)")


def _read(args, kind: str = "auto") -> object:
    """The dataset named by ``args.data``, read with the options of :func:`_data_options`; says what it assumed.

    ``kind``: ``"binary"`` or ``"counts"`` where a model's loss decides what the entries must be
    (so counts given to a 0/1 loss are refused naming the first offending cell), ``"auto"`` for
    ``compare`` (0/1 entries run the binary losses, counts the count losses).
    """
    from .datasets import CountDataset, read_data

    path = Path(args.data)
    if not path.is_file():
        raise _BadInput(f"{path}: no such file")
    # The name becomes a directory and the runs' names: the file's stem with other characters as "_".
    name = args.name or re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("._-")[:64] or "data"
    dataset = read_data(path, format=args.format, kind=kind, header=args.header, delimiter=args.delimiter, na=args.na,
                        id_column=args.id_column, name=name, labels=args.labels, label_column=args.label_column,
                        label_id_column=args.label_id_column, task=args.task)
    entries = "counts" if isinstance(dataset, CountDataset) else "0/1"
    n, d = dataset.shape
    notes = [f"{n:,} rows x {d:,} features of {entries} entries, sparsity {dataset.sparsity:.4f}",
             f"labels: {dataset.task}"]
    if dataset.provenance.get("header"):
        # The library's sentence names its keyword; here the option that does the same.
        notes.append(str(dataset.provenance["header"]).replace("header=False", "--no-header")
                     .replace("header=True", "--header"))
    _say(f"read {path}: " + "; ".join(notes))
    return dataset


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _split(dataset, args):
    """The 70/15/15 split of ``dataset`` by ``--split-seed``, by the grid's rule (stratified on 0/1 labels,
    ``stratify="auto"``, as :mod:`spae_core.runs.runner` splits), so ``fit`` and ``evaluate`` split a file
    as ``compare`` does."""
    return dataset.split(seed=args.split_seed, stratify="auto")


def _estimator_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model and training")
    model.add_argument("--loss", required=True,
                       help="mse, bce, wmse, wbce, focal, dice, multinomial; for counts count_mse, poisson, nb, zinb, "
                            "wpoisson, focal_poisson")
    model.add_argument("--latent-dim", type=int, default=50, help="size of the code (default: 50)")
    model.add_argument("--hidden-dims", type=int, nargs="+", default=[200], metavar="WIDTH",
                       help="widths of the encoder's hidden layers (default: 200)")
    model.add_argument("--beta", type=float, default=2.0, help="beta of the weighted losses (default: 2)")
    model.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate (default: 0.001)")
    model.add_argument("--batch-size", type=int, default=256, help="default: 256")
    model.add_argument("--epochs", type=int, default=500, help="at most this many epochs (default: 500)")
    model.add_argument("--patience", type=int, default=10,
                       help="stop after this many epochs without a better validation loss (default: 10)")
    model.add_argument("--seed", type=int, default=0, help="seeds the initial weights and the sample order")
    model.add_argument("--device", help="cpu, cuda or mps (default: CUDA, then MPS, then CPU)")


def _split_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the 70/15/15 train/validation/test split (default: 0; use the same for fit "
                             "and evaluate)")


def _kind(loss) -> str:
    """What a model with ``loss`` takes: ``"counts"`` for a count loss, else ``"binary"``."""
    from .losses import is_count_loss

    return "counts" if is_count_loss(str(loss).lower()) else "binary"


def _fit(args) -> int:
    from .estimator import SparseAutoencoder
    from .losses import loss_names

    if args.loss.lower() not in loss_names():
        raise _BadInput(f"unknown loss {args.loss!r}; choose one of {', '.join(loss_names())}")
    dataset = _read(args, _kind(args.loss))
    split = _split(dataset, args)
    estimator = SparseAutoencoder(loss=args.loss, latent_dim=args.latent_dim, hidden_dims=tuple(args.hidden_dims),
                                  beta=args.beta, learning_rate=args.learning_rate, batch_size=args.batch_size,
                                  max_epochs=args.epochs, patience=args.patience, random_state=args.seed,
                                  device=args.device, verbose=not args.quiet)
    estimator.fit(split.train.X, X_val=split.val.X)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    estimator.save(output)
    best = estimator.history_[estimator.best_epoch_ - 1]
    _say(f"trained {args.loss} on {split.train.n_samples:,} rows ({split.val.n_samples:,} for early stopping): "
         f"{len(estimator.history_)} epochs, best epoch {estimator.best_epoch_} (validation loss "
         f"{best['val_loss']:.6g}); saved {output}")
    return 0


def _load_model(path):
    from .estimator import SparseAutoencoder

    if not Path(path).is_file():
        raise _BadInput(f"{path}: no such model file (write one with `spae fit`)")
    return SparseAutoencoder.load(path)


def _check_output(path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise _BadInput(f"{path}: the output must end in {', '.join(_OUTPUT_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write_matrix(values: np.ndarray, path: Path, row_ids, columns) -> None:
    """``values`` as ``.npy``, or as a CSV/TSV with a ``row_id`` column and a header."""
    if path.suffix.lower() == ".npy":
        np.save(path, values)
        return
    table = pd.DataFrame(values, columns=list(columns))
    table.insert(0, "row_id", row_ids)
    table.to_csv(path, index=False, sep="\t" if path.suffix.lower() == ".tsv" else ",", float_format="%.7g")


def _embed(args) -> int:
    output = _check_output(args.output)
    estimator = _load_model(args.model)
    dataset = _read(args, _kind(estimator.loss))
    codes = estimator.transform(dataset.X)
    _write_matrix(codes, output, dataset.row_ids, [f"z{k}" for k in range(codes.shape[1])])
    _say(f"wrote the {codes.shape[1]}-dimensional codes of {codes.shape[0]:,} rows to {output}")
    return 0


def _reconstruct(args) -> int:
    from .losses import is_count_loss

    output = _check_output(args.output)
    estimator = _load_model(args.model)
    dataset = _read(args, _kind(estimator.loss))
    counts = is_count_loss(estimator.loss)
    values = estimator.predict_mean(dataset.X) if counts else estimator.predict_proba(dataset.X)
    _write_matrix(values, output, dataset.row_ids, dataset.feature_names)
    what = "expected counts" if counts else "reconstruction probabilities"
    _say(f"wrote the {what} of {values.shape[0]:,} rows x {values.shape[1]:,} features to {output}")
    return 0


def _evaluate(args) -> int:
    from .evaluation import evaluate, evaluate_counts
    from .losses import is_count_loss

    estimator = _load_model(args.model)
    dataset = _read(args, _kind(estimator.loss))
    split = _split(dataset, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if is_count_loss(estimator.loss):
            record = evaluate_counts(estimator, split)
        else:
            record = evaluate(estimator, split, task=dataset.task)
    scores = {k: v for k, v in record.items() if not k.startswith("seconds_")}
    for message in sorted({str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)}):
        _say(f"note: {message}")
    width = max(map(len, scores))
    for name, value in scores.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": str(args.model), "data": str(args.data),
                                               "split_seed": args.split_seed, **record}, indent=1, default=float),
                                   encoding="utf-8")
        _say(f"wrote {args.json}")
    return 0


def _compare(args) -> int:
    from .comparison import comparison_best_losses, comparison_claims, fit_baselines, prepare_comparison, run_comparison
    from .experiments import unfinished_runs
    from .report import render_report

    dataset = _read(args)
    comparison = prepare_comparison(dataset, args.output, preset=args.preset, source=args.data)
    _say(comparison.describe())
    records = run_comparison(comparison, n_jobs=args.jobs, progress=not args.quiet)
    unfinished = unfinished_runs(records)
    if len(unfinished):
        _say(f"note: {len(unfinished)} of {len(records)} runs used all their epochs with the validation loss still "
             "falling (their models may be unfinished; the report's training table lists them)")
    best = comparison_best_losses(comparison, records)
    best.to_csv(comparison.directory / "best_losses.csv", index=False)
    if comparison.kind == "binary":
        fit_baselines(comparison)  # stored now: the report reads them back with training off
        verdicts, _ = comparison_claims(records)
        verdicts.to_csv(comparison.directory / "claims.csv", index=False)
    print(best[["metric", "outcome", "best", "tied"]].fillna("n/a").to_string(index=False))
    if args.no_report:
        return 0
    page = render_report(comparison, progress=not args.quiet)
    _say(f"report: {page}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spae", description="Train, apply and compare the paper's autoencoders on your own files.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run `spae COMMAND --help` for a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser("fit", help="train one autoencoder on DATA and save it",
                              description="Train one autoencoder on the training rows of DATA's split (early "
                                          "stopping on its validation rows) and save it, checksummed, to MODEL.")
    fit.add_argument("data", metavar="DATA")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file to write (e.g. model.pt)")
    _estimator_options(fit)
    _split_option(fit)
    _data_options(fit)

    for name, helptext in (("embed", "write the codes (embeddings) of DATA's rows"),
                           ("reconstruct", "write the reconstruction of DATA's rows (probabilities; expected "
                                           "counts for a count loss)")):
        command = commands.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        command.add_argument("model", metavar="MODEL")
        command.add_argument("data", metavar="DATA")
        command.add_argument("-o", "--output", required=True, metavar="OUT",
                             help="a .csv or .tsv (a row_id column and a header) or a .npy file")
        _data_options(command)

    evaluate = commands.add_parser(
        "evaluate", help="every metric of the paper for MODEL on DATA's held-out test rows",
        description="Score MODEL on the test rows of DATA's split: average precision, pairwise contingency, "
                    "trustworthiness, Calinski-Harabasz scores, code sparsity, and with labels the downstream "
                    "scores (models fitted on the training rows' codes). Prints one metric per line.")
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("data", metavar="DATA")
    evaluate.add_argument("--json", metavar="FILE", help="also write the scores to this JSON file")
    _split_option(evaluate)
    _data_options(evaluate)

    compare = commands.add_parser(
        "compare", help="the paper's whole protocol on DATA, as an HTML report in DIR",
        description="Train the paper's losses (and the Mult-DAE likelihood; the count losses for counts) with "
                    "several seeds on DATA, score every metric, fit the baselines, test the paper's claims with "
                    "seed-paired tests, and write an HTML report to DIR/report/index.html (and the verdict tables "
                    "as DIR/best_losses.csv, DIR/claims.csv). Running it again trains only what is missing.")
    compare.add_argument("data", metavar="DATA")
    compare.add_argument("-o", "--output", required=True, metavar="DIR", help="the comparison's directory")
    compare.add_argument("--preset", choices=["ci", "default"], default="ci",
                         help="ci: a smoke test (300 rows, 3 epochs, 3 seeds, minutes); default: the book's protocol "
                              "(all rows, up to 500 epochs, 5 seeds) (default: ci)")
    compare.add_argument("--jobs", type=int, help="runs trained at a time (default: the preset's)")
    compare.add_argument("--no-report", action="store_true", help="train and write the CSV tables only")
    _data_options(compare)

    for command in commands.choices.values():
        command.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


_COMMANDS = {"fit": _fit, "embed": _embed, "reconstruct": _reconstruct, "evaluate": _evaluate, "compare": _compare}


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> str:
    return f"warning: {str(message).splitlines()[0] if str(message) else category.__name__}\n"


def main(argv=None) -> int:
    """Run the ``spae`` command with ``argv`` (default: the process's arguments); return its exit status."""
    args = _parser().parse_args(argv)
    default_format, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    # `compare` points $SPAE_USER_DATA at its directory for the processes it starts; a caller
    # running main() in its own process (a script, a test) gets its environment back.
    user_data = os.environ.get(USER_DATA_ENV)
    try:
        return _COMMANDS[args.command](args)
    except (_BadInput, ValueError, FileNotFoundError, IsADirectoryError, PermissionError, ImportError) as error:
        _say(f"spae {args.command}: error: {_one_line(error)}")
        return BAD_INPUT
    except RuntimeError as error:
        _say(f"spae {args.command}: failed: {_one_line(error)}")
        return FAILED
    except KeyboardInterrupt:
        hint = " (run the same command again: finished runs are kept)" if args.command == "compare" else ""
        _say(f"spae {args.command}: interrupted{hint}")
        return 130
    finally:
        warnings.formatwarning = default_format
        if user_data is None:
            os.environ.pop(USER_DATA_ENV, None)
        else:
            os.environ[USER_DATA_ENV] = user_data


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
