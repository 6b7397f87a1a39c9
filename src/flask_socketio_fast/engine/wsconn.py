"""One WebSocket connection: raw socket, frame parser, outbound buffer.

Outbound: every frame goes into one ``bytearray`` under the connection's
lock, in the order it was queued, whichever thread queued it.  When no
writer is running, the queuing call writes the buffer at once with one
non-blocking ``send``; whatever the kernel does not take stays buffered and
a writer task (a thread or greenlet, started only then) waits for the
socket to drain it and ends when the buffer is empty.  Frames queued while
the writer runs leave together in its next ``send``.  ``append`` (the
pre-encoded broadcast path) only queues and marks the connection dirty on
the engine; ``Engine.flush()`` then writes each dirty connection once.
With threads, that flush is a batch (``take_for_batch`` / ``batch_done``):
the buffers of all dirty connections are taken under their locks, written
in one pass with the GIL released once (``_speedups.outbound``), and what a
socket did not take is put back in front of what was queued meanwhile.
While a connection's buffer is out in a batch (``in_batch``), nothing else
writes to its socket, so bytes leave in the order they were queued.

The buffer is bounded (``max_pending_bytes`` / ``max_pending_frames``); a
client that lets it overflow, or does not read for ``write_timeout``
seconds, is cut off: its buffer is dropped and its socket shut down, which
ends its reader, and the reason is logged once by the reader.

Inbound: ``receive(timeout)`` reads what the socket has into a shared
buffer and returns the complete events the parser (wsframe) produced.

Closing: ``close(code)`` queues a close frame and half-closes TCP once it
is written, with a deadline after which the socket is shut down whatever
the peer does; ``finish()`` (run by the reader when the session ends) waits
for the buffer to drain, lingers briefly for the peer's close, and shuts
the socket down, so no writer task outlives the connection.  The WSGI
server closes the file descriptor.
"""

import socket
import time
import zlib

from .. import _speedups
from .._speedups.wsframe_errors import (INVALID_DATA, MESSAGE_TOO_BIG,
                                        FrameError)

OPEN, CLOSING, CLOSED = 0, 1, 2

_wsframe = _speedups.wsframe
_build_close = _wsframe.build_close_frame
_build_frame = _wsframe.build_frame

# how long finish() waits for the peer's close frame or EOF after ours
_LINGER = 2.0
_LINGER_BYTES = 1 << 20
# with greenlets, give way after reading this much without blocking; a
# message handled counts as this many bytes (dispatch costs more than
# parsing)
_YIELD_BYTES = 256 * 1024
# appended frames are written without waiting for the flush past this much
_EAGER_BYTES = 64 * 1024
_EAGER_FRAMES = 512
_YIELD_MESSAGE_COST = 4096


class Deflate:
    """permessage-deflate state of one connection (only when enabled)."""

    def __init__(self, params, level=6):
        self._level = level
        self._wbits = params.server_max_window_bits
        self._reset = params.server_no_context_takeover
        self._inflater = zlib.decompressobj(-15)
        self._deflater = self._new_deflater()

    def _new_deflater(self):
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._wbits)

    def inflate(self, data, limit):
        """Decompress one message, refusing to produce more than ``limit``
        bytes (the limit applies to what the message inflates to)."""
        try:
            out = self._inflater.decompress(
                data + b'\x00\x00\xff\xff',
                0 if limit is None else limit + 1)
        except zlib.error:
            raise FrameError(INVALID_DATA, 'bad deflate data') from None
        if limit is not None and len(out) > limit:
            raise FrameError(MESSAGE_TOO_BIG,
                             'message inflates over the size limit')
        return out

    def deflate(self, data):
        c = self._deflater
        out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(b'\x00\x00\xff\xff'):
            out = out[:-4]
        if self._reset:
            self._deflater = self._new_deflater()
        return out


