"""Connection events: connect handlers with and without auth, rejection by False or by
ConnectionRefusedError(*args) and the error packet it produces, disconnect handlers and reasons,
server-side disconnect, always_connect."""
import flask
import pytest


def test_connect_handler_receives_auth(make):
    app, sio = make()
    got = []

    @sio.on('connect')
    def connect(auth):
        got.append(auth)

    sio.test_client(app, auth={'token': 't'})
    sio.test_client(app)
    # no auth from the client gives None
    assert got == [{'token': 't'}, None]


def test_connect_handler_without_auth_argument(make):
    app, sio = make()
    got = []

    @sio.on('connect')
    def connect():
        got.append(flask.request.sid)

    a = sio.test_client(app, auth={'ignored': True})
    b = sio.test_client(app)
    assert a.is_connected() and b.is_connected()
    assert len(got) == 2 and all(got)


def test_connect_handler_sees_request(make):
    app, sio = make()
    got = {}

    @sio.on('connect')
    def connect(auth):
        got['sid'] = flask.request.sid
        got['namespace'] = flask.request.namespace
        got['event'] = flask.request.event['message']
        got['path'] = flask.request.path
        got['arg'] = flask.request.args.get('user')
        got['header'] = flask.request.headers.get('X-Test')

    sio.test_client(app, query_string='user=joe', headers={'X-Test': 'h'})
    assert got['sid'] and got['namespace'] == '/' and got['event'] == 'connect'
    assert got['path'] == '/socket.io'
    assert got['arg'] == 'joe' and got['header'] == 'h'


def test_connect_returning_false_rejects(make, spy_factory):
    app, sio = make()
    calls = []

    @sio.on('connect')
    def connect(auth):
        calls.append(auth)
        return False

    client = sio.test_client(app)
    assert not client.is_connected()
    spy = spy_factory(sio).install()
    client.connect(auth={'a': 1})
    assert not client.is_connected()
    assert spy.connect_errors(client.eio_sid) == [
        {'message': 'Connection rejected by server'}]
    with pytest.raises(RuntimeError):
        client.emit('anything')


@pytest.mark.parametrize('args, expected', [
    ((), {'message': 'Connection rejected by server'}),
    (('unauthorized!',), {'message': 'unauthorized!'}),
    (('bad', {'code': 401}), {'message': 'bad', 'data': {'code': 401}}),
    (('bad', 1, 2), {'message': 'bad', 'data': [1, 2]}),
])
def test_connection_refused_error_args(make, mod, spy_factory, args, expected):
    app, sio = make()

    @sio.on('connect')
    def connect():
        raise mod.ConnectionRefusedError(*args)

    client = sio.test_client(app)
    assert not client.is_connected()
    spy = spy_factory(sio).install()
    client.connect()
    assert spy.connect_errors(client.eio_sid) == [expected]


def test_connection_refused_error_is_the_socketio_exception(mod):
    import socketio.exceptions
    assert mod.ConnectionRefusedError is socketio.exceptions.ConnectionRefusedError


def test_rejection_is_per_namespace(make, mod):
    app, sio = make()

    @sio.on('connect', namespace='/private')
    def private(auth):
        if not auth:
            raise mod.ConnectionRefusedError('no')

    @sio.on('connect')
    def public():
        pass

    client = sio.test_client(app)
    client.connect('/private')
    assert client.is_connected() and not client.is_connected('/private')
    client.connect('/private', auth={'ok': 1})
    assert client.is_connected('/private')


def test_rejected_connection_runs_no_disconnect_handler(make):
    app, sio = make()
    disconnects = []

    @sio.on('connect')
    def connect():
        return False

    @sio.on('disconnect')
    def disconnect(reason):
        disconnects.append(reason)

    sio.test_client(app)
    assert disconnects == []


def test_disconnect_handler_with_reason(make, mod):
    app, sio = make()
    got = []

    @sio.on('disconnect')
    def disconnect(reason):
        got.append((reason, flask.request.sid is not None, flask.request.namespace))

    client = sio.test_client(app)
    client.disconnect()
    assert got == [(mod.SocketIO.reason.CLIENT_DISCONNECT, True, '/')]
    assert not client.is_connected()


