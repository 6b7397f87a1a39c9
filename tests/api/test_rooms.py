"""Rooms: join_room/leave_room/close_room/rooms helpers, SocketIO.close_room, personal sid rooms,
and cleanup on disconnect."""
import flask

from .support import names


def _app(make, mod):
    app, sio = make(namespaces=['/', '/chat'])

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    @sio.on('whoami', namespace='/chat')
    def whoami_chat():
        return flask.request.sid

    @sio.on('join')
    def join(room, sid=None, namespace=None):
        mod.join_room(room, sid=sid, namespace=namespace)
        return sorted(mod.rooms())

    @sio.on('leave')
    def leave(room, sid=None, namespace=None):
        mod.leave_room(room, sid=sid, namespace=namespace)
        return sorted(mod.rooms())

    @sio.on('close')
    def close(room, namespace=None):
        mod.close_room(room, namespace=namespace)

    @sio.on('rooms')
    def get_rooms(sid=None, namespace=None):
        return sorted(mod.rooms(sid=sid, namespace=namespace))

    @sio.on('say')
    def say(room, namespace=None):
        mod.emit('said', room, to=room, namespace=namespace)

    return app, sio


def test_rooms_include_personal_sid_room(make, mod):
    app, sio = _app(make, mod)
    a = sio.test_client(app)
    sid = a.emit('whoami', callback=True)
    assert a.emit('rooms', callback=True) == [sid]


def test_join_and_leave(make, mod):
    app, sio = _app(make, mod)
    a = sio.test_client(app)
    sid = a.emit('whoami', callback=True)
    assert a.emit('join', 'r1', callback=True) == sorted([sid, 'r1'])
    assert a.emit('join', 'r2', callback=True) == sorted([sid, 'r1', 'r2'])
    # joining twice is harmless
    assert a.emit('join', 'r2', callback=True) == sorted([sid, 'r1', 'r2'])
    assert a.emit('leave', 'r1', callback=True) == sorted([sid, 'r2'])
    # leaving a room one is not in is harmless
    assert a.emit('leave', 'never', callback=True) == sorted([sid, 'r2'])


def test_room_membership_drives_delivery(make, mod):
    app, sio = _app(make, mod)
    a, b = sio.test_client(app), sio.test_client(app)
    a.emit('join', 'r')
    b.emit('say', 'r')
    assert names(a.get_received()) == ['said']
    assert b.get_received() == []
    a.emit('leave', 'r')
    b.emit('say', 'r')
    assert a.get_received() == []


def test_join_and_leave_for_another_sid(make, mod):
    app, sio = _app(make, mod)
    a, b = sio.test_client(app), sio.test_client(app)
    b_sid = b.emit('whoami', callback=True)
    a.emit('join', 'r', b_sid)
    assert b.emit('rooms', callback=True) == sorted([b_sid, 'r'])
    assert a.emit('rooms', b_sid, callback=True) == sorted([b_sid, 'r'])
    a.emit('leave', 'r', b_sid)
    assert b.emit('rooms', callback=True) == [b_sid]


def test_rooms_are_per_namespace(make, mod):
    app, sio = _app(make, mod)
    a = sio.test_client(app)
    a.connect('/chat')
    chat_sid = a.emit('whoami', namespace='/chat', callback=True)
    a.emit('join', 'lobby', chat_sid, '/chat')
    assert a.emit('rooms', chat_sid, '/chat', callback=True) == sorted([chat_sid, 'lobby'])
    root_sid = a.emit('whoami', callback=True)
    assert a.emit('rooms', callback=True) == [root_sid]
    a.emit('say', 'lobby', '/chat')
    assert a.get_received('/chat') == [{'name': 'said', 'args': ['lobby'], 'namespace': '/chat'}]


def test_close_room_helper(make, mod):
    app, sio = _app(make, mod)
    a, b, c = (sio.test_client(app) for _ in range(3))
    a.emit('join', 'r')
    b.emit('join', 'r')
    c.emit('close', 'r')
    c.emit('say', 'r')
    assert a.get_received() == [] and b.get_received() == []
    a_sid = a.emit('whoami', callback=True)
    assert a.emit('rooms', callback=True) == [a_sid]


def test_socketio_close_room_outside_handlers(make, mod):
    app, sio = _app(make, mod)
    a = sio.test_client(app)
    a.connect('/chat')
    chat_sid = a.emit('whoami', namespace='/chat', callback=True)
    a.emit('join', 'r')
    a.emit('join', 'r', chat_sid, '/chat')
    sio.close_room('r')
    sio.emit('after', to='r')
    assert a.get_received() == []
    # the other namespace's room is untouched until closed there
    sio.emit('after', to='r', namespace='/chat')
    assert names(a.get_received('/chat')) == ['after']
    sio.close_room('r', namespace='/chat')
    sio.emit('after', to='r', namespace='/chat')
    assert a.get_received('/chat') == []


def test_server_rooms_and_enter_room(make, mod):
    app, sio = _app(make, mod)
    a = sio.test_client(app)
    sid = a.emit('whoami', callback=True)
    sio.server.enter_room(sid, 'direct')
    assert sorted(sio.server.rooms(sid)) == sorted([sid, 'direct'])
    sio.server.leave_room(sid, 'direct')
    assert sio.server.rooms(sid) == [sid]


def test_disconnect_leaves_all_rooms(make, mod):
    app, sio = _app(make, mod)
    a, b = sio.test_client(app), sio.test_client(app)
    a_sid = a.emit('whoami', callback=True)
    a.emit('join', 'r')
    a.disconnect()
    sio.emit('after', to='r')
    assert b.get_received() == []
    assert 'r' not in sio.server.manager.rooms.get('/', {})
    assert a_sid not in sio.server.manager.rooms.get('/', {})
