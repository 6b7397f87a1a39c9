"""The strictness rules (docs/security.md, "Strictness"): inputs the stock
stack accepts although the protocol forbids them, and what ours does.

Each row of the table is pinned twice: in-process on both twins of the
codec (compiled and pure Python), and over real sockets in every async mode
and WSGI server variant the driver serves.  Where the stock stack's
behaviour is cheap to observe, it is pinned too, so the table's "stock"
column stays true.
"""

import json
import math
import time

import pytest
import requests
import socketio
from engineio import packet as eio_upstream
from socketio import packet as sio_upstream

from flask_socketio_fast import _speedups, eio_packet, packet
from flask_socketio_fast._speedups.errors import ProtocolViolation
from flask_socketio_fast.engine import handshake

from flask_socketio_fast._speedups.wsframe_errors import FrameError

from .conftest import TWINS, load_twin
from .rawclient import Closed, RawWebSocket, http_request, upgrade_head

PLACEHOLDER = '{"_placeholder":true,"num":%s}'

# Socket.IO packets (what follows the Engine.IO "4"), with the attachments
# they announce; upstream decodes every one of them
SIO_ROWS = {
    'type in non-ASCII digits': ('\u06621["echo","x"]', []),
    'ack id in non-ASCII digits': ('2\u0663["echo","x"]', []),
    'attachment count in non-ASCII digits': (
        '5\u0661-["echo",%s]' % (PLACEHOLDER % 0), [b'\x01']),
    'NaN': ('21["echo",NaN]', []),
    'Infinity': ('21["echo",Infinity]', []),
    '-Infinity': ('21["echo",-Infinity]', []),
    'number overflowing a double': ('21["echo",1e400]', []),
    'negative placeholder': ('51-1["echo",%s]' % (PLACEHOLDER % -1),
                             [b'\x01']),
    'placeholder out of range': ('51-1["echo",%s]' % (PLACEHOLDER % 1),
                                 [b'\x01']),
    'placeholder num not an integer': (
        '51-1["echo",%s]' % (PLACEHOLDER % 'true'), [b'\x01']),
    'placeholder used twice': (
        '52-1["echo",%s,%s]' % (PLACEHOLDER % 0, PLACEHOLDER % 0),
        [b'\x01', b'\x02']),
    'more attachments than placeholders': (
        '52-1["echo",%s]' % (PLACEHOLDER % 0), [b'\x01', b'\x02']),
    'binary packet without attachments': ('50-1["echo",1]', []),
}

# accepted on purpose, as upstream does (the table says why)
LENIENT_CONNECT = ['0"token"', '0[1,2]', '0-5', '0true']


@pytest.fixture(params=TWINS)
def twin(request):
    """The codec modules of one twin; the compiled one is skipped only
    when it is not built and not required (conftest.load_twin)."""
    load_twin(request.param)
    return request.param


# -- in-process, both twins ---------------------------------------------------

@pytest.mark.parametrize('row', sorted(SIO_ROWS))
def test_socketio_rows_are_refused_by_both_twins(twin, row):
    text, attachments = SIO_ROWS[row]
    # the stock stack takes it (and would dispatch it once the
    # attachments are in, or wait for ever)
    stock = sio_upstream.Packet(encoded_packet=text)
    assert stock.packet_type in (sio_upstream.EVENT,
                                 sio_upstream.BINARY_EVENT)
    cls = packet.packet_class(twin)
    with pytest.raises(ProtocolViolation) as info:
        cls(encoded_packet=text)
    # a ValueError, like every other decoding error
    assert isinstance(info.value, ValueError)
    # and at the codec's own entry point
    with pytest.raises(ProtocolViolation):
        _speedups.load(twin).packet.decode(text)


def test_both_twins_give_the_same_refusals():
    if len({load_twin(t).IMPLEMENTATION for t in TWINS}) < 2:
        pytest.skip('one twin only')
    messages = {}
    for name in TWINS:
        cls = packet.packet_class(name)
        for row, (text, _) in SIO_ROWS.items():
            try:
                cls(encoded_packet=text)
            except ProtocolViolation as exc:
                messages.setdefault(row, set()).add(str(exc))
    assert all(len(m) == 1 for m in messages.values()), messages
    assert len(messages) == len(SIO_ROWS)


@pytest.mark.parametrize('text', ['2["x",NaN]', '2["x",Infinity]'])
def test_a_json_module_of_the_application_decides_about_nan(twin, text):
    # json= given to the server: its loads() parses the data, as upstream
    cls = type('Packet', (packet.packet_class(twin),), {'json': json})
    value = cls(encoded_packet=text).data[-1]
    assert math.isnan(value) or math.isinf(value)


