"""Client managers with a fast room registry and broadcast fan-out.

``FastManager`` is a drop-in ``socketio.Manager`` (plug it in with
``client_manager=``; ``SocketIO`` does so by default).  It follows
python-socketio 5.18's manager protocol and room semantics exactly, with
different data structures (``_speedups.rooms``): rooms that need no copy per
broadcast, a set for ``skip_sid``, a sid -> rooms index for ``rooms()`` and
disconnects, sets for the clients that are connecting or disconnecting.

A broadcast encodes its Socket.IO packet once and builds its Engine.IO
packets once, as python-socketio does.  When the Engine.IO server is ours
(it has ``flush()`` and its sockets a ``frame_sink``), the complete WebSocket
frames are also built once and every WebSocket recipient only gets those
bytes appended to its outbound buffer; one ``flush_soon()`` then writes them all.
Everything else goes through ``server._send_eio_packet`` per recipient, as
upstream: polling and compressed connections (their ``frame_sink`` is None),
broadcasts with a callback (each recipient needs its own ack id), and a
server whose ``_send_eio_packet`` or ``_send_packet`` was replaced on the
instance (the test client and ``instrument()`` do that to see every packet).

``FastRedisManager``, ``FastKafkaManager``, ``FastKombuManager`` and
``FastZmqManager`` put the same local fan-out under the message queues:
python-socketio's ``PubSubManager._handle_emit`` calls ``super().emit()``,
which the MRO resolves to ``FastManager.emit`` on the emitting host and on
every receiving host.
"""

import importlib

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from bidict import ValueDuplicationError
from socketio.base_manager import BaseManager

from . import _speedups

__all__ = ['FastManager', 'FastRedisManager', 'FastKafkaManager',
           'FastKombuManager', 'FastZmqManager', 'fast_manager_supported',
           'describe_manager']

_EVENT = sio_packet.EVENT
_MESSAGE = eio_packet.MESSAGE
_STOCK_SEND_EIO = socketio.Server._send_eio_packet
_STOCK_SEND = socketio.Server._send_packet


def fast_manager_supported():
    """True when the installed python-socketio has the manager protocol
    FastManager implements (``pre_connect`` arrived with 5.18)."""
    return callable(getattr(BaseManager, 'pre_connect', None))


def _rooms_module(implementation=None):
    if implementation is None:
        mod = getattr(_speedups, 'rooms', None)
        if mod is not None:
            return mod
        implementation = _speedups.IMPLEMENTATION
    suffix = '_c' if implementation == 'c' else '_py'
    return importlib.import_module(f'{_speedups.__name__}.rooms{suffix}')


_wsframe = None


def _frame_module():
    """The WebSocket frame builder (the engine layer's), or None."""
    global _wsframe
    if _wsframe is None:
        mod = getattr(_speedups, 'wsframe', None)
        if mod is None:
            suffixes = ('_c', '_py') if _speedups.IMPLEMENTATION == 'c' \
                else ('_py',)
            for suffix in suffixes:
                try:
                    mod = importlib.import_module(
                        f'{_speedups.__name__}.wsframe{suffix}')
                    break
                except ImportError:
                    continue
        _wsframe = mod if mod is not None else False
    return _wsframe or None


def _skip_set(skip_sid):
    """``skip_sid`` as a container for ``in``; None when nothing is skipped.

    python-socketio wraps anything that is not a list in a list, so a tuple
    is one (never matching) sid there, and so it is here.
    """
    if skip_sid is None:
        return None
    if type(skip_sid) is not list and not isinstance(skip_sid, list):
        try:
            return {skip_sid}
        except TypeError:  # unhashable: keep list semantics
            return [skip_sid]
    if not skip_sid:
        return None
    try:
        return set(skip_sid)
    except TypeError:
        return skip_sid


