"""Fixtures for the client-manager tests: every test runs on both twins.

``twin`` is ``'c'`` or ``'python'``.  The compiled param fails (never skips)
when ``rooms_c`` cannot be imported, unless FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1
says a pure-Python run is intended.
"""

import importlib
import os

import pytest

NO_EXTENSIONS = os.environ.get('FLASK_SOCKETIO_FAST_NO_EXTENSIONS') == '1'
TWINS = ('python', 'c')


def rooms_twin(name):
    suffix = '_c' if name == 'c' else '_py'
    try:
        return importlib.import_module(
            'flask_socketio_fast._speedups.rooms' + suffix)
    except ImportError as exc:
        if NO_EXTENSIONS:
            pytest.skip('pure-Python run (FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1)')
        pytest.fail(f'compiled rooms_c missing ({exc}); build it with '
                    '`make build` or run with FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1')


@pytest.fixture(params=TWINS)
def twin(request):
    rooms_twin(request.param)
    return request.param
