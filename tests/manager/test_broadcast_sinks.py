"""The broadcast loop's cache of sinks (``Snapshot.sinks``), on both twins.

A broadcast to an unchanged room with the same ``sockets`` and ``epoch``
reuses the sinks it found last time.  What must hold: with the epoch moved
on every ``frame_sink`` change (as our engine does), every broadcast
reaches exactly the recipients, through exactly the path, that a fresh
lookup would give, whatever joins, leaves, upgrades and closes happen in
between; and the two twins agree step by step, also when a caller breaks
the contract and changes a sink without moving the epoch.
"""

import pytest
from hypothesis import given, settings, strategies as st

from .conftest import rooms_twin

N = 5


class Sock:
    def __init__(self, sink):
        self.frame_sink = sink


def reference(pairs, skip, sockets):
    """What each member gets: ('sink', id) or ('stock',), by a fresh
    lookup of every socket."""
    out = []
    for sid, eio_sid in pairs:
        if skip is not None and sid in skip:
            continue
        sock = sockets.get(eio_sid)
        sink = sock.frame_sink if sock is not None else None
        out.append((sid, 'sink' if sink is not None else 'stock'))
    return out


def run(mod, script, honest):
    reg = mod.Registry()
    sockets = {}
    sinks = {}
    for i in range(N):
        reg.enter(f's{i}', '/', None, f'e{i}')
        sinks[i] = []
        sockets[f'e{i}'] = Sock(None)
    epoch = 0
    trace = []
    for op, i in script:
        if op == 'join':
            reg.enter(f's{i}', '/', 'r')
        elif op == 'leave':
            reg.leave(f's{i}', '/', 'r')
        elif op in ('upgrade', 'close'):
            if f'e{i}' in sockets:
                sockets[f'e{i}'].frame_sink = sinks[i] if op == 'upgrade' \
                    else None
                if honest:
                    epoch += 1
        elif op == 'gone':
            sockets.pop(f'e{i}', None)
            if honest:
                epoch += 1
        else:
            skip = {f's{i}'} if op == 'skip' else None
            snap = reg.snapshot('/', 'r')
            stock = []
            before = {k: len(v) for k, v in sinks.items()}
            fast = mod.broadcast(snap, skip, sockets, epoch, b'F',
                                 lambda e, p: stock.append(e), ['pkt'])
            got = sorted(
                [(f's{k}', 'sink') for k, v in sinks.items()
                 if len(v) > before[k]] +
                [('s' + e[1:], 'stock') for e in stock])
            trace.append((fast, got))
            if honest:
                assert got == sorted(reference(snap.pairs, skip, sockets))
    return trace


script = st.lists(st.tuples(
    st.sampled_from(['join', 'leave', 'upgrade', 'close', 'gone',
                     'emit', 'skip']),
    st.integers(0, N - 1)), max_size=40)


@pytest.fixture(scope='module')
def both():
    return rooms_twin('python'), rooms_twin('c')


@settings(max_examples=150, deadline=None)
@given(script=script, honest=st.booleans())
def test_cached_sinks_match_a_fresh_lookup_and_the_twins_agree(both, script,
                                                               honest):
    py, c = both
    assert run(c, script, honest) == run(py, script, honest)


def one_member(twin):
    """A registry with one client ``a`` whose socket takes frames."""
    mod = rooms_twin(twin)
    reg = mod.Registry()
    reg.enter('a', '/', None, 'ea')
    sink = []
    sockets = {'ea': Sock(sink)}
    return mod, reg, sink, sockets, reg.snapshot('/', None)


def test_the_cache_is_reused_until_the_epoch_moves(twin):
    mod, reg, sink, sockets, snap = one_member(twin)
    assert mod.broadcast(snap, None, sockets, 7, b'1', None, ['p']) == 1
    cached = snap.sinks
    assert cached[0] is sockets and cached[1] == 7
    assert mod.broadcast(snap, None, sockets, 7, b'2', None, ['p']) == 1
    assert snap.sinks is cached
    # a changed sink with the epoch moved is seen; another sockets map too
    sockets['ea'].frame_sink = None
    stock = []
    assert mod.broadcast(snap, None, sockets, 8, b'3',
                         lambda e, p: stock.append((e, p)), ['p']) == 0
    assert stock == [('ea', 'p')] and sink == [b'1', b'2']
    other = {'ea': Sock(sink)}
    assert mod.broadcast(snap, None, other, 8, b'4', None, ['p']) == 1
    assert sink[-1] == b'4' and snap.sinks[0] is other
    # a membership change gives a new snapshot, without a cache
    reg.enter('b', '/', None, 'eb')
    assert reg.snapshot('/', None) is not snap
    assert reg.snapshot('/', None).sinks is None


@pytest.mark.parametrize('bad', [[('a', 'ea')], None, 'pairs'])
def test_snapshot_and_broadcast_refuse_what_is_not_theirs(both, bad):
    kinds = []
    for mod in both:
        with pytest.raises(TypeError) as a:
            mod.Snapshot(1, bad)
        with pytest.raises(TypeError) as b:
            mod.broadcast(bad, None, {}, 0, b'f', None, ['p'])
        kinds.append((a.type, b.type))
    assert kinds[0] == kinds[1]


def test_participants_and_snapshot_agree(twin):
    mod = rooms_twin(twin)
    reg = mod.Registry()
    for i in range(3):
        reg.enter(f's{i}', '/', None, f'e{i}')
        reg.enter(f's{i}', '/', 'r' if i else 'q')
    for room in (None, 'r', 'q', ['r', 'q'], 'missing'):
        snap = reg.snapshot('/', room)
        assert isinstance(snap, mod.Snapshot)
        assert snap.pairs == reg.participants('/', room)
    assert reg.snapshot('/other', 'r').pairs == ()


def test_an_epoch_of_none_keeps_nothing(twin):
    # an engine that cannot say when sinks change: looked up every time
    mod, reg, sink, sockets, snap = one_member(twin)
    assert mod.broadcast(snap, None, sockets, None, b'1', None, ['p']) == 1
    assert snap.sinks is None
    sockets['ea'].frame_sink = None
    stock = []
    assert mod.broadcast(snap, None, sockets, None, b'2',
                         lambda e, p: stock.append(e), ['p']) == 0
    assert stock == ['ea'] and sink == [b'1']


def test_our_engine_moves_the_epoch_when_a_socket_takes_a_sink():
    from flask_socketio_fast.engine.server import EngineServer
    eio = EngineServer(async_mode='threading')
    try:
        sock = eio.socket_class(eio, 'sid1')
        before = eio.sink_epoch

        class Conn:
            deflate = None
            outbox = object()

        assert sock._ws_switch(Conn())
        assert sock.frame_sink is Conn.outbox
        assert eio.sink_epoch != before
    finally:
        eio.shutdown()
