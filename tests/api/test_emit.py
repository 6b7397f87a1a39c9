"""Sending: context-aware emit/send inside handlers, SocketIO.emit/send from outside, addressing
(reply-to-sender, to/room, lists of rooms, include_self, skip_sid, broadcast, namespace) and
server-to-client acks (callback=)."""
import flask
import pytest

from .support import names


def _whoami(sio):
    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    @sio.on('whoami', namespace='/chat')
    def whoami_chat():
        return flask.request.sid


def _clients(sio, app, n, namespace=None):
    clients = [sio.test_client(app) for _ in range(n)]
    if namespace:
        for c in clients:
            c.connect(namespace)
    return clients


def test_emit_replies_to_sender_by_default(make, mod):
    app, sio = make()

    @sio.on('my event')
    def handle(json):
        mod.emit('my response', json)

    a, b = _clients(sio, app, 2)
    a.emit('my event', {'data': 1})
    assert a.get_received() == [{'name': 'my response', 'args': [{'data': 1}], 'namespace': '/'}]
    assert b.get_received() == []


def test_send_replies_to_sender_by_default(make, mod):
    app, sio = make()

    @sio.on('message')
    def handle_message(message):
        mod.send(message)

    @sio.on('json')
    def handle_json(json):
        mod.send(json, json=True)

    a, b = _clients(sio, app, 2)
    a.send('text')
    a.send({'j': 1}, json=True)
    assert a.get_received() == [
        {'name': 'message', 'args': 'text', 'namespace': '/'},
        {'name': 'json', 'args': {'j': 1}, 'namespace': '/'},
    ]
    assert b.get_received() == []


def test_emit_tuple_sends_several_arguments(make, mod):
    app, sio = make()

    @sio.on('my event')
    def handle(json):
        mod.emit('my response', ('foo', 'bar', json))

    a, = _clients(sio, app, 1)
    a.emit('my event', 3)
    assert a.get_received() == [{'name': 'my response', 'args': ['foo', 'bar', 3],
                                 'namespace': '/'}]


def test_emit_without_data(make, mod):
    app, sio = make()

    @sio.on('ping')
    def ping():
        mod.emit('pong')

    a, = _clients(sio, app, 1)
    a.emit('ping')
    assert a.get_received() == [{'name': 'pong', 'args': [], 'namespace': '/'}]


@pytest.mark.parametrize('how', ['emit', 'send'])
def test_broadcast_includes_sender(make, mod, how):
    app, sio = make()

    @sio.on('go')
    def go(data):
        if how == 'emit':
            mod.emit('all', data, broadcast=True)
        else:
            mod.send(data, broadcast=True)

    a, b, c = _clients(sio, app, 3)
    a.emit('go', 5)
    expected_name = 'all' if how == 'emit' else 'message'
    for client in (a, b, c):
        assert names(client.get_received()) == [expected_name]


def test_broadcast_without_self(make, mod):
    app, sio = make()

    @sio.on('go')
    def go():
        mod.emit('others', broadcast=True, include_self=False)
        mod.send('others-msg', broadcast=True, include_self=False)

    a, b, c = _clients(sio, app, 3)
    a.emit('go')
    assert a.get_received() == []
    assert names(b.get_received()) == ['others', 'message']
    assert names(c.get_received()) == ['others', 'message']


def test_broadcast_stays_in_namespace(make, mod):
    app, sio = make()

    @sio.on('go', namespace='/chat')
    def go():
        mod.emit('chat-all', broadcast=True)

    @sio.on('connect', namespace='/chat')
    def connect():
        pass

    a, b = _clients(sio, app, 2)
    a.connect('/chat')
    a.emit('go', namespace='/chat')
    assert names(a.get_received('/chat')) == ['chat-all']
    assert a.get_received() == []
    assert b.get_received() == []


def test_emit_and_send_to_room(make, mod):
    app, sio = make()

    @sio.on('join')
    def on_join(data):
        mod.join_room(data['room'])
        mod.send(data['username'] + ' has entered the room.', to=data['room'])

    @sio.on('say')
    def say(room, text):
        mod.emit('said', text, to=room)

    @sio.on('say_room_kw')
    def say_room_kw(room, text):
        mod.emit('said', text, room=room)

    a, b, c = _clients(sio, app, 3)
    a.emit('join', {'username': 'ann', 'room': 'r1'})
    b.emit('join', {'username': 'bob', 'room': 'r1'})
    assert a.get_received() == [
        {'name': 'message', 'args': 'ann has entered the room.', 'namespace': '/'},
        {'name': 'message', 'args': 'bob has entered the room.', 'namespace': '/'},
    ]
    assert names(b.get_received()) == ['message']
    c.emit('say', 'r1', 'hi')
    c.emit('say_room_kw', 'r1', 'hey')
    assert c.get_received() == []
    assert [r['args'] for r in a.get_received()] == [['hi'], ['hey']]
    assert [r['args'] for r in b.get_received()] == [['hi'], ['hey']]


