"""Fixtures for the real-socket suite: scenario-app servers, one per
(implementation, async mode), started on first use and killed at the end.

``impl`` and ``mode`` are parametrized fixtures, so every test that uses
``server`` runs on both implementations in every async mode. ``differential``
runs a scenario and, for ``flask_socketio_fast``, also checks it against the
reference ``flask_socketio`` run of the same scenario.
"""

import pytest

from .realsock_servers import (IMPLS, MODES, REFERENCE, VARIANTS, AppServer,
                              ServerStartError, import_error)


@pytest.fixture(scope='session')
def require_impl():
    """Skip when an implementation cannot be imported by the child processes.

    Temporary escape hatch while flask_socketio_fast is being written; it
    only fires on an ImportError-like failure of ``import <impl>``.
    """
    errors = {}

    def check(impl):
        if impl not in errors:
            errors[impl] = import_error(impl)
        if errors[impl]:
            pytest.skip('%s is not importable with PYTHONPATH=src: %s'
                        % (impl, errors[impl]))

    return check


def _variant_of(item):
    pick = getattr(item.module, 'server_variant', None)
    return pick(item.name) if pick else 'default'


def _servers_needed(items):
    """(impl, mode, variant) of the shared servers the selected tests use."""
    keys = set()
    for item in items:
        params = getattr(getattr(item, 'callspec', None), 'params', {})
        uses = set(getattr(item, 'fixturenames', ()))
        if not {'differential', 'server'} & uses or \
                'impl' not in params or 'mode' not in params:
            continue
        keys.add((params['impl'], params['mode'], _variant_of(item)))
        if 'differential' in uses:
            keys.add((REFERENCE, params['mode'], _variant_of(item)))
    return keys


@pytest.fixture(scope='session')
def app_servers(require_impl, request):
    """``get(impl, mode, variant='default')`` returns a running AppServer,
    started once. The first request for a variant launches every server of
    that variant the selected tests will need, so they boot in parallel."""
    servers = {}
    failures = {}
    needed = _servers_needed(request.session.items)
    launched_variants = set()

    def launch_variant(variant):
        launched_variants.add(variant)
        for impl, mode, v in sorted(needed):
            if v == variant and (impl, mode, v) not in servers:
                try:
                    require_impl(impl)
                except pytest.skip.Exception:
                    continue
                servers[impl, mode, v] = AppServer(
                    impl, MODES[mode] + VARIANTS[v]).launch()

    def get(impl, mode, variant='default'):
        require_impl(impl)
        key = (impl, mode, variant)
        if key in failures:
            pytest.fail('server %s failed to start earlier: %s'
                        % (key, failures[key]))
        if variant not in launched_variants:
            launch_variant(variant)
        srv = servers.get(key)
        if srv is None:
            srv = servers[key] = AppServer(impl,
                                           MODES[mode] + VARIANTS[variant])
        if srv.info is None:
            try:
                srv.start()
            except ServerStartError as exc:
                failures[key] = exc
                raise
        if srv.proc.poll() is not None:
            pytest.fail('server %s died (exit %s):\n%s' % (
                key, srv.proc.returncode, srv.log_text()))
        return srv

    try:
        yield get
    finally:
        for srv in servers.values():
            srv.close()


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


@pytest.fixture(params=list(MODES))
def mode(request):
    return request.param


@pytest.fixture(params=['websocket', 'upgrade'])
def transport(request):
    return request.param


@pytest.fixture
def server(app_servers, impl, mode):
    return app_servers(impl, mode)


@pytest.fixture(scope='session')
def _observations():
    return {}


@pytest.fixture
def variant(request):
    """Server variant (see realsock_servers.VARIANTS): a test module picks
    one per test with a ``server_variant(test_name)`` function."""
    return _variant_of(request.node)


@pytest.fixture
def differential(app_servers, impl, mode, variant, _observations):
    """``run(scenario, *args)``: observations of ``scenario(url, *args)`` on
    this test's implementation; for flask_socketio_fast they must equal the
    reference's, which is run (once) if it has not been yet."""

    def observe(which, scenario, args):
        srv = app_servers(which, mode, variant)
        try:
            return scenario(srv.url, *args)
        except BaseException:
            # shown by pytest with the failure: what the server said
            print('--- %s %s server log (tail) ---' % (which, mode))
            print(srv.log_text()[-6000:])
            raise

    def run(scenario, *args):
        key = (scenario.__name__, mode, variant) + args
        obs = observe(impl, scenario, args)
        _observations[key + (impl,)] = obs
        if impl != REFERENCE:
            ref_key = key + (REFERENCE,)
            if ref_key not in _observations:
                _observations[ref_key] = observe(REFERENCE, scenario, args)
            assert _comparable(obs) == _comparable(_observations[ref_key]), (
                '%s differs from %s in %s' % (impl, REFERENCE, key))
        return obs

    return run


# Observation keys starting with this pin a Flask-SocketIO bug that
# flask_socketio_fast fixes on purpose (docs/differences.md); the test
# asserts each implementation's value, the differential check skips them.
UPSTREAM_BUG = 'upstream bug: '


def _comparable(obs):
    if not isinstance(obs, dict):
        return obs
    return {k: v for k, v in obs.items()
            if not (isinstance(k, str) and k.startswith(UPSTREAM_BUG))}
