# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``outbox_py``: the outbound side of one WebSocket
connection (its docstring describes both).

Why compiled: a broadcast calls ``append`` once per recipient, and the
flush writes every recipient once.  Here ``append`` is a C method (lock,
state check, a reference to the shared frame, dirty mark) with no Python
frame and no copy, and the write is one ``sendmsg(2)`` gathering the queued
frames straight from the bytes objects, without the ``socket`` object's
call and exception machinery.  With threads (``release_gil``) a send of
more than 16 KiB lets other threads run; a smaller one keeps the GIL, as
letting go of it while another thread waits costs two thread switches.
With greenlets no send lets go of it, as nothing else could run on the hub
meanwhile and retaking the GIL from another OS thread could stall the
hub.  ``flush_batches`` writes many outboxes with the GIL released once
for all of them.

The lock is our own (``Lock``): a flag guarded by the GIL, with an OS lock
to park on only when another thread holds it (see its docstring).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport PyObject, Py_DECREF, Py_INCREF
from libc.errno cimport EBADF
from libc.string cimport memmove
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock,
                               PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_release_lock, PyThread_type_lock)
from outbox_api cimport FSF_OUTBOX_API_NAME, fsf_outbox_api, fsf_prefetch

import socket

IMPLEMENTATION = 'c'

__all__ = ['IMPLEMENTATION', 'NATIVE_SEND', 'OPEN', 'CLOSING', 'CLOSED',
           'EAGER_BYTES', 'EAGER_FRAMES', 'MAX_FRAMES_PER_SEND', 'Lock',
           'Outbox', 'flush_pending', 'flush_batches']

cdef extern from "nonblocking_send.h":
    int FSF_NATIVE_SEND
    ctypedef struct fsf_iov:
        void *iov_base
        size_t iov_len
    Py_ssize_t fsf_sendv(int fd, fsf_iov *iov, int n) nogil

#: False where sends go through the socket object (Windows)
NATIVE_SEND = bool(FSF_NATIVE_SEND)

cdef enum:
    _OPEN = 0
    _CLOSING = 1
    _CLOSED = 2

OPEN, CLOSING, CLOSED = _OPEN, _CLOSING, _CLOSED
EAGER_BYTES = 64 * 1024
EAGER_FRAMES = 512

cdef enum:
    # frames gathered into one sendmsg: well under every IOV_MAX (Linux and
    # macOS: 1024), and the iovec array stays small enough for a greenlet's
    # stack
    _MAX_IOV = 512
    # an emptied queue keeps an array this small, frees a bigger one
    _KEEP_ITEMS = 64
    # with threads, a send of no more than this keeps the GIL: a
    # non-blocking send of a few frames takes microseconds, and letting go
    # of the GIL while another thread waits for it costs a switch to that
    # thread and one back
    _GIL_FREE_SEND = 16384

MAX_FRAMES_PER_SEND = _MAX_IOV


cdef struct _LockState:
    PyThread_type_lock park
    Py_ssize_t parked
    bint locked
    # a wake-up is posted and not yet taken: the park lock is released
    # only while it is held (an OS lock released twice is undefined, and a
    # semaphore would count the extra posts)
    bint posted


cdef int _lk_wait(_LockState *lk) except -1:
    if lk.park is NULL:
        lk.park = PyThread_allocate_lock()
        if lk.park is NULL:
            raise MemoryError()
        # held from the start: a waiter blocks until a release posts
        PyThread_acquire_lock(lk.park, NOWAIT_LOCK)
    lk.parked += 1
    with nogil:
        PyThread_acquire_lock(lk.park, WAIT_LOCK)
    lk.parked -= 1
    lk.posted = False
    return 0


cdef inline int _lk_take(_LockState *lk) except -1:
    while lk.locked:
        _lk_wait(lk)
    lk.locked = True
    return 0


cdef inline int _lk_give(_LockState *lk) except -1:
    if not lk.locked:
        raise RuntimeError('release unlocked lock')
    lk.locked = False
    if lk.parked and not lk.posted:
        lk.posted = True
        PyThread_release_lock(lk.park)
    return 0


