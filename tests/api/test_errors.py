"""Error handlers: on_error per namespace, on_error_default, their return value as the ack, and
request.event available inside them."""
import flask
import pytest


def _failing(sio, namespace='/'):
    @sio.on('my error event', namespace=namespace)
    def on_my_event(data):
        raise RuntimeError('failed with %r' % (data,))


def test_on_error_for_default_namespace(make):
    app, sio = make()
    _failing(sio)
    errors = []

    @sio.on_error()
    def error_handler(e):
        errors.append((type(e).__name__, str(e)))

    client = sio.test_client(app)
    client.emit('my error event', 1)
    assert errors == [('RuntimeError', 'failed with 1')]


def test_on_error_for_named_namespace(make):
    app, sio = make()
    _failing(sio)
    _failing(sio, '/chat')
    errors = []

    @sio.on_error('/chat')
    def error_handler_chat(e):
        errors.append(('chat', flask.request.namespace))
        return 'chat-handled'

    client = sio.test_client(app, namespace='/chat')
    assert client.emit('my error event', 1, namespace='/chat', callback=True) == 'chat-handled'
    assert errors == [('chat', '/chat')]
    # no handler for '/', so the exception reaches the caller
    client.connect('/')
    with pytest.raises(RuntimeError):
        client.emit('my error event', 2)


def test_on_error_default_and_priority(make):
    app, sio = make()
    _failing(sio)
    _failing(sio, '/chat')
    _failing(sio, '/other')
    calls = []

    @sio.on_error('/chat')
    def chat(e):
        calls.append('chat')
        return 'chat'

    @sio.on_error_default
    def default_error_handler(e):
        calls.append(('default', flask.request.event['message'],
                      list(flask.request.event['args'])))
        return 'default', flask.request.namespace

    client = sio.test_client(app)
    client.connect('/chat')
    client.connect('/other')
    assert client.emit('my error event', 'd', namespace='/chat', callback=True) == 'chat'
    assert client.emit('my error event', 'd', namespace='/other', callback=True) == \
        ['default', '/other']
    assert client.emit('my error event', 'e', callback=True) == ['default', '/']
    assert calls == ['chat', ('default', 'my error event', ['d']),
                     ('default', 'my error event', ['e'])]


def test_error_handler_has_request_context_and_session(make):
    app, sio = make()
    _failing(sio)
    seen = []

    @sio.on('remember')
    def remember(v):
        flask.session['v'] = v

    @sio.on_error_default
    def default_error_handler(e):
        seen.append((bool(flask.request.sid), flask.session.get('v'),
                     flask.request.event['message']))

    client = sio.test_client(app)
    client.emit('remember', 'kept')
    client.emit('my error event', None)
    assert seen == [(True, 'kept', 'my error event')]


def test_error_handler_without_ack_request(make, spy_factory):
    app, sio = make()
    _failing(sio)

    @sio.on_error_default
    def default_error_handler(e):
        return 'value'

    client = sio.test_client(app)
    spy = spy_factory(sio).install()
    assert client.emit('my error event', 1) is None
    assert spy.of_type(3) == []


def test_error_handlers_must_be_callable(make):
    app, sio = make()
    with pytest.raises(ValueError):
        sio.on_error()('not callable')
    with pytest.raises(ValueError):
        sio.on_error_default('not callable')


def test_decorators_return_the_function(make):
    app, sio = make()

    def handler(e):
        pass

    assert sio.on_error('/x')(handler) is handler
    assert sio.on_error_default(handler) is handler


def test_exception_without_handler_propagates(make):
    app, sio = make()
    _failing(sio)
    client = sio.test_client(app)
    with pytest.raises(RuntimeError, match='failed with 3'):
        client.emit('my error event', 3)
    # the client is still usable afterwards
    assert client.is_connected()


def test_error_in_disconnect_handler_goes_to_error_handler(make):
    app, sio = make()
    seen = []

    @sio.on('disconnect')
    def disconnect(reason):
        raise RuntimeError('in disconnect')

    @sio.on_error_default
    def default_error_handler(e):
        seen.append((str(e), flask.request.event['message']))

    client = sio.test_client(app)
    client.disconnect()
    assert seen == [('in disconnect', 'disconnect')]


def test_connection_refused_error_is_not_sent_to_error_handler(make, mod):
    app, sio = make()
    seen = []

    @sio.on('connect')
    def connect():
        raise mod.ConnectionRefusedError('no')

    @sio.on_error_default
    def default_error_handler(e):
        seen.append(e)

    client = sio.test_client(app)
    assert not client.is_connected()
    assert seen == []
