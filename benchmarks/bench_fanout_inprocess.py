"""In-process ``emit`` to a room of WebSocket clients, transport stubbed.

bench_emit.py measures a room of long-polling sockets, which never take
shared frames.  Here the same room is built (its ``build_room``), then every
socket is made to look WebSocket-connected with the write stubbed:

* python-engineio's sockets (Flask-SocketIO) keep bench_emit's counting
  queue, which is where their WebSocket writer would pick packets up;
* our engine's sockets get a ``frame_sink`` that counts appended frames, the
  hand-off point of our WebSocket connections (engine/socket.py).

So both sides are measured up to the hand-off to the transport, as in
bench_emit, and every round must reach every recipient exactly once.

    .venv/bin/python -m pytest -c benchmarks/pytest.ini benchmarks/bench_fanout_inprocess.py
    BENCH_EMIT_SIZES=1000 ... to pick room sizes
"""

import pytest

from bench_emit import DATA, SIZES, build_room


class CountingSink:
    """Stands in for a WebSocket connection's outbound buffer."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def append(self, frame):
        self.count += 1


def _stub_websockets(socketio):
    """Give each of our engine's sockets a counting frame sink; returns the
    sinks (empty for python-engineio, whose sockets have no such API)."""
    eio = socketio.server.eio
    sinks = []
    stubbed = {}
    for sock in eio.sockets.values():
        cls = type(sock)
        if getattr(cls, "frame_sink", None) is None:
            continue
        sub = stubbed.get(cls)
        if sub is None:
            sub = stubbed[cls] = type("Stubbed" + cls.__name__, (cls,), {
                "frame_sink": property(lambda self: self.bench_sink)})
        sock.__class__ = sub
        sock.bench_sink = CountingSink()
        sinks.append(sock.bench_sink)
    return sinks


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"room{n}")
def test_emit_room_websocket(benchmark, sio_module, n):
    socketio, queues = build_room(sio_module, n)
    frame_sinks = _stub_websockets(socketio)
    benchmark.group = f"emit to a room of {n} WebSocket clients"
    benchmark.extra_info["recipients"] = n
    benchmark.extra_info["module"] = sio_module.__name__
    benchmark.extra_info["shared_frames"] = bool(frame_sinks)
    benchmark(socketio.emit, "m", DATA, to="bench")
    got = [q.count + (frame_sinks[i].count if frame_sinks else 0)
           for i, q in enumerate(queues)]
    assert got[0] >= 1 and all(c == got[0] for c in got)