@pytest.mark.parametrize('text', LENIENT_CONNECT)
def test_non_object_connect_payloads_are_accepted_like_upstream(twin, text):
    ours = packet.packet_class(twin)(encoded_packet=text)
    theirs = sio_upstream.Packet(encoded_packet=text)
    assert (ours.packet_type, ours.data, ours.id) == \
        (theirs.packet_type, theirs.data, theirs.id)


def test_valid_binary_packets_still_decode(twin):
    cls = packet.packet_class(twin)
    text = '52-["up",%s,{"b":%s}]' % (PLACEHOLDER % 1, PLACEHOLDER % 0)
    pkt = cls(encoded_packet=text)
    assert pkt.add_attachment(b'zero') is False
    assert pkt.add_attachment(b'one') is True
    assert pkt.data == ['up', b'one', {'b': b'zero'}]


@pytest.mark.parametrize('text', ['\u0664', '\u06642["echo"]',
                                  '\u0664\u0664'])
def test_engineio_type_in_non_ascii_digits_is_refused(twin, text):
    assert eio_upstream.Packet(encoded_packet=text).packet_type == 4
    cls, _ = eio_packet.packet_classes(twin)
    with pytest.raises(ProtocolViolation):
        cls(encoded_packet=text)
    with pytest.raises(ProtocolViolation):
        _speedups.load(twin).eio.decode_packet(text, json.loads)


@pytest.mark.parametrize('rsv', [1, 2, 4, 3, 7])
@pytest.mark.parametrize('opcode', [1, 2, 9])
def test_rsv_bits_without_an_extension_are_1002(twin, rsv, opcode):
    wsframe = load_twin(twin)
    frame = wsframe.build_masked_frame(opcode, b'42["x"]', b'abcd', rsv=rsv)
    with pytest.raises(FrameError) as info:
        wsframe.FrameParser(None).feed(frame)
    assert info.value.code == 1002


@pytest.mark.parametrize('version', ['8', '7', '12', '14', '13 ', 'abc',
                                     '', None])
def test_unsupported_websocket_versions_are_426(version):
    key = 'dGhlIHNhbXBsZSBub25jZQ=='
    environ = {'REQUEST_METHOD': 'GET', 'HTTP_UPGRADE': 'websocket',
               'HTTP_CONNECTION': 'Upgrade', 'HTTP_SEC_WEBSOCKET_KEY': key}
    if version is not None:
        environ['HTTP_SEC_WEBSOCKET_VERSION'] = version
    if version == '13 ':
        # surrounding blanks are not part of the value
        assert handshake.check_request(environ)
        return
    with pytest.raises(handshake.HandshakeError) as info:
        handshake.check_request(environ)
    assert info.value.status.startswith('426')
    assert ('Sec-WebSocket-Version', '13') in info.value.headers


# -- over real sockets, every variant -----------------------------------------

def _wait_close_or_eof(ws):
    """The close code the server sent, or None if it just ended the
    stream."""
    try:
        return ws.expect_close()[0]
    except Closed:
        return None


def _healthy(server):
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=['websocket'], wait_timeout=10)
    try:
        assert client.call('echo', 'still here', timeout=10) == ['still here']
    finally:
        client.disconnect()


@pytest.mark.parametrize('rsv', [1, 2, 4])
@pytest.mark.realsock
@pytest.mark.timeout(120)
def test_rsv_bits_get_1002_over_a_real_socket(server, rsv):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        ws.send_frame(1, b'421["echo","rsv"]', rsv=rsv)
        ws.send_event('echo', 'after', ack=2)
        # nothing is dispatched: the close frame comes first
        opcode, payload = ws.next_event()
        while opcode == 1 and payload == '2':
            opcode, payload = ws.next_event()
        assert opcode == 8, (opcode, payload)
        assert payload[0] == 1002
        ws.expect_eof()
    _healthy(server)


@pytest.mark.parametrize('version', ['8', '7', '14', 'abc', None])
@pytest.mark.realsock
@pytest.mark.timeout(120)
def test_unsupported_versions_over_a_real_socket(server, variant, version):
    path = '/socket.io/?EIO=4&transport=websocket'
    if variant == 'gevent-websocket' and version in ('8', '7'):
        # gevent-websocket's handler answers 101 for these drafts before
        # our code runs; the connection is then closed with 1002
        with RawWebSocket(server.port, version=version) as ws:
            assert ws.status.split()[1] == '101'
            assert ws.expect_close() == (1002,
                                         'unsupported WebSocket version')
            ws.expect_eof()
        _healthy(server)
        return
    head = upgrade_head(server.port, path, version=version)
    if version is None:
        head = head.replace('Sec-WebSocket-Version: None\r\n', '')
    status, headers, _ = http_request(server.port, head)
    code = status.split()[1]
    if variant == 'gevent-websocket':
        # refused by gevent-websocket's handler itself, before us
        assert code in ('400', '426')
    else:
        assert code == '426'
        assert headers['sec-websocket-version'] == '13'
    _healthy(server)


