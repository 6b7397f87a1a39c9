"""Scenario app served by ``socketio.run()`` for the real-socket tests.

Run as a script, one process per (implementation, async mode)::

    python tests/apps/scenario_app.py --impl flask_socketio_fast \
        --async-mode eventlet --port 5001

It imports ``SocketIO`` and friends from the module named by ``--impl`` so the
very same handlers run on the reference ``flask_socketio`` and on
``flask_socketio_fast``. Like a real user's app it monkey-patches first thing
when eventlet or gevent is chosen. ``--block a,b`` hides packages from this
process (``sys.modules[name] = None``) so ``--async-mode auto`` can show which
server ``socketio.run()`` falls back to.

The wire-visible behaviour (event names, payloads, acks, errors) is the
contract with ``tests/realsock``; the JavaScript-client tests may drive it too.
"""

import argparse
import sys


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--impl', default='flask_socketio',
                        choices=['flask_socketio', 'flask_socketio_fast'])
    parser.add_argument('--async-mode', default='auto',
                        choices=['threading', 'eventlet', 'gevent', 'auto'])
    parser.add_argument('--port', type=int, default=5000)
    parser.add_argument('--block', default='',
                        help='comma separated packages to make unimportable')
    parser.add_argument('--ping-interval', type=float, default=None)
    parser.add_argument('--ping-timeout', type=float, default=None)
    parser.add_argument('--max-http-buffer-size', type=int, default=None)
    parser.add_argument('--no-gevent-websocket', action='store_true',
                        help='hide gevent-websocket (gevent then uses '
                             'simple-websocket)')
    return parser.parse_args(argv)


# Everything below runs at import time in a fixed order on purpose: blocking
# and monkey-patching must happen before Flask, socketio or requests load.
ARGS = _parse_args() if __name__ == '__main__' else _parse_args([])

_blocked = [name for name in ARGS.block.split(',') if name]
if ARGS.no_gevent_websocket:
    _blocked.append('geventwebsocket')
for _name in _blocked:
    # a None entry makes "import name" raise ImportError, as if not installed
    sys.modules[_name] = None

if ARGS.async_mode == 'eventlet':
    import eventlet
    eventlet.monkey_patch()
elif ARGS.async_mode == 'gevent':
    from gevent import monkey
    monkey.patch_all()

import importlib  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402

import flask  # noqa: E402
from flask import Flask, g, jsonify, request, session  # noqa: E402

impl = importlib.import_module(ARGS.impl)
SocketIO = impl.SocketIO
Namespace = impl.Namespace
ConnectionRefusedError = impl.ConnectionRefusedError
emit = impl.emit
send = impl.send
call = impl.call
join_room = impl.join_room
leave_room = impl.leave_room
rooms = impl.rooms
close_room = impl.close_room
disconnect = impl.disconnect

app = Flask(__name__)
app.config['SECRET_KEY'] = 'scenario-secret'

_options = {}
if ARGS.async_mode != 'auto':
    _options['async_mode'] = ARGS.async_mode
for _key in ('ping_interval', 'ping_timeout', 'max_http_buffer_size'):
    if getattr(ARGS, _key) is not None:
        _options[_key] = getattr(ARGS, _key)
socketio = SocketIO(app, **_options)

# sid -> list of [namespace, reason]; written by disconnect handlers, read by
# the /reasons route. A lock is enough: handlers may run in real threads.
_reasons = {}
_reasons_lock = threading.Lock()

# The three ways a connect can end, chosen by the client's auth token.
ACCEPT_TOKENS = (None, 'ok')


def _record_reason(namespace, reason):
    with _reasons_lock:
        _reasons.setdefault(request.sid, []).append([namespace, reason])


def _check_auth(auth):
    token = auth.get('token') if isinstance(auth, dict) else None
    if token == 'chat-no':
        return True  # refused by /chat only
    if token == 'false':
        return False
    if token == 'raise':
        raise ConnectionRefusedError('bad', {'code': 7})
    if token == 'raise-bare':
        raise ConnectionRefusedError()
    if token not in ACCEPT_TOKENS:
        return False
    return True


def _wsgi_server_name():
    """Name the WSGI server by looking at who is calling this request.

    Independent of the Flask-SocketIO implementation under test, so the
    answer cannot be faked by the code being tested.
    """
    modules = set()
    frame = sys._getframe()
    while frame is not None:
        modules.add(frame.f_globals.get('__name__', ''))
        frame = frame.f_back
    if 'geventwebsocket.handler' in modules:
        return 'gevent-websocket'
    if 'gevent.pywsgi' in modules:
        return 'gevent'
    if 'eventlet.wsgi' in modules:
        return 'eventlet'
    if 'werkzeug.serving' in modules:
        return 'werkzeug'
    return 'unknown'


def _loaded(name):
    return sys.modules.get(name) is not None


# ---------------------------------------------------------------- HTTP routes

