"""The broadcast loop appending to real outboxes, on both twins.

The compiled loop appends to an ``outbox_c.Outbox`` through the outbox's
C entry point (``outbox_api.h``) and prefetches outboxes ahead of the one
it appends to; any other sink, a subclass of ``Outbox`` included, goes
through its bound ``append``.  Whichever path: every recipient gets the
frame once, in order with what it had queued, a closed outbox drops it,
and a room longer than the prefetch distance is served to its end.
"""

import collections
import importlib
import socket
import threading

import pytest

from .conftest import rooms_twin


class Backend:
    def make_lock(self):
        return threading.Lock()

    def spawn(self, fn, *args):
        return ('writer', fn)


class NeverWritable:
    def writable(self, timeout):
        return False


class Sock:
    def __init__(self, sink):
        self.frame_sink = sink


@pytest.fixture
def pairs():
    made = []

    def make(n):
        for _ in range(n):
            made.append(socket.socketpair())
        return [a for a, _ in made[-n:]]
    yield make
    for a, b in made:
        a.close()
        b.close()


def outbox_twin(twin):
    return importlib.import_module(
        'flask_socketio_fast._speedups.outbox' +
        ('_c' if twin == 'c' else '_py'))


@pytest.mark.parametrize('n', [1, 7, 40])
@pytest.mark.parametrize('kind', ['exact', 'subclass'])
def test_every_outbox_gets_the_frame_once(twin, pairs, n, kind):
    rooms = rooms_twin(twin)
    outbox = outbox_twin(twin)
    cls = outbox.Outbox if kind == 'exact' else \
        type('MyOutbox', (outbox.Outbox,), {})
    pending = collections.deque()
    boxes = [cls(raw, Backend(), NeverWritable(), pending, 1 << 20, 1000,
                 5.0) for raw in pairs(n)]
    reg = rooms.Registry()
    sockets = {}
    for i, box in enumerate(boxes):
        reg.enter(f's{i}', '/', None, f'e{i}')
        reg.enter(f's{i}', '/', 'r')
        sockets[f'e{i}'] = Sock(box)
        box.append(b'before')
    closed = boxes[n // 2]
    closed.state = outbox.CLOSED
    snap = reg.snapshot('/', 'r')
    skip = {'s0'} if n > 1 else None
    for epoch in (1, 1, 2):
        fast = rooms.broadcast(snap, skip, sockets, epoch, b'F', None, ['p'])
        assert fast == n - (1 if skip else 0)
    for i, box in enumerate(boxes):
        got = box.queued()
        if box is closed:
            assert got == b'before'
        elif skip and i == 0:
            assert got == b'before'
        else:
            assert got == b'before' + b'F' * 3


def test_the_twins_queue_the_same_bytes(pairs):
    rooms_twin('c')
    got = {}
    for twin in ('python', 'c'):
        rooms = rooms_twin(twin)
        outbox = outbox_twin(twin)
        pending = collections.deque()
        boxes = [outbox.Outbox(raw, Backend(), NeverWritable(), pending,
                               1 << 20, 1000, 5.0) for raw in pairs(30)]
        reg = rooms.Registry()
        sockets = {}
        for i, box in enumerate(boxes):
            reg.enter(f's{i}', '/', None, f'e{i}')
            sockets[f'e{i}'] = Sock(box if i % 3 else None)
        stock = []
        for k in range(4):
            rooms.broadcast(reg.snapshot('/', None), {'s5'}, sockets, 7,
                            b'frame%d' % k, lambda e, p: stock.append((e, p)),
                            ['pkt'])
        got[twin] = ([box.queued() for box in boxes], stock, len(pending))
    assert got['c'] == got['python']
