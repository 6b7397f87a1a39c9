"""The shared-frame fast path of FastManager.emit, against a stand-in engine.

The engine here has what ours offers (``flush()``, sockets with a
``frame_sink``); some sockets take shared frames, some do not (polling,
compressed), some are gone.  Whatever the mix, every client must end up
with exactly the Engine.IO messages python-socketio's Manager would have
sent it, in the same order: the frames are parsed back to compare.  And a
replaced ``_send_eio_packet`` / ``_send_packet`` hook must see every packet.
"""

import engineio.packet
import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_socketio_fast._speedups import wsframe_py
from flask_socketio_fast.manager import FastManager

N_CLIENTS = 6
ROOMS = ('a', 'b', 'c')


class StubSocket:
    def __init__(self, takes_frames):
        self.frame_sink = [] if takes_frames else None
        self.stock = []


class StubEngine:
    """Our Engine.IO server's broadcast API, recording instead of writing."""

    def __init__(self, kinds):
        self.count = 0
        self.flushes = 0
        self.sockets = {}
        self.missing = []
        for i, kind in enumerate(kinds):
            if kind != 'gone':
                self.sockets[f'e{i}'] = StubSocket(kind == 'frames')

    def generate_id(self):
        self.count += 1
        return f'sid{self.count}'

    def send_packet(self, eio_sid, pkt):
        sock = self.sockets.get(eio_sid)
        if sock is None:
            self.missing.append((eio_sid, pkt.encode()))
        else:
            sock.stock.append(pkt.encode())

    def send(self, eio_sid, data):
        self.send_packet(eio_sid, engineio.packet.Packet(
            engineio.packet.MESSAGE, data))

    def flush(self):
        self.flushes += 1

    def received(self):
        """eio_sid -> the Engine.IO messages it got, in order."""
        out = {}
        for eio_sid, sock in self.sockets.items():
            msgs = list(sock.stock)
            if sock.frame_sink:
                parser = wsframe_py.FrameParser(require_mask=False)
                for chunk in sock.frame_sink:
                    for opcode, payload in parser.feed(chunk):
                        msgs.append(payload)
            out[eio_sid] = msgs
        return out


def build(manager, kinds):
    sio = socketio.Server(async_mode='threading', client_manager=manager)
    engine = StubEngine(kinds)
    sio.eio = engine
    sids = [manager.connect(f'e{i}', '/') for i in range(len(kinds))]
    return sio, engine, sids


def scenario(manager, kinds, joins, emits, hook=None):
    sio, engine, sids = build(manager, kinds)
    seen = []
    if hook == 'instance':
        def watch(eio_sid, pkt):
            seen.append((eio_sid, pkt.encode()))
            engine.send_packet(eio_sid, pkt)
        sio._send_eio_packet = watch
    for client, room in joins:
        manager.enter_room(sids[client], '/', room)
    flushes = []
    for to, skip, data in emits:
        before = engine.flushes
        target = [sids[t] if isinstance(t, int) else t for t in to] \
            if isinstance(to, list) else to
        skip_sid = [sids[s] for s in skip] if skip is not None else None
        sio.emit('ev', data, to=target, skip_sid=skip_sid)
        flushes.append(engine.flushes - before)
    return engine, seen, flushes


kinds_st = st.lists(st.sampled_from(['frames', 'stock', 'gone']),
                    min_size=N_CLIENTS, max_size=N_CLIENTS)
joins_st = st.lists(st.tuples(st.integers(0, N_CLIENTS - 1),
                              st.sampled_from(ROOMS)), max_size=12)
to_st = st.one_of(st.none(), st.sampled_from(ROOMS),
                  st.lists(st.one_of(st.sampled_from(ROOMS),
                                     st.integers(0, N_CLIENTS - 1)),
                           min_size=1, max_size=3))
emits_st = st.lists(st.tuples(
    to_st, st.one_of(st.none(), st.lists(st.integers(0, N_CLIENTS - 1),
                                         max_size=2)),
    st.sampled_from(['x', {'n': 'é' * 70}, (1, b'\x00\x01'),
                     (b'a' * 200, 'y', b'b' * 70000), 'z' * 66000])),
    min_size=1, max_size=6)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=kinds_st, joins=joins_st, emits=emits_st)
