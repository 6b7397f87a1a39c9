"""Hostile and faulty clients against our engine, in every async mode:
rejected polling requests answered at once, bursts of polling packets,
a client that stops reading, floods of garbage, a corpus of mutated
traffic -- while a well-behaved client keeps being served, and with no
thread, descriptor or socket left behind.

``ENGINE_WS_CORPUS=<n>`` sets how many mutated streams the corpus test
sends per mode (default 30; ``make test-hostile`` runs 500).  The corpus
test records what it saw per mode (streams sent, server RSS, threads and
descriptors before and after, the well-behaved client's slowest answer) in
``.tmp/hostile-corpus.json`` (``ENGINE_WS_SUMMARY`` to write elsewhere) and
prints it (shown with ``-s``); those figures are recorded, not asserted.
"""

import json
import os
import random
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from flask_socketio_fast._speedups import wsframe_py as wsframe
from flask_socketio_fast._speedups.wsframe_errors import FrameError

from .rawclient import Closed, RawWebSocket

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(240)]

PENDING_BOUND = 500_000
CORPUS = int(os.environ.get('ENGINE_WS_CORPUS', '30'))
SUMMARY = Path(os.environ.get('ENGINE_WS_SUMMARY') or
               Path(__file__).resolve().parents[2] / '.tmp' /
               'hostile-corpus.json')


@pytest.fixture
def hserver(ws_servers, variant):
    return ws_servers(variant, max_pending_bytes=PENDING_BOUND)


def polling_session(url):
    """Open a polling session and connect the default namespace."""
    base = url + '/socket.io/?EIO=4&transport=polling'
    r = requests.get(base, timeout=10)
    assert r.status_code == 200
    sid = json.loads(r.text[1:])['sid']
    url = f'{base}&sid={sid}'
    assert requests.post(url, data='40', timeout=10).status_code == 200
    assert requests.get(url, timeout=10).text.startswith('40')
    return url


class GoodClient:
    """A python-socketio client calling ``echo`` in a loop on a thread,
    counting answers and failures."""

    def __init__(self, url):
        self.client = socketio.Client(reconnection=False)
        self.client.connect(url, transports=['websocket'], wait_timeout=10)
        self.answers = 0
        self.failures = []
        # the slowest call (send to ack), for the record
        self.worst_call = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        i = 0
        while not self._stop.is_set():
            try:
                started = time.monotonic()
                if self.client.call('echo', i, timeout=15) != [i]:
                    self.failures.append(f'wrong answer to {i}')
                self.worst_call = max(self.worst_call,
                                      time.monotonic() - started)
                self.answers += 1
            except Exception as exc:
                self.failures.append(repr(exc))
                return
            i += 1
            self._stop.wait(0.01)

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        self.client.disconnect()
        return self.answers, self.failures


def settle(server, baseline):
    h = server.wait_settled(baseline, timeout=30)
    assert h['sockets'] <= baseline['sockets'], h
    assert h['fds'] <= baseline['fds'], (h, baseline)
    assert h['threads'] <= baseline['threads'], (h, baseline)
    return h


def warm_baseline(server):
    # start the service task, timer task, flusher and worker pools first
    clients = []
    for transports in (['websocket'], ['polling'], ['websocket']):
        c = socketio.Client(reconnection=False)
        c.connect(server.url, transports=transports, wait_timeout=10)
        c.call('echo', 0, timeout=10)
        clients.append(c)
    clients[0].emit('shout', 'warm')     # a broadcast with recipients
    clients[0].call('echo', 0, timeout=10)
    for c in clients:
        c.disconnect()
    return server.wait_settled(server.health(), timeout=5)


# -- polling ------------------------------------------------------------------

@pytest.mark.parametrize('body,why', [
    ('2', 'a client ping (not part of Engine.IO 4)'),
    ('9', 'an unknown packet type'),
    ('x42["echo"]', 'a non-digit packet type'),
    ('\x1e', 'empty packets'),
    ('d=nothing', 'a JSONP body without its d field'),
])
def test_rejected_polling_posts_are_answered_at_once(hserver, body, why):
    url = polling_session(hserver.url)
    # no GET is pending: python-engineio would block here for good
    r = requests.post(url, data=body.encode(), timeout=10)
    # (python-engineio answers the undecodable ones 200 and drops them)
    assert r.status_code == 400, why
    # the session is over for the server
    assert requests.get(url, timeout=10).status_code == 400


