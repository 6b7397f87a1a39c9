"""Picks the compiled or the pure-Python implementation of the speedups.

This is the one place that decides.  Every module here has two twins with
the same API: ``<name>_c`` (compiled from ``src/_speedups/<name>_c.pyx``) and
``<name>_py``.  At import:

* ``FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1`` selects the pure-Python twins;
* otherwise the compiled twins are used if they all import, else the pure
  ones, unless ``FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1`` is set, which
  turns a missing extension into an ImportError.

``IMPLEMENTATION`` is ``'c'`` or ``'python'``; ``FALLBACK_REASON`` says why
the compiled path was not taken (None when it was).  ``describe()`` gives a
one-line summary for the start-up log.  The selected modules are available as
``packet``, ``eio``, ``wsframe``, ``rooms`` and ``outbox``; ``load('c')`` /
``load('python')`` return a specific set (the test suite runs everything on
both).
"""

import importlib
import logging
import os
import types

__all__ = ['IMPLEMENTATION', 'FALLBACK_REASON', 'MODULES', 'describe',
           'load', 'log_active', 'packet', 'eio', 'wsframe', 'rooms',
           'outbox']

MODULES = ('packet', 'eio', 'wsframe', 'rooms', 'outbox')

_logger = logging.getLogger('flask_socketio_fast')

_NO_EXTENSIONS = os.environ.get('FLASK_SOCKETIO_FAST_NO_EXTENSIONS') == '1'
_REQUIRE = os.environ.get('FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS') == '1'

_SUFFIX = {'c': '_c', 'python': '_py', 'py': '_py'}


def load(implementation):
    """The twin modules of one implementation, as a namespace with one
    attribute per name in MODULES.  Raises ImportError if missing."""
    suffix = _SUFFIX[implementation]
    mods = {name: importlib.import_module(f'{__name__}.{name}{suffix}')
            for name in MODULES}
    return types.SimpleNamespace(implementation='c' if suffix == '_c'
                                 else 'python', **mods)


def _select():
    if _NO_EXTENSIONS:
        if _REQUIRE:
            raise ImportError(
                'flask-socketio-fast: FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1 and '
                'FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 contradict each '
                'other')
        return load('python'), 'FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1 is set'
    try:
        return load('c'), None
    except ImportError as exc:
        if _REQUIRE:
            raise ImportError(
                'flask-socketio-fast: the compiled extensions are required '
                '(FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1) but cannot be '
                f'imported: {exc}') from exc
        return load('python'), f'compiled extensions not importable ({exc})'


_selected, FALLBACK_REASON = _select()
IMPLEMENTATION = _selected.implementation
packet = _selected.packet
eio = _selected.eio
wsframe = _selected.wsframe
rooms = _selected.rooms
outbox = _selected.outbox


def describe():
    """One line saying which implementation is active, and why."""
    if IMPLEMENTATION == 'c':
        line = ('flask-socketio-fast: using the compiled (Cython) speedups '
                f'for {", ".join(MODULES)}')
        if not outbox.NATIVE_SEND:
            # (Windows) the outbox sends through the socket objects:
            # compiled, but one GIL release per send
            line += '; sends go through socket objects (no native send here)'
        return line
    return ('flask-socketio-fast: using the pure-Python implementation '
            f'(slower): {FALLBACK_REASON}')


def log_active(logger=None):
    """Log ``describe()``: at INFO when compiled or purposely pure, at
    WARNING when the compiled modules were wanted but are missing."""
    level = logging.WARNING if (IMPLEMENTATION != 'c' and
                                not _NO_EXTENSIONS) else logging.INFO
    (logger or _logger).log(level, describe())


_logger.debug(describe())
