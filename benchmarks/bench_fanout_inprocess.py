"""In-process ``emit`` to a room of WebSocket clients, transport stubbed.

bench_emit.py measures a room of long-polling sockets, which never take
shared frames.  Here the same room is built (its ``build_room``), then every
socket is made to look WebSocket-connected with the write stubbed:

* python-engineio's sockets (Flask-SocketIO) get a queue whose ``put`` is a
  list's ``append``: where their WebSocket writer would pick packets up;
* our engine's sockets get a ``frame_sink`` that is a plain list: where our
  WebSocket connections take shared frames (engine/socket.py).

Both stubs are builtin calls, so the numbers are the fan-out's own cost up
to the hand-off to the transport, as in bench_emit, without the engine's
buffering (the end-to-end benchmarks measure that); every round must reach
every recipient exactly once.

    .venv/bin/python -m pytest -c benchmarks/pytest.ini benchmarks/bench_fanout_inprocess.py
    BENCH_EMIT_SIZES=1000 ... to pick room sizes
"""

import pytest

from bench_emit import DATA, SIZES, build_room


class ListQueue:
    """A socket's outgoing queue that only keeps what is put."""

    __slots__ = ("put", "items")

    def __init__(self):
        self.items = []
        self.put = self.items.append


def _stub_transport(socketio):
    """Stub every socket's hand-off; returns one list per socket (in room
    order) that collects what the socket was given."""
    got = []
    for sock in socketio.server.eio.sockets.values():
        if not hasattr(type(sock), "frame_sink"):   # python-engineio's socket
            sock.queue = ListQueue()
            got.append(sock.queue.items)
            continue
        # (set before the first broadcast: no sink_epoch to move yet)
        sock.frame_sink = []
        got.append(sock.frame_sink)
    return got


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"room{n}")
def test_emit_room_websocket(benchmark, sio_module, n):
    socketio, _ = build_room(sio_module, n)
    got = _stub_transport(socketio)
    benchmark.group = f"emit to a room of {n} WebSocket clients"
    benchmark.extra_info["recipients"] = n
    benchmark.extra_info["module"] = sio_module.__name__
    benchmark(socketio.emit, "m", DATA, to="bench")
    rounds = len(got[0])
    assert rounds >= 1 and all(len(g) == rounds for g in got)
    shared = benchmark.extra_info["shared_frames"] = isinstance(got[0][0], bytes)
    if sio_module.__name__.startswith("flask_socketio_fast"):
        # measuring our stock per-recipient path here would be a wrong figure
        assert shared, "our sockets did not take the shared frame"