class FastManager(socketio.Manager):
    """A ``socketio.Manager`` with a fast registry and fan-out (see module
    docstring).

    :param speedups: ``'c'`` or ``'python'`` to force one implementation of
                     the registry; by default the selected one.
    """

    #: implementation for instances created without ``speedups=`` (tests
    #: set it on subclasses to run the queue managers on each twin)
    speedups = None

    def __init__(self, *args, speedups=None, **kwargs):
        super().__init__(*args, **kwargs)
        mod = _rooms_module(speedups or self.speedups)
        self._rooms_mod = mod
        self._registry = mod.Registry()
        self._broadcast = mod.broadcast
        # python-socketio's shape: rooms[namespace][room] = {sid: eio_sid}
        self.rooms = self._registry.rooms
        # namespace -> {sid: None}: membership tests without list scans
        self.pending_connect = {}
        self.pending_disconnect = {}
        #: how many recipients got a shared frame instead of a send (for
        #: tests and curious operators; one addition per broadcast)
        self.shared_frames = 0

    @property
    def implementation(self):
        """``'c'`` or ``'python'``: which registry this manager runs on."""
        return self._rooms_mod.IMPLEMENTATION

    # -- connection protocol (python-socketio 5.18) ------------------------

    def pre_connect(self, eio_sid, namespace):
        sid = self.server.eio.generate_id()
        try:
            self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        except ValueDuplicationError:
            return None  # that eio_sid is already connected to namespace
        self.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
        pending = self.pending_connect.get(namespace)
        if pending is None:
            pending = self.pending_connect[namespace] = {}
        pending[sid] = None
        return sid

    def connect(self, sid, namespace):
        if not self.is_pre_connected(sid, namespace):
            # a connection in one step: sid is an eio_sid here
            sid = self.pre_connect(sid, namespace)
        pending = self.pending_connect.get(namespace)
        if pending is not None and sid in pending:
            del pending[sid]
            if not pending:
                del self.pending_connect[namespace]
        return sid

    def is_pre_connected(self, sid, namespace):
        pending = self.pending_connect.get(namespace)
        if pending is None or sid not in pending:
            return False
        try:
            return self.rooms[namespace][None][sid] is not None
        except KeyError:  # pragma: no cover (pending implies connected)
            return False

    def is_connected(self, sid, namespace):
        pending = self.pending_connect.get(namespace)
        if pending is not None and sid in pending:
            return False
        pending = self.pending_disconnect.get(namespace)
        if pending is not None and sid in pending:
            return False
        try:
            return self.rooms[namespace][None][sid] is not None
        except KeyError:
            return False

    def sid_from_eio_sid(self, eio_sid, namespace):
        return self._registry.sid_from_eio(eio_sid, namespace)

    def eio_sid_from_sid(self, sid, namespace):
        return self._registry.eio_from_sid(sid, namespace)

    def pre_disconnect(self, sid, namespace):
        pending = self.pending_disconnect.get(namespace)
        if pending is None:
            pending = self.pending_disconnect[namespace] = {}
        pending[sid] = None
        return self.rooms[namespace][None].get(sid)

    def basic_disconnect(self, sid, namespace, **kwargs):
        if namespace not in self.rooms:
            return
        # through the instance attribute: instrument() wraps it
        leave = self.basic_leave_room
        for room in self._registry.rooms_of(sid, namespace):
            leave(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending_by_ns in (self.pending_connect, self.pending_disconnect):
            pending = pending_by_ns.get(namespace)
            if pending is not None and sid in pending:
                del pending[sid]
                if not pending:
                    del pending_by_ns[namespace]

    # -- rooms -------------------------------------------------------------

    def get_participants(self, namespace, room):
        yield from self._registry.participants(namespace, room)

    def is_sid_room(self, namespace, room):
        return self._registry.is_sid_room(namespace, room)

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        self._registry.enter(sid, namespace, room, eio_sid)

    def basic_leave_room(self, sid, namespace, room):
        self._registry.leave(sid, namespace, room)

    def basic_close_room(self, room, namespace):
        if self._registry.is_sid_room(namespace, room):
            raise ValueError('cannot close a sid room')
        leave = self.basic_leave_room
        try:
            for sid, _ in self._registry.participants(namespace, room):
                leave(sid, namespace, room)
        except KeyError:  # as upstream, whatever a wrapped leave raises
            pass

    def close_room(self, room, namespace):
        return self.basic_close_room(room, namespace)

    def get_rooms(self, sid, namespace):
        return self._registry.get_rooms(sid, namespace)

    # -- emitting ----------------------------------------------------------

    def emit(self, event, data, namespace, room=None, skip_sid=None,
             callback=None, to=None, **kwargs):
        """Emit to one client, a room, a list of rooms or the namespace."""
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            # a tuple is several arguments, anything else is one
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        skip = _skip_set(skip_sid)
        server = self.server
        if callback:
            # every recipient needs a packet with its own ack id
            packet_class = server.packet_class
            for sid, eio_sid in self._registry.participants(namespace, room):
                if skip is not None and sid in skip:
                    continue
                ack_id = self._generate_ack_id(sid, callback)
                server._send_packet(eio_sid, packet_class(
                    _EVENT, namespace=namespace, data=[event] + data,
                    id=ack_id))
            return
        encoded = server.packet_class(
            _EVENT, namespace=namespace, data=[event] + data).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_pkts = [eio_packet.Packet(_MESSAGE, part) for part in encoded]
        snap = self._registry.snapshot(namespace, room)
        if not snap.pairs:
            return
        if not _hooks_are_stock(server):
            # someone watches the packets: every one goes through the hook
            self._broadcast(snap, skip, None, None, None,
                            server._send_eio_packet, eio_pkts)
            return
        eio = server.eio
        frame = _build_frames(encoded) if _takes_frames(eio) else None
        # the stock hook only forwards to eio.send_packet; the engine moves
        # sink_epoch whenever a socket's frame_sink changes (an engine
        # without one: None, the sinks are looked up on every broadcast)
        shared = self._broadcast(snap, skip, eio.sockets if frame else None,
                                 getattr(eio, 'sink_epoch', None), frame,
                                 eio.send_packet, eio_pkts)
        if shared:
            self.shared_frames += shared
            # deferred to the next turn of the hub (or the flusher thread):
            # back-to-back broadcasts then leave in one send per connection
            flush_soon = getattr(eio, 'flush_soon', None)
            if flush_soon is not None:
                flush_soon()
            else:
                eio.flush()


def _hooks_are_stock(server):
    """False when ``_send_eio_packet`` / ``_send_packet`` were replaced on
    the instance (test client, ``instrument()``) or in a subclass."""
    if '_send_eio_packet' in server.__dict__ or \
            '_send_packet' in server.__dict__:
        return False
    cls = type(server)
    send = cls._send_packet
    return cls._send_eio_packet is _STOCK_SEND_EIO and (
        send is _STOCK_SEND or getattr(send, 'forwards_to_eio', False))


_frame_engines = {}


def _takes_frames(eio):
    """Whether this Engine.IO server's sockets may offer a ``frame_sink``
    (ours: it has ``flush()``), and we have a frame builder."""
    cls = type(eio)
    ok = _frame_engines.get(cls)
    if ok is None:
        ok = _frame_engines[cls] = callable(getattr(cls, 'flush', None)) \
            and _frame_module() is not None
    return ok


def _build_frames(encoded):
    """The WebSocket frames of one Engine.IO message: a text frame for the
    Socket.IO packet, then a binary frame per attachment, as one bytes."""
    wsframe = _frame_module()
    text = encoded[0]
    build_eio = getattr(wsframe, 'build_eio_frame', None)
    if build_eio is not None:
        frame = build_eio(_MESSAGE, text)
    else:
        frame = wsframe.build_text_frame(('4' + text).encode('utf-8'))
    if len(encoded) > 1:
        build_binary = wsframe.build_binary_frame
        frame = b''.join([frame] + [build_binary(a)
                                    for a in encoded[1:]])
    return frame


def describe_manager(manager, eio=None):
    """One line for the start-up log: which manager fans out broadcasts,
    and whether WebSocket recipients get shared frames."""
    if not isinstance(manager, FastManager):
        why = '' if fast_manager_supported() else \
            ', this python-socketio predates the 5.18 manager protocol'
        return (f'stock ({type(manager).__module__}.'
                f'{type(manager).__name__}{why})')
    line = f'fast ({type(manager).__name__}, {manager.implementation} ' \
        'registry'
    if eio is not None:
        if _takes_frames(eio):
            line += '; shared WebSocket frames'
        else:
            line += '; per-recipient sends (this Engine.IO server takes no ' \
                'shared frames)'
    return line + ')'


# -- the message-queue managers, with FastManager under their local fan-out

class FastRedisManager(socketio.RedisManager, FastManager):
    """``socketio.RedisManager`` whose local fan-out is FastManager's."""
    name = 'redis'


class FastKafkaManager(socketio.KafkaManager, FastManager):
    """``socketio.KafkaManager`` whose local fan-out is FastManager's."""
    name = 'kafka'


class FastKombuManager(socketio.KombuManager, FastManager):
    """``socketio.KombuManager`` whose local fan-out is FastManager's."""
    name = 'kombu'


class FastZmqManager(socketio.ZmqManager, FastManager):
    """``socketio.ZmqManager`` whose local fan-out is FastManager's."""
    name = 'zmq'
