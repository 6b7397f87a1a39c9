"""Class-based namespaces: on_<event> dispatch, optional connect/disconnect arguments, the
convenience methods that default to the class's namespace, and the error() hook."""
import flask
import pytest

from .support import names


def _register(sio, mod, cls, ns='/test'):
    instance = cls(ns)
    sio.on_namespace(instance)
    return instance


def test_on_event_dispatch_and_ack(make, mod):
    app, sio = make()
    got = []

    class MyCustomNamespace(mod.Namespace):
        def on_my_event(self, data):
            got.append((data, flask.request.namespace, flask.request.event['message']))
            mod.emit('my_response', data)
            return 'ack', data

    _register(sio, mod, MyCustomNamespace)
    client = sio.test_client(app, namespace='/test')
    assert client.emit('my_event', 1, namespace='/test', callback=True) == ['ack', 1]
    assert got == [(1, '/test', 'my_event')]
    assert client.get_received('/test') == [{'name': 'my_response', 'args': [1],
                                             'namespace': '/test'}]


def test_event_without_method_is_ignored(make, mod):
    app, sio = make()

    class Ns(mod.Namespace):
        def on_known(self):
            return 1

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    # unlike an unhandled decorator-style event, a class namespace still acks (no arguments)
    assert client.emit('unknown', namespace='/test', callback=True) == []
    assert client.get_received('/test') == []


def test_message_and_json_methods(make, mod):
    app, sio = make()
    got = []

    class Ns(mod.Namespace):
        def on_message(self, data):
            got.append(('message', data))

        def on_json(self, data):
            got.append(('json', data))

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    client.send('t', namespace='/test')
    client.send({'j': 1}, json=True, namespace='/test')
    assert got == [('message', 't'), ('json', {'j': 1})]


@pytest.mark.parametrize('with_auth', [True, False])
def test_on_connect_with_and_without_auth(make, mod, with_auth):
    app, sio = make()
    got = []

    if with_auth:
        class Ns(mod.Namespace):
            def on_connect(self, auth):
                got.append(('auth', auth, flask.request.namespace))
    else:
        class Ns(mod.Namespace):
            def on_connect(self):
                got.append(('noauth', flask.request.namespace))

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test', auth={'k': 'v'})
    assert client.is_connected('/test')
    client.disconnect('/test')
    client.connect('/test')
    if with_auth:
        assert got == [('auth', {'k': 'v'}, '/test'), ('auth', None, '/test')]
    else:
        assert got == [('noauth', '/test'), ('noauth', '/test')]


def test_on_connect_rejects(make, mod, spy_factory):
    app, sio = make()

    class Ns(mod.Namespace):
        def on_connect(self, auth):
            if auth is None:
                return False
            if auth.get('bad'):
                raise mod.ConnectionRefusedError('bad auth', {'hint': 'x'})

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    assert not client.is_connected('/test')
    spy = spy_factory(sio).install()
    client.connect('/test', auth={'bad': True})
    assert spy.connect_errors(client.eio_sid, '/test') == [
        {'message': 'bad auth', 'data': {'hint': 'x'}}]
    client.connect('/test', auth={'good': True})
    assert client.is_connected('/test')


@pytest.mark.parametrize('with_reason', [True, False])
def test_on_disconnect_with_and_without_reason(make, mod, with_reason):
    app, sio = make()
    got = []

    if with_reason:
        class Ns(mod.Namespace):
            def on_disconnect(self, reason):
                got.append((reason, flask.request.namespace))
    else:
        class Ns(mod.Namespace):
            def on_disconnect(self):
                got.append(('no reason', flask.request.namespace))

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    client.disconnect('/test')
    if with_reason:
        assert got == [('client disconnect', '/test')]
    else:
        assert got == [('no reason', '/test')]


def test_decorated_handler_wins_over_class_method(make, mod):
    app, sio = make()
    got = []

    class Ns(mod.Namespace):
        def on_ev(self):
            got.append('class')
            return 'class'

        def on_other(self):
            got.append('class other')
            return 'class other'

    _register(sio, mod, Ns)

    @sio.on('ev', namespace='/test')
    def ev():
        got.append('decorated')
        return 'decorated'

    client = sio.test_client(app, namespace='/test')
    assert client.emit('ev', namespace='/test', callback=True) == 'decorated'
    assert client.emit('other', namespace='/test', callback=True) == 'class other'
    assert got == ['decorated', 'class other']


def test_on_namespace_requires_a_namespace_instance(make, mod):
    app, sio = make()
    with pytest.raises(ValueError):
        sio.on_namespace(object())


