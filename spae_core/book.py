"""The book's own build: the steps `make book` runs between papermill and Jupyter Book (code input
hidden for reading, the build's configuration with its preset's banner and base URL), and the facts
about the build its reproducing page prints (parameters, run times, versions).

Run as ``python -m spae_core.book hide-code DIR`` and ``python -m spae_core.book config ...``
(see :func:`main`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

__all__ = ["book_config", "build_environment", "hide_code", "hide_code_in_notebooks", "main",
           "notebook_runtimes", "parameters_table", "preset_banner", "redirect_page"]

# Tags myst-nb reads (https://myst-nb.readthedocs.io/en/latest/render/hiding.html). A cell already
# tagged with one of KEEP_AS_TAGGED keeps its author's choice.
HIDE_INPUT, REMOVE_CELL = "hide-input", "remove-cell"
KEEP_AS_TAGGED = {"remove-cell", "remove-input", "hide-cell", "hide-input"}
# The cell papermill adds with the build's parameters; they are printed once, on the reproducing page.
INJECTED_PARAMETERS = "injected-parameters"
DEFAULT_PRESET = "default"


def hide_code(notebook: dict) -> dict:
    """The notebook with every code cell's input hidden behind a toggle, for reading.

    Code cells get the ``hide-input`` tag (prose, figures and tables stay visible; a reader can
    expand the code), papermill's injected-parameters cell gets ``remove-cell``, and a cell whose
    author chose a tag in :data:`KEEP_AS_TAGGED` keeps it. Markdown cells are untouched.

    Parameters
    ----------
    notebook : dict
        A notebook as nbformat 4 JSON (``json.load`` of an ``.ipynb``); not modified.

    Returns
    -------
    dict
        A copy with the tags added (each once).

    Raises
    ------
    ValueError
        If ``notebook`` has no list of cells (not an nbformat 4 notebook).
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("hide_code needs an nbformat 4 notebook (a dict with a list of cells).")
    hidden = json.loads(json.dumps(notebook))
    for cell in hidden["cells"]:
        if cell.get("cell_type") != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if INJECTED_PARAMETERS in tags and REMOVE_CELL not in tags:
            tags.append(REMOVE_CELL)
        elif not KEEP_AS_TAGGED.intersection(tags):
            tags.append(HIDE_INPUT)
    return hidden


