"""One WebSocket connection's buffers, writer, bounds and close handshake,
in-process over a socketpair (threading backend), plus the engine pieces
that need no network: timers, the rate-limited log, the handshake."""

import logging
import socket
import threading
import time
import types

import engineio
import pytest

from flask_socketio_fast._speedups import wsframe_py
from flask_socketio_fast.engine import engine_server_class, handshake
from flask_socketio_fast.engine.backends import ThreadingBackend
from flask_socketio_fast.engine.ratelog import RateLimitedLog
from flask_socketio_fast.engine.server import EngineServer
from flask_socketio_fast.engine.timers import Timers
from flask_socketio_fast.engine.wsconn import (CLOSED, CLOSING, OPEN,
                                               WebSocketConnection)

pytestmark = pytest.mark.timeout(60)


class FakeEngine:
    """What a connection needs from the engine server."""

    def __init__(self, **overrides):
        self.max_http_buffer_size = 1000
        self.websocket_max_pending_bytes = 1 << 20
        self.websocket_max_pending_frames = 1000
        self.websocket_close_timeout = 2.0
        self.ping_interval = 5
        self.ping_timeout = 5
        self.__dict__.update(overrides)
        self._pending = __import__('collections').deque()
        self._timers = Timers(self)

    def create_event(self):
        return threading.Event()

    def start_background_task(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        return t

    def flush(self):
        while self._pending:
            self._pending.popleft().flush()


def use_twin(request, monkeypatch, name):
    """Put one twin of ``_speedups.<name>`` in place for this test (the
    ``c`` param fails, not skips, when the compiled module is missing,
    unless this is a pure-Python run)."""
    import importlib
    from flask_socketio_fast import _speedups
    suffix = '_c' if request.param == 'c' else '_py'
    try:
        mod = importlib.import_module(
            f'flask_socketio_fast._speedups.{name}{suffix}')
    except ImportError as exc:
        if suffix == '_c' and _speedups.IMPLEMENTATION != 'c':
            pytest.skip(f'pure-Python run: {exc}')
        raise
    monkeypatch.setattr(_speedups, name, mod)
    return mod


@pytest.fixture(autouse=True, params=['py', 'c'])
def outbox_twin(request, monkeypatch):
    """Every connection here, and the engine's flush, on one twin of
    ``_speedups.outbox``."""
    return use_twin(request, monkeypatch, 'outbox')


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    server.setblocking(False)
    yield server, client
    for s in (server, client):
        s.close()


def conn_for(sock, **overrides):
    engine = FakeEngine(**overrides)
    return WebSocketConnection(sock, ThreadingBackend(), engine), engine


def read_frames(client, count, timeout=10):
    parser = wsframe_py.FrameParser(None, require_mask=False)
    events = []
    client.settimeout(timeout)
    while len(events) < count:
        data = client.recv(1 << 20)
        if not data:
            break
        events += parser.feed(data)
    return events


def test_sends_arrive_in_order_from_many_threads(pair):
    server, client = pair
    conn, _ = conn_for(server)
    frames = {t: [wsframe_py.build_text_frame(f'{t}:{i}'.encode())
                  for i in range(200)] for t in range(4)}

    def sender(t):
        for f in frames[t]:
            assert conn.send(f)

    threads = [threading.Thread(target=sender, args=(t,)) for t in frames]
    for t in threads:
        t.start()
    events = read_frames(client, 800)
    for t in threads:
        t.join()
    seen = {t: [] for t in frames}
    for _, text in events:
        t, i = text.split(':')
        seen[int(t)].append(int(i))
    assert seen == {t: list(range(200)) for t in frames}


def test_flush_soon_coalesces_and_writes(pair):
    server, client = pair
    eio = EngineServer(async_mode='threading')
    try:
        conn = WebSocketConnection(server, eio._backend, eio)
        for i in range(30):
            conn.append(wsframe_py.build_text_frame(b'%d' % i))
            eio.flush_soon()
        assert [t for _, t in read_frames(client, 30)] == \
            [str(i) for i in range(30)]
    finally:
        eio.shutdown()


def test_batch_flush_keeps_every_stream_in_order():
    # four connections with small socket buffers, so batches often write
    # only part of a buffer and hand the rest to a writer; meanwhile one
    # thread broadcasts (append + batch flush on the flusher thread) and
    # another sends directly on every connection
    eio = EngineServer(async_mode='threading')
    pairs = [socket.socketpair() for _ in range(4)]
    try:
        conns = []
        for server, client in pairs:
            server.setblocking(False)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            conns.append(WebSocketConnection(server, eio._backend, eio))
        count = 400
        payload = b'p' * 200

        def broadcaster():
            for i in range(count):
                frame = wsframe_py.build_text_frame(b'b:%d:' % i + payload)
                for conn in conns:
                    conn.append(frame)
                eio.flush_soon()

        def direct():
            for i in range(count):
                for conn in conns:
                    assert conn.send(wsframe_py.build_text_frame(b'd:%d' % i))

        results = [None] * len(pairs)

        def reader(n):
            results[n] = read_frames(pairs[n][1], 2 * count, timeout=20)

        threads = [threading.Thread(target=reader, args=(n,))
                   for n in range(len(pairs))]
        threads += [threading.Thread(target=broadcaster),
                    threading.Thread(target=direct)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for events in results:
            seen = {'b': [], 'd': []}
            for _, text in events:
                kind, i = text.split(':')[:2]
                seen[kind].append(int(i))
            assert seen == {'b': list(range(count)), 'd': list(range(count))}
        assert not any(conn.in_batch for conn in conns)
    finally:
        eio.shutdown()
        for server, client in pairs:
            server.close()
            client.close()


def test_batch_flush_hands_a_dead_peer_to_abort():
    eio = EngineServer(async_mode='threading')
    server, client = socket.socketpair()
    try:
        server.setblocking(False)
        conn = WebSocketConnection(server, eio._backend, eio)
        client.close()
        conn.append(wsframe_py.build_text_frame(b'lost'))
        eio.flush()
        assert conn.state == CLOSED and not conn.in_batch
        assert conn.pending_bytes() == 0
    finally:
        eio.shutdown()
        server.close()


def test_append_waits_for_flush_and_leaves_in_one_piece(pair):
    server, client = pair
    conn, engine = conn_for(server)
    for i in range(50):
        conn.append(wsframe_py.build_text_frame(b'%d' % i))
    assert list(engine._pending) == [conn.outbox]     # listed once
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(10)                       # nothing written yet
    engine.flush()
    events = read_frames(client, 50)
    assert [t for _, t in events] == [str(i) for i in range(50)]
    assert conn.pending_bytes() == 0


def test_a_send_after_appends_keeps_the_order(pair):
    server, client = pair
    conn, engine = conn_for(server)
    conn.append(wsframe_py.build_text_frame(b'first'))
    conn.send(wsframe_py.build_text_frame(b'second'))
    engine.flush()
    assert [t for _, t in read_frames(client, 2)] == ['first', 'second']


def test_what_the_socket_does_not_take_is_drained_by_a_writer(pair):
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    conn, _ = conn_for(server, websocket_max_pending_bytes=10 << 20)
    big = wsframe_py.build_binary_frame(b'z' * 300_000)
    conn.send(big)
    conn.send(wsframe_py.build_text_frame(b'after'))
    assert conn.writer is not None            # a writer took over
    events = read_frames(client, 2)
    assert events == [(2, b'z' * 300_000), (1, 'after')]
    deadline = time.monotonic() + 5
    while conn.writer is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert conn.writer is None                # and ended when done


def test_overflowing_the_bound_cuts_the_connection_off(pair):
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn, _ = conn_for(server, websocket_max_pending_bytes=100_000)
    frame = wsframe_py.build_binary_frame(b'q' * 10_000)
    for _ in range(100):
        if not conn.send(frame):
            break
    assert conn.state == CLOSED
    assert 'outbound buffer over 100000 bytes' in conn.abort_reason
    assert conn.pending_bytes() == 0
    assert not conn.send(frame)


def test_too_many_frames_also_cuts_off(pair):
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn, engine = conn_for(server, websocket_max_pending_frames=10,
                            websocket_max_pending_bytes=10 << 20)
    # a client that does not read: the socket fills, a writer waits
    conn.send(wsframe_py.build_binary_frame(b'f' * 200_000))
    assert conn.writer is not None
    for _ in range(11):
        conn.append(b'\x81\x00')
    assert conn.state == CLOSED
    assert 'frames' in conn.abort_reason


def test_appends_to_a_reading_client_never_reach_the_bound(pair):
    server, client = pair
    conn, engine = conn_for(server, websocket_max_pending_frames=10)
    # more frames than the bound before any flush: written early instead
    for i in range(25):
        conn.append(wsframe_py.build_text_frame(b'%d' % i))
    engine.flush()
    assert conn.state == OPEN
    assert [t for _, t in read_frames(client, 25)] == \
        [str(i) for i in range(25)]


def test_close_handshake_and_finish(pair):
    server, client = pair
    conn, _ = conn_for(server)
    conn.send(wsframe_py.build_text_frame(b'last words'))
    assert conn.close(1000, 'bye')
    assert conn.state == CLOSING
    assert not conn.send(wsframe_py.build_text_frame(b'too late'))
    events = read_frames(client, 2)
    assert events == [(1, 'last words'), (8, (1000, 'bye'))]
    # our side half-closed after the close frame
    client.settimeout(5)
    assert client.recv(10) == b''
    client.sendall(wsframe_py.build_masked_frame(8, b'\x03\xe8', b'abcd'))
    assert conn.receive(5) == [(8, (1000, ''))]
    conn.finish(linger=False)
    assert conn.state == CLOSED
    assert conn.engine._timers.pending() == 0   # deadline cancelled


def test_close_deadline_shuts_a_silent_peer_out(pair):
    server, client = pair
    conn, _ = conn_for(server, websocket_close_timeout=0.2)
    conn.close(1001)
    # the peer never answers: the deadline ends the stream for the reader
    assert conn.receive(5) is None
    assert conn.state == CLOSED
    assert conn.abort_reason == 'close handshake timed out'


def test_receive_reports_frames_eof_and_timeouts(pair):
    server, client = pair
    conn, _ = conn_for(server)
    frame = wsframe_py.build_masked_frame(1, b'4hello', b'abcd')
    client.sendall(frame[:3])
    client.sendall(frame[3:] + wsframe_py.build_masked_frame(9, b'p',
                                                              b'abcd'))
    events = []
    while len(events) < 2:
        events += conn.receive(5)
    assert events == [(1, '4hello'), (9, b'p')]
    with pytest.raises(TimeoutError):
        conn.receive(0.05)
    client.shutdown(socket.SHUT_WR)
    assert conn.receive(5) is None


def test_unread_events_come_back_first(pair):
    server, client = pair
    conn, _ = conn_for(server)
    conn.unread([(1, 'a'), (1, 'b')])
    assert conn.receive(1) == [(1, 'a'), (1, 'b')]


def test_inbound_size_limit_is_the_engine_buffer_size(pair):
    server, client = pair
    conn, _ = conn_for(server, max_http_buffer_size=10)
    client.sendall(wsframe_py.build_masked_frame(1, b'x' * 11, b'abcd'))
    with pytest.raises(Exception) as info:
        conn.receive(5)
    assert info.value.code == 1009


# -- timers, logging, handshake, engine selection ----------------------------

def test_timers_run_in_order_and_cancel():
    engine = FakeEngine()
    timers = engine._timers
    ran = []
    done = threading.Event()
    timers.call_later(0.15, ran.append, 'late')
    cancelled = timers.call_later(0.05, ran.append, 'cancelled')
    timers.call_later(0.01, ran.append, 'early')
    timers.call_later(0.2, done.set)
    timers.cancel(cancelled)
    assert done.wait(5)
    assert ran == ['early', 'late']
    timers.stop()


def test_rate_limited_log_keeps_one_traceback_and_counts(caplog):
    log = RateLimitedLog(logging.getLogger('ratelog-test'), burst=3,
                         window=60)
    with caplog.at_level(logging.INFO, logger='ratelog-test'):
        for i in range(1000):
            try:
                raise ValueError(i)
            except ValueError:
                log.log('k', logging.ERROR, 'bad packet %d', i,
                        exc_info=True)
    records = [r for r in caplog.records if r.name == 'ratelog-test']
    assert [r.getMessage() for r in records] == [
        'bad packet 0', 'bad packet 1', 'bad packet 2']
    assert records[0].exc_info and not records[1].exc_info


def test_handshake_accept_key_and_refusals():
    # the example of RFC 6455 section 1.3
    assert handshake.accept_key('dGhlIHNhbXBsZSBub25jZQ==') == \
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    good = {'REQUEST_METHOD': 'GET', 'HTTP_UPGRADE': 'websocket',
            'HTTP_CONNECTION': 'keep-alive, Upgrade',
            'HTTP_SEC_WEBSOCKET_VERSION': '13',
            'HTTP_SEC_WEBSOCKET_KEY': 'dGhlIHNhbXBsZSBub25jZQ=='}
    assert handshake.check_request(good) == 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    for change, status in [({'REQUEST_METHOD': 'POST'}, '400'),
                           ({'HTTP_UPGRADE': 'h2c'}, '400'),
                           ({'HTTP_CONNECTION': 'close'}, '400'),
                           ({'HTTP_SEC_WEBSOCKET_VERSION': '8'}, '426'),
                           ({'HTTP_SEC_WEBSOCKET_KEY': 'short'}, '400'),
                           ({'HTTP_SEC_WEBSOCKET_KEY': '!' * 24}, '400')]:
        with pytest.raises(handshake.HandshakeError) as info:
            handshake.check_request({**good, **change})
        assert info.value.status.startswith(status)


@pytest.mark.parametrize('offer,response', [
    ('permessage-deflate', 'permessage-deflate'),
    ('permessage-deflate; client_max_window_bits',
     'permessage-deflate'),
    ('permessage-deflate; server_no_context_takeover; '
     'client_no_context_takeover',
     'permessage-deflate; server_no_context_takeover; '
     'client_no_context_takeover'),
    ('permessage-deflate; server_max_window_bits=10',
     'permessage-deflate; server_max_window_bits=10'),
    ('permessage-deflate; server_max_window_bits=8, permessage-deflate',
     'permessage-deflate'),
    ('x-webkit-deflate-frame', None),
    ('permessage-deflate; unknown=1', None),
])
def test_deflate_negotiation(offer, response):
    params = handshake.negotiate_deflate(offer)
    assert (params.response if params else None) == response


def test_engine_class_is_ours_here_and_stock_on_request(monkeypatch):
    cls, reason = engine_server_class()
    assert cls is EngineServer and reason is None
    monkeypatch.setenv('FLASK_SOCKETIO_FAST_STOCK_ENGINE', '1')
    cls, reason = engine_server_class()
    assert cls is engineio.Server
    assert 'FLASK_SOCKETIO_FAST_STOCK_ENGINE' in reason


def test_engine_options_and_frame_sink_of_a_polling_socket():
    eio = EngineServer(async_mode='threading', websocket_max_pending_bytes=5,
                       max_polling_packets=3)
    assert eio.websocket_max_pending_bytes == 5
    assert eio.max_polling_packets == 3
    assert eio.websocket_compression is False
    sock = eio.socket_class(eio, 'sid1')
    assert sock.frame_sink is None
    # flush() with nothing pending, and batch() flushing on exit
    eio.flush()
    calls = []
    # (an object that is not an outbox is flushed on its own, in batches
    # too)
    eio._pending.append(types.SimpleNamespace(
        flush=lambda: calls.append(1)))
    with eio.batch():
        pass
    assert calls == [1]
    eio.shutdown()


def test_service_task_checks_every_client_in_slices_and_drops_closed_ones():
    eio = EngineServer(async_mode='threading', ping_timeout=1)
    eio.service_task_step = 0.05
    checked = []

    class FakeSocket:
        def __init__(self, sid, closed=False, closing=False):
            self.sid, self.closed, self.closing = sid, closed, closing

        def check_ping_timeout(self):
            checked.append(self.sid)
            return True

    for n in range(60):
        sid = f's{n}'
        eio.sockets[sid] = FakeSocket(sid, closed=n % 10 == 0,
                                      closing=n % 10 == 1)
    task = eio.service_task_handle = eio.start_background_task(
        eio._service_task)
    try:
        deadline = time.monotonic() + 10
        while len(set(checked)) < 48 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        eio.shutdown()              # sets the task's event and joins it
    assert eio.service_task_handle is None and not task.is_alive()
    live = {f's{n}' for n in range(60) if n % 10 not in (0, 1)}
    assert set(checked) == live
    # closed ones are dropped, closing ones kept (and not checked)
    assert set(eio.sockets) == live | {f's{n}' for n in range(1, 60, 10)}
    # one cycle of 60 clients in 1 s at 0.05 s steps: 3 per wake-up, so
    # the first 20 wake-ups covered everyone once
    assert len(checked) >= 48
