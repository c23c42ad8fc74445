"""``pip install .[docs]`` alone is enough to build the site.

autodoc imports every module the API reference names. Each third-party library that import pulls in must
come with the plain install or the docs extra, or be mocked by ``autodoc_mock_imports`` in docs/conf.py;
and a mocked library must be one that the docs extra really lacks. The imports are made in a fresh
interpreter under the conf's mocks, as autodoc makes them, and their libraries are traced back to the
distributions that install them. (A library that is not installed at all fails the imports outright.)
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
DIRECTIVE = re.compile(r"^\.\. auto(?:module|class|function|data|exception):: (\S+)", re.M)

# Imports every object the API pages name, under the conf's mocks; prints the top-level modules that the
# imports brought in and those that were mocked.
IMPORT_AS_AUTODOC = """
import importlib, json, runpy, sys
mock = importlib.import_module("sphinx.ext.autodoc.mock")
mocks = runpy.run_path(sys.argv[1]).get("autodoc_mock_imports", [])
before = set(sys.modules)
with mock.mock(mocks):
    for target in json.loads(sys.argv[2]):
        try:
            importlib.import_module(target)
        except ModuleNotFoundError as error:
            if error.name != target:
                raise
            module, _, name = target.rpartition(".")
            getattr(importlib.import_module(module), name)
    mocked = {n.split(".")[0] for n, m in sys.modules.items() if mock.ismockmodule(m)}
imported = {n.split(".")[0] for n in set(sys.modules) - before}
print(json.dumps({"imported": sorted(imported - mocked), "mocked": sorted(mocked), "conf": mocks}))
"""


def _targets() -> list[str]:
    return sorted({m for page in (DOCS / "api").glob("*.md") for m in DIRECTIVE.findall(page.read_text())})


def _closure(requirements: list[str], extra: str = "") -> set[str]:
    """The distributions these requirements install, with everything they require in turn."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[str] = set()
    todo = [(r, extra) for r in requirements]
    while todo:
        text, wanted = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": wanted}):
            continue
        name = canonicalize_name(req.name)
        if name in found or name == "mimocorb":
            continue
        found.add(name)
        try:
            todo += [(r, "") for r in md.requires(req.name) or []]
        except md.PackageNotFoundError:  # an optional dependency of a dependency, not installed
            continue
    return found


def _libraries(distributions: set[str]) -> set[str]:
    """The top-level module names these distributions install."""
    from packaging.utils import canonicalize_name

    return {
        module
        for module, owners in md.packages_distributions().items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }


def test_the_docs_extra_brings_or_the_conf_mocks_what_autodoc_imports() -> None:
    pytest.importorskip("sphinx", reason="the docs tools are not installed (pip install .[docs])")
    mimocorb = md.requires("mimocorb") or []
    installed = _closure([r for r in mimocorb if "extra ==" not in r])
    installed |= _closure([r for r in mimocorb if 'extra == "docs"' in r], "docs")
    provided = _libraries(installed)
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_AS_AUTODOC, str(DOCS / "conf.py"), json.dumps(_targets())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, f"autodoc's imports fail:\n{out.stderr[-3000:]}"
    seen = json.loads(out.stdout.splitlines()[-1])
    # modules no distribution installs (``cython_runtime``, ``__mp_main__``) are no libraries
    libraries = set(seen["imported"]) & set(md.packages_distributions()) - {"mimocorb"}
    missing = sorted(libraries - provided)
    assert not missing, (
        f"autodoc imports {missing}, which neither the plain install nor the docs extra brings: "
        "add them to autodoc_mock_imports in docs/conf.py"
    )
    assert set(seen["conf"]) == set(seen["mocked"]), "a mocked library that no documented module imports"
    assert not set(seen["conf"]) & provided, "a mocked library that the docs extra installs anyway"
