"""Our packet class inside python-socketio: server decode/encode, binary
attachments, Flask-SocketIO's test client (which re-decodes with upstream's
Packet), the pub/sub managers' messages, and a real python-socketio Client
over polling and WebSocket."""

import threading

import flask
import flask_socketio
import pytest
import socketio
from socketio import packet as sp
from werkzeug.serving import make_server

from flask_socketio_fast import jsonmod

from .support import engineio_json, with_json

BLOB = bytes(range(256)) * 4


def _flask_app(serializer_cls, json=None):
    app = flask.Flask(__name__)
    options = {} if serializer_cls is None else {'serializer': serializer_cls}
    if json is not None:
        options['json'] = json
    sio = flask_socketio.SocketIO(app, **options)

    @sio.on('echo')
    def echo(*args):
        flask_socketio.emit('echoed', args)
        return list(args)

    @sio.on('echo', namespace='/ns')
    def echo_ns(*args):
        flask_socketio.emit('echoed', args, namespace='/ns')
        return ['ns'] + list(args)

    @sio.on('broadcast')
    def broadcast(data):
        flask_socketio.emit('everyone', data, broadcast=True)

    return app, sio


SCENARIO_ARGS = [
    ('text',), ({'user': 'u1', 'text': 'hello world'},), (BLOB,),
    ('mixed', BLOB, {'nested': [b'\x00', bytearray(b'\x01')]}),
    ('é€😀', 2 ** 70, 1e-7, None, True, [1, [2, [3]]]),
]


def _scenario(serializer_cls, json=None):
    app, sio = _flask_app(serializer_cls, json)
    client = sio.test_client(app)
    client_ns = sio.test_client(app, namespace='/ns')
    results = []
    for args in SCENARIO_ARGS:
        results.append(client.emit('echo', *args, callback=True))
        results.append(client_ns.emit('echo', *args, callback=True,
                                      namespace='/ns'))
        client.emit('broadcast', args[0])
    results.append(client.get_received())
    results.append(client_ns.get_received('/ns'))
    client.disconnect()
    client_ns.disconnect(namespace='/ns')
    return results


def test_flask_socketio_test_client_sees_upstreams_results(impl):
    expected = _scenario(None)
    assert _scenario(impl.Packet) == expected


def test_user_json_module_still_wins(impl):
    cls = type('Packet', (impl.Packet,), {})
    _scenario(cls, json=engineio_json)
    assert cls.json is engineio_json  # assigned by python-socketio
    assert impl.Packet.json is jsonmod  # the base class is untouched


def test_unserializable_emit_raises_typeerror(impl):
    app, sio = _flask_app(impl.Packet)

    @sio.on('bad')
    def bad():
        flask_socketio.emit('x', object())

    client = sio.test_client(app)
    with pytest.raises(TypeError):
        client.emit('bad')


class _Sent:
    """Stands in for the engine.io server's two send methods."""

    def __init__(self):
        self.packets = []

    def send(self, eio_sid, data):
        self.packets.append(data)

    def send_packet(self, eio_sid, eio_pkt):
        self.packets.append(eio_pkt.data)


def _capture(server):
    sent = _Sent()
    server.eio.send = sent.send
    server.eio.send_packet = sent.send_packet
    return sent


def _server(packet_cls):
    server = socketio.Server(serializer=packet_cls, async_handlers=False)
    server.sent = _capture(server)
    events = []

    @server.on('*')
    def any_event(event, sid, *args):
        events.append((event, args))
        return 'ack', args[-1] if args else None

    server._handle_eio_connect('eio1', {})
    server._handle_eio_message('eio1', '0')
    return server, events


def test_server_decodes_binary_events_and_acks(impl):
    server, events = _server(impl.Packet)
    wire = sp.Packet(sp.EVENT, data=['up', 'x', BLOB, {'b': b'y'}],
                     id=5).encode()
    assert server._handle_eio_message('eio1', wire[0]) is None
    server._handle_eio_message('eio1', wire[1])
    server._handle_eio_message('eio1', wire[2])
    assert events == [('up', ('x', BLOB, {'b': b'y'}))]
    sent = server.sent.packets
    # the ack reply (binary, as the handler returned bytes) decodes upstream
    reply = sp.Packet(encoded_packet=sent[-2])
    assert reply.add_attachment(sent[-1])
    assert (reply.packet_type, reply.id, reply.data) == \
        (sp.BINARY_ACK, 5, ['ack', {'b': b'y'}])


