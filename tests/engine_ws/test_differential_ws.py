"""The same well-behaved scenario against flask_socketio (stock engine)
and flask_socketio_fast (our engine), per async mode: what the clients see
must be equal."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from ordered_client import ordered_client  # noqa: E402

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(120)]

# plain pywsgi without gevent-websocket's handler is not a setup the stock
# engine serves when gevent-websocket is installed
DIFF_VARIANTS = ['threading', 'eventlet', 'gevent-websocket']


def _wait(pred, timeout=15):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)


def scenario(url):
    obs = {}
    clients = []
    try:
        for transports in (['websocket'], ['polling', 'websocket'],
                           ['polling']):
            # (python-socketio's client handles each message on a thread of
            # its own: this one keeps their order, for both servers)
            c = ordered_client(reconnection=False)
            got = {'item': [], 'heard': []}
            c.on('item', got['item'].append)
            c.on('heard', got['heard'].append)
            c.connect(url, transports=transports, wait_timeout=10)
            clients.append((c, got, '+'.join(transports)))
        for c, got, name in clients:
            obs[name + ' transport'] = c.transport()
            obs[name + ' echo'] = c.call(
                'echo', ('text ✓', {'n': [1, 2.5, None]}, b'\x00\xff'),
                timeout=10)
            obs[name + ' big'] = len(c.call('echo', 'y' * 70000,
                                            timeout=10)[0])
            n = 12 if name == 'polling' else 200
            c.emit('burst', n)
            _wait(lambda: len(got['item']) >= n)
            obs[name + ' burst'] = got['item'] == list(range(n))
        sender = clients[0][0]
        sender.emit('shout_many', 12)
        for c, got, name in clients[1:]:
            _wait(lambda: len(got['heard']) >= 12)
            obs[name + ' heard'] = list(got['heard'])
        obs['sender heard'] = clients[0][1]['heard']
    finally:
        for c, _, _ in clients:
            c.disconnect()
    return obs


@pytest.mark.parametrize('variant', DIFF_VARIANTS)
def test_clients_see_the_same(ws_servers, variant):
    reference = scenario(ws_servers(variant, impl='flask_socketio').url)
    ours = scenario(ws_servers(variant).url)
    assert ours == reference
    assert ours['websocket transport'] == 'websocket'
    assert ours['polling+websocket heard'] == list(range(12))
