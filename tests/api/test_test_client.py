"""The Socket.IO test client itself: connect/disconnect, emit with callback, send, get_received,
is_connected, query string, headers, auth, and the attributes users reach into."""
import flask
import pytest
import socketio as python_socketio


def _echo_app(make, mod, **kwargs):
    app, sio = make(namespaces=['/', '/chat'], **kwargs)

    @sio.on('echo')
    def echo(*args):
        mod.emit('echo', args)
        return args

    @sio.on('echo', namespace='/chat')
    def echo_chat(*args):
        mod.emit('echo', args)
        return args

    return app, sio


def test_test_client_type_and_direct_construction(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    assert isinstance(client, mod.SocketIOTestClient)
    direct = mod.SocketIOTestClient(app, sio, namespace='/chat')
    assert direct.is_connected('/chat') and not direct.is_connected()


def test_connects_on_construction(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    assert client.is_connected()
    assert client.is_connected('/')
    assert not client.is_connected('/chat')
    client.connect('/chat')
    assert client.is_connected('/chat')


def test_construct_on_a_namespace(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app, namespace='/chat')
    assert client.is_connected('/chat')
    assert not client.is_connected()


def test_emit_callback_returns_ack(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    assert client.emit('echo', 1, callback=True) == 1
    assert client.emit('echo', 1, 2, callback=True) == [1, 2]
    assert client.emit('echo', callback=True) == []
    assert client.emit('echo', 'no ack requested') is None
    assert client.acks is None  # consumed by emit()


def test_get_received_filters_by_namespace_and_drains(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    client.connect('/chat')
    client.emit('echo', 'root')
    client.emit('echo', 'chat', namespace='/chat')
    assert len(client.queue) == 2
    assert client.get_received('/chat') == [
        {'name': 'echo', 'args': ['chat'], 'namespace': '/chat'}]
    assert client.queue == [{'name': 'echo', 'args': ['root'], 'namespace': '/'}]
    assert client.get_received() == [{'name': 'echo', 'args': ['root'], 'namespace': '/'}]
    assert client.get_received() == []
    assert client.queue == []


def test_methods_require_connection(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    with pytest.raises(RuntimeError):
        client.emit('echo', namespace='/chat')
    with pytest.raises(RuntimeError):
        client.get_received('/chat')
    with pytest.raises(RuntimeError):
        client.disconnect('/chat')
    client.disconnect()
    assert not client.is_connected()
    with pytest.raises(RuntimeError):
        client.emit('echo')
    with pytest.raises(RuntimeError):
        client.send('x')


def test_reconnect_after_disconnect(make, mod):
    app, sio = _echo_app(make, mod)
    client = sio.test_client(app)
    client.disconnect()
    client.connect()
    assert client.is_connected()
    assert client.emit('echo', 'again', callback=True) == 'again'


def test_send_message_and_json(make, mod):
    app, sio = make()

    @sio.on('message')
    def message(data):
        return 'message', data

    @sio.on('json')
    def json(data):
        return 'json', data

    client = sio.test_client(app)
    assert client.send('hi', callback=True) == ['message', 'hi']
    assert client.send({'x': 1}, json=True, callback=True) == ['json', {'x': 1}]
    assert client.send('no ack') is None


def test_send_to_namespace(make, mod):
    app, sio = make()

    @sio.on('message', namespace='/chat')
    def message(data):
        mod.send(data)
        return flask.request.namespace

    client = sio.test_client(app, namespace='/chat')
    assert client.send('hi', namespace='/chat', callback=True) == '/chat'
    assert client.get_received('/chat') == [
        {'name': 'message', 'args': 'hi', 'namespace': '/chat'}]


@pytest.mark.parametrize('query_string', ['token=abc&n=1', '?token=abc&n=1'])
def test_query_string(make, query_string):
    app, sio = make()
    seen = []

    @sio.on('connect')
    def connect():
        seen.append(flask.request.args.to_dict())

    sio.test_client(app, query_string=query_string)
    assert seen == [{'token': 'abc', 'n': '1'}]


def test_query_string_headers_and_auth_on_connect_call(make):
    app, sio = make()
    seen = []

    @sio.on('connect', namespace='/chat')
    def connect(auth):
        seen.append((flask.request.args.get('q'), flask.request.headers.get('X-H'), auth))

    client = sio.test_client(app)
    client.connect('/chat', query_string='q=1', headers={'X-H': 'v'}, auth={'a': 1})
    assert seen == [('1', 'v', {'a': 1})]


def test_flask_test_client_cookies_reach_socketio(make):
    app, sio = make()

    @app.route('/cookie')
    def cookie():
        resp = flask.make_response('ok')
        resp.set_cookie('flavour', 'oatmeal')
        return resp

    @sio.on('cookie')
    def read_cookie():
        return flask.request.cookies.get('flavour')

    http = app.test_client()
    http.get('/cookie')
    with_cookies = sio.test_client(app, flask_test_client=http)
    without = sio.test_client(app)
    assert with_cookies.emit('cookie', callback=True) == 'oatmeal'
    assert without.emit('cookie', callback=True) == []


def test_eio_sid_and_sid_mapping(make):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    a, b = sio.test_client(app), sio.test_client(app)
    assert a.eio_sid and b.eio_sid and a.eio_sid != b.eio_sid
    sid = a.emit('whoami', callback=True)
    assert sio.server.manager.eio_sid_from_sid(sid, '/') == a.eio_sid
    assert sio.server.manager.sid_from_eio_sid(a.eio_sid, '/') == sid


def test_many_clients_each_get_their_own_events(make, mod):
    app, sio = _echo_app(make, mod)
    clients = [sio.test_client(app) for _ in range(5)]
    for i, c in enumerate(clients):
        c.emit('echo', i)
    for i, c in enumerate(clients):
        assert c.get_received() == [{'name': 'echo', 'args': [i], 'namespace': '/'}]


def test_test_client_forces_synchronous_handlers(make):
    app, sio = make()
    assert sio.server.async_handlers is True
    sio.test_client(app)
    assert sio.server.async_handlers is False


def test_test_client_refuses_message_queue(make):
    app, sio = make(client_manager=python_socketio.KombuManager('memory://'))
    with pytest.raises(RuntimeError):
        sio.test_client(app)
