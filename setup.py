"""The optional compiled part of the ring (``mimocorb.ring._fastring``); everything else is in pyproject.toml.

Without a C compiler the build goes on without it: the ring then runs its pure-Python path, and the
install says so in one line.
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build the extension if possible; otherwise one line of notice and a pure-Python install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler at all
            self._notice(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # the compiler failed
            self._notice(exc)

    @staticmethod
    def _notice(exc):
        print(
            f"mimocorb: the compiled ring module was not built ({exc}); the ring runs its pure-Python path",
            file=sys.stderr,
        )


setup(
    ext_modules=[
        Extension(
            "mimocorb.ring._fastring",
            ["src/mimocorb/ring/_fastring.c"],
            extra_compile_args=["-O2", "-std=c11"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
