"""The outbound side of one WebSocket connection: the pure-Python twin of
the compiled ``outbox_c``, with the same API, state and results.

An ``Outbox`` holds the frames queued for one socket, in the order they
were queued by whichever thread or greenlet queued them, and writes them:

* the queue holds references to the frames (``bytes``; a broadcast's one
  frame is shared by every recipient's queue, never copied per recipient);
  each write sends the first ``MAX_FRAMES_PER_SEND`` of them with one
  non-blocking send (the compiled twin gathers them with ``sendmsg``);
* ``send(frame)`` queues a frame and, when no writer is busy, writes at
  once;
* ``append(frame)`` (the broadcast path: the room loop calls it once per
  recipient) only queues, and puts the outbox once on the engine's
  ``pending`` deque; ``flush()``, or ``flush_pending(pending)`` for all of
  them, then writes each.  A long burst writes early (``EAGER_BYTES`` /
  ``EAGER_FRAMES``) so a healthy client never nears the bounds;
* with threads the engine uses ``flush_batches(pending)``: the compiled
  twin takes the outboxes (``in_batch``: nothing else writes them
  meanwhile), writes them all in one GIL-free pass and hands them back;
  this twin writes them one after another (``socket.send`` releases the
  GIL per call), with the same results.

Whatever the kernel does not take stays queued and a writer task (a thread
or greenlet from ``backend.spawn``, started only then) waits for the socket
to drain it, and ends when the queue is empty.  The queue is bounded
(``max_pending_bytes`` / ``max_pending_frames``, frames not completely
written); overflowing it, or not reading for ``write_timeout`` seconds,
aborts the connection: the queue is dropped, the socket shut down (which
ends the reader) and the reason kept in ``abort_reason``
(``abort_policy`` says it was one of our bounds).

``lock`` guards all of it and is also what the connection holds for its
own critical sections (permessage-deflate, closing).  It never blocks for
long: nothing waits for the network while holding it.
"""

import collections
import itertools
import operator
import socket

IMPLEMENTATION = 'python'

#: (the compiled twin's flag: whether it sends with send(2) itself)
NATIVE_SEND = False

__all__ = ['IMPLEMENTATION', 'NATIVE_SEND', 'OPEN', 'CLOSING', 'CLOSED',
           'EAGER_BYTES', 'EAGER_FRAMES', 'MAX_FRAMES_PER_SEND', 'Outbox',
           'flush_pending', 'flush_batches']

OPEN, CLOSING, CLOSED = 0, 1, 2

# appended frames are written without waiting for the flush past this much
EAGER_BYTES = 64 * 1024
EAGER_FRAMES = 512
# frames per send (the compiled twin's iovec count per sendmsg)
MAX_FRAMES_PER_SEND = 512


