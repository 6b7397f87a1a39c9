"""Build script: compiles the Cython speedups, or falls back to pure Python.

Every ``src/_speedups/<name>.pyx`` becomes the extension module
``flask_socketio_fast._speedups.<name>``.  Each has a pure-Python twin inside
the package, so a machine without a compiler still gets a working install:
the build then warns and ships the twins only.  Setting
``FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1`` turns that fallback into a build
failure (CI and the wheel builds set it, so a broken extension cannot ship
silently).  ``FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1`` skips compilation on
purpose and builds the pure-Python wheel.

Cython runs inside ``build_ext`` (not when this file is imported), so making
an sdist does not need it and a Cython failure gets the same treatment as a
compiler failure.  The sdist ships the ``.pyx`` sources (see MANIFEST.in).
"""

import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIRE = os.environ.get("FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS") == "1"
SKIP = os.environ.get("FLASK_SOCKETIO_FAST_NO_EXTENSIONS") == "1"

CYTHON_DIRECTIVES = {"language_level": "3", "boundscheck": False,
                     "wraparound": False, "cdivision": True}


def _warn(message):
    bar = "*" * 75
    sys.stderr.write(f"\n{bar}\n{message}\n{bar}\n\n")


class OptionalBuildExt(build_ext):
    """A build_ext whose failure degrades to a pure-Python install."""

    def run(self):
        try:
            self._cythonize()
            super().run()
        except Exception as exc:  # Cython or compiler missing, broken, ...
            self._failed(exc)

    def _cythonize(self):
        pending = [ext for ext in self.extensions
                   if any(src.endswith(".pyx") for src in ext.sources)]
        if not pending:
            return
        from Cython.Build import cythonize

        done = cythonize(
            pending, compiler_directives=CYTHON_DIRECTIVES, quiet=True,
            include_path=[os.path.join(HERE, "src", "_speedups")])
        # keep setuptools' own Extension objects (finalize_options has
        # annotated them); only their sources change, .pyx -> .c
        by_name = {ext.name: ext for ext in done}
        for ext in pending:
            ext.sources = list(by_name[ext.name].sources)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._failed(exc, ext.name)

    def _failed(self, exc, name=None):
        what = f"extension {name}" if name else "the C extensions"
        if REQUIRE:
            raise RuntimeError(
                f"flask-socketio-fast: building {what} failed ({exc}) and "
                "FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 is set") from exc
        _warn(f"WARNING: flask-socketio-fast could not build {what}:\n  {exc}\n"
              "Installing the pure-Python implementation instead; it behaves "
              "the same, only slower.\n"
              "flask_socketio_fast.IMPLEMENTATION tells which one is active.")


def _extensions():
    if SKIP:
        if REQUIRE:
            raise RuntimeError("FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1 and "
                               "FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 "
                               "contradict each other")
        return []
    modules = []
    for src in sorted(glob.glob(os.path.join("src", "_speedups", "*.pyx"))):
        name = os.path.splitext(os.path.basename(src))[0]
        modules.append(Extension(f"flask_socketio_fast._speedups.{name}",
                                 [src]))
    return modules


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
