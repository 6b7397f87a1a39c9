"""Hub-driven WebSocket readers for eventlet and gevent.

The parked-reader way to serve a connection costs four greenlet switches
per inbound event: the hub wakes the connection's reader, the reader hands
the event to a handler worker and goes back to the hub, the hub starts the
worker, the worker returns to the hub.  Here the hub itself notices that
the socket is readable (a read callback, kept for the connection's life),
and runs a *stint* on a pool worker: read what arrived, dispatch it, and
run each event's handler right there (green_pool.py sends it back to this
reader's ``run_inline``).  The connections that became readable in one
hub turn queue up (``ReaderQueue``) and one worker runs their stints one
after the other: two switches per turn, not four per event.

What ``async_handlers=True`` promises is kept: a handler may block (sleep,
``call()``, I/O) without stalling other events, later events of the same
client included.  When a worker blocks inside an event's handler, control
comes back to the hub with the stint unfinished; the reader then lets that
worker finish its handler on its own and gives the connection to a new
stint on another worker at once.  Everything else a stint runs (connect and
disconnect handlers, ack callbacks, ``async_handlers=False`` handlers) runs
inline on python-socketio's side too, so a block there makes the
connection wait, as it does upstream: the read callback is paused until the
stint goes on.

The WSGI server's greenlet waits for the session to end and then closes it
as before (socket.py ``_ws_main``).  Used when the engine's ping timer
watches the connections (no read timeout needed); otherwise socket.py's
read loop serves the connection.
"""

import collections
import contextvars
import logging

try:
    import greenlet
except ImportError:  # a threading-only install: nothing here is used then
    greenlet = None

from .._speedups.wsframe_errors import FrameError
from . import wsconn

_OPEN = wsconn.OPEN
_getcurrent = greenlet.getcurrent if greenlet is not None else None

# messages one stint dispatches before the others get a turn
_STINT_MESSAGES = 64


