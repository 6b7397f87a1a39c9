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


# -- real-socket servers -----------------------------------------------------

from .servers import VARIANTS, WsServer  # noqa: E402


@pytest.fixture(scope='session')
def ws_servers():
    """``get(variant, **options)``: a running ws_app server, started once
    per (variant, options) for the session and stopped at its end."""
    started = {}

    def get(variant, impl='flask_socketio_fast', **options):
        key = (variant, impl, tuple(sorted(options.items())))
        server = started.get(key)
        if server is None or not server.alive():
            if server is not None:
                server.close()
            server = started[key] = WsServer(variant, impl=impl,
                                             **options).start()
        return server

    yield get
    for server in started.values():
        server.close()


@pytest.fixture(params=sorted(VARIANTS))
def variant(request):
    return request.param


@pytest.fixture
def server(ws_servers, variant, request):
    srv = ws_servers(variant)
    yield srv
    if request.node.rep_call.failed if hasattr(request.node, 'rep_call') \
            else False:
        print(f'--- server log ({variant}) ---\n{srv.output()[-5000:]}')


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)
