"""The Flask application served in the end-to-end benchmarks.

One file for every Python contender: the command line picks the Socket.IO
layer (``flask_socketio`` or ``flask_socketio_fast``, whose APIs are the same)
and the async mode, then the app is served with ``socketio.run`` on loopback:

    python benchmarks/e2e_app.py --module flask_socketio --mode eventlet --port 5000

Modes: ``threading`` (Werkzeug + simple-websocket), ``eventlet``, ``gevent``
(gevent-websocket) and ``gevent-sw`` (gevent + simple-websocket).

The handlers are the benchmark protocol that benchmarks/loadgen speaks and
that benchmarks/node_server mirrors:

* connect: every client not passing ``role=ctl`` joins room ``bench``;
* ``echo``: the argument is returned, i.e. sent back as the ack;
* ``bench_fanout``: emits ``count`` events ``m`` = ``{"i": i, "payload": ...}``
  to the room, back to back or paced at ``rate`` per second, and acks when done;
* ``bench_info``: acks a description of what is running.
"""

import argparse
import sys

MODES = ("threading", "eventlet", "gevent", "gevent-sw")


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="flask_socketio",
                        help="flask_socketio or flask_socketio_fast")
    parser.add_argument("--mode", choices=MODES, default="eventlet")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    return parser.parse_args(argv)


ARGS = _parse_args()

# Monkey patching has to happen before anything else imports socket/threading.
if ARGS.mode == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif ARGS.mode in ("gevent", "gevent-sw"):
    if ARGS.mode == "gevent-sw":
        # engineio and Flask-SocketIO both prefer gevent-websocket when it is
        # importable; hiding it selects their simple-websocket path instead.
        sys.modules["geventwebsocket"] = None
    from gevent import monkey

    monkey.patch_all()

import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402

from flask import Flask, request  # noqa: E402

sio_layer = importlib.import_module(ARGS.module)
ASYNC_MODE = "gevent" if ARGS.mode == "gevent-sw" else ARGS.mode

app = Flask(__name__)
socketio = sio_layer.SocketIO(app, async_mode=ASYNC_MODE)


def _dist_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@app.route("/bench/ping")
def ping():
    return "ok"


@socketio.on("connect")
def on_connect(auth=None):
    if request.args.get("role") != "ctl":
        sio_layer.join_room("bench")


@socketio.on("echo")
def on_echo(data):
    return data


@socketio.on("bench_fanout")
def on_fanout(opts):
    count = int(opts["count"])
    rate = float(opts.get("rate") or 0)
    payload = "x" * int(opts.get("size", 64))
    emit = socketio.emit
    t0 = time.perf_counter()
    if not rate:
        for i in range(count):
            emit("m", {"i": i, "payload": payload}, to="bench")
    else:
        # Emit i is due at t0 + i/rate.  When late, catch up, but still yield
        # (sleep(0)) so the writers run between broadcasts as they would in
        # an application producing events at this pace.
        for i in range(count):
            emit("m", {"i": i, "payload": payload}, to="bench")
            delay = t0 + (i + 1) / rate - time.perf_counter()
            socketio.sleep(delay if delay > 0 else 0)
    return {"emit_s": time.perf_counter() - t0}


def _websocket_impl():
    if ARGS.mode == "eventlet":
        return "eventlet.websocket"
    if ARGS.mode == "gevent" and sys.modules.get("geventwebsocket") is not None:
        return "gevent-websocket"
    return "simple-websocket"


@socketio.on("bench_info")
def on_info():
    return {
        "module": ARGS.module,
        "version": getattr(sio_layer, "__version__", None)
        or _dist_version(ARGS.module.replace("_", "-")),
        "async_mode": ARGS.mode,
        "websocket": _websocket_impl(),
        "implementation": getattr(sio_layer, "IMPLEMENTATION", None),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "packages": {name: _dist_version(name) for name in (
            "Flask", "Flask-SocketIO", "python-socketio", "python-engineio",
            "eventlet", "gevent", "gevent-websocket", "simple-websocket",
            "flask-socketio-fast")},
    }


def main():
    # Werkzeug logs every request line; at thousands of connections that is
    # noise and CPU the other servers do not spend.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    kwargs = {}
    if ARGS.mode == "threading":
        kwargs["allow_unsafe_werkzeug"] = True
    elif ARGS.mode == "eventlet":
        # eventlet.wsgi caps concurrent connections at 1,024 by default
        kwargs["max_size"] = 100_000
    socketio.run(app, host=ARGS.host, port=ARGS.port, log_output=False,
                 **kwargs)


if __name__ == "__main__":
    main()
