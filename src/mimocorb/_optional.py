"""What to install when a module is missing, said in one line instead of a traceback.

A plain ``pip install mimocorb`` brings everything a setup of mimoCoRB 1.0.2 needs; only the parts behind
an extra (``pip install 'mimocorb[net]'``) and tkinter, which comes with the operating system's Python and
not from pip, may be absent. Code that needs such a part calls ``require``; the ``mimocorb`` command turns
the resulting error, and a missing dependency of a broken installation, into a single line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# modules of the plain install, by the distribution that provides them
DEPENDENCIES = {
    "numpy": "numpy",
    "yaml": "pyyaml",
    "pydantic": "pydantic",
    "pyarrow": "pyarrow",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "scipy": "scipy",
}
TKINTER_HINT = "the operating system's package python3-tk; pip cannot install it"


class MissingDependency(ImportError):
    """A module needed for one purpose is not installed; ``str()`` is the whole message, one line."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, which the extra ``extra`` installs, or fail with what to install for ``purpose``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not _is_missing(exc, module):
            raise
        raise MissingDependency(
            f"mimocorb: the '{extra}' extra is needed for {purpose}: pip install 'mimocorb[{extra}]'",
            name=module,
        ) from exc


def missing_message(exc: BaseException) -> str | None:
    """The one-line message for a missing part, or None if ``exc`` is some other error."""
    if isinstance(exc, MissingDependency):
        return str(exc)
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.partition(".")[0]
    if top in ("tkinter", "_tkinter"):
        return f"mimocorb: tkinter is not installed (it comes with {TKINTER_HINT})"
    if top in DEPENDENCIES:
        return f"mimocorb: {dependency_missing(top)}"
    return None


def dependency_missing(module: str) -> str:
    """For a module of the plain install that is absent: the installation is incomplete."""
    package = DEPENDENCIES[module]
    return f"{package} is not installed, but mimocorb needs it: pip install '{package}'"


def _is_missing(exc: ModuleNotFoundError, module: str) -> bool:
    """Whether ``exc`` is about ``module`` itself (or a parent), not about something it imports."""
    return exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))
