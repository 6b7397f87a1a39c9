"""Engine.IO keep-alive and size limits over real sockets.

On a server with ``ping_interval=1, ping_timeout=2`` the handshake advertises
them, a client that answers pings stays connected and one that does not is
dropped with reason "ping timeout". On one with
``max_http_buffer_size=100000`` (default pings, so a slow close cannot turn
into a ping timeout) a message over the limit ends the connection the same
way on both implementations.
"""

import json

import pytest
import websocket

from .conftest import REFERENCE, UPSTREAM_BUG
from .realsock_clients import OK, TIMEOUT, Recorder, server_reasons

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(90)]

LIMIT = 100000


def server_variant(test_name):
    """Which server variant a test here runs on (see conftest)."""
    return 'small-buffer' if 'oversized' in test_name else 'tight'


@pytest.fixture(params=['websocket', 'upgrade', 'polling'])
def transport(request):
    return request.param


def scenario_pings(url):
    """Clients on each transport answer pings (python-socketio does) while a
    bare WebSocket client, at the same time, never does."""
    keepers = {t: Recorder(url, t).connect(auth=OK)
               for t in ('websocket', 'upgrade', 'polling')}
    try:
        obs = _unanswered_pings(url)
        for name, client in keepers.items():
            client.wait_for_pings(2)
            obs[name + ' ack after pings'] = client.ack('echo', 'alive')
            obs[name + ' disconnects'] = client.received('disconnect')
    finally:
        for client in keepers.values():
            client.disconnect()
    return obs


def _unanswered_pings(url):
    ws = websocket.create_connection(
        url.replace('http://', 'ws://') +
        '/socket.io/?EIO=4&transport=websocket', timeout=TIMEOUT)
    try:
        opening = ws.recv()
        handshake = json.loads(opening[1:])
        ws.send('40')
        replies = [ws.recv(), ws.recv()]
        sid = [r for r in replies if r.startswith('40{')][0] \
            .split('"sid":"')[1].split('"')[0]
        frames = []
        while True:
            try:
                frame = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                frames.append('<closed>')
                break
            if not frame:
                frames.append('<closed>')
                break
            if not frames:
                # traffic that is not a pong: python-engineio also drops a
                # WebSocket idle for ping_interval + ping_timeout (reason
                # "transport close"), which would race the ping timeout
                ws.send('42["no_ack",1]')
            frames.append(frame)
    finally:
        ws.close()
    return {
        'open': opening[0],
        'handshake': {k: v for k, v in handshake.items() if k != 'sid'},
        'frames': frames,
        # python-engineio's reason races (see the comment above): kept out
        # of the differential comparison and asserted per implementation
        UPSTREAM_BUG + 'server reasons': server_reasons(url, sid),
    }


def scenario_oversized(url, transport):
    c = Recorder(url, transport).connect(auth=OK)
    sid = c.sid()
    try:
        under = c.try_ack('echo', 'u' * (LIMIT - 10000))
        over = c.try_ack('echo', 'o' * (LIMIT + 50000))
        client_reasons = c.received('disconnect')
        if transport == 'polling' and client_reasons in (
                [['server disconnect']], [['transport error']]):
            # the POST's 400 and the CLOSE on the pending GET race in the
            # client: whichever it sees first names the reason
            client_reasons = 'server disconnect|transport error'
        return {
            'under the limit': len(under[0]) if under else under,
            'over the limit': over,
            'client reasons': client_reasons,
            'server reasons': server_reasons(url, sid),
        }
    finally:
        c.disconnect()


def test_pings(differential, impl):
    obs = differential(scenario_pings)
    assert obs['open'] == '0'
    assert obs['handshake'] == {'upgrades': [], 'pingInterval': 1000,
                                'pingTimeout': 2000, 'maxPayload': LIMIT}
    # pings, then the server gives up on the client that never answers
    assert obs['frames'][0] == '2'
    assert set(obs['frames'][:-1]) == {'2'}
    assert obs['frames'][-1] == '<closed>'
    reasons = obs[UPSTREAM_BUG + 'server reasons']
    if impl == REFERENCE:
        # on a busy machine python-engineio's idle-read timeout can end the
        # connection just before its ping timeout does
        assert reasons in ([['/', 'ping timeout']],
                           [['/', 'transport close']])
    else:
        assert reasons == [['/', 'ping timeout']]
    for name in ('websocket', 'upgrade', 'polling'):
        assert obs[name + ' ack after pings'] == ['alive']
        assert obs[name + ' disconnects'] == []


def test_oversized_message(differential, transport):
    obs = differential(scenario_oversized, transport)
    assert obs['under the limit'] == LIMIT - 10000
    assert obs['over the limit'] is None  # disconnected, never acked
    # what the reference does with python-engineio 4.15 (the differential
    # check holds flask_socketio_fast to the same)
    if transport == 'polling':
        assert obs['client reasons'] == 'server disconnect|transport error'
        assert obs['server reasons'] == [['/', 'server disconnect']]
    else:
        assert obs['client reasons'] == [['transport error']]
        assert obs['server reasons'] == [['/', 'transport close']]
