"""Makes the modules named in $MIMOCORB_HIDE (comma-separated) unimportable, as if they were not installed.

Put this directory on PYTHONPATH of a child interpreter: every import finder is wrapped so that it finds
nothing for a hidden module or its submodules, so ``import`` raises ModuleNotFoundError and
``importlib.util.find_spec`` returns None, exactly as for a package that is absent.
"""

import os
import sys

HIDDEN = {name for name in os.environ.get("MIMOCORB_HIDE", "").split(",") if name}


class _Hiding:
    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        find = getattr(self._finder, "find_spec", None)
        return find(name, path, target) if find is not None else None

    def invalidate_caches(self):
        invalidate = getattr(self._finder, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()


if HIDDEN:
    sys.meta_path[:] = [_Hiding(finder) for finder in sys.meta_path]
