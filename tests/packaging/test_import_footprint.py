"""What importing the ring costs (``mimocorb.ring`` and its compatibility module ``mimocorb.mimo_buffer``):
numpy and the standard library, nothing else.

A process that only moves data (a source reading a device, a filter) imports ``mimocorb.mimo_buffer``;
it must start fast and must not drag in plotting, GUI, config or file-format libraries.
"""

from __future__ import annotations

import sys

import pytest
from pkgkit import imported_by, third_party


@pytest.mark.parametrize("path", ["as built", "pure"])
@pytest.mark.parametrize("module", ["mimocorb.mimo_buffer", "mimocorb.ring"])
def test_ring_modules_import_numpy_only(module: str, path: str) -> None:
    """On either path of the ring (``MIMOCORB_PURE_RING=1`` forces the pure-Python one, which must not
    even load the compiled module)."""
    modules = imported_by(module, MIMOCORB_PURE_RING="1" if path == "pure" else "0")
    if path == "pure":
        assert "mimocorb.ring._fastring" not in modules
    mimocorb = sorted(m for m in modules if m.split(".")[0] == "mimocorb")
    others = third_party(modules)
    stdlib = sorted({m.split(".")[0] for m in modules} & set(sys.stdlib_module_names))
    print(f"import {module}: {len(modules)} modules; third-party {others}; {mimocorb}; stdlib {stdlib}")
    assert others == ["numpy"], f"import {module} pulled in {others} (only numpy is allowed)"
    assert module in mimocorb


def test_recording_package_imports_numpy_only() -> None:
    """A setup's module imports ``mimocorb.io`` for its recorders; uproot, h5py and pyarrow come with the
    recording process's first file, not with every import."""
    others = third_party(imported_by("mimocorb.io"))
    assert others == ["numpy"], f"import mimocorb.io pulled in {others} (only numpy is allowed)"
