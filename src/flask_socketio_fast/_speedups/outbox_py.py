"""The outbound side of one WebSocket connection: the pure-Python twin of
the compiled ``outbox_c``, with the same API, state and results.

An ``Outbox`` holds the bytes queued for one socket, in the order they were
queued by whichever thread or greenlet queued them, and writes them:

* ``send(frame)`` queues a frame and, when no writer is busy, writes the
  buffer at once with one non-blocking ``send``;
* ``append(frame)`` (the broadcast path: the room loop calls it once per
  recipient) only queues, and puts the outbox once on the engine's
  ``pending`` deque; ``flush()``, or ``flush_pending(pending)`` for all of
  them, then writes each with one ``send``.  A long burst writes early
  (``EAGER_BYTES`` / ``EAGER_FRAMES``) so a healthy client never nears the
  bounds;
* with threads the engine flushes in batches instead: ``take_for_batch()``
  hands the buffer out, the batch writes many sockets in one GIL-free pass,
  ``batch_done(data, sent)`` takes the socket back (what it did not take
  goes in front of what was queued meanwhile).  While the buffer is out
  (``in_batch``) nothing else writes the socket.

Whatever the kernel does not take stays queued and a writer task (a thread
or greenlet from ``backend.spawn``, started only then) waits for the socket
to drain it, and ends when the buffer is empty.  The buffer is bounded
(``max_pending_bytes`` / ``max_pending_frames``); overflowing it, or not
reading for ``write_timeout`` seconds, aborts the connection: the buffer is
dropped, the socket shut down (which ends the reader) and the reason kept
in ``abort_reason`` (``abort_policy`` says it was one of our bounds).

``lock`` guards all of it and is also what the connection holds for its
own critical sections (permessage-deflate, closing).  It never blocks for
long: nothing waits for the network while holding it.
"""

import operator
import socket

IMPLEMENTATION = 'python'

#: (the compiled twin's flag: whether it sends with send(2) itself)
NATIVE_SEND = False

__all__ = ['IMPLEMENTATION', 'NATIVE_SEND', 'OPEN', 'CLOSING', 'CLOSED',
           'EAGER_BYTES', 'EAGER_FRAMES', 'Outbox', 'flush_pending']

OPEN, CLOSING, CLOSED = 0, 1, 2

# appended frames are written without waiting for the flush past this much
EAGER_BYTES = 64 * 1024
EAGER_FRAMES = 512


class Outbox:
    """The outbound buffer and writer of one connection (see module doc).

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
        self.out = bytearray()
        self.out_frames = 0
        self.writer = None
        self.dirty = False
        self.in_batch = False
        self._batch_frames = 0
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
        self.out += frame
        self.out_frames += 1
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
            self.out += frame
            self.out_frames += 1
            if self.writer is None and not self.in_batch:
                if len(self.out) >= self._eager_bytes or \
                        self.out_frames >= self._eager_frames:
                    self._write_locked()
                    return
                if not self.dirty:
                    self.dirty = True
                    # deque.append is atomic: no engine lock per recipient
                    self._pending_append(self)
            elif len(self.out) > self.max_pending_bytes or \
                    self.out_frames > self.max_pending_frames:
                self._check_bounds_locked()

    def close_with(self, frame):
        """Queue the close frame: the state becomes CLOSING and TCP is
        half-closed once everything queued is written.  False when the
        connection was already closing."""
        with self.lock:
            if self.state != OPEN:
                return False
            self.state = CLOSING
            self.out += frame
            self.shut_after_flush = True
            if self.writer is None and not self.in_batch:
                self._write_locked()
        return True

    def pending_bytes(self):
        return len(self.out)

    # -- writing -------------------------------------------------------------

    def flush(self):
        """Write what ``append`` queued (the engine's flush calls this)."""
        with self.lock:
            self.dirty = False
            if self.writer is None and not self.in_batch and self.out and \
                    self.state != CLOSED:
                self._write_locked()

    def take_for_batch(self):
        """The queued bytes, handed to a batch flush, or None when there is
        nothing to write or someone else writes this socket now."""
        with self.lock:
            self.dirty = False
            if self.writer is not None or self.in_batch or not self.out or \
                    self.state == CLOSED:
                return None
            data = self.out
            self.out = bytearray()
            self._batch_frames = self.out_frames
            self.out_frames = 0
            self.in_batch = True
            return data

    def batch_done(self, data, sent):
        """The batch wrote ``sent`` bytes of ``data`` (``-errno`` when the
        send failed).  True when more was queued meanwhile and the outbox
        wants to be in the next batch."""
        if type(data) is not bytearray:
            raise TypeError('batch_done: data must be the bytearray that '
                            'take_for_batch returned')
        sent = operator.index(sent)
        with self.lock:
            self.in_batch = False
            if self.state == CLOSED:
                return False
            if sent < 0:
                self._abort_locked(None)
                return False
            if sent < len(data):
                # the socket is full: the rest goes first, by a writer
                del data[:sent]
                data += self.out
                self.out = data
                self.out_frames += self._batch_frames
                self._check_bounds_locked()
                if self.state != CLOSED:
                    self.writer = self._spawn(self._drain)
                return False
            if self.out:
                # queued during the batch (which appends did not list)
                self.dirty = True
                return True
            if self.shut_after_flush:
                self._shut_wr_locked()
            return False

    def _send_now(self):
        # bytes the kernel took now, or -1 after aborting on an error
        try:
            return self.raw.send(self.out)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._abort_locked(None)
            return -1

    def _write_locked(self):
        n = self._send_now()
        if n < 0:
            return
        if n == len(self.out):
            self.out.clear()
            self.out_frames = 0
            if self.shut_after_flush:
                self._shut_wr_locked()
            return
        if n:
            del self.out[:n]
        self._check_bounds_locked()
        if self.state != CLOSED:
            self.writer = self._spawn(self._drain)

    def _drain(self):
        # the writer task: runs while the socket does not take everything
        while True:
            ready = self._waiter.writable(self.write_timeout)
            with self.lock:
                if self.state == CLOSED or not self.out:
                    self.writer = None
                    return
                if not ready:
                    self._abort_locked(
                        f'client read nothing for {self.write_timeout:g} s',
                        policy=True)
                    self.writer = None
                    return
                n = self._send_now()
                if n < 0:
                    self.writer = None
                    return
                del self.out[:n]
                if not self.out:
                    self.out_frames = 0
                    self.writer = None
                    if self.shut_after_flush:
                        self._shut_wr_locked()
                    return

    # -- bounds and aborting ---------------------------------------------------

    def _check_bounds_locked(self):
        if len(self.out) > self.max_pending_bytes:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_bytes} bytes',
                policy=True)
        elif self.out_frames > self.max_pending_frames:
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
        self.out = bytearray()
        self.out_frames = 0
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