def test_emit_to_list_of_rooms_delivers_once(make, mod):
    app, sio = make()

    @sio.on('join')
    def join(*rooms):
        for room in rooms:
            mod.join_room(room)

    @sio.on('say')
    def say(rooms):
        mod.emit('said', to=rooms)

    a, b, c, d = _clients(sio, app, 4)
    a.emit('join', 'r1', 'r2')
    b.emit('join', 'r2')
    c.emit('join', 'r3')
    d.emit('say', ['r1', 'r2'])
    # a is in both rooms but gets the event once
    assert names(a.get_received()) == ['said']
    assert names(b.get_received()) == ['said']
    assert c.get_received() == []
    assert d.get_received() == []


def test_emit_to_room_including_and_excluding_self(make, mod):
    app, sio = make()

    @sio.on('join')
    def join(room):
        mod.join_room(room)

    @sio.on('say')
    def say(room, include_self):
        mod.emit('said', to=room, include_self=include_self)

    a, b = _clients(sio, app, 2)
    a.emit('join', 'r')
    b.emit('join', 'r')
    a.emit('say', 'r', True)
    assert names(a.get_received()) == ['said']
    assert names(b.get_received()) == ['said']
    a.emit('say', 'r', False)
    assert a.get_received() == []
    assert names(b.get_received()) == ['said']


def test_skip_sid_single_and_list(make, mod):
    app, sio = make()
    _whoami(sio)

    @sio.on('skip')
    def skip(skipped):
        mod.emit('ev', broadcast=True, skip_sid=skipped)

    a, b, c, d = _clients(sio, app, 4)
    sids = [x.emit('whoami', callback=True) for x in (a, b, c, d)]
    a.emit('skip', sids[1])
    assert [bool(x.get_received()) for x in (a, b, c, d)] == [True, False, True, True]
    a.emit('skip', [sids[0], sids[2]])
    assert [bool(x.get_received()) for x in (a, b, c, d)] == [False, True, False, True]


def test_emit_to_sid_room(make, mod):
    app, sio = make()
    _whoami(sio)

    @sio.on('dm')
    def dm(target, text):
        mod.emit('dm', text, to=target)

    a, b, c = _clients(sio, app, 3)
    b_sid = b.emit('whoami', callback=True)
    a.emit('dm', b_sid, 'psst')
    assert a.get_received() == []
    assert b.get_received() == [{'name': 'dm', 'args': ['psst'], 'namespace': '/'}]
    assert c.get_received() == []


def test_emit_to_other_namespace_broadcast(make, mod):
    app, sio = make()

    @sio.on('connect', namespace='/chat')
    def chat_connect():
        pass

    @sio.on('go')
    def go():
        mod.emit('in chat', 1, namespace='/chat', broadcast=True)
        mod.send('chat msg', namespace='/chat', broadcast=True)

    a, b = _clients(sio, app, 2)
    b.connect('/chat')
    a.emit('go')
    assert a.get_received() == []
    assert b.get_received('/chat') == [
        {'name': 'in chat', 'args': [1], 'namespace': '/chat'},
        {'name': 'message', 'args': 'chat msg', 'namespace': '/chat'},
    ]


def test_emit_to_other_namespace_by_sid(make, mod):
    app, sio = make()
    _whoami(sio)

    @sio.on('go')
    def go(chat_sid):
        mod.emit('direct', namespace='/chat', to=chat_sid)

    a, = _clients(sio, app, 1, namespace='/chat')
    chat_sid = a.emit('whoami', namespace='/chat', callback=True)
    a.emit('go', chat_sid)
    assert names(a.get_received('/chat')) == ['direct']


def test_server_side_emit_broadcasts_by_default(make):
    app, sio = make()
    a, b = _clients(sio, app, 2)
    sio.emit('some event', {'data': 42})
    sio.send('hello')
    sio.send({'j': 1}, json=True)
    for client in (a, b):
        assert client.get_received() == [
            {'name': 'some event', 'args': [{'data': 42}], 'namespace': '/'},
            {'name': 'message', 'args': 'hello', 'namespace': '/'},
            {'name': 'json', 'args': {'j': 1}, 'namespace': '/'},
        ]


