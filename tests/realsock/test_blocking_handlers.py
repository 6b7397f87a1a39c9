"""Handlers that block, over a real WebSocket, in every async mode.

What ``async_handlers=True`` (the default) promises: an event handler that
blocks (here ``socketio.sleep``) holds up nobody, not even later events of
the same client; a connect handler that blocks holds up that namespace's
later events, which python-socketio only handles once it is connected.
Greenlet modes serve connections from hub callbacks and run a handler on
the worker that read its event (engine/green_reader.py), handing the
connection to another worker when the handler blocks; threading mode runs
handlers on one hub thread that a watchdog replaces when a handler blocks
(engine/thread_reader.py).  These scenarios pin that against the
reference, with the packets arriving one per read and several in one
read.
"""

import pytest
import requests
import websocket

from .conftest import REFERENCE
from .realsock_clients import TIMEOUT

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(90)]


def _open(url):
    ws = websocket.create_connection(
        url.replace('http://', 'ws://') +
        '/socket.io/?EIO=4&transport=websocket', timeout=TIMEOUT)
    assert ws.recv().startswith('0{')
    return ws


def _send(ws, packets, together):
    if not together:
        for text in packets:
            ws.send(text)
        return
    # one write, so that the server reads them all at once
    ws.sock.sendall(b''.join(
        websocket.ABNF.create_frame(text, websocket.ABNF.OPCODE_TEXT)
        .format() for text in packets))


def _acks(ws, count):
    """The next ``count`` acks (packets 43...), in arrival order."""
    got = []
    while len(got) < count:
        frame = ws.recv()
        if frame == '2':
            ws.send('3')
        elif frame.startswith('43'):
            got.append(frame)
    return got


def scenario_blocking_handlers(url, together):
    obs = {}
    ws = _open(url)
    try:
        ws.send('40{"token":"ok"}')
        while not ws.recv().startswith('40{'):
            pass
        _send(ws, ['420["sleep_ack",0.5]', '421["echo","later"]'], together)
        obs['event behind a blocked handler'] = _acks(ws, 2)

        _send(ws, ['40/slowconnect,', '42/slowconnect,0["in_ready"]'],
              together)
        obs['event behind a blocked connect'] = _acks(ws, 1)
        ws.send('41/slowconnect,')

        _send(ws, ['40/slowconnect,', '42/slowconnect,1["sleep_ack",0.5]',
                   '42/slowconnect,2["in_ready"]', '421["echo","root"]'],
              together)
        acks = _acks(ws, 3)
        # (the two quick ones may finish in either order with threads)
        obs['blocked connect, then a blocked handler'] = [
            sorted(acks[:2]), acks[2]]
    finally:
        ws.close()
    return obs


@pytest.mark.parametrize('together', [False, True],
                         ids=['one per read', 'one read'])
def test_blocked_handlers(differential, together, app_servers, impl, mode):
    obs = differential(scenario_blocking_handlers, together)
    if impl != REFERENCE:
        info = requests.get(app_servers(impl, mode).url + '/info',
                            timeout=TIMEOUT).json()
        # the path under test: hub-driven readers (greenlets) or the hub
        # thread (threading, engine/thread_reader.py)
        assert info['hub_driven_sessions'], info
    assert obs == {
        'event behind a blocked handler': ['431["later"]',
                                           '430["slept 0.5"]'],
        'event behind a blocked connect': ['43/slowconnect,0[[true,true]]'],
        # the connect is done before either event runs; the sleeping one
        # then holds up neither the next event nor another namespace's
        'blocked connect, then a blocked handler': [
            ['43/slowconnect,2[[true,true]]', '431["root"]'],
            '43/slowconnect,1["slept 0.5"]'],
    }
