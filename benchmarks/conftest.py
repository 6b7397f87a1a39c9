"""Fixtures shared by the in-process benchmarks.

``sio_module`` is the Flask-SocketIO-compatible module under test.  When
benchmarks/inprocess.py runs a file it sets ``BENCH_CONTENDER_MODULE`` (and
the contender's environment, e.g. the pure-Python switch) so each process
measures exactly one contender; run by hand, the fixture is parametrized
over ``flask_socketio`` and ``flask_socketio_fast`` as this process imports
them.
"""

import importlib
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

_ONE = os.environ.get("BENCH_CONTENDER_MODULE")
_MODULES = [_ONE] if _ONE else ["flask_socketio", "flask_socketio_fast"]


@pytest.fixture(params=_MODULES, scope="module")
def sio_module(request):
    try:
        return importlib.import_module(request.param)
    except ImportError as exc:
        if _ONE:
            raise
        pytest.skip(f"{request.param} is not importable: {exc}")
