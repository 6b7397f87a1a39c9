"""Registering event handlers (on, event, on_event), namespaces, reserved and catch-all events,
acks returned by handlers, and binary payloads both ways."""
import flask
import pytest


def test_on_with_named_event_and_ack(make, mod):
    app, sio = make()
    got = []

    @sio.on('my event')
    def handle(json):
        got.append(json)
        return 'one', 2

    client = sio.test_client(app)
    # a tuple return value becomes several ack arguments
    assert client.emit('my event', {'data': 1}, callback=True) == ['one', 2]
    assert got == [{'data': 1}]


def test_on_returns_original_function(make):
    app, sio = make()

    def handler():
        pass

    assert sio.on('x')(handler) is handler


def test_ack_without_return_value_has_no_arguments(make, spy_factory):
    app, sio = make()

    @sio.on('noop')
    def noop():
        pass

    client = sio.test_client(app)
    spy = spy_factory(sio).install()
    assert client.emit('noop', callback=True) == []
    assert [p['data'] for p in spy.of_type(3)] == [[]]


def test_no_ack_requested_sends_no_ack(make, spy_factory):
    app, sio = make()

    @sio.on('val')
    def val():
        return 5

    client = sio.test_client(app)
    spy = spy_factory(sio).install()
    assert client.emit('val') is None
    assert spy.of_type(3) == []


def test_single_value_and_list_acks(make):
    app, sio = make()

    @sio.on('one')
    def one():
        return {'k': 'v'}

    @sio.on('lst')
    def lst():
        return [1, 2]

    client = sio.test_client(app)
    assert client.emit('one', callback=True) == {'k': 'v'}
    # a list is one argument, not several
    assert client.emit('lst', callback=True) == [1, 2]


def test_multiple_arguments(make):
    app, sio = make()

    @sio.on('my_event')
    def handle(arg1, arg2, arg3):
        return arg1 + arg2 + arg3

    client = sio.test_client(app)
    assert client.emit('my_event', 'a', 'b', 'c', callback=True) == 'abc'


def test_event_decorator_bare(make):
    app, sio = make()

    @sio.event
    def my_custom_event(a, b):
        return [a, b, flask.request.namespace]

    client = sio.test_client(app)
    assert client.emit('my_custom_event', 1, 2, callback=True) == [1, 2, '/']


def test_event_decorator_with_namespace(make):
    app, sio = make()

    @sio.event(namespace='/test')
    def my_event(data):
        return ['ns', flask.request.namespace, data]

    client = sio.test_client(app, namespace='/test')
    assert client.emit('my_event', 7, namespace='/test', callback=True) == ['ns', '/test', 7]


def test_on_event_non_decorator(make):
    app, sio = make()
    seen = []

    def my_function_handler(data):
        seen.append((flask.request.namespace, data))
        return 'handled'

    sio.on_event('my event', my_function_handler, namespace='/test')
    client = sio.test_client(app, namespace='/test')
    assert client.emit('my event', 'x', namespace='/test', callback=True) == 'handled'
    assert seen == [('/test', 'x')]


def test_handlers_are_per_namespace(make):
    app, sio = make()

    @sio.on('ev')
    def root(data):
        return 'root'

    @sio.on('ev', namespace='/test')
    def test_ns(data):
        return 'test'

    client = sio.test_client(app)
    client.connect('/test')
    assert client.emit('ev', 0, callback=True) == 'root'
    assert client.emit('ev', 0, namespace='/test', callback=True) == 'test'


def test_unhandled_event_gets_no_ack(make):
    app, sio = make()

    @sio.on('known')
    def known():
        return 1

    client = sio.test_client(app)
    assert client.emit('unknown', callback=True) is None
    assert client.get_received() == []


def test_namespace_without_handlers_is_refused(make):
    app, sio = make()

    @sio.on('x', namespace='/yes')
    def x():
        pass

    client = sio.test_client(app)
    client.connect('/yes')
    client.connect('/no')
    assert client.is_connected('/yes')
    assert not client.is_connected('/no')


def test_namespaces_option_accepts_listed_namespaces(make):
    app, sio = make(namespaces=['/', '/listed'])
    client = sio.test_client(app)
    client.connect('/listed')
    client.connect('/other')
    assert client.is_connected('/listed')
    assert not client.is_connected('/other')


def test_namespaces_star_accepts_any(make):
    app, sio = make(namespaces='*')
    client = sio.test_client(app)
    client.connect('/anything')
    assert client.is_connected('/anything')


def test_reserved_message_event(make, mod):
    app, sio = make()
    got = []

    @sio.on('message')
    def handle_message(data):
        got.append(data)
        mod.send(data)
        return 'm-ack'

    client = sio.test_client(app)
    assert client.send('hello', callback=True) == 'm-ack'
    assert got == ['hello']
    assert client.get_received() == [{'name': 'message', 'args': 'hello', 'namespace': '/'}]


