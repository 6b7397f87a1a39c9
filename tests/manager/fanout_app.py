"""Broadcast fan-out app served by ``socketio.run()``, for test_realsock_fanout.

    python tests/manager/fanout_app.py --impl flask_socketio_fast \
        --async-mode eventlet --port 5001

Each client names itself and its rooms in the connect URL
(``?name=c7&rooms=r1,even``); the connect handler joins them.  A ``plan``
event lists broadcasts to make, in order, from inside the handler: each step
addresses rooms, client names (``@c7`` is that client's sid room) or
everyone, with ``skip`` (names) and ``include_self``, through the
context-aware ``emit`` or the server-level ``socketio.emit``.  Then every
client gets ``done``.  ``/info`` says which manager serves the broadcasts.
"""

import argparse
import sys


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--impl', default='flask_socketio',
                        choices=['flask_socketio', 'flask_socketio_fast'])
    parser.add_argument('--async-mode', default='threading',
                        choices=['threading', 'eventlet', 'gevent'])
    parser.add_argument('--port', type=int, default=5000)
    parser.add_argument('--no-gevent-websocket', action='store_true')
    return parser.parse_args(argv)


# monkey-patching must come before anything else imports socket or threading
ARGS = _parse_args() if __name__ == '__main__' else _parse_args([])
if ARGS.no_gevent_websocket:
    sys.modules['geventwebsocket'] = None
if ARGS.async_mode == 'eventlet':
    import eventlet
    eventlet.monkey_patch()
elif ARGS.async_mode == 'gevent':
    from gevent import monkey
    monkey.patch_all()

import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

from flask import Flask, jsonify, request  # noqa: E402

impl = importlib.import_module(ARGS.impl)

app = Flask(__name__)
# no pings during a run: the raw clients answer them, but a quiet line keeps
# each client's stream to exactly the broadcasts
socketio = impl.SocketIO(app, async_mode=ARGS.async_mode, ping_interval=120,
                         ping_timeout=120)
logging.getLogger('werkzeug').setLevel(logging.ERROR)

# client name -> sid; handlers may run on real threads, dict ops are atomic
_sids = {}


def _target(ref):
    if ref is None:
        return None
    if isinstance(ref, list):
        return [_target(r) for r in ref]
    if ref.startswith('@'):
        return _sids[ref[1:]]
    return ref


@app.route('/info')
def info():
    manager = socketio.server.manager
    socks = list(socketio.server.eio.sockets.values())
    kinds = {}
    for sock in socks:
        kind = '%s/%s' % (type(sock).__name__,
                          'sink' if getattr(sock, 'frame_sink', None)
                          is not None else 'no sink')
        kinds[kind] = kinds.get(kind, 0) + 1
    return jsonify(sockets=kinds, impl=ARGS.impl, async_mode=socketio.async_mode,
                   manager=type(manager).__name__,
                   fast_paths=getattr(socketio.server, 'fast_paths', {}),
                   shared_frames=getattr(manager, 'shared_frames', None),
                   connected=len(_sids), pid=os.getpid())


@socketio.on('connect')
def on_connect(auth=None):
    name = request.args['name']
    for room in filter(None, request.args.get('rooms', '').split(',')):
        impl.join_room(room)
    _sids[name] = request.sid


@socketio.on('plan')
def on_plan(steps):
    for step in steps:
        payload = step['seq']
        if step.get('binary'):
            payload = (step['seq'], bytes([step['seq'] % 256]) * 3)
        to = _target(step.get('to'))
        skip = step.get('skip')
        if skip is not None:
            skip = [_sids[name] for name in skip]
            if len(skip) == 1 and step.get('skip_one'):
                skip = skip[0]
        if step['via'] == 'server':
            socketio.emit('m', payload, to=to, skip_sid=skip)
        else:
            impl.emit('m', payload, to=to, skip_sid=skip,
                      include_self=step.get('include_self', True),
                      broadcast=to is None)
    socketio.emit('done', len(steps))
    return 'planned'


if __name__ == '__main__':
    sys.stdout.write('fanout app: %s %s on port %d\n' % (
        ARGS.impl, socketio.async_mode, ARGS.port))
    sys.stdout.flush()
    socketio.run(app, host='127.0.0.1', port=ARGS.port,
                 allow_unsafe_werkzeug=True, log_output=False)
