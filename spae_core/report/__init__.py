"""The HTML report of ``spae compare``: a notebook template executed on a comparison, rendered by Jupyter Book.

The templates in this package (``compare_binary.md`` for 0/1 data, ``compare_counts.md`` for
counts) are jupytext MyST notebooks like the book's sections: prose and short cells calling the
library (:mod:`spae_core.comparison`, :mod:`spae_core.figures`, :mod:`spae_core.tables`,
:mod:`spae_core.claims_page`), with one papermill parameter, ``comparison_dir``.
:func:`render_report` executes the template on a comparison whose runs are finished (with
training switched off: the report never trains), hides the code inputs as the book does
(:func:`spae_core.book.hide_code`), and builds a one-page Jupyter Book with the book's
stylesheets into ``DIR/report/index.html``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from ..book import hide_code, preset_banner, redirect_page

__all__ = ["REPORT_PAGE", "render_report", "template_path"]

#: The report's page in ``DIR/report/``.
REPORT_PAGE = "index.html"

_STATIC = ("tables.css", "claims.css", "favicon.svg")


def template_path(kind: str) -> Path:
    """The template notebook for a comparison of ``kind`` (``"binary"`` or ``"counts"``)."""
    if kind not in ("binary", "counts"):
        raise ValueError(f"kind must be 'binary' or 'counts', got {kind!r}.")
    return Path(str(resources.files(__name__).joinpath(f"compare_{kind}.md")))


def _config(comparison) -> dict:
    """The Jupyter Book configuration of a report: the book's own settings (``book_config.yml`` here is a
    link to the book's ``_config.yml``) for one page, executed already, with the preset's banner.

    The book's local Sphinx extensions (its LaTeX tables, for the PDF) stay with the book.
    """
    import yaml

    book = yaml.safe_load(resources.files(__name__).joinpath("book_config.yml").read_text(encoding="utf-8"))
    sphinx = book["sphinx"]
    local = set(sphinx.get("local_extensions") or {})
    config = {**sphinx["config"], "extensions": [e for e in sphinx["config"]["extensions"] if e not in local]}
    html = dict(book["html"])
    banner = preset_banner(comparison.preset)
    if banner is not None:
        html["announcement"] = banner
    return {"title": f"spae compare: {comparison.dataset}", "author": book["author"], "only_build_toc_files": True,
            "execute": book["execute"], "html": html, "launch_buttons": book["launch_buttons"],
            "sphinx": {"recursive_update": sphinx["recursive_update"], "config": config}}


def _execute(comparison, source: Path, executed: Path) -> None:
    """Run the template with papermill on ``comparison`` (training off) into ``executed``."""
    import jupytext
    import papermill

    notebook = jupytext.read(template_path(comparison.kind))
    jupytext.write(notebook, source)
    comparison.use()
    previous = os.environ.get("SPAE_TRAINING")
    os.environ["SPAE_TRAINING"] = "off"
    try:
        with _stderr_to(source.parent / "execute.log"):
            papermill.execute_notebook(str(source), str(executed),
                                       parameters={"comparison_dir": str(comparison.directory)},
                                       kernel_name="python3", cwd=str(source.parent), progress_bar=False,
                                       log_output=False)
    except papermill.PapermillExecutionError as error:
        raise RuntimeError(f"the report's notebook failed in cell {error.exec_count} ({error.ename}: "
                           f"{error.evalue}); the executed notebook is {executed}.") from error
    finally:
        if previous is None:
            os.environ.pop("SPAE_TRAINING", None)
        else:
            os.environ["SPAE_TRAINING"] = previous


@contextmanager
def _stderr_to(log: Path):
    """Send file descriptor 2 to ``log`` meanwhile: the notebook kernel inherits it and logs its start
    and shutdown there (transport notices, "KeyboardInterrupt caught in kernel"), which is no
    news to a reader of the command's output."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "w", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def render_report(comparison, progress: bool = True) -> Path:
    """Execute the report's template on ``comparison`` and build its HTML; return ``DIR/report/index.html``.

    Every run of the comparison must be finished (:func:`spae_core.comparison.run_comparison`);
    the template reads them back and trains nothing (``SPAE_TRAINING=off``). The build sources
    are kept in ``DIR/report_build/`` (the executed notebook is ``report.ipynb`` there).

    Raises
    ------
    ImportError
        If the book's tools (papermill, jupytext, Jupyter Book) are missing: ``pip install 'spae[book]'``.
    RuntimeError
        If the notebook or the build fails (the message names the log to read).
    """
    try:
        import jupytext  # noqa: F401
        import papermill  # noqa: F401
    except ImportError as error:
        raise ImportError(f"the report needs the book's tools ({error.name} is missing): pip install 'spae[book]'") from error
    work = comparison.directory / "report_build"
    shutil.rmtree(work, ignore_errors=True)
    (work / "_static").mkdir(parents=True)
    steps = tqdm(total=3, desc="report", unit="step", disable=not progress)
    try:
        _execute(comparison, work / "report.source.ipynb", work / "report.ipynb")
        (work / "report.source.ipynb").unlink()
        steps.update(1)
        notebook = json.loads((work / "report.ipynb").read_text(encoding="utf-8"))
        (work / "report.ipynb").write_text(json.dumps(hide_code(notebook), indent=1, ensure_ascii=False),
                                           encoding="utf-8")
        for name in _STATIC:
            shutil.copyfile(resources.files(__name__).joinpath("static", name), work / "_static" / name)
        import yaml

        (work / "_config.yml").write_text(yaml.safe_dump(_config(comparison), sort_keys=False), encoding="utf-8")
        (work / "_toc.yml").write_text("format: jb-book\nroot: report\n", encoding="utf-8")
        steps.update(1)
        _build(work)
        steps.update(1)
    finally:
        steps.close()
    target = comparison.report_dir
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / "_build" / "html", target)
    (target / REPORT_PAGE).write_text(redirect_page("report.html"), encoding="utf-8")
    return target / REPORT_PAGE


def _build(work: Path) -> None:
    log = work / "build.log"
    # Jupyter Book's command, run by this interpreter (its module has no __main__ to run with -m).
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(work), "--quiet"]
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not (work / "_build" / "html" / "report.html").is_file():
        raise RuntimeError(f"the report's Jupyter Book build failed; its log is {log}.")

