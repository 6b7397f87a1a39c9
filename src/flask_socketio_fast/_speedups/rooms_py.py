"""Room registry and broadcast loop in pure Python: the twin of ``rooms_c``.

``flask_socketio_fast.manager.FastManager`` keeps its rooms here.  The data
has python-socketio's shape, so code that peeks at ``manager.rooms`` keeps
working: ``rooms[namespace][room]`` maps each member's sid to its Engine.IO
sid, in join order, and the ``None`` room of a namespace holds every client
connected to it.  What python-socketio does by scanning, we answer from
indexes kept alongside:

* each ``Room`` is a dict with a cached ``Snapshot`` of its members (a
  tuple of ``(sid, eio_sid)`` pairs), rebuilt only after the membership
  changed, so a broadcast neither copies the room nor is disturbed by a
  client leaving while it is being sent to;
* a snapshot also keeps what its members' engine sockets offered as
  ``frame_sink`` the last time it was broadcast to, so the next broadcast
  to an unchanged room goes straight to the sinks, without looking up
  every socket again; the caller passes an ``epoch`` that it moves
  whenever a socket's ``frame_sink`` changes, which drops that cache;
* ``Registry.sid_rooms[namespace][sid]`` lists the rooms of a client, so
  ``rooms()`` and disconnecting cost the client's rooms, not every room;
* the ``None`` room carries the inverse map (eio_sid -> sid);
* ``Registry.eio_holders[namespace][eio_sid]`` counts, per sid, the rooms
  where that sid is a member with that eio_sid.  python-socketio's rooms
  are bidicts, so a room refuses a second member with the same eio_sid;
  that can only happen when one client has two sids in a namespace (one of
  them no longer in the ``None`` room), and this index finds the few sids
  to check instead of scanning the room.

Membership order, the order of ``rooms()`` (room creation order, as the
namespace dict of python-socketio has it) and every error match
``socketio.base_manager.BaseManager`` of python-socketio 5.18.

API shared with ``rooms_c``: ``Snapshot``, ``Room``, ``Registry`` and
``broadcast(snap, skip, sockets, epoch, frame, send_eio, eio_pkts)``.
"""

import itertools

from bidict import KeyAndValueDuplicationError, ValueDuplicationError

__all__ = ['IMPLEMENTATION', 'Snapshot', 'Room', 'Registry', 'broadcast']

IMPLEMENTATION = 'python'

_MISSING = object()
_NO_PAIRS = ()
_NO_PAIRS_DICT = {}

# next(itertools.count) is atomic under the GIL: every membership change gets
# a stamp no other change has, which is what makes the snapshot check below
# safe with handler threads emitting while others join or leave
_stamp = itertools.count(1).__next__


class Snapshot:
    """The members of a room at one ``version``: ``pairs`` is a tuple of
    ``(sid, eio_sid)``, shared and read-only.  ``sinks`` is the broadcast
    loop's cache, ``(sockets, epoch, sinks)`` with ``sinks[i]`` the
    ``frame_sink`` of ``pairs[i]``'s socket (None: the stock path)."""

    __slots__ = ('version', 'pairs', 'sinks')

    def __init__(self, version, pairs):
        if type(pairs) is not tuple:
            raise TypeError('Snapshot: pairs must be a tuple')
        self.version = version
        self.pairs = pairs
        self.sinks = None


class Room(dict):
    """The members of one room: ``{sid: eio_sid}`` in join order.

    ``serial`` orders rooms by creation, ``version`` changes with every
    membership change, ``snap`` is the ``Snapshot`` taken last and ``inv``
    the inverse map, kept for the ``None`` room only.
    """

    __slots__ = ('serial', 'version', 'snap', 'inv')

    def __init__(self, serial, with_inverse=False):
        super().__init__()
        self.serial = serial
        self.version = _stamp()
        self.snap = None
        self.inv = {} if with_inverse else None

    def pairs(self):
        """The members as a tuple of ``(sid, eio_sid)``; shared, read-only."""
        return self.snapshot().pairs

    def snapshot(self):
        """The ``Snapshot`` of the current members."""
        snap = self.snap
        version = self.version
        if snap is not None and snap.version == version:
            return snap
        # the version is read before the copy: a change racing with it
        # leaves a stale stamp behind, and the next call copies again
        snap = self.snap = Snapshot(version, tuple(self.items()))
        return snap


