"""The Socket.IO application the deployment tests serve under gunicorn and
uWSGI (``tests/deploy/test_deploy.py``).

Configured by the environment, since those servers import it:

``DEPLOY_ASYNC_MODE``  the async mode (``threading``, ``gevent``,
                       ``gevent_uwsgi``, ...), passed to ``SocketIO``.

Events: ``echo`` acks its arguments.  ``GET /health`` reports which engine
and WebSocket path served the requests so far (``fast_paths``, the
engine's ``fast_path`` and ``websocket_fallbacks``).  The
``flask_socketio_fast`` logger writes INFO to stderr, so the server's log
shows the line that says which WebSocket path is taken, and why.
"""

import logging
import os
import sys

from flask import Flask, jsonify

import flask_socketio_fast

logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format='%(levelname)s %(name)s: %(message)s')
logging.getLogger('flask_socketio_fast').setLevel(logging.INFO)

app = Flask(__name__)
app.config['SECRET_KEY'] = 'deploy-tests'
socketio = flask_socketio_fast.SocketIO(
    app, async_mode=os.environ.get('DEPLOY_ASYNC_MODE') or None)


@socketio.on('echo')
def echo(*data):
    return list(data)


@app.route('/health')
def health():
    eio = socketio.server.eio
    return jsonify(
        pid=os.getpid(), async_mode=socketio.async_mode,
        engine=type(eio).__module__ + '.' + type(eio).__name__,
        fast_paths=socketio.server.fast_paths,
        engine_fast_path=getattr(eio, 'fast_path', None),
        ws_sessions=getattr(eio, 'websocket_sessions', None),
        ws_fallbacks=getattr(eio, 'websocket_fallbacks', None))
