"""FastManager's fit into python-socketio: the hooks other code patches, the
queue managers' MRO, the default in SocketIO, and concurrent use."""

import threading

import pytest
import socketio
from flask import Flask

from flask_socketio_fast import manager as fast
from flask_socketio_fast.manager import FastManager

from .support import make_manager


def _wrap_room_hooks(manager):
    """What instrument() does: replace basic_enter_room / basic_leave_room
    on the instance; returns the call log."""
    calls = []
    enter, leave = manager.basic_enter_room, manager.basic_leave_room

    def entering(sid, namespace, room, eio_sid=None):
        calls.append(('enter', sid, namespace, room))
        return enter(sid, namespace, room, eio_sid=eio_sid)

    def leaving(sid, namespace, room):
        calls.append(('leave', sid, namespace, room))
        return leave(sid, namespace, room)

    manager.basic_enter_room = entering
    manager.basic_leave_room = leaving
    return calls


def _room_story(manager):
    a = manager.connect('ea', '/')
    b = manager.pre_connect('eb', '/')
    manager.connect(b, '/')
    for room in ('r1', 'r2', 'r3'):
        manager.enter_room(a, '/', room)
    manager.enter_room(b, '/', 'r2')
    manager.close_room('r2', '/')
    manager.leave_room(a, '/', 'r1')
    manager.disconnect(a, '/', ignore_queue=True)
    manager.disconnect(b, '/', ignore_queue=True)


def test_room_hooks_replaced_on_the_instance_see_every_change(twin):
    up, _ = make_manager('upstream')
    mine, _ = make_manager('fast', twin)
    expected = _wrap_room_hooks(up)
    got = _wrap_room_hooks(mine)
    _room_story(up)
    _room_story(mine)
    assert got == expected
    assert ('leave', 'sid1', '/', 'r3') in got  # from the disconnect


def test_rooms_keeps_python_socketios_shape(twin):
    manager, _ = make_manager('fast', twin)
    sid = manager.connect('e1', '/')
    manager.enter_room(sid, '/', 'r')
    assert isinstance(manager.rooms['/']['r'], dict)
    assert dict(manager.rooms['/']['r']) == {sid: 'e1'}
    assert manager.rooms['/'][None][sid] == 'e1'
    assert len(manager.rooms.get('/', {None: []}).get(None, [])) == 1
    manager.disconnect(sid, '/')
    assert manager.rooms == {}


def test_implementation_is_the_requested_twin(twin):
    assert FastManager(speedups=twin).implementation == twin


@pytest.mark.parametrize('cls, upstream', [
    (fast.FastRedisManager, socketio.RedisManager),
    (fast.FastKafkaManager, socketio.KafkaManager),
    (fast.FastKombuManager, socketio.KombuManager),
    (fast.FastZmqManager, socketio.ZmqManager),
])
def test_queue_managers_put_fastmanager_under_the_queue(cls, upstream):
    mro = cls.__mro__
    assert issubclass(cls, upstream) and issubclass(cls, FastManager)
    # the queue's emit first (it publishes), its super().emit() is ours
    assert mro.index(socketio.PubSubManager) < mro.index(FastManager) < \
        mro.index(socketio.Manager)
    assert cls.emit is socketio.PubSubManager.emit


class _QueueSpeedups(fast.FastRedisManager):
    pass


def test_remote_broadcast_goes_through_the_fast_fan_out(twin):
    # a broadcast arriving from another host (_handle_emit), and one made
    # here (published, then handled locally), with no Redis involved
    _QueueSpeedups.speedups = twin
    manager = _QueueSpeedups('redis://127.0.0.1:1/0')
    published = []
    manager._publish = published.append
    sio = socketio.Server(async_mode='threading', client_manager=manager)
    sent = []
    sio._send_eio_packet = lambda eio_sid, pkt: sent.append(
        (eio_sid, pkt.encode()))
    a = manager.connect('ea', '/')
    b = manager.connect('eb', '/')
    manager.enter_room(a, '/', 'r')
    manager.enter_room(b, '/', 'r')
    calls = []
    original = FastManager.emit

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get('room'))
        return original(self, *args, **kwargs)

    FastManager.emit = spy
    try:
        manager._handle_emit({'method': 'emit', 'event': 'ev', 'data': ['x'],
                              'namespace': '/', 'room': 'r',
                              'skip_sid': b, 'host_id': 'elsewhere'})
        sio.emit('ev2', {'k': 1}, to='r')
    finally:
        FastManager.emit = original
    assert calls == ['r', 'r']
    assert sent == [('ea', '42["ev","x"]'), ('ea', '42["ev2",{"k":1}]'),
                    ('eb', '42["ev2",{"k":1}]')]
    assert [m['event'] for m in published] == ['ev2']
    assert manager.implementation == twin


def test_socketio_uses_fastmanager_by_default():
    import flask_socketio_fast

    sio = flask_socketio_fast.SocketIO(Flask(__name__), async_mode='threading')
    assert type(sio.server.manager) is FastManager
    assert sio.server.fast_paths['broadcast fan-out'].startswith('fast (')
    # a second init_app builds a second server with a manager of its own
    first = sio.server.manager
    sio.init_app(Flask(__name__))
    assert type(sio.server.manager) is FastManager
    assert sio.server.manager is not first


def test_socketio_keeps_a_given_manager():
    import flask_socketio_fast

    given = socketio.Manager()
    sio = flask_socketio_fast.SocketIO(Flask(__name__), async_mode='threading',
                                       client_manager=given)
    assert sio.server.manager is given
    assert sio.server.fast_paths['broadcast fan-out'].startswith('stock (')


def test_message_queue_gets_the_fast_queue_manager():
    import flask_socketio_fast

    sio = flask_socketio_fast.SocketIO(Flask(__name__), async_mode='threading',
                                       message_queue='redis://127.0.0.1:1/0')
    assert type(sio.server.manager) is fast.FastRedisManager


def test_joins_leaves_and_broadcasts_from_several_threads(twin):
    # handler threads join, leave and emit at once; afterwards the cached
    # snapshot must still equal the room, and no broadcast may have failed
    manager, server = make_manager('fast', twin)
    sids = [manager.connect(f'e{i}', '/') for i in range(40)]
    errors = []
    start = threading.Barrier(5)

    def churn(mine):
        start.wait()
        try:
            for _ in range(300):
                for sid in mine:
                    manager.enter_room(sid, '/', 'hot')
                for sid in mine[::2]:
                    manager.leave_room(sid, '/', 'hot')
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    def broadcast():
        start.wait()
        try:
            for _ in range(300):
                manager.emit('ev', 1, '/', room='hot')
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(sids[i::4],))
               for i in range(4)] + [threading.Thread(target=broadcast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    room = manager.rooms['/']['hot']
    assert list(manager.get_participants('/', 'hot')) == list(room.items())
    assert set(room) == {sid for i in range(4) for sid in sids[i::4][1::2]}