def test_namespace_gets_socketio_reference(make, mod):
    app, sio = make()

    class Ns(mod.Namespace):
        pass

    ns = _register(sio, mod, Ns)
    assert ns.socketio is sio
    assert ns.namespace == '/test'
    assert mod.Namespace().namespace == '/'


def test_namespace_emit_and_send_default_to_its_namespace_and_broadcast(make, mod):
    app, sio = make()

    class Ns(mod.Namespace):
        def on_shout(self, data):
            self.emit('shout', data)
            self.send('sent ' + data)

        def on_shout_others(self, data):
            self.emit('shout', data, include_self=False)
            self.send('others', include_self=False)

        def on_elsewhere(self):
            self.emit('elsewhere', 1, namespace='/')

    _register(sio, mod, Ns)
    a = sio.test_client(app, namespace='/test')
    b = sio.test_client(app, namespace='/test')
    a.connect()
    a.emit('shout', 'x', namespace='/test')
    for c in (a, b):
        assert c.get_received('/test') == [
            {'name': 'shout', 'args': ['x'], 'namespace': '/test'},
            {'name': 'message', 'args': 'sent x', 'namespace': '/test'},
        ]
    a.emit('shout_others', 'y', namespace='/test')
    assert a.get_received('/test') == []
    assert names(b.get_received('/test')) == ['shout', 'message']
    a.emit('elsewhere', namespace='/test')
    assert a.get_received() == [{'name': 'elsewhere', 'args': [1], 'namespace': '/'}]


def test_namespace_room_methods(make, mod):
    app, sio = make()
    log = []

    class Ns(mod.Namespace):
        def on_join(self, room):
            self.enter_room(flask.request.sid, room)
            return sorted(self.rooms(flask.request.sid))

        def on_leave(self, room):
            self.leave_room(flask.request.sid, room)
            return sorted(self.rooms(flask.request.sid))

        def on_say(self, room):
            self.emit('said', room, room=room)

        def on_close(self, room):
            self.close_room(room)

        def on_whoami(self):
            return flask.request.sid

        def on_kick(self, sid):
            self.disconnect(sid)

        def on_disconnect(self, reason):
            log.append(reason)

    _register(sio, mod, Ns)
    a = sio.test_client(app, namespace='/test')
    b = sio.test_client(app, namespace='/test')
    a_sid = a.emit('whoami', namespace='/test', callback=True)
    b_sid = b.emit('whoami', namespace='/test', callback=True)
    assert a.emit('join', 'r', namespace='/test', callback=True) == sorted([a_sid, 'r'])
    b.emit('say', 'r', namespace='/test')
    assert names(a.get_received('/test')) == ['said']
    assert b.get_received('/test') == []
    assert a.emit('leave', 'r', namespace='/test', callback=True) == [a_sid]
    a.emit('join', 'r2', namespace='/test')
    b.emit('close', 'r2', namespace='/test')
    b.emit('say', 'r2', namespace='/test')
    assert a.get_received('/test') == []
    a.emit('kick', b_sid, namespace='/test')
    assert not b.is_connected('/test')
    assert log == ['server disconnect']


def test_error_hook_receives_exception_and_its_value_is_the_ack(make, mod):
    app, sio = make()
    errors = []

    class Ns(mod.Namespace):
        def on_boom(self, data):
            raise ValueError(data)

        def error(self, exc):
            errors.append(repr(exc))
            return 'handled'

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    assert client.emit('boom', 'bad', namespace='/test', callback=True) == 'handled'
    assert errors == ["ValueError('bad')"]


def test_exception_without_error_hook_propagates(make, mod):
    app, sio = make()

    class Ns(mod.Namespace):
        def on_boom(self):
            raise ValueError('nope')

    _register(sio, mod, Ns)
    client = sio.test_client(app, namespace='/test')
    with pytest.raises(ValueError, match='nope'):
        client.emit('boom', namespace='/test')


def test_socketio_error_handler_applies_to_class_namespace(make, mod):
    app, sio = make()
    errors = []

    class Ns(mod.Namespace):
        def on_boom(self):
            raise KeyError('k')

    _register(sio, mod, Ns)

    @sio.on_error('/test')
    def on_error(e):
        errors.append((repr(e), flask.request.namespace, flask.request.event['message']))
        return 'from on_error'

    client = sio.test_client(app, namespace='/test')
    assert client.emit('boom', namespace='/test', callback=True) == 'from on_error'
    assert errors == [("KeyError('k')", '/test', 'boom')]
