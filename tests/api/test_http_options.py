"""Engine.IO options seen through Flask's HTTP test client (no sockets): CORS, the session cookie,
allowed transports, and a custom packet serializer."""
import socketio as python_socketio

HANDSHAKE = '/socket.io/?EIO=4&transport=polling'


def test_cors_allowed_origins(make):
    app, sio = make(cors_allowed_origins='http://ok.test')
    http = app.test_client()
    ok = http.get(HANDSHAKE, headers={'Origin': 'http://ok.test'})
    assert ok.status_code == 200
    assert ok.headers['Access-Control-Allow-Origin'] == 'http://ok.test'
    assert ok.headers.get('Access-Control-Allow-Credentials') == 'true'
    bad = http.get(HANDSHAKE, headers={'Origin': 'http://bad.test'})
    assert bad.status_code == 400


def test_cors_credentials_off(make):
    app, sio = make(cors_allowed_origins='*', cors_credentials=False)
    response = app.test_client().get(HANDSHAKE, headers={'Origin': 'http://any.test'})
    assert response.status_code == 200
    assert 'Access-Control-Allow-Credentials' not in response.headers


def test_default_cors_is_same_origin(make):
    app, sio = make()
    http = app.test_client()
    same = http.get(HANDSHAKE, headers={'Origin': 'http://localhost'})
    assert same.status_code == 200
    other = http.get(HANDSHAKE, headers={'Origin': 'http://elsewhere.test'})
    assert other.status_code == 400


def test_cookie_option(make):
    app, sio = make(cookie='io')
    response = app.test_client().get(HANDSHAKE)
    assert response.status_code == 200
    assert any(c.startswith('io=') for c in response.headers.getlist('Set-Cookie'))

    app2, sio2 = make()
    assert not app2.test_client().get(HANDSHAKE).headers.getlist('Set-Cookie')


def test_transports_option(make):
    app, sio = make(transports=['websocket'])
    assert app.test_client().get(HANDSHAKE).status_code == 400


def test_handshake_reflects_ping_options(make):
    import json
    app, sio = make(ping_interval=3, ping_timeout=2, max_http_buffer_size=4321)
    body = app.test_client().get(HANDSHAKE).get_data(as_text=True)
    assert body[0] == '0'
    handshake = json.loads(body[1:])
    assert handshake['pingInterval'] == 3000
    assert handshake['pingTimeout'] == 2000
    assert handshake['maxPayload'] == 4321


def test_custom_serializer_is_used(make, mod):
    encoded = []

    class CountingPacket(python_socketio.packet.Packet):
        def encode(self):
            encoded.append(self.packet_type)
            return super().encode()

    app, sio = make(serializer=CountingPacket)
    assert sio.server.packet_class is CountingPacket

    @sio.on('echo')
    def echo(data):
        mod.emit('echo', data)
        return data

    client = sio.test_client(app)
    assert client.emit('echo', {'x': 1}, callback=True) == {'x': 1}
    assert client.get_received() == [{'name': 'echo', 'args': [{'x': 1}], 'namespace': '/'}]
    assert encoded  # the server encoded its packets with the given class