class GreenReader:
    """Serves one upgraded connection from hub callbacks (module docstring).

    :param sock: Our engine ``Socket``.
    :param conn: Its WebSocketConnection.
    :param pool: The engine's GreenHandlerPool.
    """

    def __init__(self, sock, conn, pool):
        self._sock = sock
        self._conn = conn
        self._pool = pool
        self._waiter = conn.waiter
        self._call_soon = conn.backend.call_soon
        self._park = conn.backend.park
        self._deliver = sock.server.message_deliverer()
        self._queue = sock.server.green_reader_queue
        # waiting in the queue for a stint
        self._queued = False
        # the WSGI server's greenlet while it waits in run()
        self._parked = None
        # messages read and not yet dispatched, last first (one read's
        # worth: the socket is read only when this is empty)
        self._pending = []
        #: the worker running this connection's stint, if any
        self.owner = None
        # the owner is inside an event handler: it may be left behind
        self._takeover = False
        self._paused = False
        self._frame_error = None
        self._error = None
        #: how the session ended (socket.py's _ws_session result), or None
        self.result = None

    def run(self):
        """Serve the connection until the session ends (on the WSGI
        server's greenlet); True when the peer ended it cleanly."""
        self._waiter.watch(self._readable)
        # what the upgrade already read, or what is waiting in the kernel
        self._call_soon(self._readable)
        self._parked = _getcurrent()
        try:
            while self.result is None:
                self._park()
        finally:
            self._parked = None
            if self.result is None:
                # killed while waiting (the server stops)
                self.result = False
            self._waiter.unwatch()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self.result

    # -- in the hub ----------------------------------------------------------

    def _readable(self, *_):
        if self.result is not None or self._queued:
            return
        if self.owner is not None:
            # the owner waits in something the connection must wait for
            # too: stop the (level-triggered) read callback until it is done
            self._pause()
            return
        self._queued = True
        self._queue.add(self)

    def _blocked(self):
        """The hub's part when this reader's stint blocked its worker."""
        if self.result is not None or self.owner is None:
            return
        if not self._takeover:
            self._pause()
            return
        # blocked in an event handler: it finishes on its own worker, the
        # connection goes on without it
        self.owner = None
        self._takeover = False
        if self._pending or self._frame_error is not None:
            self._readable()

    def _pause(self):
        if not self._paused:
            self._paused = True
            self._waiter.pause()

    # -- on a worker ---------------------------------------------------------

    def run_inline(self, fn, args):
        """Run an event handler on this worker (green_pool's ``submit``),
        where the connection may be handed to another one if it blocks."""
        me = _getcurrent()
        self._takeover = True
        try:
            # a fresh context, as a task of its own would have
            contextvars.Context().run(fn, *args)
        except greenlet.GreenletExit:
            raise
        except BaseException:  # as the pool does: log, never propagate
            logging.getLogger('flask_socketio_fast').exception(
                'Unhandled exception in a Socket.IO event handler')
        finally:
            if self.owner is me:
                self._takeover = False

    def _stint(self, _):
        me = _getcurrent()
        self.owner = me
        sock = self._sock
        # what is sent meanwhile leaves in one burst after this hub turn's
        # stints: one wake-up of a peer reading several connections instead
        # of one per message (measured: a third more echo round trips)
        sock.server.corked = True
        conn = self._conn
        box = conn.outbox
        pool = self._pool
        pending = self._pending
        server = sock.server
        deliver = self._deliver
        info = server.logger.isEnabledFor
        dispatch = sock._ws_dispatch
        left = _STINT_MESSAGES
        try:
            # (paused: the hub saw this stint block outside an event handler;
            # the rest goes to a new stint, which the hub watches again)
            while self.owner is me and self.result is None and \
                    not self._paused:
                if not pending:
                    if self._frame_error is not None:
                        self._end(sock._ws_frame_error(conn,
                                                       self._frame_error))
                        return
                    if box.state != _OPEN and not sock.closed:
                        self._end(False)
                        return
                    if conn.drained and left < _STINT_MESSAGES:
                        # the last read emptied the socket: the hub calls
                        # back when more arrives (no recv to see EAGAIN)
                        return
                    try:
                        events = conn.receive_ready()
                    except FrameError as exc:
                        events = exc.events
                        self._frame_error = exc
                    if events is None:
                        self._end(True)
                        return
                    if not events:
                        if self._frame_error is not None:
                            continue
                        return
                    events.reverse()
                    pending[:] = events
                    continue
                if not left:
                    return
                left -= 1
                opcode, payload = pending.pop()
                # an event's handler comes back to run_inline through the
                # pool's submit, on this worker
                pool._inline_reader = self
                pool._inline_greenlet = me
                ended = dispatch(conn, opcode, payload, deliver, info)
                if ended is not None:
                    if ended is not True and ended is not False:
                        # (what came after the bad message is dropped)
                        ended = sock._ws_frame_error(conn, ended)
                    self._end(ended)
                    return
        except Exception as exc:
            # socket.py logs it and closes with 1011, as for the read loop
            self._error = exc
            self._end(False)
        finally:
            if pool._inline_greenlet is me:
                pool._inline_greenlet = None
                pool._inline_reader = None
            if self.owner is me:
                self.owner = None
                if self._paused and self.result is None:
                    self._paused = False
                    self._waiter.resume()
                if (self._pending or self._frame_error is not None) and \
                        self.result is None:
                    # (what is still read is the epoll callback's business)
                    self._call_soon(self._readable)

    def _end(self, result):
        if self.result is None:
            self.result = result
            self._pending.clear()
            self._waiter.unwatch()
            if self._parked is not None:
                self._call_soon(self._wake)

    def _wake(self):
        parked = self._parked
        if parked is not None and not parked.dead:
            parked.switch()


class ReaderQueue:
    """The readers whose sockets became readable in one hub turn, served
    one after the other by one worker: a switch to a worker and back per
    turn instead of one per connection (the hub reports the ready sockets
    of a turn one callback at a time).

    If a stint blocks its worker, the hub gives the rest of the queue to
    another worker; the blocked one, when it goes on, finishes that stint
    and leaves the queue alone.
    """

    def __init__(self, engine, pool, call_soon):
        self._engine = engine
        self._pool = pool
        self._call_soon = call_soon
        self._ready = collections.deque()
        self._scheduled = False
        # the worker serving the queue, and the reader it serves
        self._worker = None
        self._serving = None

    def add(self, reader):
        self._ready.append(reader)
        if not self._scheduled:
            self._scheduled = True
            self._call_soon(self._run)

    def _run(self):
        # in the hub
        self._scheduled = False
        ready = self._ready
        run_now = self._pool.run_now
        serve = self._serve
        try:
            while ready:
                if run_now(serve, None):
                    continue
                reader, self._serving = self._serving, None
                self._worker = None
                if reader is not None:
                    reader._blocked()
        finally:
            # (a stint that blocked sends at once when it is woken)
            self._engine.corked = False

    def _serve(self, _):
        # on a worker
        me = _getcurrent()
        self._worker = me
        ready = self._ready
        while ready and self._worker is me:
            reader = ready.popleft()
            reader._queued = False
            if reader.result is not None:
                continue
            if reader.owner is not None:
                reader._pause()
                continue
            self._serving = reader
            # a context per stint, as a task of its own would have:
            # nothing set there leaks into other connections' stints
            contextvars.Context().run(reader._stint, None)
        if self._worker is me:
            self._worker = self._serving = None
