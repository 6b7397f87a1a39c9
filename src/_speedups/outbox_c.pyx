# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``outbox_py``: the outbound side of one WebSocket
connection (its docstring describes both).

Why compiled: a broadcast calls ``append`` once per recipient, and the
flush writes every recipient once.  Here ``append`` is a C method (lock,
state check, copy, dirty mark) with no Python frame, and the write is a
``send(2)`` on the descriptor straight from the buffer, without the
``socket`` object's call and exception machinery.  With threads
(``release_gil``) that send lets other threads run; with greenlets it does
not, as nothing else could run on the hub meanwhile and retaking the GIL
from another OS thread could stall the hub.

The lock is our own (``Lock``): a flag guarded by the GIL, with an OS lock
to park on only when another thread holds it (see its docstring).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock,
                               PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_release_lock, PyThread_type_lock)

import socket

IMPLEMENTATION = 'c'

__all__ = ['IMPLEMENTATION', 'NATIVE_SEND', 'OPEN', 'CLOSING', 'CLOSED',
           'EAGER_BYTES', 'EAGER_FRAMES', 'Lock', 'Outbox', 'flush_pending']

cdef extern from "nonblocking_send.h":
    int FSF_NATIVE_SEND
    Py_ssize_t fsf_send(int fd, const char *buf, Py_ssize_t n) nogil

#: False where sends go through the socket object (Windows)
NATIVE_SEND = bool(FSF_NATIVE_SEND)

cdef enum:
    _OPEN = 0
    _CLOSING = 1
    _CLOSED = 2

