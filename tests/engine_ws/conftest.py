"""Fixtures for the Engine.IO / WebSocket layer tests.

``wsframe`` runs a test once per twin of the frame codec (compiled and pure
Python).  The compiled twin is skipped, with the reason, only when it is not
built and the run does not require it (FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS).
"""

import importlib
import os

import pytest

TWINS = ('c', 'python')


def load_twin(name):
    suffix = '_c' if name == 'c' else '_py'
    try:
        return importlib.import_module(
            f'flask_socketio_fast._speedups.wsframe{suffix}')
    except ImportError as exc:
        if os.environ.get('FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS') == '1':
            raise
        pytest.skip(f'compiled wsframe_c not built: {exc}')


@pytest.fixture(params=TWINS)
def wsframe(request):
    return load_twin(request.param)


@pytest.fixture
def both_twins():
    return load_twin('c'), load_twin('python')
