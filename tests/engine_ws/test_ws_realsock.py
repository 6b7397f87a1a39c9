"""Our WebSocket transport over real sockets, in every async mode and WSGI
server variant the driver serves: well-behaved clients (python-socketio),
and raw clients that break the protocol."""

import sys
import threading
import time
from pathlib import Path

import pytest
import socketio

from .rawclient import Closed, RawWebSocket, http_request, upgrade_head

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from ordered_client import ordered_client  # noqa: E402

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(90)]

LIMIT = 100_000   # ws_app's max_http_buffer_size


def connect_client(url, transports=('websocket',)):
    client = socketio.Client(reconnection=False)
    got = []
    client.on('item', got.append)
    client.connect(url, transports=list(transports), wait_timeout=10)
    return client, got


def wait_for(predicate, timeout=10):
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if predicate():
                return True
            done.wait(0.01)
        return predicate()
    finally:
        deadline.cancel()


def test_our_driver_is_active(server):
    health = server.health()
    assert health['engine'] == \
        'flask_socketio_fast.engine.server.EngineServer'
    assert health['fast_paths']['engine'].startswith('own WebSocket driver')
    # and it really serves WebSocket connections (no silent fallback)
    for transports in (('websocket',), ('polling', 'websocket')):
        before = server.health()['ws_sessions']
        client, _ = connect_client(server.url, transports)
        try:
            assert client.call('echo', 1, timeout=10) == [1]
        finally:
            client.disconnect()
        assert server.health()['ws_sessions'] == before + 1


@pytest.mark.parametrize('transports', [('websocket',),
                                        ('polling', 'websocket'),
                                        ('polling',)])
def test_python_client_acks_binary_and_order(server, transports):
    client, got = connect_client(server.url, transports)
    try:
        assert client.transport() == transports[-1]
        assert client.call('echo', ('hi', {'a': [1, 2]}, b'\x00\xffbin'),
                           timeout=10) == ['hi', {'a': [1, 2]},
                                           b'\x00\xffbin']
        # python-socketio's client refuses polling payloads of more than
        # 16 packets, and a burst leaves in one payload
        n = 10 if transports == ('polling',) else 300
        client.emit('burst', n)
        assert wait_for(lambda: len(got) >= n)
        # every item exactly once; not their order: python-engineio's
        # client runs each inbound message's handler on a thread of its
        # own, so two of them can swap on the client (the order on the
        # wire is checked with raw clients: tests/manager/
        # test_realsock_fanout.py)
        assert sorted(got) == list(range(n))
        # several TCP segments each way (the client escapes non-ASCII
        # text to \\uXXXX: 6 bytes per character)
        big = 'x' * 60000 + 'é' * 5000
        assert client.call('echo', big, timeout=10) == [big]
    finally:
        client.disconnect()


def test_clean_close_and_server_disconnect(server):
    with RawWebSocket(server.port) as ws:
        assert ws.open_socketio().startswith('40')
        ws.send_frame(8, (1000).to_bytes(2, 'big') + b'bye')
        assert ws.expect_close() == (1000, '')
        ws.expect_eof()
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        ws.send_event('bye')
        # the namespace disconnect; the engine.io connection stays up until
        # the client closes it (here with an Engine.IO CLOSE packet)
        assert ws.next_text() == '41'
        ws.send_text('1')
        code, _ = ws.expect_close()
        assert code == 1000
        ws.expect_eof()


def test_ping_gets_a_pong_with_its_payload(server):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        ws.send_frame(9, b'are you there')
        while True:
            opcode, payload = ws.next_event()
            if opcode == 10:
                break
        assert payload == b'are you there'
        ws.send_event('echo', 1, ack=7)
        # echo acks with the list of its arguments
        assert ws.next_text() == '437[[1]]'


def test_fragmented_message_is_assembled(server):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        data = '425["echo","fragmented ✓"]'.encode()
        ws.send_frame(1, data[:4], fin=False)
        ws.send_frame(9, b'between')
        ws.send_frame(0, data[4:9], fin=False)
        ws.send_frame(0, data[9:])
        assert ws.next_text() == '435[["fragmented ✓"]]'