OPEN, CLOSING, CLOSED = _OPEN, _CLOSING, _CLOSED
EAGER_BYTES = 64 * 1024
EAGER_FRAMES = 512


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
    """

    cdef PyThread_type_lock _park
    cdef bint _locked
    cdef Py_ssize_t _parked
    # a wake-up is posted and not yet taken: the park lock is released
    # only while it is held (an OS lock released twice is undefined, and a
    # semaphore would count the extra posts)
    cdef bint _posted

    def __cinit__(self):
        self._park = NULL
        self._locked = False
        self._parked = 0
        self._posted = False

    def __dealloc__(self):
        if self._park is not NULL:
            PyThread_free_lock(self._park)

    cdef int _wait(self) except -1:
        if self._park is NULL:
            self._park = PyThread_allocate_lock()
            if self._park is NULL:
                raise MemoryError()
            # held from the start: a waiter blocks until a release posts
            PyThread_acquire_lock(self._park, NOWAIT_LOCK)
        self._parked += 1
        with nogil:
            PyThread_acquire_lock(self._park, WAIT_LOCK)
        self._parked -= 1
        self._posted = False
        return 0

    cdef inline int take(self) except -1:
        while self._locked:
            self._wait()
        self._locked = True
        return 0

    cdef inline int give(self) except -1:
        if not self._locked:
            raise RuntimeError('release unlocked lock')
        self._locked = False
        if self._parked and not self._posted:
            self._posted = True
            PyThread_release_lock(self._park)
        return 0

    def acquire(self, blocking=True):
        if blocking:
            self.take()
            return True
        if self._locked:
            return False
        self._locked = True
        return True

    def release(self):
        self.give()

    def locked(self):
        return self._locked

    def __enter__(self):
        self.take()
        return True

    def __exit__(self, *exc_info):
        self.give()
        return False


cdef class Outbox:
    """The outbound buffer and writer of one connection (see ``outbox_py``)."""

    cdef public object raw
    cdef readonly Lock lock
    cdef public bytearray out
    cdef public Py_ssize_t out_frames
    cdef public object writer
    cdef public bint dirty
    cdef public bint in_batch
    cdef public int state
    cdef public object abort_reason
    cdef public bint abort_policy
    cdef public bint shut_after_flush
    cdef public Py_ssize_t max_pending_bytes
    cdef public Py_ssize_t max_pending_frames
    cdef public double write_timeout
    cdef readonly bint release_gil
    cdef object _spawn
    cdef object _waiter
    cdef object _pending_append
    cdef Py_ssize_t _batch_frames
    cdef Py_ssize_t _eager_bytes
    cdef Py_ssize_t _eager_frames
    cdef int _fd
    cdef object __weakref__

    def __init__(self, raw, backend, waiter, pending, max_pending_bytes,
                 max_pending_frames, write_timeout, release_gil=False):
        self.raw = raw
        self.lock = Lock()
        self._spawn = backend.spawn
        self._waiter = waiter
        self._pending_append = pending.append
        self.release_gil = bool(release_gil)
        self.out = bytearray()
        self.out_frames = 0
        self.writer = None
        self.dirty = False
        self.in_batch = False
        self._batch_frames = 0
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

    # -- queuing -------------------------------------------------------------

    def send(self, frame):
        """Queue one frame and write now if no writer is busy.  False when
        the connection no longer takes data."""
        self.lock.take()
        try:
            if self.state != _OPEN:
                return False
            self._queue_locked(frame)
        finally:
            self.lock.give()
        return True

    def queue_locked(self, frame):
        """``send`` for a caller that holds ``lock`` and checked the state."""
        self._queue_locked(frame)

    cdef int _queue_locked(self, frame) except -1:
        self.out += frame
        self.out_frames += 1
        if self.writer is None and not self.in_batch:
            self._write_locked()
        else:
            self._check_bounds_locked()
        return 0

    def append(self, frame):
        """Queue an already-built frame for the next flush."""
        self.lock.take()
        try:
            if self.state != _OPEN:
                return
            self.out += frame
            self.out_frames += 1
            if self.writer is None and not self.in_batch:
                if PyByteArray_GET_SIZE(self.out) >= self._eager_bytes or \
                        self.out_frames >= self._eager_frames:
                    self._write_locked()
                elif not self.dirty:
                    self.dirty = True
                    self._pending_append(self)
            elif PyByteArray_GET_SIZE(self.out) > self.max_pending_bytes or \
                    self.out_frames > self.max_pending_frames:
                self._check_bounds_locked()
        finally:
            self.lock.give()

    def close_with(self, frame):
        """Queue the close frame (see ``outbox_py``)."""
        self.lock.take()
        try:
            if self.state != _OPEN:
                return False
            self.state = _CLOSING
            self.out += frame
            self.shut_after_flush = True
            if self.writer is None and not self.in_batch:
                self._write_locked()
        finally:
            self.lock.give()
        return True

    def pending_bytes(self):
        return PyByteArray_GET_SIZE(self.out)

    # -- writing -------------------------------------------------------------

    def flush(self):
        """Write what ``append`` queued (the engine's flush calls this)."""
        self._flush()

    cdef int _flush(self) except -1:
        self.lock.take()
        try:
            self.dirty = False
            if self.writer is None and not self.in_batch and \
                    PyByteArray_GET_SIZE(self.out) and self.state != _CLOSED:
                self._write_locked()
        finally:
            self.lock.give()
        return 0

    def take_for_batch(self):
        """The queued bytes, handed to a batch flush, or None."""
        self.lock.take()
        try:
            self.dirty = False
            if self.writer is not None or self.in_batch or \
                    not PyByteArray_GET_SIZE(self.out) or \
                    self.state == _CLOSED:
                return None
            data = self.out
            self.out = bytearray()
            self._batch_frames = self.out_frames
            self.out_frames = 0
            self.in_batch = True
            return data
        finally:
            self.lock.give()

    def batch_done(self, bytearray data not None, Py_ssize_t sent):
        """The batch wrote ``sent`` bytes of ``data`` (``-errno`` on
        failure); True when the outbox wants to be in the next batch."""
        self.lock.take()
        try:
            self.in_batch = False
            if self.state == _CLOSED:
                return False
            if sent < 0:
                self._abort_locked(None, False)
                return False
            if sent < PyByteArray_GET_SIZE(data):
                del data[:sent]
                data += self.out
                self.out = data
                self.out_frames += self._batch_frames
                self._check_bounds_locked()
                if self.state != _CLOSED:
                    self.writer = self._spawn(self._drain)
                return False
            if PyByteArray_GET_SIZE(self.out):
                self.dirty = True
                return True
            if self.shut_after_flush:
                self._shut_wr_locked()
            return False
        finally:
            self.lock.give()

    cdef Py_ssize_t _send_now(self) except -2:
        # bytes the kernel took now, or -1 after aborting on an error
        cdef Py_ssize_t n
        cdef Py_buffer view
        if not FSF_NATIVE_SEND:  # pragma: no cover - Windows
            try:
                return self.raw.send(self.out)
            except (BlockingIOError, InterruptedError):
                return 0
            except OSError:
                self._abort_locked(None, False)
                return -1
        if self.release_gil:
            # (the export makes a resize of the buffer fail instead of
            # freeing memory under the send)
            PyObject_GetBuffer(self.out, &view, PyBUF_SIMPLE)
            with nogil:
                n = fsf_send(self._fd, <const char *>view.buf, view.len)
            PyBuffer_Release(&view)
        else:
            n = fsf_send(self._fd, PyByteArray_AS_STRING(self.out),
                         PyByteArray_GET_SIZE(self.out))
        if n < 0:
            self._abort_locked(None, False)
            return -1
        return n

    cdef int _write_locked(self) except -1:
        cdef Py_ssize_t n = self._send_now()
        if n < 0:
            return 0
        if n == PyByteArray_GET_SIZE(self.out):
            del self.out[:]
            self.out_frames = 0
            if self.shut_after_flush:
                self._shut_wr_locked()
            return 0
        if n:
            del self.out[:n]
        self._check_bounds_locked()
        if self.state != _CLOSED:
            self.writer = self._spawn(self._drain)
        return 0

    def _drain(self):
        # the writer task: runs while the socket does not take everything
        cdef Py_ssize_t n
        while True:
            ready = self._waiter.writable(self.write_timeout)
            self.lock.take()
            try:
                if self.state == _CLOSED or not PyByteArray_GET_SIZE(self.out):
                    self.writer = None
                    return
                if not ready:
                    self._abort_locked(
                        f'client read nothing for {self.write_timeout:g} s',
                        True)
                    self.writer = None
                    return
                n = self._send_now()
                if n < 0:
                    self.writer = None
                    return
                if n:
                    del self.out[:n]
                if not PyByteArray_GET_SIZE(self.out):
                    self.out_frames = 0
                    self.writer = None
                    if self.shut_after_flush:
                        self._shut_wr_locked()
                    return
            finally:
                self.lock.give()

    # -- bounds and aborting ---------------------------------------------------

    cdef int _check_bounds_locked(self) except -1:
        if PyByteArray_GET_SIZE(self.out) > self.max_pending_bytes:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_bytes} bytes', True)
        elif self.out_frames > self.max_pending_frames:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_frames} frames', True)
        return 0

    def abort(self, reason=None, policy=False):
        """Drop what is queued and shut the socket down (once)."""
        self.lock.take()
        try:
            self._abort_locked(reason, policy)
        finally:
            self.lock.give()

    cdef int _abort_locked(self, reason, bint policy) except -1:
        if self.state == _CLOSED:
            return 0
        self.state = _CLOSED
        if self.abort_reason is None:
            self.abort_reason = reason
            self.abort_policy = policy
        self.out = bytearray()
        self.out_frames = 0
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
        self.lock.take()
        try:
            if self.state == _OPEN:
                self.state = _CLOSING
        finally:
            self.lock.give()


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