def _inner(outer, key):
    """``outer[key]``, a dict, made empty first if missing."""
    inner = outer.get(key)
    if inner is None:
        inner = outer[key] = {}
    return inner


class Registry:
    """Every room of every namespace, with the indexes described above."""

    def __init__(self):
        self.rooms = {}
        self.sid_rooms = {}
        self.eio_holders = {}
        self._serial = itertools.count(1).__next__

    def is_sid_room(self, namespace, room):
        ns = self.rooms.get(namespace)
        if ns is not None:
            members = ns.get(None)
            if members is not None:
                return room in members
        return room in _NO_PAIRS_DICT  # hashes room, as upstream does

    def enter(self, sid, namespace, room, eio_sid=None):
        """``BaseManager.basic_enter_room``: same checks in the same order."""
        rooms = self.rooms
        if eio_sid is None and namespace not in rooms:
            raise ValueError('sid is not connected to requested namespace')
        if sid != room and self.is_sid_room(namespace, room):
            raise ValueError('cannot enter a sid room')
        ns = rooms.get(namespace)
        if ns is None:
            ns = rooms[namespace] = {}
        members = ns.get(room)
        if members is None:
            members = ns[room] = Room(self._serial(), room is None)
        if eio_sid is None:
            eio_sid = ns[None][sid]
        old = members.get(sid, _MISSING)
        inv = members.inv
        if inv is not None:
            # python-socketio's None room is a bidict: one sid per eio_sid
            owner = inv.get(eio_sid, _MISSING)
            if owner is not _MISSING:
                if old is not _MISSING:
                    if members[owner] is old:
                        return
                    raise KeyAndValueDuplicationError(sid, eio_sid)
                raise ValueDuplicationError(eio_sid)
            if old is not _MISSING:
                del inv[old]
            inv[eio_sid] = sid
        elif old is eio_sid:
            return
        elif self._held_by_another(members, namespace, eio_sid, sid):
            if old is not _MISSING:
                raise KeyAndValueDuplicationError(sid, eio_sid)
            raise ValueDuplicationError(eio_sid)
        members[sid] = eio_sid
        members.version = _stamp()
        self._hold(namespace, eio_sid, sid, 1)
        if old is not _MISSING:
            self._hold(namespace, old, sid, -1)
        if old is _MISSING:
            _inner(_inner(self.sid_rooms, namespace), sid)[room] = None

    def leave(self, sid, namespace, room):
        """``BaseManager.basic_leave_room``: a missing anything is a no-op."""
        try:
            ns = self.rooms[namespace]
            members = ns[room]
            eio_sid = members.pop(sid)
        except KeyError:
            return
        members.version = _stamp()
        if members.inv is not None:
            del members.inv[eio_sid]
        self._hold(namespace, eio_sid, sid, -1)
        by_sid = self.sid_rooms[namespace]
        mine = by_sid[sid]
        del mine[room]
        if not mine:
            del by_sid[sid]
        if not members:
            del ns[room]
            if not ns:
                del self.rooms[namespace]
                del self.sid_rooms[namespace]
                del self.eio_holders[namespace]

    def _hold(self, namespace, eio_sid, sid, delta):
        by_eio = _inner(self.eio_holders, namespace)
        holders = _inner(by_eio, eio_sid)
        count = holders.get(sid, 0) + delta
        if count:
            holders[sid] = count
        else:
            del holders[sid]
            if not holders:
                del by_eio[eio_sid]

    def _held_by_another(self, members, namespace, eio_sid, sid):
        # whether another member of ``members`` (a named room) has eio_sid
        holders = self.eio_holders.get(namespace, _NO_PAIRS_DICT).get(eio_sid)
        if holders is None or (len(holders) == 1 and sid in holders):
            return False
        for other in holders:
            if other != sid and members.get(other, _MISSING) == eio_sid:
                return True
        return False

    def rooms_of(self, sid, namespace):
        """Every room of ``sid`` (``None`` included) in creation order."""
        by_sid = self.sid_rooms.get(namespace)
        if by_sid is None:
            return []
        mine = by_sid.get(sid)
        if not mine:
            return []
        ns = self.rooms[namespace]
        return sorted(mine, key=lambda room: ns[room].serial)

    def get_rooms(self, sid, namespace):
        """``BaseManager.get_rooms``: the rooms of ``sid`` but ``None``."""
        if namespace not in self.rooms:
            return []
        return [room for room in self.rooms_of(sid, namespace)
                if room is not None]

    def participants(self, namespace, room):
        """``(sid, eio_sid)`` pairs of a room, or of the union of a list of
        rooms (first appearance decides the order)."""
        return self.snapshot(namespace, room).pairs

    def snapshot(self, namespace, room):
        """``participants`` as a ``Snapshot``: the room's own (cached) one,
        or a new one for a union of rooms or a room that does not exist."""
        ns = self.rooms.get(namespace)
        if ns is None:
            ns = _NO_PAIRS_DICT
        if not isinstance(room, str) and hasattr(room, '__len__'):
            first = room[0]
            union = dict(ns[first]) if first in ns else {}
            for other in room[1:]:
                if other in ns:
                    union.update(ns[other])
            return Snapshot(0, tuple(union.items()))
        members = ns.get(room)
        if members is None:
            return Snapshot(0, _NO_PAIRS)
        return members.snapshot()

    def sid_from_eio(self, eio_sid, namespace):
        try:
            return self.rooms[namespace][None].inv[eio_sid]
        except KeyError:
            return None

    def eio_from_sid(self, sid, namespace):
        ns = self.rooms.get(namespace)
        if ns is not None:
            return ns[None].get(sid)
        return None



