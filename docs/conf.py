"""Sphinx configuration of the mimocorb documentation site.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` after ``pip install .[docs]``.
The pictures of a real run are made at build time by ``pictures/make_pictures.py`` (a short headless run of
the example); the architecture diagram is drawn by Graphviz from the ``graphviz`` block of architecture.md,
or shown as its source where Graphviz is not installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from mimocorb import __version__

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "pictures"))

project = "mimocorb"
author = "the mimocorb authors"
copyright = "mimocorb authors, MIT licence"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.graphviz",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# setup.schema.json is a published file (linked from configuration.md); the pictures script is not a page
exclude_patterns = ["_build", "pictures", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# `[text](#section-title)` and `[text](page.md#section-title)` links reach headings down to level 4
myst_heading_anchors = 4

# libraries of the optional extras (net: pyzmq) that modules of the API reference import: mocked, so that
# the docs extra alone builds the site (tests/docs/test_docs_extra.py checks that nothing else is needed)
autodoc_mock_imports = ["zmq"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# types join the parameters a docstring describes, instead of a second, bare list
autodoc_typehints_description_target = "documented_params"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

graphviz_output_format = "svg"

html_theme = "furo"
html_title = f"mimocorb {release}"
html_static_path = ["_static"]


def _make_pictures(app: object) -> None:
    """The run pictures of displays.md: made by a short example run when missing, kept between builds."""
    import make_pictures

    make_pictures.make_all(HERE / "_static" / "generated")


NO_GRAPHVIZ = "Graphviz was not installed when this site was built: the diagram is shown as its source."


def _diagrams_as_source(app: Any, doctree: Any) -> None:
    """Without Graphviz a diagram would be a build warning; its DOT source, said to be one, is not."""
    from docutils import nodes
    from sphinx.ext.graphviz import graphviz

    for node in list(doctree.findall(graphviz)):
        note = nodes.paragraph("", "", nodes.emphasis("", NO_GRAPHVIZ))
        source = nodes.literal_block(node["code"], node["code"], language="dot")
        node.replace_self([note, source])


def _without_graphviz(app: Any, config: Any) -> None:
    """Checked once the configuration is complete, so that ``-D graphviz_dot=...`` counts."""
    if shutil.which(config.graphviz_dot) is None:
        from sphinx.util import logging

        logging.getLogger(__name__).info(
            "diagrams shown as their DOT source: Graphviz's dot is not installed (apt-get install graphviz)"
        )
        app.connect("doctree-read", _diagrams_as_source)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", _make_pictures)
    app.connect("config-inited", _without_graphviz)