class WebSocketConnection:
    def __init__(self, raw, backend, engine, deflate=None):
        self.raw = raw
        self.backend = backend
        self.engine = engine
        self.waiter = backend.waiter(raw)
        self.lock = backend.make_lock()
        self.out = bytearray()
        self.out_frames = 0
        self.writer = None
        self.dirty = False
        # the buffer is being written by a batch flush (threads only)
        self.in_batch = False
        self._batch_frames = 0
        self.state = OPEN
        self.deflate = deflate
        self.abort_reason = None
        self.abort_policy = False
        self._shut_after_flush = False
        self._deadline = None
        self._backlog = None
        # the last read took less than a buffer: the socket is most likely
        # empty now, so the next read waits first instead of paying for a
        # recv that fails with EAGAIN (one system call per message)
        self._drained = False
        self._unyielded = 0
        self.max_message_size = engine.max_http_buffer_size
        self.parser = _wsframe.FrameParser(
            self.max_message_size, allow_compression=deflate is not None)
        self.max_pending_bytes = engine.websocket_max_pending_bytes
        self.max_pending_frames = engine.websocket_max_pending_frames
        self._eager_bytes = min(_EAGER_BYTES, self.max_pending_bytes)
        self._eager_frames = min(_EAGER_FRAMES, self.max_pending_frames)
        self.write_timeout = engine.ping_interval + engine.ping_timeout
        self.close_timeout = engine.websocket_close_timeout

    # -- outbound ------------------------------------------------------------

    def send(self, frame):
        """Queue one frame and write now if no writer is busy.  False when
        the connection no longer takes data."""
        with self.lock:
            if self.state != OPEN:
                return False
            self._queue_locked(frame)
        return True

    def send_message(self, opcode, data):
        """A whole message, compressed when permessage-deflate is on (the
        compressor's state is shared, so this runs under the lock)."""
        with self.lock:
            if self.state != OPEN:
                return False
            if self.deflate is not None:
                frame = _build_frame(opcode, self.deflate.deflate(data),
                                     rsv1=True)
            else:
                frame = _build_frame(opcode, data)
            self._queue_locked(frame)
        return True

    def _queue_locked(self, frame):
        self.out += frame
        self.out_frames += 1
        if self.writer is None and not self.in_batch:
            self._write_locked()
        else:
            # (a batch in progress writes it when it hands the socket back)
            self._check_bounds_locked()

    def append(self, frame):
        """Queue an already-built frame without writing (see module doc)."""
        with self.lock:
            if self.state != OPEN:
                return
            self.out += frame
            self.out_frames += 1
            if self.writer is None and not self.in_batch:
                if len(self.out) >= self._eager_bytes or \
                        self.out_frames >= self._eager_frames:
                    # a long burst before the flush: write what we have,
                    # a healthy client must not approach the bounds
                    self._write_locked()
                    return
                if not self.dirty:
                    self.dirty = True
                    # deque.append is atomic: no engine lock per recipient
                    self.engine._pending.append(self)
            elif len(self.out) > self.max_pending_bytes or \
                    self.out_frames > self.max_pending_frames:
                self._check_bounds_locked()

    def flush(self):
        """Write what ``append`` queued (called by the engine's flush)."""
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
        send failed).  True when more was queued meanwhile and the
        connection wants to be in the next batch."""
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
                    self.writer = self.backend.spawn(self._drain)
                return False
            if self.out:
                # queued during the batch (which appends did not list)
                self.dirty = True
                return True
            if self._shut_after_flush:
                self._shut_wr_locked()
            return False

    def pending_bytes(self):
        return len(self.out)

    def _write_locked(self):
        out = self.out
        try:
            n = self.raw.send(out)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self._abort_locked(None)
            return
        if n == len(out):
            out.clear()
            self.out_frames = 0
            if self._shut_after_flush:
                self._shut_wr_locked()
            return
        if n:
            del out[:n]
        self._check_bounds_locked()
        if self.state != CLOSED:
            self.writer = self.backend.spawn(self._drain)

    def _drain(self):
        while True:
            ready = self.waiter.writable(self.write_timeout)
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
                try:
                    n = self.raw.send(self.out)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    self._abort_locked(None)
                    self.writer = None
                    return
                del self.out[:n]
                if not self.out:
                    self.out_frames = 0
                    self.writer = None
                    if self._shut_after_flush:
                        self._shut_wr_locked()
                    return

    def _check_bounds_locked(self):
        if len(self.out) > self.max_pending_bytes:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_bytes} bytes',
                policy=True)
        elif self.out_frames > self.max_pending_frames:
            self._abort_locked(
                f'outbound buffer over {self.max_pending_frames} frames',
                policy=True)

    def _abort_locked(self, reason, policy=False):
        if self.state == CLOSED:
            return
        self.state = CLOSED
        if self.abort_reason is None:
            self.abort_reason = reason
            # True when a bound of ours (not the peer going away) ended it
            self.abort_policy = policy
        self.out = bytearray()
        self.out_frames = 0
        # wakes the reader (EOF) and any writer (error); the WSGI server
        # closes the descriptor once the reader has returned
        try:
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _shut_wr_locked(self):
        self._shut_after_flush = False
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def abort(self, reason=None):
        with self.lock:
            self._abort_locked(reason)

    # -- closing -------------------------------------------------------------

    def close(self, code=1000, reason=''):
        """Start the close handshake: queue a close frame, half-close after
        it is written, give the peer ``close_timeout`` seconds."""
        with self.lock:
            if self.state != OPEN:
                return False
            self.state = CLOSING
            self.out += _build_close(code, reason)
            self._shut_after_flush = True
            if self.writer is None and not self.in_batch:
                self._write_locked()
        if self.state != CLOSED:
            self._deadline = self.engine._timers.call_later(
                self.close_timeout, self._close_deadline)
        return True

    def _close_deadline(self):
        with self.lock:
            if self.state != CLOSED:
                self._abort_locked('close handshake timed out')

    def finish(self, linger):
        """End of the session (on the reader): drain, linger, shut down."""
        with self.lock:
            if self.state == OPEN:
                # the peer went away without a close handshake
                self.state = CLOSING
        # (a batch that finds the socket full hands it to a writer)
        self._wait_batch()
        with self.lock:
            writer = self.writer
        if writer is not None and not writer.join(self.close_timeout):
            self.abort('outbound data not taken before closing')
            writer.join(self.close_timeout)
        if linger and self.state != CLOSED:
            self._linger()
        with self.lock:
            self._abort_locked(None)
        # no batch takes a closed connection; one that took it before may
        # still be sending
        self._wait_batch()
        self._discard_queued()
        self.waiter.release()
        if self._deadline is not None:
            self.engine._timers.cancel(self._deadline)
            self._deadline = None

    def _wait_batch(self):
        # a batch flush may be sending on this socket right now (without
        # the lock); the WSGI server closes the descriptor once we return,
        # and a send on a closed and reused descriptor would go elsewhere
        while self.in_batch:
            time.sleep(0.0002)

    def _discard_queued(self):
        # after the shutdown nothing new arrives, but what the kernel had
        # already queued would be read by the WSGI server as the next HTTP
        # request on this connection (and answered on a dead stream)
        buf = self.backend.local_buffer()
        for _ in range(64):
            try:
                if not self.raw.recv_into(buf):
                    return
            except OSError:
                return

    def _linger(self):
        # read (and drop) until the peer closes, so that our close frame is
        # not lost to a reset caused by unread data
        deadline = time.monotonic() + min(_LINGER, self.close_timeout)
        left = _LINGER_BYTES
        buf = self.backend.local_buffer()
        while left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                n = self.raw.recv_into(buf)
            except (BlockingIOError, InterruptedError):
                if not self.waiter.readable(remaining):
                    return
                continue
            except OSError:
                return
            if n == 0:
                return
            left -= n

    # -- inbound -------------------------------------------------------------

    def unread(self, events):
        """Give events back: the next ``receive`` returns them first."""
        if events:
            self._backlog = list(events) + (self._backlog or [])

    def receive(self, timeout):
        """The next events from the peer: a non-empty list, or None when the
        stream ended.  Raises FrameError for protocol violations and
        TimeoutError when nothing arrived for ``timeout`` seconds."""
        backlog = self._backlog
        if backlog:
            self._backlog = None
            return backlog
        buf = self.backend.local_buffer()
        raw = self.raw
        parser = self.parser
        drained = self._drained
        while True:
            if drained:
                if self.state == CLOSED:
                    return None
                if not self.waiter.readable(timeout):
                    raise TimeoutError('nothing received for %s s' % timeout)
            try:
                n = raw.recv_into(buf)
            except (BlockingIOError, InterruptedError):
                drained = True
                continue
            except OSError:
                return None
            if n == 0:
                return None
            drained = self._drained = n < len(buf)
            events = parser.feed(buf[:n])
            # (only now: the buffer is shared with the other greenlets)
            self._unyielded += n
            if self._unyielded >= _YIELD_BYTES:
                # a client that keeps the socket full never makes recv
                # block, which is where greenlets switch: give way here
                self._unyielded = 0
                self.backend.cooperate()
            if events:
                return events

    def cooperate(self, handled):
        """Called by the session per batch of ``handled`` messages: give
        way to others now and then, as ``receive`` does per bytes."""
        self._unyielded += handled * _YIELD_MESSAGE_COST
        if self._unyielded >= _YIELD_BYTES:
            self._unyielded = 0
            self.backend.cooperate()
