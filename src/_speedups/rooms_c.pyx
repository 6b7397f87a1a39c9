# cython: language_level=3, boundscheck=False, wraparound=False
"""Room registry and broadcast loop, compiled: the twin of ``rooms_py``.

Same API, same data layout and same results as the pure-Python module (its
docstring describes both); here the rooms are a ``dict`` subclass with C
fields, and the broadcast loop walks the snapshot tuple and the engine's
socket dict with direct C-API calls, so a recipient that takes the shared
WebSocket frame costs a dict lookup, an attribute read and an append.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetPointer
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport (PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New,
                            PyTuple_SET_ITEM)
from outbox_api cimport FSF_OUTBOX_API_NAME, fsf_outbox_api, fsf_prefetch

from bidict import KeyAndValueDuplicationError, ValueDuplicationError

from . import outbox_c

# the compiled outbox's own append (outbox_api.h), and its type
cdef fsf_outbox_api *_outbox_api
try:
    _outbox_api = <fsf_outbox_api *>PyCapsule_GetPointer(
        outbox_c._C_API, FSF_OUTBOX_API_NAME)
except (AttributeError, ValueError) as exc:
    # (an outbox_c from another build: the selection in __init__ then
    # takes the pure twins, and says why)
    raise ImportError(f'rooms_c does not match outbox_c: {exc}') from None
cdef type _Outbox = outbox_c.Outbox

__all__ = ['IMPLEMENTATION', 'Snapshot', 'Room', 'Registry', 'broadcast']

IMPLEMENTATION = 'c'

cdef enum:
    # how many recipients ahead the broadcast loop prefetches
    _PREFETCH_AHEAD = 16

cdef object _MISSING = object()
cdef tuple _NO_PAIRS = ()
cdef dict _NO_PAIRS_DICT = {}

# stamps for membership changes; bumped with the GIL held and no Python code
# in between, so each change gets a stamp of its own (see rooms_py)
cdef unsigned long long _stamp_counter = 0

cdef object _item(dict d, object key):
    # d[key], raising KeyError(key) even for key None (Cython's own dict
    # indexing raises a KeyError without args then, unlike Python's)
    cdef PyObject *found = PyDict_GetItem(d, key)
    if found is NULL:
        raise KeyError(key)
    return <object>found


cdef dict _inner(dict outer, key):
    # outer[key], a dict, made empty first if missing
    cdef PyObject *found = PyDict_GetItem(outer, key)
    if found is not NULL:
        return <dict>found
    cdef dict inner = {}
    outer[key] = inner
    return inner


cdef inline unsigned long long _stamp():
    global _stamp_counter
    _stamp_counter += 1
    return _stamp_counter


cdef class Snapshot:
    """The members of a room at one ``version``, and the broadcast loop's
    cache of their sinks (see ``rooms_py.Snapshot``)."""

    cdef public unsigned long long version
    cdef readonly tuple pairs
    cdef public object sinks

    def __init__(self, version, tuple pairs not None):
        self.version = version
        self.pairs = pairs
        self.sinks = None


cdef class Room(dict):
    """The members of one room: ``{sid: eio_sid}`` in join order (see
    ``rooms_py.Room``)."""

    cdef public long long serial
    cdef public unsigned long long version
    cdef public object snap
    cdef public object inv

    def __init__(self, serial, with_inverse=False):
        self.serial = serial
        self.version = _stamp()
        self.snap = None
        self.inv = {} if with_inverse else None

    cpdef tuple pairs(self):
        """The members as a tuple of ``(sid, eio_sid)``; shared, read-only."""
        return self.snapshot().pairs

    cpdef Snapshot snapshot(self):
        """The ``Snapshot`` of the current members."""
        cdef object snap = self.snap
        cdef unsigned long long version = self.version
        if snap is not None and type(snap) is Snapshot and \
                (<Snapshot>snap).version == version:
            return <Snapshot>snap
        cdef Py_ssize_t n = len(self), pos = 0, i = 0
        cdef PyObject *key
        cdef PyObject *value
        cdef tuple pairs = PyTuple_New(n)
        cdef tuple pair
        # no Python code runs in this loop, so the dict cannot change under it
        while PyDict_Next(self, &pos, &key, &value):
            pair = (<object>key, <object>value)
            Py_INCREF(pair)
            PyTuple_SET_ITEM(pairs, i, pair)
            i += 1
        cdef Snapshot fresh = Snapshot(version, pairs)
        self.snap = fresh
        return fresh


cdef class Registry:
    """Every room of every namespace, with the indexes of ``rooms_py``."""

    cdef public dict rooms
    cdef public dict sid_rooms
    cdef public dict eio_holders
    cdef long long _serial

    def __init__(self):
        self.rooms = {}
        self.sid_rooms = {}
        self.eio_holders = {}
        self._serial = 0

    cpdef bint is_sid_room(self, namespace, room) except -1:
        cdef object ns = self.rooms.get(namespace)
        cdef object members
        if ns is not None:
            members = (<dict>ns).get(None)
            if members is not None:
                return room in <dict>members
        return room in _NO_PAIRS_DICT  # hashes room, as upstream does

    def enter(self, sid, namespace, room, eio_sid=None):
        """``BaseManager.basic_enter_room``: same checks in the same order."""
        cdef dict rooms = self.rooms
        cdef dict ns, inv
        cdef Room members
        cdef object old, owner, found
        if eio_sid is None and namespace not in rooms:
            raise ValueError('sid is not connected to requested namespace')
        if sid != room and self.is_sid_room(namespace, room):
            raise ValueError('cannot enter a sid room')
        found = rooms.get(namespace)
        if found is None:
            ns = {}
            rooms[namespace] = ns
        else:
            ns = <dict>found
        found = ns.get(room)
        if found is None:
            self._serial += 1
            members = Room(self._serial, room is None)
            ns[room] = members
        else:
            members = <Room>found
        if eio_sid is None:
            eio_sid = _item(ns, None)[sid]
        old = members.get(sid, _MISSING)
        if members.inv is not None:
            # python-socketio's None room is a bidict: one sid per eio_sid
            inv = <dict>members.inv
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
        cdef dict ns, by_sid, mine
        cdef Room members
        try:
            ns = <dict>self.rooms[namespace]
            members = <Room>ns[room]
            eio_sid = members.pop(sid)
        except KeyError:
            return
        members.version = _stamp()
        if members.inv is not None:
            del (<dict>members.inv)[eio_sid]
        self._hold(namespace, eio_sid, sid, -1)
        by_sid = <dict>self.sid_rooms[namespace]
        mine = <dict>by_sid[sid]
        del mine[room]
        if not mine:
            del by_sid[sid]
        if not members:
            del ns[room]
            if not ns:
                del self.rooms[namespace]
                del self.sid_rooms[namespace]
                del self.eio_holders[namespace]

    cdef int _hold(self, namespace, eio_sid, sid, int delta) except -1:
        # (rooms_py.Registry.eio_holders)
        cdef dict by_eio = _inner(self.eio_holders, namespace)
        cdef dict holders = _inner(by_eio, eio_sid)
        cdef Py_ssize_t count = <Py_ssize_t>holders.get(sid, 0) + delta
        if count:
            holders[sid] = count
        else:
            del holders[sid]
            if not holders:
                del by_eio[eio_sid]
        return 0

    cdef bint _held_by_another(self, Room members, namespace, eio_sid,
                               sid) except -1:
        cdef object found = self.eio_holders.get(namespace)
        if found is None:
            return False
        found = (<dict>found).get(eio_sid)
        if found is None:
            return False
        cdef dict holders = <dict>found
        if len(holders) == 1 and sid in holders:
            return False
        for other in holders:
            if other != sid and members.get(other, _MISSING) == eio_sid:
                return True
        return False

    cpdef list rooms_of(self, sid, namespace):
        """Every room of ``sid`` (``None`` included) in creation order."""
        cdef object by_sid = self.sid_rooms.get(namespace)
        if by_sid is None:
            return []
        cdef object mine = (<dict>by_sid).get(sid)
        if not mine:
            return []
        cdef dict ns = <dict>self.rooms[namespace]
        cdef list keyed = [((<Room>ns[room]).serial, i, room)
                           for i, room in enumerate(<dict>mine)]
        keyed.sort()
        return [entry[2] for entry in keyed]

    def get_rooms(self, sid, namespace):
        """``BaseManager.get_rooms``: the rooms of ``sid`` but ``None``."""
        if namespace not in self.rooms:
            return []
        return [room for room in self.rooms_of(sid, namespace)
                if room is not None]

    cpdef tuple participants(self, namespace, room):
        """``(sid, eio_sid)`` pairs of a room, or of the union of a list of
        rooms (first appearance decides the order)."""
        return self.snapshot(namespace, room).pairs

    cpdef Snapshot snapshot(self, namespace, room):
        """``participants`` as a ``Snapshot`` (see ``rooms_py``)."""
        cdef object found = self.rooms.get(namespace)
        cdef dict ns = _NO_PAIRS_DICT if found is None else <dict>found
        cdef dict union
        if not isinstance(room, str) and hasattr(room, '__len__'):
            first = room[0]
            union = dict(ns[first]) if first in ns else {}
            for other in room[1:]:
                if other in ns:
                    union.update(ns[other])
            return Snapshot(0, tuple(union.items()))
        found = ns.get(room)
        if found is None:
            return Snapshot(0, _NO_PAIRS)
        return (<Room>found).snapshot()

    def sid_from_eio(self, eio_sid, namespace):
        try:
            return self.rooms[namespace][None].inv[eio_sid]
        except KeyError:
            return None

    def eio_from_sid(self, sid, namespace):
        cdef object ns = self.rooms.get(namespace)
        if ns is not None:
            return _item(<dict>ns, None).get(sid)
        return None


cdef inline int _send_stock(object send_eio, object eio_sid, object single,
                            list eio_pkts) except -1:
    if single is not None:
        send_eio(eio_sid, single)
    else:
        for pkt in eio_pkts:
            send_eio(eio_sid, pkt)
    return 0


cdef tuple _resolve_sinks(tuple pairs, sockets):
    # per member: its socket's frame_sink if that is a compiled Outbox
    # (appended to through its C entry point), else the sink's bound
    # ``append`` (None: no sink, or no socket).  Never a method looked up
    # by name per recipient: that was a fifth of a burst's server CPU
    # (perf, gevent burst to 1,000 and 5,000 clients)
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(pairs)
    cdef tuple sinks = PyTuple_New(n)
    cdef bint exact_dict = type(sockets) is dict
    cdef object eio_sid, sock, sink
    cdef PyObject *found
    for i in range(n):
        eio_sid = (<tuple>pairs[i])[1]
        if exact_dict:
            found = PyDict_GetItem(<dict>sockets, eio_sid)
            sock = None if found is NULL else <object>found
        else:
            sock = sockets.get(eio_sid)
        sink = sock.frame_sink if sock is not None else None
        if sink is not None and type(sink) is not _Outbox:
            sink = sink.append
        Py_INCREF(sink)
        PyTuple_SET_ITEM(sinks, i, sink)
    return sinks


def broadcast(Snapshot snap not None, skip, sockets, epoch, frame, send_eio,
              list eio_pkts):
    """Send one broadcast to the members of ``snap`` minus the sids in
    ``skip`` (see ``rooms_py.broadcast``); returns how many took the shared
    frame."""
    cdef tuple pairs = snap.pairs
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(pairs)
    cdef Py_ssize_t fast = 0
    cdef tuple pair, sinks
    cdef object sid, sink, cached = snap.sinks
    cdef PyObject *ahead
    cdef bint has_skip = skip is not None
    cdef object single = eio_pkts[0] if len(eio_pkts) == 1 else None
    if frame is None:
        for i in range(n):
            pair = <tuple>pairs[i]
            if has_skip and pair[0] in skip:
                continue
            _send_stock(send_eio, pair[1], single, eio_pkts)
        return 0
    if epoch is not None and type(cached) is tuple and \
            PyTuple_GET_SIZE(<tuple>cached) == 3 and \
            (<tuple>cached)[0] is sockets and (<tuple>cached)[1] == epoch and \
            type((<tuple>cached)[2]) is tuple and \
            PyTuple_GET_SIZE(<tuple>(<tuple>cached)[2]) == n:
        sinks = <tuple>(<tuple>cached)[2]
    else:
        sinks = _resolve_sinks(pairs, sockets)
        if epoch is not None:
            # one assignment: another thread sees the old cache or the new
            snap.sinks = (sockets, epoch, sinks)
    for i in range(n):
        if i + _PREFETCH_AHEAD < n:
            # thousands of outboxes do not fit in the cache: ask for the
            # one a few recipients on while this one is appended to, and
            # for the queue slot of one whose outbox should have arrived
            ahead = PyTuple_GET_ITEM(sinks, i + _PREFETCH_AHEAD)
            fsf_prefetch(ahead)
            fsf_prefetch(<char *>ahead + 64)
            ahead = PyTuple_GET_ITEM(sinks, i + _PREFETCH_AHEAD // 2)
            if type(<object>ahead) is _Outbox:
                _outbox_api.prefetch(<object>ahead)
        if has_skip and (<tuple>pairs[i])[0] in skip:
            continue
        sink = <object>PyTuple_GET_ITEM(sinks, i)
        if sink is not None:
            if type(sink) is _Outbox:
                _outbox_api.append(sink, frame)
            else:
                sink(frame)
            fast += 1
        else:
            _send_stock(send_eio, (<tuple>pairs[i])[1], single, eio_pkts)
    return fast