cdef inline void _lk_init(_LockState *lk):
    lk.park = NULL
    lk.parked = 0
    lk.locked = False
    lk.posted = False


cdef inline void _lk_free(_LockState *lk):
    if lk.park is not NULL:
        PyThread_free_lock(lk.park)
        lk.park = NULL


cdef class Lock:
    """A non-reentrant lock like ``threading.Lock`` (``with``, ``acquire``,
    ``release``, ``locked``), cheap to take from C.

    The lock itself is a flag, taken and given with the GIL held: no atomic
    operation and no second cache line per use, which is what a broadcast
    taking one lock per recipient pays for otherwise.  A thread that finds
    it taken parks on an OS lock (made on first contention) without the
    GIL; a release with someone parked wakes one, unless a wake-up is
    already on its way (at most one is outstanding); a woken thread checks
    the flag again and parks again if it lost the race.  With greenlets only
    another OS thread can find it taken: a holder never switches greenlets.

    An outbox keeps its lock's state inline (a separate object would be one
    more cache miss per recipient of a broadcast); its ``lock`` attribute is
    a ``Lock`` over that state.
    """

    cdef _LockState _own
    cdef _LockState *_state
    # the outbox whose state this lock is, kept alive while in use
    cdef object _owner

    def __cinit__(self):
        _lk_init(&self._own)
        self._state = &self._own
        self._owner = None

    def __dealloc__(self):
        _lk_free(&self._own)

    def acquire(self, blocking=True):
        if blocking:
            _lk_take(self._state)
            return True
        if self._state.locked:
            return False
        self._state.locked = True
        return True

    def release(self):
        _lk_give(self._state)

    def locked(self):
        return self._state.locked

    def __enter__(self):
        _lk_take(self._state)
        return True

    def __exit__(self, *exc_info):
        _lk_give(self._state)
        return False