@app.route('/info')
def info():
    return jsonify(
        impl=ARGS.impl,
        impl_file=getattr(impl, '__file__', None),
        requested_async_mode=ARGS.async_mode,
        async_mode=socketio.async_mode,
        eio_async_mode=socketio.server.eio.async_mode,
        wsgi_server=_wsgi_server_name(),
        server_software=request.environ.get('SERVER_SOFTWARE'),
        blocked=sorted(_blocked),
        eventlet_loaded=_loaded('eventlet'),
        gevent_loaded=_loaded('gevent'),
        geventwebsocket_loaded=_loaded('geventwebsocket'),
        pid=os.getpid(),
        # WebSocket sessions served by hub-driven readers (ours, greenlets)
        hub_driven_sessions=getattr(socketio.server.eio,
                                    'hub_driven_sessions', None),
    )


@app.route('/reasons/<sid>')
def reasons(sid):
    """Disconnect reasons seen for ``sid``, waiting up to ``timeout`` seconds
    for at least ``count`` of them (the server learns about a disconnect
    after the client has already moved on)."""
    count = int(request.args.get('count', 1))
    timeout = float(request.args.get('timeout', 5))
    waited = 0.0
    while True:
        with _reasons_lock:
            found = list(_reasons.get(sid, []))
        if len(found) >= count or waited >= timeout:
            return jsonify(found)
        socketio.sleep(0.02)
        waited += 0.02


@app.route('/login')
def login():
    session['user'] = request.args['user']
    return 'ok'


@app.route('/session')
def http_session():
    return jsonify(user=session.get('user'), count=session.get('count'))


@app.route('/stop')
def stop_route():
    socketio.stop()
    return 'stopping'


# ------------------------------------------------------------ namespace "/"

@socketio.on('connect')
def on_connect(auth):
    if not _check_auth(auth):
        return False
    emit('welcome', {'sid': request.sid, 'namespace': request.namespace,
                     'auth': auth})


@socketio.on('disconnect')
def on_disconnect(reason):
    _record_reason(request.namespace, reason)


@socketio.on('echo')
def on_echo(*args):
    # a single argument comes back as one ack value, several as several
    return args[0] if len(args) == 1 else args


@socketio.on('echo_multi')
def on_echo_multi(data):
    return data, 'two', 3


@socketio.on('echo_emit')
def on_echo_emit(data):
    emit('echo_reply', data)


@socketio.on('no_ack')
def on_no_ack(data):
    return None


@socketio.on('call_client')
def on_call_client(data):
    """Ask the client and block until its ack arrives."""
    answer = call('server_call', data, timeout=10)
    emit('call_result', answer)
    return answer


@socketio.on('ask_client')
def on_ask_client(data):
    """Ask the client without blocking; report its ack in a new event."""
    sid = request.sid

    def got_answer(*answer):
        socketio.emit('ask_result', list(answer), to=sid)

    emit('ask', data, callback=got_answer)


@socketio.on('binary_push')
def on_binary_push():
    payload = {'blob': b'\x00\x01\xfe\xff', 'nested': [b'one', {'two': b'2'}],
               'text': 'plain'}
    emit('binary', payload)
    return b'ack-bytes', [b'\x00', {'k': b'\xff'}]


@socketio.on('join')
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on('leave')
def on_leave(room):
    leave_room(room)
    return sorted(rooms())


@socketio.on('my_rooms')
def on_my_rooms():
    return sorted(rooms())


@socketio.on('to_room')
def on_to_room(data):
    emit(data['event'], data['data'], to=data['room'],
         include_self=data.get('include_self', True))
    return 'sent'


@socketio.on('broadcast')
def on_broadcast(data):
    emit(data['event'], data['data'], broadcast=True,
         include_self=data.get('include_self', True))
    return 'sent'


@socketio.on('burst')
def on_burst(data):
    """Many emits from one handler, to a room: each recipient must get them
    all, in order, whatever its transport."""
    for i in range(data['n']):
        payload = [i, data['text'], data['blob']] if data.get('blob') \
            else [i, data['text']]
        emit('seq', payload, to=data['room'],
             include_self=data.get('include_self', True))
    return data['n']


@socketio.on('server_broadcast')
def on_server_broadcast(data):
    # SocketIO.emit without a room reaches everyone in the namespace
    socketio.emit(data['event'], data['data'])
    return 'sent'


@socketio.on('send_text')
def on_send_text(data):
    send(data)


@socketio.on('send_json')
def on_send_json(data):
    send(data, json=True)


@socketio.on('message')
def on_message(data):
    send({'got_message': data}, json=True)
    return 'message-ack'


@socketio.on('json')
def on_json(data):
    send({'got_json': data}, json=True)
    return 'json-ack'


@socketio.on('boom')
def on_boom(data):
    raise ValueError('boom: ' + str(data))


@socketio.on_error_default
def on_any_error(exc):
    if request.namespace == '/err':
        raise exc  # leave it to that namespace's error() hook
    return {'error': type(exc).__name__, 'message': str(exc)}