def test_server_rejects_unexpected_binary_like_upstream(impl):
    for cls in (impl.Packet, sp.Packet):
        server, _ = _server(cls)
        with pytest.raises(ValueError, match='Unexpected binary packet'):
            server._handle_eio_message('eio1', '51-/other,["x",'
                                       '{"_placeholder":true,"num":0}]')


def test_server_emit_matches_upstream_bytes(impl):
    outputs = []
    for cls in (with_json(impl.Packet, engineio_json), sp.Packet):
        server, _ = _server(cls)
        server.emit('ev', {'a': [1, 'é']}, to=server.manager.sid_from_eio_sid(
            'eio1', '/'))
        server.emit('bin', ['x', BLOB])
        outputs.append(server.sent.packets[1:])
    assert len(outputs[0]) == 3  # text event, binary header + attachment
    assert outputs[0] == outputs[1]


class _LoopbackManager(socketio.PubSubManager):
    """A pub/sub manager whose queue is a list: messages go through
    ``self.json`` (the packet class's JSON module) like the real ones."""

    def __init__(self, bus):
        super().__init__(channel='test')
        self.bus = bus

    def _publish(self, data):
        self.bus.append(self.json.dumps(data))

    def _listen(self):  # pragma: no cover - never started
        return iter(())

    def initialize(self):  # no listener thread
        pass

    def deliver(self, message):
        data = self.json.loads(message)
        if data['host_id'] != self.host_id:
            self._handle_emit(data)


def test_pubsub_messages_between_hosts(impl):
    bus = []
    received = {}
    for name, cls in (('ours', impl.Packet), ('upstream', sp.Packet)):
        sender = socketio.Server(serializer=cls, client_manager=_LoopbackManager(
            bus), async_handlers=False)
        receiver = socketio.Server(serializer=cls,
                                   client_manager=_LoopbackManager(bus),
                                   async_handlers=False)
        sent = _capture(receiver)
        receiver._handle_eio_connect('eio1', {})
        receiver._handle_eio_message('eio1', '0')
        bus.clear()
        sender.emit('news', {'text': 'é', 'n': 2 ** 70})
        sender.emit('file', ('name', BLOB))
        assert sender.manager.json is cls.json
        for message in bus:
            receiver.manager.deliver(message)
        received[name] = sent.packets[1:]
    assert len(received['ours']) == len(received['upstream']) == 3
    decoded = {}
    for name, packets in received.items():
        first = sp.Packet(encoded_packet=packets[0])
        binary = sp.Packet(encoded_packet=packets[1])
        assert binary.add_attachment(packets[2])
        decoded[name] = [first.data, binary.data]
    assert decoded['ours'][1] == ['file', 'name', BLOB]
    assert decoded['ours'] == decoded['upstream']


@pytest.fixture
def live_server(impl):
    sio = socketio.Server(serializer=impl.Packet, async_mode='threading')

    @sio.on('echo')
    def echo(sid, *args):
        sio.emit('echoed', list(args), to=sid)
        return list(args)

    http = make_server('127.0.0.1', 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{http.server_port}'
    finally:
        http.shutdown()
        thread.join(timeout=10)


@pytest.mark.timeout(60)
# (closing a websocket client costs ~3 s in this server setup, whichever
# packet class is used, so websocket runs once per twin)
@pytest.mark.parametrize('transport,client_packet', [
    ('polling', 'ours'), ('polling', 'upstream'), ('websocket', 'ours')])
def test_python_socketio_client_roundtrip(impl, live_server, transport,
                                          client_packet):
    cls = impl.Packet if client_packet == 'ours' else sp.Packet
    client = socketio.Client(serializer=cls, reconnection=False)
    got = []
    done = threading.Event()

    @client.on('echoed')
    def echoed(data):
        got.append(data)
        done.set()

    client.connect(live_server, transports=[transport], wait_timeout=10)
    try:
        args = ['é€😀', {'blob': BLOB, 'list': [b'\x00', 1.5]}, 2 ** 70]
        assert client.call('echo', args, timeout=10) == [args]
        assert done.wait(10)
        assert got == [[args]]
    finally:
        client.disconnect()