@pytest.mark.parametrize('case,code', [
    ('oversized frame', 1009),
    ('huge declared length', 1009),
    ('fragments over the limit', 1009),
    ('unmasked frame', 1002),
    ('reserved opcode', 1002),
    ('rsv bits', 1002),
    ('bad utf-8', 1007),
    ('empty engine.io packet', 1002),
    ('non-digit packet type', 1002),
    ('bom', 1002),
    ('non-ascii digit type', 1002),
])
def test_protocol_violations_get_a_close_frame(server, case, code):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        if case == 'oversized frame':
            # the header alone is refused; the payload is never sent
            ws.send_raw(b'\x82\xfe' + (LIMIT + 1).to_bytes(2, 'big')[-2:]
                        if LIMIT + 1 < 65536 else
                        b'\x82\xff' + (LIMIT + 1).to_bytes(8, 'big') +
                        b'\x00' * 4)
        elif case == 'huge declared length':
            ws.send_raw(b'\x81\xff' + (1 << 62).to_bytes(8, 'big') +
                        b'\x00' * 4)
        elif case == 'fragments over the limit':
            piece = b'4' + b'x' * (LIMIT // 2)
            ws.send_frame(1, piece, fin=False)
            ws.send_frame(0, piece, fin=False)
        elif case == 'unmasked frame':
            ws.send_raw(b'\x81\x024x')
        elif case == 'reserved opcode':
            ws.send_frame(3, b'x')
        elif case == 'rsv bits':
            ws.send_frame(1, b'4x', rsv=4)
        elif case == 'bad utf-8':
            ws.send_frame(1, b'42["\xff"]')
        elif case == 'empty engine.io packet':
            ws.send_frame(1, b'')
        elif case == 'non-digit packet type':
            ws.send_frame(1, b'x42["echo"]')
        elif case == 'bom':
            ws.send_frame(1, '\ufeff42["echo"]'.encode())
        elif case == 'non-ascii digit type':
            ws.send_frame(1, '\u0664' .encode() + b'2["echo"]')
        assert ws.expect_close()[0] == code
        ws.expect_eof()
    # and the server serves the next client as before
    client, _ = connect_client(server.url)
    try:
        assert client.call('echo', 'still here', timeout=10) == \
            ['still here']
    finally:
        client.disconnect()


def test_message_at_the_limit_is_accepted(server):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        head = '421["echo","'
        tail = '"]'
        body = 'y' * (LIMIT - len(head) - len(tail))
        ws.send_text(head + body + tail)
        assert ws.next_text() == '431[["' + body + '"]]'
        # one byte more is refused
        ws.send_text(head + body + 'y' + tail)
        assert ws.expect_close()[0] == 1009


def test_handshake_refusals_are_plain_http(server, variant):
    if variant == 'gevent-websocket':
        pytest.skip("gevent-websocket's handler does this handshake")
    path = '/socket.io/?EIO=4&transport=websocket'
    status, headers, _ = http_request(
        server.port, upgrade_head(server.port, path, version='8'))
    assert status.split()[1] == '426'
    assert headers['sec-websocket-version'] == '13'
    status, _, _ = http_request(
        server.port, upgrade_head(server.port, path, key='c2hvcnQ='))
    assert status.split()[1] == '400'


def test_permessage_deflate_is_not_negotiated_by_default(server):
    with RawWebSocket(server.port,
                      extensions='permessage-deflate; '
                                 'client_max_window_bits') as ws:
        assert ws.status.split()[1] == '101'
        assert 'sec-websocket-extensions' not in ws.headers
        assert ws.open_socketio().startswith('40')


def _deflate(data):
    import zlib
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def test_permessage_deflate_when_enabled(ws_servers, variant):
    if variant == 'gevent-websocket':
        pytest.skip("gevent-websocket's handler does the handshake and "
                    'never offers compression')
    import zlib
    srv = ws_servers(variant, compression=True)
    with RawWebSocket(srv.port, extensions='permessage-deflate; '
                                           'client_max_window_bits') as ws:
        assert ws.headers['sec-websocket-extensions'] == 'permessage-deflate'
        inflater = zlib.decompressobj(-15)

        def text():
            while True:
                opcode, payload = ws.next_event()
                if opcode & 0x40:
                    payload = inflater.decompress(
                        payload + b'\x00\x00\xff\xff').decode()
                    if payload != '2':
                        return payload

        assert text().startswith('0{')
        ws.send_frame(1, _deflate(b'40'), rsv=4)
        assert text().startswith('40')
        body = '421["echo","' + 'squeeze ' * 1000 + '"]'
        ws.send_frame(1, _deflate(body.encode()), rsv=4)
        assert text() == '431[["' + 'squeeze ' * 1000 + '"]]'
        # a small frame that inflates past max_http_buffer_size
        bomb = _deflate(b'4' + b'0' * (LIMIT * 3))
        assert len(bomb) < LIMIT // 10
        ws.send_frame(1, bomb, rsv=4)
        assert ws.expect_close()[0] == 1009


@pytest.mark.parametrize('count', [10, 200])
def test_broadcasts_reach_every_client_in_order(server, count):
    # the fan-out manager appends one shared frame per WebSocket recipient
    # through frame_sink and flushes; polling recipients take the queue
    # (only in the small round: python-socketio's client drops polling
    # payloads of more than 16 packets)
    polling = count <= 16
    clients = []
    try:
        for i in range(12):
            # (python-socketio's client handles each message on a thread of
            # its own: this one keeps their order)
            c = ordered_client(reconnection=False)
            heard = []
            c.on('heard', heard.append)
            c.connect(server.url, wait_timeout=10,
                      transports=['polling'] if polling and i % 4 == 0
                      else ['websocket'])
            clients.append((c, heard))
        sender = clients[1][0]
        # from one handler, so the order is defined in every mode
        sender.emit('shout_many', count)
        assert sender.call('echo', 'sync', timeout=10) == ['sync']
        for n, (c, heard) in enumerate(clients):
            if n == 1:
                continue
            assert wait_for(lambda: len(heard) >= count, timeout=20), n
            assert heard == list(range(count)), n
        assert clients[1][1] == []      # skip_sid
    finally:
        for c, _ in clients:
            c.disconnect()


def test_instrumented_server_takes_the_stock_websocket_path(ws_servers,
                                                            variant):
    if variant == 'gevent-pywsgi':
        pytest.skip('the stock path needs gevent-websocket\'s handler here')
    srv = ws_servers(variant, instrument=True)
    before = srv.health()['ws_sessions']
    for transports in (('websocket',), ('polling', 'websocket'),
                       ('polling',)):
        client, got = connect_client(srv.url, transports)
        try:
            assert client.transport() == transports[-1]
            assert client.call('echo', 'admin', timeout=10) == ['admin']
            client.emit('burst', 10)
            assert wait_for(lambda: len(got) >= 10)
            assert got == list(range(10))
        finally:
            client.disconnect()
    # none of them went through our driver
    assert srv.health()['ws_sessions'] == before


def test_a_client_that_stops_answering_pings_is_closed(ws_servers, variant):
    # whole seconds: engine.io announces int(ping_interval) to the client
    srv = ws_servers(variant, ping_interval=1, ping_timeout=1)
    with RawWebSocket(srv.port) as ws:
        ws.open_socketio()
        texts = []
        while True:
            try:
                opcode, payload = ws.next_event(timeout=20)
            except Closed:
                break
            if opcode == 8:
                texts.append('<close %s>' % payload[0])
                break
            texts.append(payload)
        # pings, then the close frame (python-engineio's send() refuses
        # its own CLOSE packet once the ping timed out, and so do we)
        assert texts[0] == '2'
        assert set(texts[:-1]) == {'2'}
        assert texts[-1] == '<close 1000>'
        ws.expect_eof()
    client, _ = connect_client(srv.url)
    try:
        # a client that answers stays, past several ping intervals
        time.sleep(3)
        assert client.call('echo', 'alive', timeout=10) == ['alive']
    finally:
        client.disconnect()