def test_every_client_gets_what_upstream_sends(twin, kinds, joins, emits):
    ref_engine, _, ref_flushes = scenario(socketio.Manager(), kinds, joins,
                                          emits)
    engine, _, flushes = scenario(FastManager(speedups=twin), kinds, joins,
                                  emits)
    assert engine.received() == ref_engine.received()
    assert engine.missing == ref_engine.missing
    assert ref_flushes == [0] * len(emits)
    # one flush per broadcast that handed out shared frames, none otherwise
    for (to, skip, data), flushed in zip(emits, flushes):
        assert flushed in (0, 1)
    sinks = sum(len(s.frame_sink or ()) for s in engine.sockets.values())
    assert (sinks > 0) == (sum(flushes) > 0)


def test_frames_are_built_once_and_shared(twin):
    engine, _, flushes = scenario(
        FastManager(speedups=twin), ['frames'] * 4, [], [(None, None, 'hi')])
    frames = [s.frame_sink for s in engine.sockets.values()]
    assert all(len(f) == 1 for f in frames)
    first = frames[0][0]
    assert first == wsframe_py.build_eio_frame(4, '2["ev","hi"]')
    assert all(f[0] is first for f in frames)  # the same bytes object
    assert flushes == [1]


def test_binary_attachments_follow_as_binary_frames(twin):
    engine, _, _ = scenario(FastManager(speedups=twin), ['frames'],
                            [], [(None, None, (b'\x01\x02', 'x'))])
    (chunk,) = engine.sockets['e0'].frame_sink
    assert chunk == (
        wsframe_py.build_eio_frame(
            4, '51-["ev",{"_placeholder":true,"num":0},"x"]') +
        wsframe_py.build_binary_frame(b'\x01\x02'))


@pytest.mark.parametrize('kinds', [['frames'] * 3, ['frames', 'stock']])
def test_replaced_send_hook_sees_every_packet(twin, kinds):
    joins = [(0, 'a'), (1, 'a')]
    emits = [('a', None, 'x'), (None, [0], 'y')]
    engine, seen, flushes = scenario(FastManager(speedups=twin), kinds,
                                     joins, emits, hook='instance')
    assert flushes == [0, 0]
    assert all(not s.frame_sink for s in engine.sockets.values())
    ref_engine, _, _ = scenario(socketio.Manager(), kinds, joins, emits)
    expected = [(eio, msg) for eio, msgs in ref_engine.received().items()
                for msg in msgs]
    assert sorted(seen) == sorted(expected)
    assert engine.received() == ref_engine.received()


def test_server_subclass_with_own_hook_takes_the_stock_path(twin):
    sent = []

    class Watching(socketio.Server):
        def _send_eio_packet(self, eio_sid, eio_pkt):
            sent.append(eio_sid)
            super()._send_eio_packet(eio_sid, eio_pkt)

    manager = FastManager(speedups=twin)
    sio = Watching(async_mode='threading', client_manager=manager)
    sio.eio = StubEngine(['frames', 'frames'])
    manager.connect('e0', '/')
    manager.connect('e1', '/')
    sio.emit('ev', 1)
    assert sent == ['e0', 'e1']
    assert sio.eio.flushes == 0


def test_callback_broadcast_goes_per_recipient(twin):
    manager = FastManager(speedups=twin)
    sio, engine, sids = build(manager, ['frames', 'frames', 'stock'])
    acks = []
    sio.emit('ev', 'q', callback=lambda *a: acks.append(a))
    assert engine.flushes == 0
    got = engine.received()
    assert got == {'e0': ['421["ev","q"]'], 'e1': ['421["ev","q"]'],
                   'e2': ['421["ev","q"]']}
    manager.trigger_callback(sids[1], 1, ['ok'])
    assert acks == [('ok',)]


def test_a_client_leaving_during_the_broadcast_changes_nothing(twin):
    # a stock send may disconnect a client (ping timeout) in the middle of
    # the loop; the broadcast still reaches the list it started with
    manager = FastManager(speedups=twin)
    sio, engine, sids = build(manager, ['stock'] * 4)
    original = engine.send_packet

    def send_and_drop(eio_sid, pkt):
        original(eio_sid, pkt)
        if eio_sid == 'e1':
            manager.disconnect(sids[2], '/')
            manager.connect('e9', '/')
    engine.send_packet = send_and_drop
    sio.emit('ev', 'x')
    got = engine.received()
    assert [len(got[e]) for e in ('e0', 'e1', 'e2', 'e3')] == [1, 1, 1, 1]
    sio.emit('ev', 'y')
    got = engine.received()
    assert [len(got[e]) for e in ('e0', 'e1', 'e2', 'e3')] == [2, 2, 1, 2]