def test_disconnect_handler_without_reason(make):
    app, sio = make()
    got = []

    @sio.on('disconnect')
    def disconnect():
        got.append(flask.request.namespace)

    client = sio.test_client(app)
    client.disconnect()
    assert got == ['/']


def test_disconnect_of_not_connected_client_raises(make):
    app, sio = make()
    client = sio.test_client(app)
    client.disconnect()
    with pytest.raises(RuntimeError):
        client.disconnect()


def test_server_side_disconnect_from_handler(make, mod):
    app, sio = make()
    reasons = []

    @sio.on('kick me')
    def kick():
        mod.disconnect()

    @sio.on('disconnect')
    def disconnect(reason):
        reasons.append(reason)

    client = sio.test_client(app)
    client.emit('kick me')
    assert not client.is_connected()
    assert reasons == [mod.SocketIO.reason.SERVER_DISCONNECT]


def test_disconnect_helper_with_sid_and_namespace(make, mod):
    app, sio = make(namespaces=['/', '/chat'])
    reasons = []

    @sio.on('whoami', namespace='/chat')
    def whoami():
        return flask.request.sid

    @sio.on('kick')
    def kick(sid, namespace):
        mod.disconnect(sid=sid, namespace=namespace)

    @sio.on('disconnect', namespace='/chat')
    def chat_disconnect(reason):
        reasons.append((flask.request.namespace, reason))

    a, b = sio.test_client(app), sio.test_client(app)
    b.connect('/chat')
    b_chat_sid = b.emit('whoami', namespace='/chat', callback=True)
    a.emit('kick', b_chat_sid, '/chat')
    assert b.is_connected() and not b.is_connected('/chat')
    assert reasons == [('/chat', 'server disconnect')]


def test_server_disconnect_method(make):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    client = sio.test_client(app)
    sio.server.disconnect(client.emit('whoami', callback=True))
    assert not client.is_connected()


def test_connect_and_disconnect_are_per_namespace(make):
    app, sio = make()
    events = []

    def register(ns):
        def on_connect():
            events.append(('connect', ns, flask.request.namespace))

        def on_disconnect(reason):
            events.append(('disconnect', ns, flask.request.namespace, reason))

        sio.on_event('connect', on_connect, namespace=ns)
        sio.on_event('disconnect', on_disconnect, namespace=ns)

    for ns in ('/', '/a', '/b'):
        register(ns)

    client = sio.test_client(app)
    client.connect('/a')
    client.connect('/b')
    client.disconnect('/a')
    assert events == [('connect', '/', '/'), ('connect', '/a', '/a'), ('connect', '/b', '/b'),
                      ('disconnect', '/a', '/a', 'client disconnect')]
    assert client.is_connected('/b') and not client.is_connected('/a')


def test_always_connect_rejection_still_disconnects(make, spy_factory):
    app, sio = make(always_connect=True)

    @sio.on('connect')
    def connect(auth):
        return bool(auth)

    client = sio.test_client(app)
    assert not client.is_connected()
    client = sio.test_client(app, auth={'ok': 1})
    assert client.is_connected()


def test_connect_handler_exception_propagates_without_error_handler(make):
    app, sio = make()

    @sio.on('connect')
    def connect():
        raise RuntimeError('connect failed')

    with pytest.raises(RuntimeError, match='connect failed'):
        sio.test_client(app)


def test_connect_handler_exception_goes_to_error_handler(make):
    app, sio = make()
    errors = []

    @sio.on('connect')
    def connect():
        raise RuntimeError('connect failed')

    @sio.on_error()
    def on_error(e):
        errors.append((str(e), flask.request.event['message']))
        return False  # the error handler's value is the connect result

    client = sio.test_client(app)
    assert errors == [('connect failed', 'connect')]
    assert not client.is_connected()
