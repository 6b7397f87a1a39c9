"""python-socketio's admin UI instrumentation (``socketio.server.instrument()``) on our server.

instrument() wraps the server's event dispatch and the manager's emit/room methods, and patches
engine.io's Socket class process-wide, so every test uninstruments when done. In development
mode it also asks engine.io for each client's socket, which the test client does not have; the
test stands one in (an already-upgraded socket) so the reporting paths can run.
"""
import types

import flask
import pytest

from .support import names, wait_for


@pytest.fixture
def instrumented(make, mod):
    made = []

    def factory(mode, auth=False, **kwargs):
        app, sio = make(**kwargs)

        @sio.on('ping')
        def ping(data):
            mod.emit('pong', data)
            return 'ok'

        @sio.on('join')
        def join(room):
            mod.join_room(room)

        @sio.on('whoami')
        def whoami():
            return flask.request.sid

        admin = sio.server.instrument(auth=auth, mode=mode)
        made.append(admin)
        return app, sio, admin

    yield factory
    for admin in made:
        admin.uninstrument()


def test_instrument_requires_explicit_auth(make):
    app, sio = make()
    with pytest.raises(ValueError):
        sio.server.instrument()


def test_production_mode_keeps_events_working(instrumented):
    app, sio, admin = instrumented('production')
    watcher = sio.test_client(app, namespace='/admin')
    assert watcher.is_connected('/admin')
    client = sio.test_client(app)
    assert client.emit('ping', 1, callback=True) == 'ok'
    assert client.get_received() == [{'name': 'pong', 'args': [1], 'namespace': '/'}]
    # the admin namespace is served by python-socketio's own handlers
    config = wait_for(lambda: [q for q in watcher.queue if q['name'] == 'config'])
    assert 'EMIT' in config[0]['args'][0]['supportedFeatures']


def test_admin_auth_is_enforced(instrumented):
    app, sio, admin = instrumented('production', auth={'username': 'u', 'password': 'p'})
    refused = sio.test_client(app, namespace='/admin', auth={'username': 'u', 'password': 'x'})
    assert not refused.is_connected('/admin')
    allowed = sio.test_client(app, namespace='/admin', auth={'username': 'u', 'password': 'p'})
    assert allowed.is_connected('/admin')


def test_development_mode_reports_events_emits_and_rooms(instrumented, monkeypatch):
    app, sio, admin = instrumented('development')
    fake_socket = types.SimpleNamespace(upgraded=True, closed=False)
    monkeypatch.setattr(sio.server.eio, '_get_socket', lambda eio_sid: fake_socket)
    watcher = sio.test_client(app, namespace='/admin')
    client = sio.test_client(app)
    sid = client.emit('whoami', callback=True)
    assert client.emit('ping', 7, callback=True) == 'ok'
    client.emit('join', 'room1')
    sio.emit('broadcast', 'all')
    # the admin's own 'emit' command reaches application clients
    watcher.emit('emit', '/', None, 'from admin', 'hello', namespace='/admin')
    assert client.get_received() == [
        {'name': 'pong', 'args': [7], 'namespace': '/'},
        {'name': 'broadcast', 'args': ['all'], 'namespace': '/'},
        {'name': 'from admin', 'args': ['hello'], 'namespace': '/'},
    ]
    client.disconnect()
    # 'all_sockets' comes from a background task; waiting for it also keeps that task from
    # outliving the stand-in socket
    seen = wait_for(lambda: names(watcher.queue) if {'socket_disconnected', 'all_sockets'} <=
                    set(names(watcher.queue)) else None)
    for expected in ('config', 'all_sockets', 'socket_connected', 'event_received', 'event_sent', 'room_joined',
                     'socket_disconnected'):
        assert expected in seen, (expected, seen)
    received = [q['args'] for q in watcher.queue if q['name'] == 'event_received']
    assert ['/', sid, ['ping', 7]] in [r[:3] for r in received]
    sent = [q['args'][:3] for q in watcher.queue if q['name'] == 'event_sent']
    assert ['/', sid, ['pong', 7]] in sent
    assert ['/', sid, ['broadcast', 'all']] in sent
    joined = [q['args'][:3] for q in watcher.queue if q['name'] == 'room_joined']
    assert ['/', 'room1', sid] in joined
