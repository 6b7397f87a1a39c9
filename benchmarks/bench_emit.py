"""In-process cost of ``socketio.emit`` to one room, with the transport stubbed.

The shape of python-socketio's tests/performance/server_send_broadcast.py,
one level lower: the N clients are real Engine.IO sockets, created by the
contender's own code through its WSGI app (a long-polling handshake, then the
Socket.IO connect), each joined to room ``bench``.  Only each socket's
outgoing queue is replaced, by a sink that counts packets and drops them, so
the measurement covers everything the server does per broadcast up to the
point where a writer would pick the packet up: participant lookup, packet
encoding, per-recipient send bookkeeping.  Frame building and socket writes
are the end-to-end benchmarks' business.

    .venv/bin/python -m pytest benchmarks/bench_emit.py
    BENCH_EMIT_SIZES=1000 ... to pick room sizes (default 1000,10000)
"""

import io
import os

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

SIZES = [int(n) for n in os.environ.get("BENCH_EMIT_SIZES", "1000,10000").split(",")]
DATA = {"i": 1, "payload": "x" * 64}


class SinkQueue:
    """Stands in for a socket's outgoing queue: counts puts, keeps nothing."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def put(self, item, *args, **kwargs):
        self.count += 1


def _environ_template():
    # Built once by werkzeug (so it is a complete WSGI environ), then copied:
    # building 10,000 of them from scratch would dominate the set-up time.
    env = EnvironBuilder(path="/socket.io/", query_string="EIO=4&transport=polling",
                         method="GET").get_environ()
    env.pop("wsgi.input", None)
    return env


_TEMPLATE = None


def _wsgi(app, method, query, body=b""):
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = _environ_template()
    environ = dict(_TEMPLATE, REQUEST_METHOD=method, QUERY_STRING=query,
                   CONTENT_LENGTH=str(len(body)),
                   CONTENT_TYPE="text/plain;charset=UTF-8")
    environ["wsgi.input"] = io.BytesIO(body)
    status = []
    chunks = app.wsgi_app(environ, lambda s, h, exc_info=None: status.append(s))
    out = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    assert status and status[0].startswith("200"), (status, out)
    return out


def build_room(sio_module, n):
    """A SocketIO app with ``n`` connected sockets in room ``bench``."""
    import json

    app = Flask("bench_emit")
    socketio = sio_module.SocketIO(app, async_mode="threading")

    @socketio.on("connect")
    def on_connect(auth=None):
        sio_module.join_room("bench")

    eio = socketio.server.eio
    # While building: no ping timers or monitor thread per socket (they would
    # be thousands of sleeping threads), and message handlers run inline.
    saved = eio.start_background_task, eio.async_handlers
    eio.start_background_task = lambda *a, **k: None
    eio.async_handlers = False
    sinks = []
    try:
        for _ in range(n):
            opened = _wsgi(app, "GET", "EIO=4&transport=polling")
            sid = json.loads(opened[1:].decode())["sid"]
            sink = SinkQueue()
            eio.sockets[sid].queue = sink
            _wsgi(app, "POST", f"EIO=4&transport=polling&sid={sid}", b"40")
            sinks.append(sink)
    finally:
        eio.start_background_task, eio.async_handlers = saved
    for sink in sinks:
        assert sink.count == 1, "the Socket.IO connect reply did not reach the sink"
        sink.count = 0
    return socketio, sinks


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"room{n}")
def test_emit_room(benchmark, sio_module, n):
    socketio, sinks = build_room(sio_module, n)
    benchmark.group = f"emit to a room of {n}"
    benchmark.extra_info["recipients"] = n
    benchmark.extra_info["module"] = sio_module.__name__
    benchmark.extra_info["implementation"] = getattr(sio_module, "IMPLEMENTATION", None)
    benchmark(socketio.emit, "m", DATA, to="bench")
    # every round reached every recipient exactly once
    rounds = sinks[0].count
    assert rounds >= 1 and all(s.count == rounds for s in sinks)
