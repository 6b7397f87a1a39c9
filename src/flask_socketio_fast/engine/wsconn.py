"""One WebSocket connection: raw socket, outbox, frame parser, closing.

Outbound: everything sent goes through the connection's ``outbox``
(``_speedups.outbox``, compiled with a pure-Python twin): one buffer under
one lock, written with non-blocking sends, a writer task only while the
socket is full, the append-then-flush path a broadcast takes (the outbox is
the engine socket's ``frame_sink``), the batch hand-over threads use, and
the bounds that cut off a client that does not read.  Its docstring has
the details.  What stays here is what needs the connection: compressed
messages (the compressor's state is per connection and ordered by the
lock), the close handshake and its deadline, and the end of the session.

Inbound: ``receive(timeout)`` reads what the socket has into a shared
buffer and returns the complete events the parser (wsframe) produced;
``receive_ready()`` is the same without waiting, for readers that the hub
calls when the socket is readable (green_reader.py).

Closing: ``close(code)`` queues a close frame and half-closes TCP once it
is written, with a deadline after which the socket is shut down whatever
the peer does; ``finish()`` (run by the reader when the session ends) waits
for the buffer to drain, lingers briefly for the peer's close, and shuts
the socket down, so no writer task outlives the connection.  The WSGI
server closes the file descriptor.
"""

import time
import zlib

from .. import _speedups
from .._speedups.wsframe_errors import (INVALID_DATA, MESSAGE_TOO_BIG,
                                        FrameError)

OPEN, CLOSING, CLOSED = 0, 1, 2

_wsframe = _speedups.wsframe
_build_close = _wsframe.build_close_frame
_build_frame = _wsframe.build_frame
_recv_nowait = _wsframe.recv_nowait

# how long finish() waits for the peer's close frame or EOF after ours
_LINGER = 2.0
_LINGER_BYTES = 1 << 20
# with greenlets, give way after reading this much without blocking; a
# message handled counts as this many bytes (dispatch costs more than
# parsing)
_YIELD_BYTES = 256 * 1024
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
    """One upgraded connection: its ``outbox`` (the outbound side, in
    ``_speedups.outbox``), its frame parser and its close handshake.

    ``outbox_impl`` picks a twin of ``_speedups.outbox`` (tests run both);
    by default the selected one."""

    def __init__(self, raw, backend, engine, deflate=None, outbox_impl=None):
        self.raw = raw
        self.backend = backend
        self.engine = engine
        self.waiter = backend.waiter(raw)
        impl = outbox_impl if outbox_impl is not None else _speedups.outbox
        box = self.outbox = impl.Outbox(
            raw, backend, self.waiter, engine._pending,
            engine.websocket_max_pending_bytes,
            engine.websocket_max_pending_frames,
            engine.ping_interval + engine.ping_timeout,
            release_gil=backend.name == 'threading')
        # held for the connection's own critical sections too
        self.lock = box.lock
        # (one call per packet sent: straight to the outbox)
        self.send = box.send
        self.deflate = deflate
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
        self.close_timeout = engine.websocket_close_timeout

    # -- outbound (the outbox has it all) --------------------------------------

    @property
    def state(self):
        return self.outbox.state

    @property
    def writer(self):
        return self.outbox.writer

    @property
    def in_batch(self):
        return self.outbox.in_batch

    @property
    def abort_reason(self):
        return self.outbox.abort_reason

    @property
    def abort_policy(self):
        return self.outbox.abort_policy

    def send_message(self, opcode, data):
        """A whole message, compressed when permessage-deflate is on (the
        compressor's state is shared, so this runs under the lock)."""
        box = self.outbox
        with self.lock:
            if box.state != OPEN:
                return False
            if self.deflate is not None:
                frame = _build_frame(opcode, self.deflate.deflate(data),
                                     rsv1=True)
            else:
                frame = _build_frame(opcode, data)
            box.queue_locked(frame)
        return True

    def append(self, frame):
        """Queue an already-built frame for the engine's next flush."""
        self.outbox.append(frame)

    def flush(self):
        self.outbox.flush()

    def pending_bytes(self):
        return self.outbox.pending_bytes()

    def abort(self, reason=None):
        self.outbox.abort(reason)

    # -- closing -------------------------------------------------------------

    def close(self, code=1000, reason=''):
        """Start the close handshake: queue a close frame, half-close after
        it is written, give the peer ``close_timeout`` seconds."""
        box = self.outbox
        if not box.close_with(_build_close(code, reason)):
            return False
        if box.state != CLOSED:
            self._deadline = self.engine._timers.call_later(
                self.close_timeout, self._close_deadline)
        return True

    def _close_deadline(self):
        self.outbox.abort('close handshake timed out')

    def finish(self, linger):
        """End of the session (on the reader): drain, linger, shut down."""
        box = self.outbox
        try:
            box.mark_closing()
            # (a batch that finds the socket full hands it to a writer)
            self._wait_batch()
            with self.lock:
                writer = box.writer
            if writer is not None and not writer.join(self.close_timeout):
                box.abort('outbound data not taken before closing')
                writer.join(self.close_timeout)
            if linger and box.state != CLOSED:
                self._linger()
        finally:
            # also when the above was interrupted (a greenlet killed while
            # the server stops): nothing may write once the WSGI server has
            # closed the descriptor
            box.abort(None)
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
        while self.outbox.in_batch:
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
                if self.outbox.state == CLOSED:
                    return None
                if not self.waiter.readable(timeout):
                    raise TimeoutError('nothing received for %s s' % timeout)
            try:
                n = _recv_nowait(raw, buf)
            except OSError:
                return None
            if n <= 0:
                if n == 0:
                    return None
                drained = True
                continue
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

    def receive_ready(self):
        """What has arrived, without waiting: a list of events (empty when
        nothing complete is there yet), or None when the stream ended.
        Raises FrameError as ``receive`` does.  ``drained`` is true after
        a read that left the socket most likely empty."""
        backlog = self._backlog
        if backlog:
            self._backlog = None
            return backlog
        buf = self.backend.local_buffer()
        raw = self.raw
        size = len(buf)
        while True:
            try:
                n = _recv_nowait(raw, buf)
            except OSError:
                return None
            if n <= 0:
                if n == 0:
                    return None
                self._drained = True
                return None if self.outbox.state == CLOSED else []
            events = self.parser.feed(buf[:n])
            if n < size:
                self._drained = True
                return events
            self._drained = False
            if events:
                return events
            self._unyielded += n
            if self._unyielded >= _YIELD_BYTES:
                # one large message at a time: the hub calls again (the
                # socket is still readable) after the others had a turn
                self._unyielded = 0
                return events

    @property
    def drained(self):
        return self._drained

    def cooperate(self, handled):
        """Called by the session per batch of ``handled`` messages: give
        way to others now and then, as ``receive`` does per bytes."""
        self._unyielded += handled * _YIELD_MESSAGE_COST
        if self._unyielded >= _YIELD_BYTES:
            self._unyielded = 0
            self.backend.cooperate()