@socketio.on('request_info')
def on_request_info():
    return {'sid_matches': request.sid is not None,
            'namespace': request.namespace,
            'event': request.event['message']}


@socketio.on('session_get')
def on_session_get():
    return {'user': session.get('user'), 'count': session.get('count')}


@socketio.on('session_incr')
def on_session_incr():
    session['count'] = session.get('count', 0) + 1
    return session['count']


@socketio.on('g_probe')
def on_g_probe():
    # flask.g must be fresh for every event
    before = getattr(g, 'probe', 'unset')
    g.probe = 'set'
    return before


@socketio.on('close_room')
def on_close_room(room):
    close_room(room)
    return 'closed'


@socketio.on('bg_ticks')
def on_bg_ticks(n):
    """Emit from a background task (no request context), then ask the
    client with a server-level callback."""
    sid = request.sid

    def ticker():
        for i in range(n):
            socketio.sleep(0.01)
            socketio.emit('tick', i, to=sid)

        def answered(*answer):
            socketio.emit('bg_ack', list(answer), to=sid)

        socketio.emit('ask', n, to=sid, callback=answered)

    socketio.start_background_task(ticker)
    return 'started'


@socketio.on('disconnect_me')
def on_disconnect_me(data=None):
    namespace = data.get('namespace') if isinstance(data, dict) else None
    disconnect(namespace=namespace)


@socketio.on('stop')
def on_stop():
    socketio.stop()


# -------------------------------------------------------- namespace "/chat"

class ChatNamespace(Namespace):
    """Class-based handlers for /chat, dispatched by ``on_<event>``."""

    def on_connect(self, auth):
        if isinstance(auth, dict) and auth.get('token') == 'chat-no':
            return False  # while "/" lets the same client in
        if not _check_auth(auth):
            return False
        emit('welcome', {'sid': request.sid, 'namespace': request.namespace,
                         'auth': auth})

    def on_disconnect(self, reason):
        _record_reason(request.namespace, reason)

    def on_echo(self, data):
        return {'chat': data}

    def on_join(self, room):
        self.enter_room(request.sid, room)
        return sorted(self.rooms(request.sid))

    def on_say(self, data):
        self.emit('said', data['text'], room=data['room'],
                  include_self=data.get('include_self', True))
        return 'said'

    def on_whoami(self):
        return request.namespace

    def on_disconnect_me(self):
        self.disconnect(request.sid)


socketio.on_namespace(ChatNamespace('/chat'))


@socketio.on('shout', namespace='/chat')
def on_chat_shout(data):
    # a decorator handler living beside the class-based namespace
    emit('shouted', data.upper(), namespace='/chat')
    return 'shouted'


# ------------------------------------------------------ namespace "/any"

@socketio.on('*', namespace='/any')
def on_any_event(event, *args):
    return ['caught', event, list(args), request.namespace]


# ----------------------------- any namespace without its own handlers

@socketio.on('where', namespace='*')
def on_where_anywhere(*args):
    return [request.namespace, list(args)]


# --------------------------------------------------------- namespace "/err"

class ErrorHookNamespace(Namespace):
    """A class-based namespace with the optional ``error(exc)`` hook."""

    def on_connect(self, auth):
        if isinstance(auth, dict) and auth.get('token') == 'raise':
            raise ConnectionRefusedError('bad', {'code': 7})

    def on_fail(self, data):
        raise KeyError(data)

    def error(self, exc):
        info = {'error': type(exc).__name__, 'args': list(exc.args)}
        # Flask-SocketIO runs this hook after the request context is gone
        info['has_request_context'] = flask.has_request_context()
        if flask.has_request_context():
            info['event'] = request.event['message']
        return info


socketio.on_namespace(ErrorHookNamespace('/err'))



# ------------------------------------------------- blocking handlers, "/"

@socketio.on('sleep_ack')
def on_sleep_ack(seconds):
    """Blocks (cooperatively) before answering: later events of the same
    client must not wait for it."""
    socketio.sleep(seconds)
    return 'slept %s' % seconds


# --------------------------------------------- namespace "/slowconnect"

@socketio.on('connect', namespace='/slowconnect')
def on_slow_connect(auth):
    # an event sent right behind the CONNECT packet must wait for this
    socketio.sleep(0.3)
    join_room('ready')
    session['ready'] = True


@socketio.on('in_ready', namespace='/slowconnect')
def on_in_ready():
    return ['ready' in rooms(), session.get('ready', False)]


@socketio.on('sleep_ack', namespace='/slowconnect')
def on_slow_sleep_ack(seconds):
    socketio.sleep(seconds)
    return 'slept %s' % seconds


if __name__ == '__main__':
    sys.stdout.write('scenario app: %s %s on port %d\n' % (
        ARGS.impl, socketio.async_mode, ARGS.port))
    sys.stdout.flush()
    socketio.run(app, host='127.0.0.1', port=ARGS.port,
                 allow_unsafe_werkzeug=True)
    sys.stdout.write('scenario app: run() returned\n')
    sys.stdout.flush()
