"""The documentation site builds without a single warning (with Graphviz or without), its internal links lead
somewhere, and every page of the API reference documents every public name of its module.

The build is the one of the README (``python -m sphinx -W --keep-going -b html docs ...``), into a
temporary folder. Links are checked on the built HTML: every ``href`` and ``src`` to a local file must
name a file of the site, and an ``#anchor`` an ``id`` in that file.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
API = DOCS / "api"
BUILD_TIMEOUT_S = 600

# under -n the tests stay in one process: the site is built once for all of them
# the first test builds the site (with the pictures of a real run) for all of them: its time limit is the
# build's, not the 120 s of a single test
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("docs-site"),
    pytest.mark.timeout(BUILD_TIMEOUT_S + 60),
]


class _Page(HTMLParser):
    """The ids and the local links of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.objects: list[str] = []  # names of documented Python objects (autodoc signatures)
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for key in ("href", "src"):
            target = values.get(key)
            if target and not urlsplit(target).scheme and not target.startswith("//"):
                self.links.append(target)
        if tag == "span" and "descname" in (values.get("class") or "").split():
            self._in_name = True  # the name is the text of the next (nested) span

    def handle_data(self, data: str) -> None:
        if self._in_name and data.strip():
            self.objects.append(data.strip())
            self._in_name = False


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sphinx", reason="the docs tools are not installed (pip install .[docs])")
    pytest.importorskip("myst_parser", reason="myst-parser is not installed (pip install .[docs])")
    pytest.importorskip("furo", reason="the furo theme is not installed (pip install .[docs])")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(DOCS),
            str(out / "html"),
            "-d",
            str(out / "doctrees"),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        cwd=REPO,
    )
    assert build.returncode == 0, f"the site does not build clean:\n{build.stderr[-5000:]}"
    assert "WARNING" not in build.stderr, build.stderr[-5000:]
    return out / "html"


def test_every_page_is_built(site: Path) -> None:
    sources = {
        p.relative_to(DOCS).with_suffix(".html") for p in DOCS.rglob("*.md") if "_build" not in p.parts
    }
    built = {p.relative_to(site) for p in site.rglob("*.html")}
    assert sources <= built, f"pages not built: {sorted(map(str, sources - built))}"


def test_the_diagram_is_drawn_or_shown_as_its_source(site: Path) -> None:
    """Graphviz draws it where it is installed; elsewhere the page says so above the DOT source."""
    page = (site / "architecture.html").read_text(encoding="utf-8")
    if shutil.which("dot") is not None:
        assert 'class="graphviz' in page
    else:
        assert "Graphviz was not installed when this site was built" in page and "digraph" in page


def test_internal_links_lead_somewhere(site: Path) -> None:
    pages = {p: _parse(p) for p in site.rglob("*.html")}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(site)}: {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def _api_modules() -> dict[str, str]:
    """API page -> the module it documents, from its first automodule directive."""
    found = {}
    for page in sorted(API.glob("*.md")):
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith(".. automodule:: "):
                found[page.stem] = line.split("::", 1)[1].strip()
                break
    return found


def test_api_reference_covers_every_public_module() -> None:
    documented = set(_api_modules().values())
    compatibility_modules = {
        f"mimocorb.{name}"
        for name in (
            "mimo_buffer",
            "buffer_control",
            "bufferinfoGUI",
            "plot_buffer",
            "histogram_buffer",
            "parquetReader",
            "pulseSimulator",
            "activity_logger",
        )
    }
    parts = {f"mimocorb.{name}" for name in ("ring", "io", "run", "physics", "config", "workers", "display")}
    # parts that exist in the source must have their page too (new ones such as net and web included)
    newer = ("net", "web", "devices", "series")
    parts |= {f"mimocorb.{name}" for name in newer if (REPO / "src" / "mimocorb" / name).is_dir()}
    public = compatibility_modules | parts
    assert public <= documented, f"modules without an API page: {sorted(public - documented)}"


@pytest.mark.parametrize("page", sorted(_api_modules()))
def test_api_page_documents_every_public_name(site: Path, page: str) -> None:
    built = _parse(site / "api" / f"{page}.html")
    assert built.objects, f"api/{page}: documents no object"
    module = importlib.import_module(_api_modules()[page])
    missing = [name for name in getattr(module, "__all__", []) if name not in built.objects]
    assert not missing, f"api/{page}: public names of {module.__name__} not documented: {missing}"