cdef class Outbox:
    """The outbound queue and writer of one connection (see ``outbox_py``).

    The queue is an array of references to the queued frames (exact
    ``bytes``, shared with every other recipient of a broadcast), a head
    index and how much of the head frame was already written."""

    # Every field an append touches comes first, so that they fill the
    # object's first two cache lines: a broadcast to thousands of clients
    # finds each outbox cold, and each further line is one more miss per
    # recipient (Cython lays the fields out in this order).
    cdef _LockState _lk
    cdef public int state
    cdef public bint dirty
    cdef public bint in_batch
    cdef public object writer
    cdef PyObject **_items
    cdef Py_ssize_t _head
    cdef Py_ssize_t _count
    cdef Py_ssize_t _cap
    # the unwritten total, and bytes of the head frame already written
    cdef Py_ssize_t _nbytes
    cdef Py_ssize_t _offset
    cdef Py_ssize_t _eager_bytes
    cdef Py_ssize_t _eager_frames
    cdef object _pending_append
    cdef public Py_ssize_t max_pending_bytes
    cdef public Py_ssize_t max_pending_frames
    cdef public object raw
    cdef public object abort_reason
    cdef public bint abort_policy
    cdef public bint shut_after_flush
    cdef public double write_timeout
    cdef readonly bint release_gil
    cdef object _spawn
    cdef object _waiter
    # what the batch in flight offered the socket
    cdef Py_ssize_t _batch_bytes
    cdef int _fd
    cdef object __weakref__

    def __cinit__(self):
        _lk_init(&self._lk)
        self._items = NULL
        self._head = self._count = self._cap = 0
        self._offset = self._nbytes = 0

    def __dealloc__(self):
        self._clear()
        PyMem_Free(self._items)
        _lk_free(&self._lk)

    def __init__(self, raw, backend, waiter, pending, max_pending_bytes,
                 max_pending_frames, write_timeout, release_gil=False):
        self.raw = raw
        self._spawn = backend.spawn
        self._waiter = waiter
        self._pending_append = pending.append
        self.release_gil = bool(release_gil)
        self.writer = None
        self.dirty = False
        self.in_batch = False
        self._batch_bytes = 0
        self.state = _OPEN
        self.abort_reason = None
        self.abort_policy = False
        self.shut_after_flush = False
        self.max_pending_bytes = max_pending_bytes
        self.max_pending_frames = max_pending_frames
        self._eager_bytes = min(EAGER_BYTES, self.max_pending_bytes)
        self._eager_frames = min(EAGER_FRAMES, self.max_pending_frames)
        self.write_timeout = write_timeout
        # the descriptor stays the same for the socket's life (the WSGI
        # server closes it only after the connection has finished)
        self._fd = raw.fileno() if FSF_NATIVE_SEND else -1

    @property
    def lock(self):
        """This outbox's lock, for the connection's own critical sections."""
        cdef Lock lock = Lock.__new__(Lock)
        lock._state = &self._lk
        lock._owner = self
        return lock

    # -- the queue -------------------------------------------------------------

    @property
    def out_frames(self):
        """Frames queued and not completely written."""
        return self._count

    def queued(self):
        """The queued, unwritten bytes (a copy; for tests and debugging)."""
        cdef Py_ssize_t i
        parts = []
        for i in range(self._count):
            parts.append(<object>self._items[self._head + i])
        if parts:
            parts[0] = parts[0][self._offset:]
        return b''.join(parts)

    cdef int _push(self, frame) except -1:
        cdef bytes data
        if PyBytes_CheckExact(frame):
            data = <bytes>frame
        else:
            # a mutable buffer could change before it is written
            data = bytes(memoryview(frame))
        if self._head + self._count >= self._cap:
            self._make_room()
        Py_INCREF(data)
        self._items[self._head + self._count] = <PyObject *>data
        self._count += 1
        self._nbytes += PyBytes_GET_SIZE(data)
        return 0

    cdef int _make_room(self) except -1:
        cdef Py_ssize_t cap
        cdef PyObject **items
        if self._head and self._count <= self._cap // 2:
            memmove(self._items, self._items + self._head,
                    self._count * sizeof(PyObject *))
            self._head = 0
            return 0
        cap = self._cap * 2 if self._cap else 8
        items = <PyObject **>PyMem_Realloc(self._items,
                                           cap * sizeof(PyObject *))
        if items is NULL:
            raise MemoryError()
        self._items = items
        self._cap = cap
        return 0

    cdef void _clear(self):
        cdef PyObject *item
        while self._count:
            item = self._items[self._head]
            self._items[self._head] = NULL
            self._head += 1
            self._count -= 1
            Py_DECREF(<object>item)
        self._head = 0
        self._offset = 0
        self._nbytes = 0
        if self._cap > _KEEP_ITEMS:
            PyMem_Free(self._items)
            self._items = NULL
            self._cap = 0

    cdef void _consume(self, Py_ssize_t n):
        # the socket took the first n queued bytes
        cdef PyObject *item
        cdef Py_ssize_t left
        self._nbytes -= n
        if not self._nbytes:
            self._clear()
            return
        while self._count:
            item = self._items[self._head]
            left = PyBytes_GET_SIZE(<object>item) - self._offset
            if n < left:
                self._offset += n
                return
            n -= left
            self._items[self._head] = NULL
            self._head += 1
            self._count -= 1
            self._offset = 0
            Py_DECREF(<object>item)

    cdef int _gather(self, fsf_iov *iov, Py_ssize_t *offered):
        # the first queued frames as an iovec array; how many, and how
        # many bytes in ``offered``
        cdef int k = 0
        cdef Py_ssize_t total = 0, skip = self._offset, size
        cdef PyObject *item
        while k < self._count and k < _MAX_IOV:
            item = self._items[self._head + k]
            size = PyBytes_GET_SIZE(<object>item) - skip
            iov[k].iov_base = PyBytes_AS_STRING(<object>item) + skip
            iov[k].iov_len = <size_t>size
            total += size
            skip = 0
            k += 1
        offered[0] = total
        return k

    # -- queuing -------------------------------------------------------------

    def send(self, frame):
        """Queue one frame and write now if no writer is busy.  False when
        the connection no longer takes data."""
        _lk_take(&self._lk)
        try:
            if self.state != _OPEN:
                return False
            self._queue_locked(frame)
        finally:
            _lk_give(&self._lk)
        return True

    def queue_locked(self, frame):
        """``send`` for a caller that holds ``lock`` and checked the state."""
        self._queue_locked(frame)

    cdef int _queue_locked(self, frame) except -1:
        self._push(frame)
        if self.writer is None and not self.in_batch:
            self._write_locked()
        else:
            self._check_bounds_locked()
        return 0

    def append(self, frame):
        """Queue an already-built frame for the next flush."""
        self._append(frame)

    cdef int _append(self, frame) except -1:
        _lk_take(&self._lk)
        try:
            if self.state != _OPEN:
                return 0
            self._push(frame)
            if self.writer is None and not self.in_batch:
                if self._nbytes >= self._eager_bytes or \
                        self._count >= self._eager_frames:
                    self._write_locked()
                elif not self.dirty:
                    self.dirty = True
                    self._pending_append(self)
            elif self._nbytes > self.max_pending_bytes or \
                    self._count > self.max_pending_frames:
                self._check_bounds_locked()
        finally:
            _lk_give(&self._lk)
        return 0

    def close_with(self, frame):
        """Queue the close frame (see ``outbox_py``)."""
        _lk_take(&self._lk)
        try:
            if self.state != _OPEN:
                return False
            self.state = _CLOSING
            self._push(frame)
            self.shut_after_flush = True
            if self.writer is None and not self.in_batch:
                self._write_locked()
        finally:
            _lk_give(&self._lk)
        return True

    def pending_bytes(self):
        return 0 if self.state == _CLOSED else self._nbytes

    # -- writing -------------------------------------------------------------

    def flush(self):
        """Write what ``append`` queued (the engine's flush calls this)."""
        self._flush()

    cdef int _flush(self) except -1:
        _lk_take(&self._lk)
        try:
            self.dirty = False
            if self.writer is None and not self.in_batch and \
                    self._nbytes and self.state != _CLOSED:
                self._write_locked()
        finally:
            _lk_give(&self._lk)
        return 0

    cdef Py_ssize_t _send_now(self, Py_ssize_t *offered) except -2:
        # one send of the first queued frames: the bytes the kernel took,
        # or -1 after aborting on an error
        cdef fsf_iov iov[_MAX_IOV]
        cdef int k
        cdef Py_ssize_t n
        if not FSF_NATIVE_SEND:  # pragma: no cover - Windows
            data = self._joined(offered)
            try:
                return self.raw.send(data)
            except (BlockingIOError, InterruptedError):
                return 0
            except OSError:
                self._abort_locked(None, False)
                return -1
        k = self._gather(iov, offered)
        if self.release_gil and offered[0] > _GIL_FREE_SEND:
            # the frames stay referenced (only this lock's holder takes
            # them off the queue), so their bytes outlive the send
            with nogil:
                n = fsf_sendv(self._fd, iov, k)
        else:
            n = fsf_sendv(self._fd, iov, k)
        if n < 0:
            self._abort_locked(None, False)
            return -1
        return n

    cdef bytes _joined(self, Py_ssize_t *offered):  # pragma: no cover
        cdef Py_ssize_t i
        parts = []
        for i in range(min(self._count, _MAX_IOV)):
            parts.append(<object>self._items[self._head + i])
        parts[0] = parts[0][self._offset:]
        data = b''.join(parts)
        offered[0] = len(data)
        return data

    cdef int _write_locked(self) except -1:
        cdef Py_ssize_t n, offered
        while True:
            n = self._send_now(&offered)
            if n < 0:
                return 0
            self._consume(n)
            if not self._nbytes:
                if self.shut_after_flush:
                    self._shut_wr_locked()
                return 0
            if n < offered:
                break
            # it took all of one send's worth; the rest in the next
        self._check_bounds_locked()
        if self.state != _CLOSED:
            self.writer = self._spawn(self._drain)
        return 0

    def _drain(self):
        # the writer task: runs while the socket does not take everything
        cdef Py_ssize_t n, offered
        while True:
            ready = self._waiter.writable(self.write_timeout)
            _lk_take(&self._lk)
            try:
                if self.state == _CLOSED or not self._nbytes:
                    self.writer = None
                    return
                if not ready:
                    self._abort_locked(
                        f'client read nothing for {self.write_timeout:g} s',
                        True)
                    self.writer = None
                    return
                while True:
                    n = self._send_now(&offered)
                    if n < 0:
                        self.writer = None
                        return
                    self._consume(n)
                    if not self._nbytes:
                        self.writer = None
                        if self.shut_after_flush:
                            self._shut_wr_locked()
                        return
                    if n < offered:
                        break
            finally:
                _lk_give(&self._lk)

    # -- the batch pass (flush_batches) ------------------------------------------

    cdef bint _take_for_batch(self) except -1:
        _lk_take(&self._lk)
        try:
            self.dirty = False
            if self.writer is not None or self.in_batch or \
                    not self._nbytes or self.state == _CLOSED:
                return False
            self.in_batch = True
            return True
        finally:
            _lk_give(&self._lk)

    cdef int _hand_back_unsent(self, pending) except -1:
        # a pass that sent nothing for this outbox: back on the deque
        _lk_take(&self._lk)
        try:
            self.in_batch = False
            if self.state == _CLOSED:
                self._clear()
            elif self._nbytes:
                self.dirty = True
                pending.append(self)
        finally:
            _lk_give(&self._lk)
        return 0

    cdef bint _batch_done(self, Py_ssize_t n) except -1:
        # True when the outbox wants to be in the next pass
        _lk_take(&self._lk)
        try:
            self.in_batch = False
            if self.state == _CLOSED:
                # (an abort during the pass left the frames to us)
                self._clear()
                return False
            if n < 0:
                self._abort_locked(None, False)
                return False
            self._consume(n)
            if not self._nbytes:
                if self.shut_after_flush:
                    self._shut_wr_locked()
                return False
            if n < self._batch_bytes:
                # the socket is full: the rest goes by a writer
                self._check_bounds_locked()
                if self.state != _CLOSED:
                    self.writer = self._spawn(self._drain)
                return False
            # more than one send's worth, or queued during the pass
            self.dirty = True
            return True
        finally:
            _lk_give(&self._lk)

    # -- bounds and aborting ---------------------------------------------------

    cdef int _check_bounds_locked(self) except -1:
        if self._nbytes > self.max_pending_bytes:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_bytes} bytes', True)
        elif self._count > self.max_pending_frames:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_frames} frames', True)
        return 0

    def abort(self, reason=None, policy=False):
        """Drop what is queued and shut the socket down (once)."""
        _lk_take(&self._lk)
        try:
            self._abort_locked(reason, policy)
        finally:
            _lk_give(&self._lk)

    cdef int _abort_locked(self, reason, bint policy) except -1:
        if self.state == _CLOSED:
            return 0
        self.state = _CLOSED
        if self.abort_reason is None:
            self.abort_reason = reason
            self.abort_policy = policy
        if not self.in_batch:
            # (a pass in flight is reading the frames without the GIL; it
            # drops them when it hands the outbox back)
            self._clear()
        # nothing sends once closed; and should anything try, the number
        # may belong to another connection once the WSGI server closes it
        self._fd = -1
        try:
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return 0

    cdef int _shut_wr_locked(self) except -1:
        self.shut_after_flush = False
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return 0

    def mark_closing(self):
        """The peer went away without a close handshake (see outbox_py)."""
        _lk_take(&self._lk)
        try:
            if self.state == _OPEN:
                self.state = _CLOSING
        finally:
            _lk_give(&self._lk)