def _ws_refused(server, text, attachments):
    """Send one Socket.IO packet (and its attachments) on a connected
    WebSocket, then an echo; return the close frame's code."""
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        ws.send_text('4' + text)
        for blob in attachments:
            ws.send_frame(2, blob)
        ws.send_event('echo', 'after', ack=9)
        while True:
            opcode, payload = ws.next_event()
            if opcode == 1:
                # never the echo of the refused packet, nor the next one
                assert payload == '2', payload
                continue
            assert opcode == 8, (opcode, payload)
            code = payload[0]
            ws.expect_eof()
            return code


@pytest.mark.realsock
@pytest.mark.timeout(180)
def test_socketio_rows_close_the_websocket_with_1002(server):
    errors = server.output().count('handler error')
    for row, (text, attachments) in SIO_ROWS.items():
        assert _ws_refused(server, text, attachments) == 1002, row
    # logged as one line per kind at INFO on engineio.server (which the
    # test app does not show), never as a handler error with a traceback
    assert server.output().count('handler error') == errors
    _healthy(server)


@pytest.mark.realsock
@pytest.mark.timeout(120)
def test_non_object_connect_auth_is_accepted_over_a_real_socket(server):
    for text in LENIENT_CONNECT:
        with RawWebSocket(server.port) as ws:
            ws.next_text()
            ws.send_text('4' + text)
            assert ws.next_text().startswith('40{"sid":'), text
            ws.send_event('echo', 'in', ack=1)
            assert ws.next_text() == '431[["in"]]'


def _polling_session(url):
    base = url + '/socket.io/?EIO=4&transport=polling'
    r = requests.get(base, timeout=10)
    sid = json.loads(r.text[1:])['sid']
    url = f'{base}&sid={sid}'
    assert requests.post(url, data='40', timeout=10).status_code == 200
    assert requests.get(url, timeout=10).text.startswith('40')
    return url


@pytest.mark.realsock
@pytest.mark.timeout(180)
def test_socketio_rows_end_a_polling_session(server):
    for row, (text, attachments) in SIO_ROWS.items():
        if attachments:
            continue   # (binary attachments need b64 packets: same path)
        url = _polling_session(server.url)
        # accepted by Engine.IO; the Socket.IO layer refuses the packet
        # and closes the session: a pending or later GET says so
        assert requests.post(url, data='4' + text,
                             timeout=10).status_code == 200
        deadline = time.monotonic() + 10
        while True:
            r = requests.get(url, timeout=30)
            if r.status_code == 400 or r.text.split('\x1e')[-1] == '1':
                break
            assert '431' not in r.text and '43[' not in r.text, (row, r.text)
            assert time.monotonic() < deadline, (row, r.text)
        assert requests.post(url, data='42["echo"]',
                             timeout=10).status_code == 400


@pytest.mark.realsock
@pytest.mark.timeout(60)
def test_engineio_type_in_non_ascii_digits_over_a_real_socket(server):
    with RawWebSocket(server.port) as ws:
        ws.open_socketio()
        ws.send_text('\u06642["echo"]')
        assert _wait_close_or_eof(ws) == 1002
    url = _polling_session(server.url)
    assert requests.post(url, data='\u06642["echo"]'.encode(),
                         timeout=10).status_code == 400
    assert requests.get(url, timeout=10).status_code == 400


# -- the stock stack, where the table says it is lenient ----------------------

@pytest.mark.realsock
@pytest.mark.timeout(120)
@pytest.mark.parametrize('stock_variant', ['threading', 'eventlet',
                                           'gevent-websocket'])
def test_the_stock_column_of_the_table(ws_servers, stock_variant):
    srv = ws_servers(stock_variant, impl='flask_socketio')
    # the Socket.IO rows are dispatched to the application
    with RawWebSocket(srv.port) as ws:
        ws.open_socketio()
        ws.send_text('42\u0663["echo","x"]')
        assert ws.next_text() == '433[["x"]]'
        ws.send_text('421["echo",NaN]')
        # echoed back as NaN, which JSON.parse refuses
        assert ws.next_text() == '431[[NaN]]'
    # RSV2: eventlet dispatches the frame, the others close the connection
    with RawWebSocket(srv.port) as ws:
        ws.open_socketio()
        ws.send_frame(1, b'421["echo","rsv"]', rsv=2)
        if stock_variant == 'eventlet':
            assert ws.next_text() == '431[["rsv"]]'
        else:
            assert _wait_close_or_eof(ws) in (1002, None)
    # version 8: accepted by eventlet and gevent-websocket, a 500 from
    # simple-websocket (threading)
    path = '/socket.io/?EIO=4&transport=websocket'
    status, _, _ = http_request(srv.port, upgrade_head(srv.port, path,
                                                       version='8'))
    assert status.split()[1] == ('500' if stock_variant == 'threading'
                                 else '101')
