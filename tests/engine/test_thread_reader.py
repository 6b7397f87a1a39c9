"""The threading-mode WebSocket hub (engine/thread_reader.py), over real
sockets: one thread reads every connection and runs event handlers itself;
a handler that blocks (sleep, ``call()``) is left behind by a new hub
thread and its kind of event goes to the pool from then on; connect
handlers and other messages that may block run on a stint of their own;
each client's events are handled in order; nothing outlives its session."""

import sys
import threading
import time
from pathlib import Path

import pytest
import socketio as sio_client
from flask import Flask, request
from werkzeug.serving import make_server

from flask_socketio_fast import SocketIO, emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from ordered_client import ordered_client  # noqa: E402

pytestmark = pytest.mark.timeout(60)


class _Served:
    def __init__(self, **options):
        self.app = Flask(__name__)
        self.socketio = SocketIO(self.app, async_mode='threading', **options)
        self.seen = {}
        self.connected = threading.Event()
        sio = self.socketio

        @sio.on('connect')
        def connect(auth):
            if auth and auth.get('slow'):
                time.sleep(auth['slow'])

        self.slow_disconnect = 0

        @sio.on('disconnect')
        def disconnect(*reason):
            time.sleep(self.slow_disconnect)

        @sio.on('echo')
        def echo(data):
            return data

        @sio.on('seq')
        def seq(i):
            self.seen.setdefault(request.sid, []).append(i)
            return i

        @sio.on('slow')
        def slow(seconds):
            time.sleep(seconds)
            return 'slept'

        @sio.on('ask')
        def ask(question):
            return sio.call('question', question, to=request.sid, timeout=10)

        @sio.on('shout')
        def shout(text):
            emit('heard', text, broadcast=True)

        self.server = make_server('127.0.0.1', 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def engine(self):
        return self.socketio.server.eio

    @property
    def hub(self):
        return self.engine.thread_reader_hub

    def client(self, ordered=False, **connect):
        # (ordered: python-socketio's client handles each message on a
        # thread of its own, which can swap two acks that came together)
        c = ordered_client() if ordered else sio_client.Client()
        c.connect(f'http://127.0.0.1:{self.port}', wait_timeout=10,
                  **connect)
        return c

    def close(self):
        self.server.shutdown()


@pytest.fixture
def served():
    servers = []

    def make(**options):
        s = _Served(**options)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def _ws(served_app, **connect):
    return served_app.client(transports=['websocket'], **connect)


def test_fast_path_says_which_reader(served):
    on = served()
    assert 'one hub thread reading' in on.socketio.server.fast_paths['engine']
    assert on.engine.hub_events is not None
    off = served(websocket_reader_hub=False)
    assert 'hub thread' not in off.socketio.server.fast_paths['engine']
    inline = served(async_handlers=False)
    assert 'hub thread' not in inline.socketio.server.fast_paths['engine']
    assert inline.engine.hub_events is None


@pytest.mark.parametrize('options', [{}, {'websocket_reader_hub': False}])
def test_echo_over_websocket_and_upgrade(served, options):
    s = served(**options)
    a = _ws(s)
    b = s.client()          # polling, then the upgrade
    try:
        for i in range(20):
            assert a.call('echo', {'i': i}) == {'i': i}
            assert b.call('echo', [i, 'x']) == [i, 'x']
        assert b.transport() == 'websocket'
    finally:
        a.disconnect()
        b.disconnect()
    if not options:
        assert s.engine.hub_driven_sessions == 2


def test_blocking_handler_is_left_behind(served):
    s = served()
    a = _ws(s)
    b = _ws(s)
    try:
        assert a.call('echo', 'warm') == 'warm'
        done = []
        t0 = time.monotonic()
        a.emit('slow', 1.0, callback=lambda r: done.append(
            (r, time.monotonic() - t0)))
        time.sleep(0.05)
        # another client, and a later event of the same client, go on
        assert b.call('echo', 'other', timeout=5) == 'other'
        assert a.call('echo', 'later', timeout=5) == 'later'
        assert time.monotonic() - t0 < 0.9
        deadline = time.monotonic() + 5
        while not done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done and done[0][0] == 'slept'
        hub = s.hub
        assert hub.takeovers == 1
        assert ('/', 'slow') in hub.blocking
        # that kind of event now goes to the pool: no second takeover
        assert a.call('slow', 0.2, timeout=5) == 'slept'
        assert hub.takeovers == 1
        assert b.call('echo', 'still', timeout=5) == 'still'
    finally:
        a.disconnect()
        b.disconnect()


def test_call_from_a_handler(served):
    # the handler waits for the client's answer, which only a reader can
    # read: the hub must be handed to a new thread for it to arrive
    s = served()
    a = _ws(s)
    a.on('question', lambda q: q + '!')
    try:
        assert a.call('ask', 'why', timeout=10) == 'why!'
        assert a.call('ask', 'again', timeout=10) == 'again!'
    finally:
        a.disconnect()


def test_blocking_connect_handler_holds_up_only_its_client(served):
    s = served()
    b = _ws(s)
    try:
        slow = []
        t = threading.Thread(target=lambda: slow.append(
            _ws(s, auth={'slow': 1.0})))
        t0 = time.monotonic()
        t.start()
        time.sleep(0.1)
        for i in range(5):
            assert b.call('echo', i, timeout=5) == i
        assert time.monotonic() - t0 < 0.9
        t.join(10)
        assert slow and slow[0].call('echo', 'late') == 'late'
        slow[0].disconnect()
    finally:
        b.disconnect()


def test_each_clients_events_in_order(served):
    s = served()
    clients = [_ws(s, ordered=True) for _ in range(10)]
    try:
        acks = {i: [] for i in range(len(clients))}
        for n in range(100):
            for i, c in enumerate(clients):
                c.emit('seq', n, callback=acks[i].append)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                any(len(a) < 100 for a in acks.values()):
            time.sleep(0.02)
        for i, c in enumerate(clients):
            assert sorted(acks[i]) == list(range(100))
            assert sorted(s.seen[c.get_sid()]) == list(range(100))
        if not s.hub.takeovers:
            # on the hub thread, in wire order (unless the watchdog found
            # the hub kept from the GIL for a whole interval, which the
            # clients in this process can make it, and took it over: the
            # events after the one in progress then go on before it ends,
            # as with python-socketio's thread per event)
            for i, c in enumerate(clients):
                assert acks[i] == list(range(100))
                assert s.seen[c.get_sid()] == list(range(100))
    finally:
        for c in clients:
            c.disconnect()


def test_broadcast_from_a_hub_handler(served):
    s = served()
    clients = [_ws(s) for _ in range(5)]
    heard = {i: [] for i in range(len(clients))}
    for i, c in enumerate(clients):
        c.on('heard', heard[i].append)
    try:
        for n in range(20):
            clients[n % 5].emit('shout', n)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                any(len(h) < 20 for h in heard.values()):
            time.sleep(0.02)
        for h in heard.values():
            assert sorted(h) == list(range(20))
    finally:
        for c in clients:
            c.disconnect()


def test_sessions_end_and_leave_nothing(served):
    s = served()
    first = _ws(s)
    assert first.call('echo', 1) == 1
    first.disconnect()
    time.sleep(0.3)
    for _ in range(3):
        clients = [_ws(s) for _ in range(10)]
        for c in clients:
            assert c.call('echo', 'x') == 'x'
        for c in clients:
            c.disconnect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            (s.hub.connections or s.engine.sockets):
        time.sleep(0.05)
    assert s.hub.connections == 0
    assert s.engine.sockets == {}


def _raw_ws(port):
    import websocket
    ws = websocket.create_connection(
        f'ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket',
        timeout=10)
    assert ws.recv().startswith('0{')
    ws.send('40')
    assert ws.recv().startswith('40{')
    return ws


def _frame(text):
    import websocket
    return websocket.ABNF.create_frame(
        text, websocket.ABNF.OPCODE_TEXT).format()


def test_end_of_stream_that_comes_with_the_last_data(served):
    # data and FIN in the kernel before the hub reads: one edge for both;
    # the session must still end at once, not at the ping timeout
    import socket as socket_module
    s = served()
    for _ in range(5):
        ws = _raw_ws(s.port)
        sock = ws.sock
        sock.sendall(_frame('42["seq",1]') + _frame('42["seq",2]'))
        sock.shutdown(socket_module.SHUT_WR)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and s.engine.sockets:
            time.sleep(0.01)
        assert s.engine.sockets == {}
        ws.close()


def test_odd_event_names_do_not_upset_the_watchdog(served):
    # an event "name" that is not a string goes the pool's way; the
    # watchdog still hands the hub over for a handler that blocks later
    s = served()
    ws = _raw_ws(s.port)
    try:
        for text in ('42[[1]]', '42[{}]', '421[null]', '42[1.5]'):
            ws.send(text)
        a = _ws(s)
        b = _ws(s)
        done = []
        a.emit('slow', 0.5, callback=done.append)
        time.sleep(0.05)
        t0 = time.monotonic()
        assert b.call('echo', 'on', timeout=5) == 'on'
        assert time.monotonic() - t0 < 0.4
        deadline = time.monotonic() + 5
        while not done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done == ['slept']
        assert s.hub.takeovers >= 1
        a.disconnect()
        b.disconnect()
    finally:
        ws.close()


def test_a_refused_packet_with_a_slow_disconnect_handler(served):
    # the strictness rules refuse the packet and end that session on the
    # hub, which runs python-socketio's disconnect handling and the app's
    # (slow) disconnect handler: the watchdog hands the hub over for it
    s = served()
    s.slow_disconnect = 1.0
    b = _ws(s)
    ws = _raw_ws(s.port)
    try:
        ws.send('42["echo",NaN]')
        time.sleep(0.05)
        t0 = time.monotonic()
        for i in range(3):
            assert b.call('echo', i, timeout=5) == i
        assert time.monotonic() - t0 < 0.5
        assert s.hub.takeovers >= 1
    finally:
        ws.close()
        s.slow_disconnect = 0
        b.disconnect()