@pytest.mark.parametrize('body', [b'4' + b'x' * 100_001, b'42["\xff"]'])
def test_oversized_or_non_utf8_polling_body_is_refused(hserver, body):
    url = polling_session(hserver.url)
    assert requests.post(url, data=body, timeout=10).status_code == 400
    assert requests.get(url, timeout=10).status_code == 400


def test_a_burst_of_polling_packets_is_accepted(hserver):
    url = polling_session(hserver.url)
    # what the JS client sends when it emits a burst before the upgrade;
    # python-engineio accepts 16 and drops the rest with 200 OK
    body = '\x1e'.join(f'42{i}["echo",{i}]' for i in range(40))
    assert requests.post(url, data=body, timeout=10).status_code == 200
    acks = set()
    deadline = time.monotonic() + 20
    while len(acks) < 40 and time.monotonic() < deadline:
        for packet in requests.get(url, timeout=30).text.split('\x1e'):
            if packet.startswith('43'):
                ack = packet[2:packet.index('[')]
                acks.add(int(ack))
    assert acks == set(range(40))


def test_too_many_polling_packets_is_an_error_the_client_sees(hserver):
    url = polling_session(hserver.url)
    body = '\x1e'.join(['42["echo",1]'] * 1001)
    assert requests.post(url, data=body, timeout=10).status_code == 400


# -- WebSocket -----------------------------------------------------------------

def test_a_stalled_reader_delays_nobody_and_is_cut_off(hserver):
    baseline = warm_baseline(hserver)
    ws = RawWebSocket(hserver.port)
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ws.open_socketio()
    good = GoodClient(hserver.url)
    try:
        # ask for far more than the socket buffers and our bound hold,
        # and never read it
        for _ in range(60):
            ws.send_event('big', 200_000)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if hserver.health()['sockets'] <= baseline['sockets'] + 1:
                break   # the stalled one is gone, the good one stays
            time.sleep(0.1)
        assert hserver.health()['sockets'] <= baseline['sockets'] + 1
    finally:
        answers, failures = good.stop()
        ws.close()
    assert failures == []
    assert answers > 0
    assert 'WebSocket connection cut off: outbound buffer over' in \
        hserver.output()
    settle(hserver, baseline)


def test_a_flood_of_garbage_is_logged_briefly(hserver):
    before = hserver.output().count('handler error')
    with RawWebSocket(hserver.port) as ws:
        ws.open_socketio()
        data = b''.join(wsframe.build_masked_frame(1, b'42[' + b'{' * (i % 5),
                                                   b'abcd')
                        for i in range(2000))
        ws.send_raw(data)
        ws.send_event('echo', 'after', ack=1)
        while True:
            try:
                text = ws.next_text(timeout=30)
            except Closed:
                break   # the packet layer may choose to close: fine
            if text.startswith('431'):
                break
    client = socketio.Client(reconnection=False)
    client.connect(hserver.url, transports=['websocket'], wait_timeout=10)
    try:
        assert client.call('echo', 'fine', timeout=10) == ['fine']
    finally:
        client.disconnect()
    assert hserver.output().count('handler error') - before <= 10


def _valid_stream(rng):
    frames = [wsframe.build_masked_frame(1, b'40', b'abcd')]
    for i in range(rng.randrange(1, 6)):
        kind = rng.randrange(4)
        if kind == 0:
            frames.append(wsframe.build_masked_frame(
                1, f'42{i}["echo",{i}]'.encode(), os.urandom(4)))
        elif kind == 1:
            frames.append(wsframe.build_masked_frame(9, b'ping', b'wxyz'))
        elif kind == 2:
            frames.append(wsframe.build_masked_frame(
                1, b'451-["echo",{"_placeholder":true,"num":0}]', b'1234'))
            frames.append(wsframe.build_masked_frame(2, b'\x00\x01', b'1234'))
        else:
            body = f'42["shout","{"s" * rng.randrange(300)}"]'.encode()
            frames.append(wsframe.build_masked_frame(1, body[:5], b'qqqq',
                                                     fin=False))
            frames.append(wsframe.build_masked_frame(0, body[5:], b'qqqq'))
    return b''.join(frames)