def flush_pending(pending):
    """``flush()`` everything on the ``pending`` deque, in order, until it
    is empty (outboxes appended meanwhile included)."""
    popleft = pending.popleft
    while True:
        try:
            box = popleft()
        except IndexError:
            return
        if type(box) is Outbox:
            (<Outbox>box)._flush()
        else:
            box.flush()


def flush_batches(pending):
    """Write every outbox on the ``pending`` deque, with the GIL released
    once per pass instead of once per ``send`` (threads: a broadcaster
    holding the GIL would otherwise make each send wait for its turn).

    Each pass takes the outboxes (``in_batch``: nothing else writes them
    meanwhile, and they keep their frames), sends each once, then hands
    them back; those with more to write go in the next pass, whatever the
    socket did not take goes to that outbox's writer."""
    popleft = pending.popleft
    cdef list boxes
    while True:
        boxes = []
        try:
            while True:
                try:
                    box = popleft()
                except IndexError:
                    break
                if type(box) is not Outbox or not FSF_NATIVE_SEND:
                    box.flush()
                elif (<Outbox>box)._take_for_batch():
                    boxes.append(box)
        except BaseException:
            # the outboxes taken so far must not stay in_batch
            _hand_back_all(boxes, pending)
            raise
        if not boxes:
            return
        _write_pass(boxes, pending)