def test_server_side_emit_addressing(make, mod):
    app, sio = make()
    _whoami(sio)

    @sio.on('join')
    def join(room):
        mod.join_room(room)

    a, b, c = _clients(sio, app, 3, namespace='/chat')
    sids = [x.emit('whoami', callback=True) for x in (a, b, c)]
    a.emit('join', 'r')
    b.emit('join', 'r')
    sio.emit('to-room', to='r')
    sio.emit('room-kw', room='r')
    sio.emit('to-sid', to=sids[2])
    sio.emit('rooms-list', to=['r', sids[2]])
    sio.emit('skip', skip_sid=sids[0])
    sio.emit('skip-list', skip_sid=[sids[0], sids[1]])
    sio.emit('room-skip', to='r', skip_sid=sids[1])
    sio.emit('in-chat', namespace='/chat')
    sio.send('chat-msg', namespace='/chat', to='r')
    assert names(a.get_received()) == ['to-room', 'room-kw', 'rooms-list', 'room-skip']
    assert names(b.get_received()) == ['to-room', 'room-kw', 'rooms-list', 'skip']
    assert names(c.get_received()) == ['to-sid', 'rooms-list', 'skip', 'skip-list']
    for client in (a, b, c):
        assert names(client.get_received('/chat')) == ['in-chat']


def test_server_side_emit_to_none_broadcasts(make):
    app, sio = make()
    a, = _clients(sio, app, 1)
    sio.emit('plain', 1, to=None)
    assert names(a.get_received()) == ['plain']


def test_server_side_emit_from_http_route(make):
    app, sio = make(namespaces=['/', '/chat'])

    @app.route('/ping')
    def ping():
        sio.emit('ping event', {'data': 42}, namespace='/chat')
        return 'ok'

    a, = _clients(sio, app, 1, namespace='/chat')
    assert app.test_client().get('/ping').get_data(as_text=True) == 'ok'
    assert a.get_received('/chat') == [{'name': 'ping event', 'args': [{'data': 42}],
                                        'namespace': '/chat'}]


def test_server_emit_callback_receives_client_ack(make, spy_factory):
    app, sio = make()
    _whoami(sio)
    a, = _clients(sio, app, 1)
    sid = a.emit('whoami', callback=True)
    spy = spy_factory(sio).install()
    acked = []
    sio.emit('question', 'q?', to=sid, callback=lambda *args: acked.append(args))
    [pkt] = spy.events_with_ack_id(a.eio_sid)
    assert a.get_received() == [{'name': 'question', 'args': ['q?'], 'namespace': '/'}]
    spy.send_ack(a, pkt, 'answer', 42)
    assert acked == [('answer', 42)]


def test_handler_emit_callback_runs_in_request_context(make, mod, spy_factory):
    app, sio = make()
    acked = []

    @sio.on('start')
    def start():
        sid = flask.request.sid

        def ack(*args):
            acked.append((args, flask.has_request_context(), flask.request.sid == sid,
                          flask.request.namespace))
        mod.emit('question', callback=ack)

    a, = _clients(sio, app, 1)
    spy = spy_factory(sio).install()
    a.emit('start')
    [pkt] = spy.events_with_ack_id(a.eio_sid)
    spy.send_ack(a, pkt, 'yes')
    assert acked == [(('yes',), True, True, '/')]


def test_send_with_callback(make, mod, spy_factory):
    app, sio = make()
    acked = []

    @sio.on('start')
    def start():
        mod.send('msg', callback=lambda *a: acked.append(a))

    a, = _clients(sio, app, 1)
    spy = spy_factory(sio).install()
    a.emit('start')
    [pkt] = spy.events_with_ack_id(a.eio_sid)
    assert a.get_received() == [{'name': 'message', 'args': 'msg', 'namespace': '/'}]
    spy.send_ack(a, pkt)
    assert acked == [()]


def test_emit_inside_connect_handler(make, mod):
    app, sio = make()

    @sio.on('connect')
    def test_connect(auth):
        mod.emit('my response', {'data': 'Connected'})

    a = sio.test_client(app)
    assert a.get_received() == [{'name': 'my response', 'args': [{'data': 'Connected'}],
                                 'namespace': '/'}]