def test_reserved_json_event(make, mod):
    app, sio = make()
    got = []

    @sio.on('json')
    def handle_json(json):
        got.append(json)
        mod.send(json, json=True)
        return 'j-ack'

    client = sio.test_client(app)
    assert client.send({'a': 1}, json=True, callback=True) == 'j-ack'
    assert got == [{'a': 1}]
    assert client.get_received() == [{'name': 'json', 'args': {'a': 1}, 'namespace': '/'}]


def test_message_and_json_are_distinct(make):
    app, sio = make()
    got = []

    @sio.on('message')
    def m(data):
        got.append(('message', data))

    @sio.on('json')
    def j(data):
        got.append(('json', data))

    client = sio.test_client(app)
    client.send('text')
    client.send({'x': 1}, json=True)
    assert got == [('message', 'text'), ('json', {'x': 1})]


def test_catch_all_event(make):
    app, sio = make()
    got = []

    @sio.on('specific')
    def specific(data):
        got.append(('specific', data))
        return 'specific'

    @sio.on('*')
    def catch_all(event, data):
        got.append((event, data, flask.request.event['message']))
        return 'caught:' + event

    client = sio.test_client(app)
    assert client.emit('specific', 1, callback=True) == 'specific'
    assert client.emit('other', 2, callback=True) == 'caught:other'
    assert got == [('specific', 1), ('other', 2, '*')]


def test_catch_all_event_does_not_catch_connect(make):
    app, sio = make()
    got = []

    @sio.on('*')
    def catch_all(event, *args):
        got.append(event)

    client = sio.test_client(app)
    client.emit('e1')
    client.disconnect()
    assert got == ['e1']


def test_catch_all_namespace_handlers_do_not_open_namespaces(make):
    # connecting to arbitrary namespaces still needs namespaces='*'
    app, sio = make()

    @sio.on('ev', namespace='*')
    def ev(data):
        pass

    client = sio.test_client(app, namespace='/a')
    assert not client.is_connected('/a')


def test_catch_all_namespace(make):
    app, sio = make(namespaces='*')
    got = []

    @sio.on('connect', namespace='*')
    def connect(auth):
        got.append(('connect', flask.request.namespace, auth))

    @sio.on('ev', namespace='*')
    def ev(data):
        got.append(('ev', flask.request.namespace, data))
        return flask.request.namespace

    client = sio.test_client(app, namespace='/a', auth={'t': 1})
    client.connect('/b')
    assert client.is_connected('/a') and client.is_connected('/b')
    assert client.emit('ev', 1, namespace='/a', callback=True) == '/a'
    assert client.emit('ev', 2, namespace='/b', callback=True) == '/b'
    assert got == [('connect', '/a', {'t': 1}), ('connect', '/b', None),
                   ('ev', '/a', 1), ('ev', '/b', 2)]


def test_specific_namespace_handler_wins_over_catch_all_namespace(make):
    app, sio = make(namespaces='*')

    @sio.on('ev', namespace='*')
    def any_ns(data):
        return 'any'

    @sio.on('ev', namespace='/special')
    def special(data):
        return 'special'

    client = sio.test_client(app, namespace='/special')
    client.connect('/plain')
    assert client.emit('ev', 0, namespace='/special', callback=True) == 'special'
    assert client.emit('ev', 0, namespace='/plain', callback=True) == 'any'


@pytest.mark.parametrize('payload', [
    b'\x00\x01\x02binary\xff',
    {'blob': b'\x10\x20', 'nested': [b'a', {'deeper': b'b'}], 'text': 'plain'},
    [b'x', 1, 'y'],
])
def test_binary_payloads_both_ways(make, mod, payload):
    app, sio = make()
    got = []

    @sio.on('bin')
    def handle(data):
        got.append(data)
        mod.emit('bin back', data)
        return data

    client = sio.test_client(app)
    assert client.emit('bin', payload, callback=True) == payload
    assert got == [payload]
    assert client.get_received() == [{'name': 'bin back', 'args': [payload], 'namespace': '/'}]


def test_binary_with_several_arguments(make, mod):
    app, sio = make()

    @sio.on('bins')
    def handle(a, b, c):
        mod.emit('out', (c, b, a))
        return a, c

    client = sio.test_client(app)
    assert client.emit('bins', b'A', 'b', b'C', callback=True) == [b'A', b'C']
    assert client.get_received() == [{'name': 'out', 'args': [b'C', 'b', b'A'],
                                      'namespace': '/'}]


def test_server_emit_of_binary(make):
    app, sio = make()
    client = sio.test_client(app)
    sio.emit('raw', b'\xde\xad\xbe\xef')
    assert client.get_received() == [{'name': 'raw', 'args': [b'\xde\xad\xbe\xef'],
                                      'namespace': '/'}]