cdef void _hand_back_all(list boxes, pending):
    # while another exception is on its way: hand back what can be
    cdef Outbox box
    for box in boxes:
        try:
            box._hand_back_unsent(pending)
        except BaseException:
            pass


cdef int _write_pass(list boxes, pending) except -1:
    cdef Py_ssize_t nb = len(boxes), i, total = 0, pos = 0
    cdef Outbox box
    cdef int *fds = NULL
    cdef int *counts = NULL
    cdef Py_ssize_t *starts = NULL
    cdef Py_ssize_t *results = NULL
    cdef fsf_iov *iov = NULL
    first_error = None
    try:
        for i in range(nb):
            total += min((<Outbox>boxes[i])._count, _MAX_IOV)
        fds = <int *>PyMem_Malloc(nb * sizeof(int))
        counts = <int *>PyMem_Malloc(nb * sizeof(int))
        starts = <Py_ssize_t *>PyMem_Malloc(nb * sizeof(Py_ssize_t))
        results = <Py_ssize_t *>PyMem_Malloc(nb * sizeof(Py_ssize_t))
        iov = <fsf_iov *>PyMem_Malloc(max(total, 1) * sizeof(fsf_iov))
        if fds is NULL or counts is NULL or starts is NULL or \
                results is NULL or iov is NULL:
            # nothing was sent: all go back on the pending deque
            _hand_back_all(boxes, pending)
            raise MemoryError()
        # with the GIL held throughout (taking the outboxes could have let
        # others run; from here on nothing changes their queue heads)
        for i in range(nb):
            box = <Outbox>boxes[i]
            starts[i] = pos
            if box.state == _CLOSED or box._fd < 0:
                fds[i] = -1
                counts[i] = 0
                box._batch_bytes = 0
            else:
                fds[i] = box._fd
                counts[i] = box._gather(iov + pos, &box._batch_bytes)
                pos += counts[i]
        with nogil:
            for i in range(nb):
                if fds[i] < 0:
                    results[i] = -EBADF
                else:
                    results[i] = fsf_sendv(fds[i], iov + starts[i], counts[i])
        # every outbox is handed back, whatever one of them raises
        for i in range(nb):
            box = <Outbox>boxes[i]
            try:
                if box._batch_done(results[i]):
                    pending.append(box)
            except BaseException as exc:
                if first_error is None:
                    first_error = exc
    finally:
        PyMem_Free(fds)
        PyMem_Free(counts)
        PyMem_Free(starts)
        PyMem_Free(results)
        PyMem_Free(iov)
    if first_error is not None:
        raise first_error
    return 0


cdef int _append_to(object box, object frame) except -1:
    return (<Outbox>box)._append(frame)


cdef void _prefetch_slot(object box) noexcept:
    cdef Outbox b = <Outbox>box
    if b._items is not NULL and b._head + b._count < b._cap:
        fsf_prefetch(&b._items[b._head + b._count])


cdef fsf_outbox_api _api
_api.append = _append_to
_api.prefetch = _prefetch_slot
# (not in __all__: for rooms_c only)
_C_API = PyCapsule_New(&_api, FSF_OUTBOX_API_NAME, NULL)
