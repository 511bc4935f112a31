"""The build steps of `make book` (spae_core.book): code input hidden for reading, the build's
configuration with the preset's banner and the base URL, and the parameters on the reproducing page."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml

from spae_core.book import book_config, hide_code, hide_code_in_notebooks, main, parameters_table, preset_banner

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "spae_core" / "presets"


def notebook(*cells) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def code(*tags, source="x = 1") -> dict:
    cell = {"cell_type": "code", "source": source, "outputs": [], "execution_count": 1, "metadata": {}}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    return cell


def tags_of(nb: dict) -> list[list[str]]:
    return [cell.get("metadata", {}).get("tags", []) for cell in nb["cells"]]


def test_hide_code_hides_inputs_removes_injected_parameters_and_keeps_authors_tags():
    markdown = {"cell_type": "markdown", "source": "# Title", "metadata": {}}
    nb = notebook(markdown, code("parameters", "remove-cell"), code("injected-parameters"), code(),
                  code("nbval-ignore-output"), code("remove-input"), code("hide-output"), code("hide-cell"))
    assert tags_of(hide_code(nb)) == [[], ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"],
                                      ["hide-input"], ["nbval-ignore-output", "hide-input"], ["remove-input"],
                                      ["hide-output", "hide-input"], ["hide-cell"]]


def test_hide_code_leaves_its_input_alone_and_tags_once():
    nb = notebook(code(), code("injected-parameters"))
    once = hide_code(nb)
    assert tags_of(nb) == [[], ["injected-parameters"]]
    assert hide_code(once) == once


def test_hide_code_rejects_what_is_not_a_notebook():
    with pytest.raises(ValueError, match="nbformat 4"):
        hide_code({"worksheets": []})


def test_hide_code_in_notebooks_rewrites_every_notebook_of_the_directory(tmp_path):
    for name in ["01_a", "02_b"]:
        (tmp_path / f"{name}.ipynb").write_text(json.dumps(notebook(code("injected-parameters"), code())))
    paths = hide_code_in_notebooks(tmp_path)
    assert [path.name for path in paths] == ["01_a.ipynb", "02_b.ipynb"]
    for path in paths:
        assert tags_of(json.loads(path.read_text())) == [["injected-parameters", "remove-cell"], ["hide-input"]]


def test_hide_code_in_notebooks_fails_on_a_directory_without_notebooks(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executed notebooks"):
        hide_code_in_notebooks(tmp_path)


def preset_file(name: str) -> dict:
    return yaml.safe_load((PRESETS / f"{name}.yaml").read_text())


def test_the_default_preset_has_no_banner():
    assert preset_banner("default") is None


def test_the_ci_banner_states_its_rows_epochs_and_seeds_from_its_file():
    ci = preset_file("ci")
    assert preset_banner("ci") == (f"Smoke test (preset ci: {ci['max_rows']:,} rows, at most {ci['max_epochs']:,} "
                                   f"epochs, {len(ci['seeds'])} seeds): these numbers are not findings.")


def test_a_full_size_preset_is_named_but_not_called_a_smoke_test():
    paper = preset_file("paper")
    banner = preset_banner("paper")
    assert paper["max_rows"] is None and paper["max_epochs"] >= preset_file("default")["max_epochs"]
    assert not banner.startswith("Smoke test")
    assert f"preset paper: all rows, at most {paper['max_epochs']:,} epochs, {len(paper['seeds'])} seeds" in banner


def write_config(tmp_path, html=None) -> Path:
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump({"title": "t", **({"html": html} if html is not None else {})}))
    return path


def test_book_config_adds_the_banner_and_the_base_url(tmp_path):
    config = book_config(write_config(tmp_path, {"favicon": "f.svg"}), "ci", "https://o.github.io/spae/")
    assert config == {"title": "t", "html": {"favicon": "f.svg", "announcement": preset_banner("ci"),
                                             "baseurl": "https://o.github.io/spae/"}}


def test_book_config_of_the_default_preset_adds_nothing(tmp_path):
    assert book_config(write_config(tmp_path), "default") == {"title": "t", "html": {}}


def test_book_config_refuses_a_config_that_sets_what_the_build_sets(tmp_path):
    with pytest.raises(ValueError, match="html.announcement"):
        book_config(write_config(tmp_path, {"announcement": "hello"}), "ci")


def test_the_books_config_leaves_banner_and_base_url_to_the_build():
    assert {"announcement", "baseurl"}.isdisjoint(yaml.safe_load((ROOT / "_config.yml").read_text()).get("html", {}))


def test_the_book_serves_mathjax_itself_without_thebe():
    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert "sphinx_thebe" not in sphinx["extensions"]
    extension = importlib.import_module("sphinx-mathjax-offline")
    assert (Path(extension.__file__).parent / "static" / "mathjax" / sphinx["mathjax_path"].split("/", 1)[1]).is_file()


def test_the_local_extensions_survive_the_explicit_extension_list():
    # Jupyter Book appends local_extensions to its own list, which an explicit sphinx.config
    # extensions list then replaces: make pdf lost its LaTeX tables and bbm.sty stub that way.
    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    for name, folder in sphinx.get("local_extensions", {}).items():
        assert name in sphinx["config"]["extensions"], f"add {name} to sphinx.config.extensions in _config.yml"
        assert (ROOT / folder / f"{name}.py").is_file()


def test_book_config_anchors_local_extensions_to_the_books_folder(tmp_path):
    # The overlay is read from _build/, and Jupyter Book resolves these folders from the file's folder.
    (tmp_path / "_config.yml").write_text("sphinx:\n  local_extensions:\n    ext: book/_latex\n")
    config = book_config(tmp_path / "_config.yml", "default")
    assert config["sphinx"]["local_extensions"]["ext"] == str((tmp_path / "book" / "_latex").resolve())


def test_the_favicon_exists():
    html = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]
    assert (ROOT / html["favicon"]).is_file()


def test_config_command_writes_the_builds_configuration(tmp_path, capsys):
    out = tmp_path / "build" / "book_config.yml"
    main(["config", "--preset", "ci", "--base-url", "https://o.github.io/spae/", str(write_config(tmp_path)), str(out)])
    assert yaml.safe_load(out.read_text())["html"] == {"announcement": preset_banner("ci"),
                                                       "baseurl": "https://o.github.io/spae/"}


def test_parameters_table_lists_every_setting_of_the_preset_file():
    ci = preset_file("ci")
    table = parameters_table("ci")
    assert table.index[0] == "name" and set(table.index[1:]) == set(ci) - {"preset"}
    assert table.loc["name", "value"] == "ci"
    assert table.loc["seeds", "value"] == ", ".join(str(seed) for seed in ci["seeds"])
    assert table.loc["max_rows", "value"] == str(ci["max_rows"])
    assert parameters_table("default").loc["max_rows", "value"] == "all"


def test_the_sites_index_redirects_and_names_the_sites_icon(tmp_path):
    from html.parser import HTMLParser

    from spae_core.book import main, redirect_page

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(redirect_page("book/sections/00_intro.html"))
    tags = parser.tags
    assert ("meta", {"http-equiv": "Refresh", "content": "0; url=book/sections/00_intro.html"}) in tags
    assert ("link", {"rel": "icon", "href": "_static/favicon.svg"}) in tags
    assert ("a", {"href": "book/sections/00_intro.html"}) in tags
    main(["redirect", str(tmp_path / "index.html"), "report.html"])
    assert (tmp_path / "index.html").read_text() == redirect_page("report.html")