def broadcast(snap, skip, sockets, epoch, frame, send_eio, eio_pkts):
    """Send one broadcast to the members of ``snap`` minus the sids in
    ``skip``.

    With ``frame`` (the broadcast's complete WebSocket frames as bytes), a
    recipient whose engine socket in ``sockets`` offers a ``frame_sink`` gets
    those bytes appended to it; every other recipient gets each packet of
    ``eio_pkts`` through ``send_eio(eio_sid, pkt)``.  The sinks found are
    kept on ``snap`` for the next broadcast with the same ``sockets`` and
    ``epoch`` (as their bound ``append`` methods: one lookup per cache
    fill, not per recipient).  Returns how many recipients took the shared
    frame (the caller then flushes the engine).
    """
    if type(snap) is not Snapshot:
        raise TypeError('broadcast: snap must be a Snapshot')
    pairs = snap.pairs
    fast = 0
    single = eio_pkts[0] if len(eio_pkts) == 1 else None
    if frame is None:
        for sid, eio_sid in pairs:
            if skip is not None and sid in skip:
                continue
            if single is not None:
                send_eio(eio_sid, single)
            else:
                for pkt in eio_pkts:
                    send_eio(eio_sid, pkt)
        return 0
    cached = snap.sinks
    if epoch is not None and cached is not None and \
            cached[0] is sockets and cached[1] == epoch and \
            len(cached[2]) == len(pairs):
        sinks = cached[2]
    else:
        get_socket = sockets.get
        found = []
        for _, eio_sid in pairs:
            sock = get_socket(eio_sid)
            sink = sock.frame_sink if sock is not None else None
            found.append(sink.append if sink is not None else None)
        sinks = tuple(found)
        if epoch is not None:
            # one assignment: another thread sees the old cache or the new
            snap.sinks = (sockets, epoch, sinks)
    for (sid, eio_sid), append in zip(pairs, sinks):
        if skip is not None and sid in skip:
            continue
        if append is not None:
            append(frame)
            fast += 1
            continue
        if single is not None:
            send_eio(eio_sid, single)
        else:
            for pkt in eio_pkts:
                send_eio(eio_sid, pkt)
    return fast
