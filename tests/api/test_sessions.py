"""User sessions in Socket.IO events.

manage_session=True: each connection gets a forked copy of the Flask session taken at connect
time; it persists across that connection's events and is never written back to HTTP.
manage_session=False: Flask's session interface is used for every event; with a server-side
session store, HTTP routes and Socket.IO events share one session.
"""
import uuid

import flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict


class _MemorySession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid=None):
        def on_update(session):
            session.modified = True
        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False


class MemorySessionInterface(SessionInterface):
    """The smallest server-side session store: the cookie holds only an id."""

    def __init__(self):
        self.store = {}

    def open_session(self, app, request):
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and sid in self.store:
            return _MemorySession(self.store[sid], sid=sid)
        return _MemorySession(sid=uuid.uuid4().hex)

    def save_session(self, app, session, response):
        self.store[session.sid] = dict(session)
        response.set_cookie(self.get_cookie_name(app), session.sid, httponly=True)


def _session_app(make, manage_session, server_side=False):
    app, sio = make(manage_session=manage_session, namespaces=['/', '/chat'])
    if server_side:
        app.session_interface = MemorySessionInterface()

    @app.route('/set/<key>/<value>')
    def set_value(key, value):
        flask.session[key] = value
        return 'ok'

    @app.route('/get/<key>')
    def get_value(key):
        return flask.jsonify(flask.session.get(key))

    @sio.on('set')
    def sio_set(key, value):
        flask.session[key] = value

    @sio.on('get')
    def sio_get(key):
        return flask.session.get(key)

    @sio.on('get', namespace='/chat')
    def sio_get_chat(key):
        return flask.session.get(key)

    return app, sio


def test_managed_session_starts_from_http_session(make):
    app, sio = _session_app(make, True)
    http = app.test_client()
    http.get('/set/user/ann')
    client = sio.test_client(app, flask_test_client=http)
    assert client.emit('get', 'user', callback=True) == 'ann'


def test_managed_session_seen_in_connect_handler(make):
    app, sio = _session_app(make, True)
    seen = []

    @sio.on('connect')
    def connect():
        seen.append(flask.session.get('user'))

    http = app.test_client()
    http.get('/set/user/bob')
    sio.test_client(app, flask_test_client=http)
    sio.test_client(app)  # no Flask test client: no cookie, empty session
    assert seen == ['bob', None]


def test_managed_session_persists_across_events_and_namespaces(make):
    app, sio = _session_app(make, True)
    client = sio.test_client(app)
    client.connect('/chat')
    client.emit('set', 'k', 'v1')
    assert client.emit('get', 'k', callback=True) == 'v1'
    client.emit('set', 'k', 'v2')
    assert client.emit('get', 'k', callback=True) == 'v2'
    # one copy per connection, shared by its namespaces
    assert client.emit('get', 'k', namespace='/chat', callback=True) == 'v2'


def test_managed_session_is_not_written_back_to_http(make):
    app, sio = _session_app(make, True)
    http = app.test_client()
    http.get('/set/user/ann')
    client = sio.test_client(app, flask_test_client=http)
    client.emit('set', 'user', 'changed-in-socketio')
    assert http.get('/get/user').get_json() == 'ann'
    # and HTTP changes after connect are not seen by the fork
    http.get('/set/user/changed-in-http')
    assert client.emit('get', 'user', callback=True) == 'changed-in-socketio'


def test_managed_sessions_are_per_connection(make):
    app, sio = _session_app(make, True)
    http = app.test_client()
    http.get('/set/user/ann')
    a = sio.test_client(app, flask_test_client=http)
    b = sio.test_client(app, flask_test_client=http)
    a.emit('set', 'user', 'a-only')
    assert a.emit('get', 'user', callback=True) == 'a-only'
    assert b.emit('get', 'user', callback=True) == 'ann'


def test_managed_session_object_behaves_like_a_session(make):
    app, sio = make()

    @sio.on('probe')
    def probe():
        s = flask.session
        return [isinstance(s, SessionMixin), isinstance(s, dict), s.permanent]

    client = sio.test_client(app)
    assert client.emit('probe', callback=True) == [True, True, False]


def test_unmanaged_server_side_session_is_shared_both_ways(make):
    app, sio = _session_app(make, False, server_side=True)
    http = app.test_client()
    http.get('/set/user/ann')  # creates the server-side session and its cookie
    client = sio.test_client(app, flask_test_client=http)
    assert client.emit('get', 'user', callback=True) == 'ann'
    client.emit('set', 'from_socket', 'yes')
    assert http.get('/get/from_socket').get_json() == 'yes'
    http.get('/set/from_http/later')
    assert client.emit('get', 'from_http', callback=True) == 'later'
    assert sio.manage_session is False


def test_unmanaged_cookie_session_is_frozen_at_connect(make):
    app, sio = _session_app(make, False)
    http = app.test_client()
    http.get('/set/user/ann')
    client = sio.test_client(app, flask_test_client=http)
    assert client.emit('get', 'user', callback=True) == 'ann'
    # the cookie in the connection's environ never changes, so writes do not stick
    client.emit('set', 'k', 'v')
    assert client.emit('get', 'k', callback=True) == []  # None: an ack without arguments
    http.get('/set/user/changed')
    assert client.emit('get', 'user', callback=True) == 'ann'
