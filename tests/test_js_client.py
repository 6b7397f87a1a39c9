"""The official JavaScript client (socket.io-client 4.x, run by node) against
tests/apps/cluster_app.py served by ``socketio.run`` in each async mode.

tests/js/client_scenario.mjs does the talking and prints JSON; here we check
that JSON against the documented behaviour and, differentially, that
``flask_socketio`` and ``flask_socketio_fast`` give identical results.
Needs node and ``tests/js/node_modules`` (scripts/ensure-test-deps.sh).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / 'apps'))
from serverprocs import (  # noqa: E402
    IMPLS, JS_DIR, MODES, ServerProcess, impl_unavailable, node_missing,
    run_json_script)

SCENARIO = JS_DIR / 'client_scenario.mjs'

pytestmark = [pytest.mark.node, pytest.mark.realsock, pytest.mark.timeout(90)]


if node_missing():
    pytestmark.append(pytest.mark.skip(reason=node_missing()))

# What socket.io-client must observe, per step, over either transport. The
# transports differ only in the 'connect' step.
COMMON = {
    'whoami': [{'user': 'alice', 'namespace': '/', 'server': 'server'}],
    # several ack values: the handler returns its *args tuple
    'echo': [1, 'two', {'three': [3]}, None],
    'echo_with_ack_promise': 'single',
    'binary': {
        # the server got bytes for both Buffer and ArrayBuffer, at any depth
        'serverSaw': [{'buffer': {'bytes': '010203ff'},
                       'arraybuffer': {'bytes': '040506'},
                       'nested': [{'bytes': '6869'}, {'deep': {'bytes': ''}}],
                       'text': 'not binary'}],
        'reply': {'buffer': {'bytes': 'ff030201'},
                  'arraybuffer': {'bytes': '060504'},
                  'nested': [{'bytes': '6968'}, {'deep': {'bytes': ''}}],
                  'text': 'not binary'},
        'replyKinds': {'buffer': 'Buffer', 'arraybuffer': 'Buffer',
                       'nested': ['Buffer', {'deep': 'Buffer'}],
                       'text': 'string'},
    },
    'binary_top_level': {'serverSaw': [{'bytes': '616263'}],
                         'reply': {'bytes': '636261'},
                         'replyKinds': 'Buffer'},
    'server_to_client_ack': {'asked': ['asked'],
                             'values': ['pong', {'q': 1}, {'bytes': '09'}]},
    'rooms': {'aliceJoined': [['lobby']],
              'bobSent': ['sent'],
              'bobSawOwnAfterAck': 0,
              'aliceGot1': {'n': 1},
              'bobJoined': [['lobby']],
              'aliceSent': ['sent'],
              'aliceGot2': [{'n': 2}],
              'bobGot2': {'n': 2},
              'aliceLeft': [[]]},
    'broadcast': {'sent': ['sent'], 'alice': {'hello': 'all'},
                  'bob': {'hello': 'all'}},
    'namespace_chat': {
        'ack': ['/chat'],
        'event': {'echo': 'hello', 'namespace': '/chat'},
        # the session is per client connection, shared by its namespaces
        'whoami': [{'user': 'alice', 'namespace': '/chat',
                    'server': 'server'}],
    },
    'server_disconnect': {'reason': 'io server disconnect',
                          'connected': False},
    'rejected_with_data': {'message': 'unauthorized',
                           'data': {'code': 401, 'hint': 'bad token'}},
    'rejected_false': {'message': 'Connection rejected by server',
                       'data': None},
}
EXPECTED = {
    'websocket': {'connect': {'connected': True, 'openedWith': 'websocket',
                              'upgradedTo': 'websocket'}, **COMMON},
    'polling': {'connect': {'connected': True, 'openedWith': 'polling',
                            'upgradedTo': 'websocket'}, **COMMON},
}

_results = {}


def scenario_results(impl, mode):
    """Run the JS scenario once per (impl, mode) and remember the result."""
    reason = impl_unavailable(impl)
    if reason:
        pytest.skip(reason)
    if (impl, mode) not in _results:
        with ServerProcess(impl, mode) as server:
            assert server.health['async_mode'] == mode
            assert server.health['module'].split('.')[0] == impl
            try:
                _results[impl, mode] = run_json_script(
                    ['node', str(SCENARIO), server.url], timeout=60,
                    cwd=JS_DIR)
            except RuntimeError as exc:
                raise AssertionError(f'{exc}\nserver log:\n{server.output()}')
    return _results[impl, mode]


def mismatches(expected, actual):
    return {step: {'expected': want, 'actual': actual.get(step, '<missing>')}
            for step, want in expected.items() if actual.get(step) != want}


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('impl', IMPLS)
def test_js_client_scenario(impl, mode):
    results = scenario_results(impl, mode)
    assert 'fatal' not in results, results['fatal']
    for transport, expected in EXPECTED.items():
        assert mismatches(expected, results[transport]) == {}, transport


@pytest.mark.parametrize('mode', MODES)
def test_js_client_differential(mode):
    reference = scenario_results('flask_socketio', mode)
    ours = scenario_results('flask_socketio_fast', mode)
    for transport in EXPECTED:
        assert mismatches(reference[transport], ours[transport]) == {}, \
            transport
