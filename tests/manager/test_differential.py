"""FastManager against socketio.Manager: random operation sequences, same
observable results.

Each example drives both managers in lockstep through the manager protocol
(pre_connect / connect / pre_disconnect / disconnect, rooms, emits with and
without callbacks, acks) including the calls that fail, and after every step
compares everything a caller can see: return values or the exception (type
and message), ``manager.rooms`` with its order, ``get_rooms``,
``get_participants``, ``is_connected`` / ``is_pre_connected``, the sid <->
eio_sid maps, namespaces, pending callbacks, which packets went to which
client in which order, and which callbacks ran.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import make_manager

NAMESPACES = ('/', '/chat')
EIOS = ('e0', 'e1', 'e2', 'e3', 'e4')
NAMED_ROOMS = ('a', 'b', 'c')

sid_ref = st.integers(0, 8)  # index into the sids seen so far; past the end
#                              is a sid that never existed
room_ref = st.one_of(st.sampled_from(NAMED_ROOMS + (None,)),
                     st.tuples(st.just('sid'), sid_ref))
to_ref = st.one_of(
    st.none(), room_ref,
    st.lists(room_ref, min_size=1, max_size=3),
    st.tuples(st.just('tuple'), st.lists(room_ref, min_size=1, max_size=2)))
skip_ref = st.one_of(st.none(), sid_ref.map(lambda i: ('one', i)),
                     st.lists(sid_ref, max_size=3).map(lambda l: ('list', l)))
payloads = st.sampled_from(['x', (1, 'y'), b'bin', None, {'k': [1, 2]},
                            (b'a', 'm', b'b'), ()])
ns_ref = st.sampled_from(NAMESPACES)

operations = st.one_of(
    st.tuples(st.just('pre_connect'), st.sampled_from(EIOS), ns_ref),
    st.tuples(st.just('connect_sid'), sid_ref, ns_ref),
    st.tuples(st.just('connect_eio'), st.sampled_from(EIOS), ns_ref),
    st.tuples(st.just('pre_disconnect'), sid_ref, ns_ref),
    st.tuples(st.just('disconnect'), sid_ref, ns_ref),
    st.tuples(st.just('enter'), sid_ref, ns_ref, room_ref),
    st.tuples(st.just('leave'), sid_ref, ns_ref, room_ref),
    st.tuples(st.just('close'), room_ref, ns_ref),
    st.tuples(st.just('emit'), ns_ref, to_ref, skip_ref, st.booleans(),
              payloads),
    st.tuples(st.just('ack'), sid_ref, st.integers(1, 3),
              st.sampled_from([(), ('ok',), (1, 2)])),
    st.tuples(st.just('participants'), ns_ref, to_ref),
)


class Driver:
    """One manager plus what it needs to replay an operation list."""

    def __init__(self, kind, twin=None):
        self.manager, self.server = make_manager(kind, twin)
        self.sids = []
        self.calls = []

    def sid(self, ref):
        return self.sids[ref] if ref < len(self.sids) else f'ghost{ref}'

    def room(self, ref):
        if isinstance(ref, tuple):
            if ref[0] == 'sid':
                return self.sid(ref[1])
            return tuple(self.room(r) for r in ref[1])
        if isinstance(ref, list):
            return [self.room(r) for r in ref]
        return ref

    def skip(self, ref):
        if ref is None:
            return None
        if ref[0] == 'one':
            return self.sid(ref[1])
        return [self.sid(i) for i in ref[1]]

    def callback(self, *args):
        self.calls.append(args)

    def apply(self, op):
        m = self.manager
        kind = op[0]
        try:
            if kind == 'pre_connect':
                result = m.pre_connect(op[1], op[2])
            elif kind == 'connect_sid':
                result = m.connect(self.sid(op[1]), op[2])
            elif kind == 'connect_eio':
                result = m.connect(op[1], op[2])
            elif kind == 'pre_disconnect':
                result = m.pre_disconnect(self.sid(op[1]), op[2])
            elif kind == 'disconnect':
                result = m.disconnect(self.sid(op[1]), op[2],
                                      ignore_queue=True)
            elif kind == 'enter':
                result = m.enter_room(self.sid(op[1]), op[2],
                                      self.room(op[3]))
            elif kind == 'leave':
                result = m.leave_room(self.sid(op[1]), op[2],
                                      self.room(op[3]))
            elif kind == 'close':
                result = m.close_room(self.room(op[1]), op[2])
            elif kind == 'emit':
                _, ns, to, skip, with_cb, data = op
                result = m.emit('ev', data, ns, to=self.room(to),
                                skip_sid=self.skip(skip),
                                callback=self.callback if with_cb else None)
            elif kind == 'ack':
                result = m.trigger_callback(self.sid(op[1]), op[2],
                                            list(op[3]))
            elif kind == 'participants':
                result = list(m.get_participants(op[1], self.room(op[2])))
            else:  # pragma: no cover
                raise AssertionError(op)
        except Exception as exc:  # the failures must match too
            return ('raised', type(exc).__name__, str(exc))
        if kind in ('pre_connect', 'connect_sid', 'connect_eio') and \
                result is not None and result not in self.sids:
            self.sids.append(result)
        return ('returned', result)

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:
            return ('raised', type(exc).__name__, str(exc))

    def state(self):
        m = self.manager
        rooms = [(ns, [(room, list(members.items()))
                       for room, members in by_room.items()])
                 for ns, by_room in m.rooms.items()]
        per_sid = []
        for sid in self.sids + ['ghost']:
            for ns in NAMESPACES:
                per_sid.append((
                    sid, ns, m.is_connected(sid, ns),
                    m.is_pre_connected(sid, ns), m.can_disconnect(sid, ns),
                    m.get_rooms(sid, ns),
                    self._guard(m.eio_sid_from_sid, sid, ns),
                    self._guard(lambda s, n: list(m.get_participants(n, s)),
                                sid, ns)))
        per_eio = [(eio, ns, m.sid_from_eio_sid(eio, ns))
                   for eio in EIOS for ns in NAMESPACES]
        callbacks = {sid: sorted(k for k in ids if k != 0)
                     for sid, ids in m.callbacks.items()}
        named = [(ns, room, list(m.get_participants(ns, room)))
                 for ns in NAMESPACES for room in NAMED_ROOMS + (None,)]
        return {'rooms': rooms, 'per_sid': per_sid, 'per_eio': per_eio,
                'namespaces': list(m.get_namespaces()),
                'callbacks': callbacks, 'named': named,
                'sent': list(self.server.sent), 'calls': list(self.calls)}


def run_lockstep(ops, twin):
    upstream = Driver('upstream')
    fast = Driver('fast', twin)
    for step, op in enumerate(ops):
        expected = upstream.apply(op)
        got = fast.apply(op)
        assert got == expected, (step, op)
        assert fast.state() == upstream.state(), (step, op)
    return upstream, fast


@settings(max_examples=int(os.environ.get("MANAGER_EXAMPLES", 150)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operations, max_size=40))
def test_random_operation_sequences(twin, ops):
    run_lockstep(ops, twin)


# connect-heavy sequences reach deep room states more often
connect_first = st.lists(
    st.tuples(st.just('connect_eio'), st.sampled_from(EIOS), ns_ref),
    min_size=2, max_size=6)


@settings(max_examples=int(os.environ.get("MANAGER_EXAMPLES", 100)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(setup=connect_first, ops=st.lists(operations, max_size=30))
def test_sequences_after_connects(twin, setup, ops):
    run_lockstep(setup + ops, twin)


# mostly joins and emits among connected clients: many recipients per emit
live_sid = st.integers(0, 4)
busy_operations = st.one_of(
    st.tuples(st.just('enter'), live_sid, ns_ref,
              st.sampled_from(NAMED_ROOMS)),
    st.tuples(st.just('enter'), live_sid, ns_ref,
              st.sampled_from(NAMED_ROOMS)),
    st.tuples(st.just('emit'), ns_ref, to_ref, skip_ref, st.booleans(),
              payloads),
    st.tuples(st.just('emit'), ns_ref, to_ref, skip_ref, st.just(False),
              payloads),
    st.tuples(st.just('leave'), live_sid, ns_ref, room_ref),
    st.tuples(st.just('disconnect'), live_sid, ns_ref),
    st.tuples(st.just('connect_eio'), st.sampled_from(EIOS), ns_ref),
    st.tuples(st.just('ack'), live_sid, st.integers(1, 3),
              st.sampled_from([(), ('ok',)])),
)


@settings(max_examples=int(os.environ.get("MANAGER_EXAMPLES", 100)),
          deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(setup=st.lists(st.tuples(st.just('connect_eio'),
                                st.sampled_from(EIOS), ns_ref),
                      min_size=3, max_size=8),
       ops=st.lists(busy_operations, min_size=5, max_size=40))
def test_busy_sequences(twin, setup, ops):
    run_lockstep(setup + ops, twin)


@pytest.mark.parametrize('ops', [
    # the connect handler is running: registered, yet not connected
    [('pre_connect', 'e0', '/')],
    # the same eio_sid cannot connect twice to a namespace
    [('connect_eio', 'e0', '/'), ('pre_connect', 'e0', '/'),
     ('connect_eio', 'e0', '/')],
    # sid rooms cannot be joined or closed
    [('connect_eio', 'e0', '/'), ('connect_eio', 'e1', '/'),
     ('enter', 0, '/', ('sid', 1)), ('close', ('sid', 1), '/')],
    # a sid that was never connected
    [('connect_eio', 'e0', '/'), ('enter', 5, '/', 'a'),
     ('enter', 5, '/chat', 'a'), ('pre_disconnect', 5, '/chat')],
    # rooms() in namespace order after a room is emptied and re-created
    [('connect_eio', 'e0', '/'), ('connect_eio', 'e1', '/'),
     ('enter', 0, '/', 'a'), ('enter', 0, '/', 'b'), ('enter', 1, '/', 'a'),
     ('leave', 0, '/', 'a'), ('leave', 1, '/', 'a'), ('enter', 0, '/', 'a'),
     ('enter', 1, '/', 'c'), ('enter', 1, '/', 'b')],
    # a list of rooms is a union without duplicates, skip_sid as a list
    [('connect_eio', 'e0', '/'), ('connect_eio', 'e1', '/'),
     ('connect_eio', 'e2', '/'), ('enter', 0, '/', 'a'),
     ('enter', 1, '/', 'a'), ('enter', 1, '/', 'b'), ('enter', 2, '/', 'b'),
     ('emit', '/', ['b', 'a', ('sid', 0)], ('list', [2]), False, 'x'),
     ('emit', '/', ['a', 'b'], None, True, (1, 2)),
     ('ack', 1, 1, ('ok',)), ('ack', 1, 1, ('again',))],
    # disconnecting while in the middle of disconnecting
    [('connect_eio', 'e0', '/'), ('pre_disconnect', 0, '/'),
     ('pre_disconnect', 0, '/'), ('disconnect', 0, '/'),
     ('connect_eio', 'e0', '/')],
    # close_room(None) empties the namespace
    [('connect_eio', 'e0', '/'), ('enter', 0, '/', 'a'),
     ('close', None, '/'), ('emit', '/', None, None, False, 'x')],
    # one client with two sids in a namespace (the first left the None
    # room): a named room refuses the second (python-socketio's rooms are
    # bidicts), found by hypothesis on 2026-12-03
    [('connect_eio', 'e4', '/chat'), ('connect_eio', 'e0', '/'),
     ('connect_eio', 'e1', '/'), ('pre_connect', 'e0', '/chat'),
     ('leave', 0, '/chat', None), ('pre_connect', 'e4', '/chat'),
     ('enter', 4, '/chat', ('sid', 0)), ('enter', 0, '/chat', 'a'),
     ('enter', 4, '/chat', 'a'), ('leave', 0, '/chat', 'a'),
     ('enter', 4, '/chat', 'a'), ('leave', 0, '/chat', ('sid', 0)),
     ('enter', 4, '/chat', ('sid', 0))],
])
def test_known_corners(twin, ops):
    run_lockstep(ops, twin)