class Outbox:
    """The outbound queue and writer of one connection (see module doc).

    ``release_gil`` only matters to the compiled twin (whether its own
    ``send`` lets other threads run meanwhile); it is kept for parity."""

    def __init__(self, raw, backend, waiter, pending, max_pending_bytes,
                 max_pending_frames, write_timeout, release_gil=False):
        self.raw = raw
        self.lock = backend.make_lock()
        self._spawn = backend.spawn
        self._waiter = waiter
        self._pending_append = pending.append
        self.release_gil = bool(release_gil)
        self._frames = collections.deque()
        # bytes of the head frame already written, and the unwritten total
        self._offset = 0
        self._nbytes = 0
        self.writer = None
        self.dirty = False
        self.in_batch = False
        self.state = OPEN
        self.abort_reason = None
        self.abort_policy = False
        self.shut_after_flush = False
        self.max_pending_bytes = operator.index(max_pending_bytes)
        self.max_pending_frames = operator.index(max_pending_frames)
        self._eager_bytes = min(EAGER_BYTES, self.max_pending_bytes)
        self._eager_frames = min(EAGER_FRAMES, self.max_pending_frames)
        if not isinstance(write_timeout, (int, float)):
            raise TypeError('write_timeout must be a number of seconds')
        self.write_timeout = float(write_timeout)

    # -- the queue -------------------------------------------------------------

    @property
    def out_frames(self):
        """Frames queued and not completely written."""
        return len(self._frames)

    def queued(self):
        """The queued, unwritten bytes (a copy; for tests and debugging)."""
        return b''.join(self._views(len(self._frames)))

    def _push(self, frame):
        if type(frame) is not bytes:
            # a mutable buffer could change before it is written
            frame = bytes(memoryview(frame))
        self._frames.append(frame)
        self._nbytes += len(frame)

    def _views(self, count):
        frames = itertools.islice(self._frames, count)
        if self._offset:
            head = memoryview(next(frames))[self._offset:]
            return itertools.chain((head,), frames)
        return frames

    def _clear(self):
        self._frames.clear()
        self._offset = 0
        self._nbytes = 0

    def _consume(self, n):
        # the socket took the first n queued bytes
        self._nbytes -= n
        if not self._nbytes:
            self._clear()
            return
        frames = self._frames
        while frames:
            left = len(frames[0]) - self._offset
            if n < left:
                self._offset += n
                return
            n -= left
            frames.popleft()
            self._offset = 0

    # -- queuing -------------------------------------------------------------

    def send(self, frame):
        """Queue one frame and write now if no writer is busy.  False when
        the connection no longer takes data."""
        with self.lock:
            if self.state != OPEN:
                return False
            self.queue_locked(frame)
        return True

    def queue_locked(self, frame):
        """``send`` for a caller that holds ``lock`` and checked the state
        (the connection's compressed path)."""
        self._push(frame)
        if self.writer is None and not self.in_batch:
            self._write_locked()
        else:
            # (a batch in progress writes it when it hands the socket back)
            self._check_bounds_locked()

    def append(self, frame):
        """Queue an already-built frame for the next flush."""
        with self.lock:
            if self.state != OPEN:
                return
            self._push(frame)
            if self.writer is None and not self.in_batch:
                if self._nbytes >= self._eager_bytes or \
                        len(self._frames) >= self._eager_frames:
                    self._write_locked()
                    return
                if not self.dirty:
                    self.dirty = True
                    # deque.append is atomic: no engine lock per recipient
                    self._pending_append(self)
            elif self._nbytes > self.max_pending_bytes or \
                    len(self._frames) > self.max_pending_frames:
                self._check_bounds_locked()

    def close_with(self, frame):
        """Queue the close frame: the state becomes CLOSING and TCP is
        half-closed once everything queued is written.  False when the
        connection was already closing."""
        with self.lock:
            if self.state != OPEN:
                return False
            self.state = CLOSING
            self._push(frame)
            self.shut_after_flush = True
            if self.writer is None and not self.in_batch:
                self._write_locked()
        return True

    def pending_bytes(self):
        return 0 if self.state == CLOSED else self._nbytes

    # -- writing -------------------------------------------------------------

    def flush(self):
        """Write what ``append`` queued (the engine's flush calls this)."""
        with self.lock:
            self.dirty = False
            if self.writer is None and not self.in_batch and \
                    self._nbytes and self.state != CLOSED:
                self._write_locked()

    def _send_now(self):
        # one send of the first queued frames: (bytes the kernel took,
        # bytes offered), taken -1 after aborting on an error
        data = b''.join(self._views(MAX_FRAMES_PER_SEND))
        try:
            return self.raw.send(data), len(data)
        except (BlockingIOError, InterruptedError):
            return 0, len(data)
        except OSError:
            self._abort_locked(None)
            return -1, len(data)

    def _write_locked(self):
        while True:
            n, offered = self._send_now()
            if n < 0:
                return
            self._consume(n)
            if not self._nbytes:
                if self.shut_after_flush:
                    self._shut_wr_locked()
                return
            if n < offered:
                break
            # it took all of one send's worth; the rest in the next
        self._check_bounds_locked()
        if self.state != CLOSED:
            self.writer = self._spawn(self._drain)

    def _drain(self):
        # the writer task: runs while the socket does not take everything
        while True:
            ready = self._waiter.writable(self.write_timeout)
            with self.lock:
                if self.state == CLOSED or not self._nbytes:
                    self.writer = None
                    return
                if not ready:
                    self._abort_locked(
                        f'client read nothing for {self.write_timeout:g} s',
                        policy=True)
                    self.writer = None
                    return
                while True:
                    n, offered = self._send_now()
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

    # -- bounds and aborting ---------------------------------------------------

    def _check_bounds_locked(self):
        if self._nbytes > self.max_pending_bytes:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_bytes} bytes',
                policy=True)
        elif len(self._frames) > self.max_pending_frames:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_frames} frames',
                policy=True)

    def abort(self, reason=None, policy=False):
        """Drop what is queued and shut the socket down (once)."""
        with self.lock:
            self._abort_locked(reason, policy)

    def _abort_locked(self, reason, policy=False):
        if self.state == CLOSED:
            return
        self.state = CLOSED
        if self.abort_reason is None:
            self.abort_reason = reason
            self.abort_policy = bool(policy)
        self._clear()
        # wakes the reader (EOF) and any writer (error); the WSGI server
        # closes the descriptor once the reader has returned
        try:
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _shut_wr_locked(self):
        self.shut_after_flush = False
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def mark_closing(self):
        """The peer went away without a close handshake: stop taking data
        but keep writing what is queued."""
        with self.lock:
            if self.state == OPEN:
                self.state = CLOSING


def flush_pending(pending):
    """``flush()`` everything on the ``pending`` deque, in order, until it
    is empty (outboxes appended meanwhile included)."""
    popleft = pending.popleft
    while True:
        try:
            box = popleft()
        except IndexError:
            return
        box.flush()



def flush_batches(pending):
    """The threads' flush (see the module docstring): this twin writes the
    outboxes on ``pending`` one after another, as ``flush_pending`` does."""
    flush_pending(pending)
