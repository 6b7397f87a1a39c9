"""Socket.IO server for the engine-layer real-socket tests.

    python ws_app.py --impl flask_socketio_fast --mode gevent --port N
                     [--server default|pywsgi|gevent-websocket] [options]
                     [--certfile cert.pem --keyfile key.pem]

Events: ``echo`` (acks its arguments), ``burst`` (emits ``n`` numbered
``item`` events to the caller), ``shout`` (broadcasts ``heard`` to everyone
but the sender), ``shout_many`` (``n`` such broadcasts), ``bye`` (the server disconnects the caller), ``big``
(emits a message of ``n`` bytes).  ``GET /health`` reports the process
state the leak checks compare: threads, open file descriptors, RSS,
engine.io sockets, and which engine/driver is active.
``ENGINE_WS_FLUSH_SOON=1`` makes broadcasts flush with ``flush_soon()``.
"""

import argparse
import os
import sys


def parse():
    p = argparse.ArgumentParser()
    p.add_argument('--impl', default='flask_socketio_fast')
    p.add_argument('--mode', default='threading')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--server', default='default')
    p.add_argument('--max-http-buffer-size', type=int, default=100_000)
    p.add_argument('--ping-interval', type=float, default=25)
    p.add_argument('--ping-timeout', type=float, default=20)
    p.add_argument('--compression', action='store_true')
    p.add_argument('--max-pending-bytes', type=int, default=None)
    p.add_argument('--instrument', action='store_true',
                   help="python-socketio's admin UI instrumentation")
    p.add_argument('--certfile', default=None,
                   help='serve TLS, as the Flask-SocketIO docs show per '
                        'server (ssl_context= for Werkzeug, certfile= and '
                        'keyfile= for eventlet and gevent)')
    p.add_argument('--keyfile', default=None)
    return p.parse_args()


args = parse()
if args.mode == 'eventlet':
    import eventlet
    eventlet.monkey_patch()
elif args.mode == 'gevent':
    from gevent import monkey
    monkey.patch_all()

import importlib  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402

from flask import Flask, jsonify, request  # noqa: E402

impl = importlib.import_module(args.impl)
logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format='%(levelname)s %(name)s: %(message)s')
# what flask-socketio-fast says about its fast paths (INFO), in the log the
# tests read
logging.getLogger('flask_socketio_fast').setLevel(logging.INFO)

app = Flask(__name__)
app.config['SECRET_KEY'] = 'engine-ws-tests'
options = dict(async_mode=args.mode, cors_allowed_origins='*',
               max_http_buffer_size=args.max_http_buffer_size,
               ping_interval=args.ping_interval,
               ping_timeout=args.ping_timeout)
if args.impl == 'flask_socketio_fast':
    if args.compression:
        options['websocket_compression'] = True
    if args.max_pending_bytes is not None:
        options['websocket_max_pending_bytes'] = args.max_pending_bytes
socketio = impl.SocketIO(app, **options)
if os.environ.get('ENGINE_WS_FLUSH_SOON') == '1':
    # what a manager that calls flush_soon() after broadcasts does
    from flask_socketio_fast.engine.server import EngineServer
    EngineServer.flush = EngineServer.flush_soon
if args.instrument:
    socketio.server.instrument(auth=False, mode='production')
_pool = getattr(socketio.server, '_handler_pool', None)
if _pool is not None:
    # idle handler threads end after 30 s by default; the leak checks
    # would wait that long to see the thread count settle
    _pool.idle_timeout = 1.0


def _rss_kb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


@app.route('/health')
def health():
    eio = socketio.server.eio
    return jsonify(
        ok=True, pid=os.getpid(), threads=threading.active_count(),
        fds=len(os.listdir('/proc/self/fd')), rss_kb=_rss_kb(),
        sockets=len(eio.sockets),
        engine=type(eio).__module__ + '.' + type(eio).__name__,
        fast_paths=getattr(socketio.server, 'fast_paths', {}),
        timers=eio._timers.pending() if hasattr(eio, '_timers') else None,
        ws_sessions=getattr(eio, 'websocket_sessions', None),
        ws_fallbacks=getattr(eio, 'websocket_fallbacks', None),
        engine_fast_path=getattr(eio, 'fast_path', None))


@socketio.on('echo')
def echo(*data):
    return list(data)


@socketio.on('burst')
def burst(n):
    for i in range(n):
        socketio.emit('item', i, to=request.sid)


@socketio.on('shout')
def shout(data):
    socketio.emit('heard', data, skip_sid=request.sid)


@socketio.on('shout_many')
def shout_many(n):
    for i in range(n):
        socketio.emit('heard', i, skip_sid=request.sid)


@socketio.on('big')
def big(n):
    socketio.emit('big', 'x' * n, to=request.sid)


@socketio.on('bye')
def bye():
    impl.disconnect()


def tls_options():
    if not args.certfile:
        return {}
    if args.mode == 'threading':
        return {'ssl_context': (args.certfile, args.keyfile)}
    return {'certfile': args.certfile, 'keyfile': args.keyfile}


def main():
    port = args.port
    if args.mode == 'gevent' and args.server != 'default':
        from gevent import pywsgi
        kwargs = tls_options()
        if args.server == 'gevent-websocket':
            from geventwebsocket.handler import WebSocketHandler
            kwargs['handler_class'] = WebSocketHandler
        pywsgi.WSGIServer(('127.0.0.1', port), app, log=None,
                          **kwargs).serve_forever()
        return
    socketio.run(app, host='127.0.0.1', port=port, allow_unsafe_werkzeug=True,
                 log_output=False, **tls_options())


if __name__ == '__main__':
    main()