def hide_code_in_notebooks(directory) -> list[Path]:
    """Apply :func:`hide_code` in place to every ``.ipynb`` in ``directory`` (the executed sections).

    Returns
    -------
    list of Path
        The notebooks rewritten, sorted.

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist or holds no notebook (a build step that hid nothing would
        leave every page showing its code).
    """
    paths = sorted(Path(directory).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no executed notebooks (*.ipynb) in {directory}.")
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(hide_code(notebook), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def preset_banner(preset) -> str | None:
    """The announcement every page of a book built with ``preset`` shows, or None for the default.

    A preset that slices the data or trains fewer epochs than the default is a smoke test: its
    numbers exercise the code and are not findings. Any other non-default preset (e.g. ``paper``)
    is named with its size, so no page can be mistaken for the default book.

    Parameters
    ----------
    preset : str or spae_core.presets.Preset
        The preset's name or the preset.
    """
    from .presets import load_preset

    chosen, default = load_preset(preset), load_preset(DEFAULT_PRESET)
    if chosen.name == DEFAULT_PRESET:
        return None
    rows = "all rows" if chosen.max_rows is None else f"{chosen.max_rows:,} rows"
    size = f"preset {chosen.name}: {rows}, at most {chosen.max_epochs:,} epochs, {len(chosen.seeds)} seeds"
    smoke = chosen.max_rows is not None or chosen.max_epochs < default.max_epochs
    if smoke:
        return f"Smoke test ({size}): these numbers are not findings."
    return f"Built with a non-default preset ({size}): the numbers differ from the published default book."


def book_config(config_path, preset, base_url: str = "") -> dict:
    """The Jupyter Book configuration of one build: ``config_path`` (``_config.yml``) plus the
    preset's banner (:func:`preset_banner`, as ``html.announcement``) and the site's base URL.

    Parameters
    ----------
    config_path : path-like
        The book's ``_config.yml``; not modified.
    preset : str or spae_core.presets.Preset
        The preset the sections were executed with.
    base_url : str
        The URL the site is served from (Sphinx's ``html_baseurl``, used for canonical links), e.g.
        ``https://owner.github.io/spae/``; empty for none.

    Returns
    -------
    dict
        The configuration to write as YAML and pass to ``jupyter-book build --config``.

    Raises
    ------
    ValueError
        If ``config_path`` already sets ``html.announcement`` or ``html.baseurl`` (the build sets
        them; a value there would be silently replaced).
    """
    import yaml

    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    html = config.setdefault("html", {})
    already = sorted({"announcement", "baseurl"}.intersection(html))
    if already:
        raise ValueError(f"{config_path} sets html.{', html.'.join(already)}: the build sets these "
                         "from the preset and BASE_URL; remove them from it.")
    # Jupyter Book resolves local extensions' folders from the config file's own folder, and the
    # overlay is written elsewhere (_build/): anchor them to the book's folder.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():
        extensions[name] = str((Path(config_path).parent / folder).resolve())
    banner = preset_banner(preset)
    if banner is not None:
        html["announcement"] = banner
    if base_url:
        html["baseurl"] = base_url
    return config


def parameters_table(preset) -> pd.DataFrame:
    """Every setting of ``preset``, one row each (``setting``, ``value``), for the reproducing page."""
    from dataclasses import fields

    from .presets import load_preset

    chosen = load_preset(preset)
    rows = [{"setting": field.name, "value": _parameter_text(getattr(chosen, field.name))} for field in fields(chosen)]
    return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")


def _parameter_text(value) -> str:
    """A setting as a reader writes it: lists comma-separated, None as "all" (no limit)."""
    if value is None:
        return "all"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def notebook_runtimes(executed_dir) -> pd.DataFrame:
    """Wall time of each papermill-executed notebook in ``executed_dir``, from papermill's metadata.

    Returns
    -------
    DataFrame
        ``notebook``, ``seconds``, ``started`` (UTC), one row per executed notebook that carries
        papermill metadata; empty if there is none yet (e.g. this page runs before the others).
    """
    rows = []
    for path in sorted(Path(executed_dir).glob("*.ipynb")):
        papermill = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if papermill.get("duration") is not None:
            rows.append({"notebook": path.stem, "seconds": round(float(papermill["duration"]), 1),
                         "started": papermill.get("start_time")})
    return pd.DataFrame(rows, columns=["notebook", "seconds", "started"])


def build_environment() -> str:
    """The platform, CPU count, torch threads, CUDA and the version of every pinned package, one per line."""
    import os
    import platform

    import torch

    from .provenance import package_versions

    lines = [f"{platform.platform()}; {os.cpu_count()} CPUs; torch threads: {torch.get_num_threads()}; "
             f"CUDA available: {torch.cuda.is_available()}"]
    lines += [f"{package:>14} {version}" for package, version in package_versions().items()]
    return "\n".join(lines)


def redirect_page(target: str, favicon: str = "_static/favicon.svg") -> str:
    """A site's ``index.html`` that sends the reader to ``target``, with the site's icon.

    Jupyter Book writes a one-line ``<meta http-equiv="Refresh">`` page without an icon link, so a
    browser also asks the server root for ``/favicon.ico`` (which the site does not have), a request
    the immediate redirect may leave unfinished. This page names its icon, and links ``target`` for
    readers whose browser does not follow the refresh.
    """
    from html import escape

    target, favicon = escape(target, quote=True), escape(favicon, quote=True)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Refresh" content="0; url={target}"><link rel="icon" href="{favicon}">'
            f'<title>Redirecting</title></head><body><a href="{target}">{target}</a></body></html>\n')


def main(argv=None) -> None:
    """Command line of the build steps (the Makefile's ``book`` target calls these).

    ``hide-code DIR`` hides the code input of every executed notebook in DIR (:func:`hide_code`);
    ``config --preset NAME [--base-url URL] SOURCE OUT`` writes :func:`book_config` of SOURCE to OUT;
    ``redirect OUT TARGET`` writes :func:`redirect_page` to OUT.
    """
    import yaml

    parser = argparse.ArgumentParser(prog="python -m spae_core.book", description=main.__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    hide = commands.add_parser("hide-code", help="hide the code input of every executed notebook in a directory")
    hide.add_argument("directory")
    configure = commands.add_parser("config", help="write the build's Jupyter Book configuration")
    configure.add_argument("source", help="the book's _config.yml")
    configure.add_argument("out", help="where to write the build's configuration")
    configure.add_argument("--preset", required=True)
    configure.add_argument("--base-url", default="")
    redirect = commands.add_parser("redirect", help="write the site's index.html, a redirect with the site's icon")
    redirect.add_argument("out")
    redirect.add_argument("target", help="the page to send the reader to, relative to OUT")
    arguments = parser.parse_args(argv)
    if arguments.command == "redirect":
        Path(arguments.out).write_text(redirect_page(arguments.target), encoding="utf-8")
        print(f"{arguments.out}: redirects to {arguments.target}")
    elif arguments.command == "hide-code":
        paths = hide_code_in_notebooks(arguments.directory)
        print(f"code input hidden in {len(paths)} notebooks in {arguments.directory}")
    else:
        config = book_config(arguments.source, arguments.preset, arguments.base_url)
        out = Path(arguments.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"book configuration for preset {arguments.preset}: {out}")


if __name__ == "__main__":
    main()
