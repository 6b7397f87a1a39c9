"""Scenario server for the real-client tests (JS client, message queue).

Run as a script, one process per server:

    cluster_app.py --impl flask_socketio_fast --async-mode eventlet \
        --port 5001 [--message-queue redis://127.0.0.1:6379/0] [--name s1]

``--impl`` picks the module the app is written against (the reference
``flask_socketio`` or ``flask_socketio_fast``); the app code is identical for
both, which is what makes the tests that drive it differential. Every event
handler returns or emits plain data only (no sids, no timestamps) so two runs
of the same scenario produce equal results.

Events (default namespace unless noted):
  whoami            ack: {'user', 'namespace', 'server'}
  echo *args        ack: the same arguments (a tuple return -> several values)
  binary data       ack: what the server received, described; also emits
                    'binary_reply' with every bytes value reversed
  join / leave room ack: the caller's rooms, minus its own sid room
  to_room {room, event, data}   emit(event, data, to=room) from the handler
  broadcast data    emit('broadcast_msg', data, broadcast=True)
  mq_emit {event, data, room?}  socketio.emit(...) (crosses the message queue)
  ask data          server-to-client call: emits 'need_ack' with a callback and
                    reports the client's ack values as 'ack_result'
  kick              server-side disconnect()
  /chat: chat data  emits 'chat' back and acks with the namespace
HTTP: GET /health -> {'impl', 'module' (where SocketIO came from),
'async_mode', 'name', 'message_queue'}.
Connect auth: {'token': 'deny'} -> handler returns False;
{'token': 'bad'} -> ConnectionRefusedError('unauthorized', {...}).
"""
import argparse
import sys

IMPLS = ('flask_socketio', 'flask_socketio_fast')
MODES = ('threading', 'eventlet', 'gevent')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--impl', choices=IMPLS, required=True)
    parser.add_argument('--async-mode', choices=MODES, required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--message-queue', default=None)
    parser.add_argument('--name', default='server')
    return parser.parse_args(argv)


def monkey_patch(async_mode):
    # Must run before Flask/socketio/redis import socket and threading,
    # otherwise eventlet/gevent see unpatched locks and sockets.
    if async_mode == 'eventlet':
        import eventlet
        eventlet.monkey_patch()
    elif async_mode == 'gevent':
        from gevent import monkey
        monkey.patch_all()


def describe(value):
    """A JSON-friendly description of what arrived, types included."""
    if isinstance(value, (bytes, bytearray)):
        return {'bytes': bytes(value).hex()}
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    return value


def reverse_bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)[::-1]
    if isinstance(value, dict):
        return {k: reverse_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reverse_bytes(v) for v in value]
    return value


def create_app(impl, async_mode, message_queue=None, name='server'):
    import importlib

    from flask import Flask, jsonify, request, session

    fsio = importlib.import_module(impl)
    app = Flask(__name__)
    app.config['SECRET_KEY'] = 'cluster-app-secret'
    options = {'async_mode': async_mode}
    if message_queue:
        options['message_queue'] = message_queue
    socketio = fsio.SocketIO(app, **options)

    def own_rooms():
        return sorted(r for r in fsio.rooms() if r != request.sid)

    @app.route('/health')
    def health():
        return jsonify(impl=impl, module=type(socketio).__module__,
                       async_mode=socketio.async_mode, name=name,
                       message_queue=bool(message_queue))

    @socketio.on('connect')
    def connect(auth):
        token = (auth or {}).get('token')
        if token == 'deny':
            return False
        if token == 'bad':
            raise fsio.ConnectionRefusedError(
                'unauthorized', {'code': 401, 'hint': 'bad token'})
        session['user'] = (auth or {}).get('user', 'anonymous')

    @socketio.on('whoami')
    def whoami():
        return {'user': session.get('user'), 'namespace': request.namespace,
                'server': name}

    @socketio.on('echo')
    def echo(*args):
        return args

    @socketio.on('binary')
    def binary(data):
        fsio.emit('binary_reply', reverse_bytes(data))
        return describe(data)

    @socketio.on('join')
    def join(room):
        fsio.join_room(room)
        return own_rooms()

    @socketio.on('leave')
    def leave(room):
        fsio.leave_room(room)
        return own_rooms()

    @socketio.on('to_room')
    def to_room(msg):
        fsio.emit(msg['event'], msg['data'], to=msg['room'])
        return 'sent'

    @socketio.on('broadcast')
    def broadcast(data):
        fsio.emit('broadcast_msg', data, broadcast=True)
        return 'sent'

    @socketio.on('mq_emit')
    def mq_emit(msg):
        socketio.emit(msg['event'], msg['data'], to=msg.get('room'))
        return 'sent'

    @socketio.on('ask')
    def ask(data):
        def got(*values):
            # runs when the client acks; report the values back to it
            socketio.emit('ack_result', list(values), to=sid)

        sid = request.sid
        fsio.emit('need_ack', data, callback=got)
        return 'asked'

    @socketio.on('kick')
    def kick():
        fsio.disconnect()

    @socketio.on('connect', namespace='/chat')
    def chat_connect():
        pass

    @socketio.on('chat', namespace='/chat')
    def chat(data):
        fsio.emit('chat', {'echo': data, 'namespace': request.namespace})
        return request.namespace

    @socketio.on('whoami', namespace='/chat')
    def chat_whoami():
        return {'user': session.get('user'), 'namespace': request.namespace,
                'server': name}

    return app, socketio


def main(argv=None):
    args = parse_args(argv)
    monkey_patch(args.async_mode)
    app, socketio = create_app(args.impl, args.async_mode, args.message_queue,
                               args.name)
    print(f'cluster_app {args.name}: {args.impl} {socketio.async_mode} '
          f'on 127.0.0.1:{args.port}', file=sys.stderr, flush=True)
    socketio.run(app, host='127.0.0.1', port=args.port,
                 allow_unsafe_werkzeug=True)


if __name__ == '__main__':
    main()