def _mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(3)
        pos = rng.randrange(len(data))
        if op == 0:
            data[pos] = rng.randrange(256)
        elif op == 1:
            del data[pos:pos + rng.randrange(1, 8)]
        else:
            data[pos:pos] = os.urandom(rng.randrange(1, 8))
    return bytes(data)


def _record(variant, summary):
    """Add one mode's figures to the summary file and print them."""
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(SUMMARY.read_text())
    except (OSError, ValueError):
        everything = {}
    everything[variant] = summary
    SUMMARY.write_text(json.dumps(everything, indent=1, sort_keys=True))
    print(f'\nhostile corpus [{variant}]: ' + json.dumps(summary))


def test_corpus_of_mutated_traffic(hserver, variant):
    baseline = warm_baseline(hserver)
    rss_before = hserver.health()['rss_kb']
    started = time.monotonic()
    good = GoodClient(hserver.url)
    rng = random.Random(f'corpus-{variant}')
    try:
        for _ in range(CORPUS):
            data = _mutate(rng, _valid_stream(rng))
            try:
                with RawWebSocket(hserver.port, timeout=10) as ws:
                    ws.next_text()                 # the OPEN packet
                    ws.send_raw(data)
                    ws.sock.shutdown(socket.SHUT_WR)
                    # whatever the server makes of it, it answers in
                    # WebSocket frames only, then ends the stream
                    while True:
                        try:
                            ws.next_event(timeout=15)
                        except Closed:
                            break
            except (ConnectionError, BrokenPipeError):
                pass
            except FrameError as exc:
                raise AssertionError('the server wrote something that is '
                                     f'not a WebSocket frame: {exc}')
            assert hserver.alive()
    finally:
        answers, failures = good.stop()
    elapsed = time.monotonic() - started
    h = hserver.wait_settled(baseline, timeout=30)
    _record(variant, {
        'streams': CORPUS, 'seconds': round(elapsed, 1),
        'rss_kb_before': rss_before, 'rss_kb_after': h['rss_kb'],
        'rss_growth_kb': h['rss_kb'] - rss_before,
        'threads_before': baseline['threads'], 'threads_after': h['threads'],
        'fds_before': baseline['fds'], 'fds_after': h['fds'],
        'good_client_answers': answers, 'good_client_failures': failures,
        'good_client_worst_call_ms': round(good.worst_call * 1000, 1),
        'date': time.strftime('%Y-%m-%d %H:%M:%S %Z')})
    assert failures == []
    assert answers > 0
    h = settle(hserver, baseline)
    assert h['rss_kb'] - rss_before < 10 * 1024


def test_many_connections_leave_no_thread_behind(hserver):
    baseline = warm_baseline(hserver)
    clients = []
    for i in range(20):
        c = socketio.Client(reconnection=False)
        c.connect(hserver.url,
                  transports=['websocket'] if i % 2 else
                  ['polling', 'websocket'], wait_timeout=10)
        clients.append(c)
    for c in clients:
        assert c.call('echo', 'x', timeout=10) == ['x']
    for c in clients:
        c.disconnect()
    settle(hserver, baseline)


def test_a_client_streaming_large_frames_starves_nobody(hserver):
    # the streamer keeps its socket full, so its reads never block; the
    # server must still give way to the other connections, and messages of
    # both must come through intact (the receive buffer is shared)
    ws = RawWebSocket(hserver.port)
    ws.open_socketio()
    frame = wsframe.build_masked_frame(
        1, ('42["nosuch","' + 'x' * 90_000 + '"]').encode(), b'abcd')
    good = GoodClient(hserver.url)
    failures = []

    def stream():
        try:
            for _ in range(150):
                ws.sock.sendall(frame)
            ws.send_event('echo', 'streamed', ack=9)
        except OSError as exc:
            failures.append(repr(exc))

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        streamer.join(60)
        assert failures == []
        assert ws.next_text(timeout=60) == '439[["streamed"]]'
    finally:
        answers, good_failures = good.stop()
        ws.close()
    assert good_failures == []
    assert answers > 0
