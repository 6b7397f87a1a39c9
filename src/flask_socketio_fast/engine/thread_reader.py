"""One epoll thread reads every WebSocket connection (threading mode).

With a reader thread per connection, every inbound event cost two thread
wake-ups (the connection's reader, then the handler worker it submitted
to), and the kernel's switching between threads, and between holders of
the GIL, was most of the server's CPU in the echo benchmark.  Here the WSGI
server's thread of each connection only waits for its session to end; one
*hub* thread waits in ``epoll_wait`` on all the sockets (edge-triggered),
reads what arrived with the compiled frame parser, and runs each event's
handler itself: no thread switch per event at all.

What ``async_handlers=True`` promises is kept: a handler may block (sleep,
``call()``, I/O) without stalling other events, later events of the same
client included.  A *watchdog* thread looks at the hub every
``WATCH_INTERVAL`` seconds; when it finds the hub inside the same handler
as last time, it starts a new hub thread that goes on with the rest (that
connection's next messages, then the other readable sockets) and leaves
the old one to finish its handler and exit.  The event (namespace and name)
whose handler blocked is remembered: its later events go to the handler
pool (reused threads, handler_pool.py), as they would without the hub.  So
a blocking handler holds up the events read in the same pass once, by one
or two watch intervals, and never again.

The hub runs only what the hub may run: an EVENT packet (``42...``) whose
handler python-socketio starts as a task of its own (``async_handlers=True``,
the packet not part of a binary one), which our Socket.IO server signals by
setting ``engine.hub_events`` (server.py), and a PONG.  Anything else --
CONNECT and its handler, DISCONNECT, acks and their callbacks, binary
packets, close frames -- goes, with whatever came after it, to a *stint* on
a pool thread that serves the connection exactly as the per-connection read
loop would (socket.py ``_ws_loop``) until the socket is drained or the next
message is one the hub runs; the connection is handed back to the hub then
(``hand_back``: a pipe in the hub's epoll set wakes it).  A connection has one owner at a
time (the hub or its stint), so its messages are handled in wire order, and
a stint that blocks holds up that connection only, as upstream's reader
thread would.

Used when the engine's ping timer watches the connections (no read timeout
needed) and ``select.epoll`` exists; otherwise socket.py's read loop runs
on the WSGI server's thread.  ``fast_path`` says which.
"""

import collections
import contextvars
import logging
import os
import select
import threading
import time

from .._speedups.wsframe_errors import FrameError
from .. import _speedups
from ..handler_pool import HandlerPool
from . import wsconn

logger = logging.getLogger('flask_socketio_fast')

_OP_TEXT = _speedups.wsframe.OP_TEXT
_OPEN = wsconn.OPEN
_INFO = logging.INFO

AVAILABLE = hasattr(select, 'epoll')
if AVAILABLE:
    _MASK = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET
# owner marks: the hub serves it, a stint is about to
_HUB = 'hub'
_HANDED_OVER = 'handed over'
# readiness reports taken from the kernel per epoll_wait
_MAX_EVENTS = 512
#: seconds between the watchdog's looks at the hub
WATCH_INTERVAL = 0.002
# looks at an idle hub after which the watchdog sleeps until a handler runs
_QUIET_LOOKS = 50
# kinds of events remembered as blocking; past that, the hub runs none
_MAX_BLOCKING = 1024
# a handler left behind that finishes this soon after is let back on the
# hub (it was kept from the GIL rather than blocked), this many times
_PARDON_WITHIN = 0.005
_MAX_PARDONS = 3
if AVAILABLE:
    _HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


class ReaderHub:
    """The hub thread, its watchdog and the connections it watches
    (module docstring).  Started with the first connection; both threads
    sleep while nothing arrives.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._epoll = None
        self._started = False
        self._readers = {}        # fd -> ThreadReader
        #: stints run here (connections whose messages may block)
        self.pool = HandlerPool()
        # the loop's state, kept here so that a successor can go on with it
        self._leader = None       # token of the thread running the loop
        #: that thread's ident (what HandlerPool.submit compares)
        self.ident = None
        self._batch = []
        self._at = 0
        self._again = []
        self._serving = None
        # what the watchdog looks at, under _guard: the leader's token
        # while it dispatches a message (which may run a handler, or
        # python-socketio's disconnect handling), how many it started,
        # and the kind of event whose handler runs, if one does
        self._guard = threading.Lock()
        self._watched = None
        self._dispatches = 0
        self._handler_key = None
        self._parked = False
        self._unpark = threading.Lock()
        self._unpark.acquire()
        #: (namespace, event) whose handler blocked the hub: pooled
        self.blocking = set()
        # (namespace, event) -> times it was let back on the hub
        self._pardons = {}
        # left-behind leader's token -> (when, the kind of event it ran)
        self._taken_over = {}
        #: times the watchdog started a new hub thread
        self.takeovers = 0
        # readers a stint gives back with messages for the hub to run,
        # and the pipe that wakes the hub for them
        self._handed_back = collections.deque()
        self._wake_r = self._wake_w = None

    @property
    def connections(self):
        return len(self._readers)

    def add(self, reader):
        with self._lock:
            if not self._started:
                self._epoll = select.epoll()
                self._wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_r, False)
                os.set_blocking(self._wake_w, False)
                self._epoll.register(self._wake_r, select.EPOLLIN)
                token = self._leader = object()
                threading.Thread(target=self._run, args=(token, None),
                                 daemon=True,
                                 name='flask-socketio-fast-ws-hub').start()
                threading.Thread(target=self._watch, daemon=True,
                                 name='flask-socketio-fast-ws-watchdog'
                                 ).start()
                self._started = True
            self._readers[reader.fd] = reader
            self._epoll.register(reader.fd, _MASK)

    def remove(self, reader):
        with self._lock:
            if self._readers.get(reader.fd) is reader:
                del self._readers[reader.fd]
                try:
                    self._epoll.unregister(reader.fd)
                except (OSError, ValueError):
                    pass

    def hand_back(self, reader):
        """A stint stopped at a message the hub runs: serve ``reader``'s
        pending messages on the hub thread."""
        self._handed_back.append(reader)
        try:
            os.write(self._wake_w, b'\0')
        except BlockingIOError:
            # the pipe is full: the hub is awake anyway
            pass

    def rearm(self, reader):
        """Report the socket again if it is readable now (edge-triggered:
        what arrived while a stint owned it raised no new edge for us)."""
        try:
            self._epoll.modify(reader.fd, _MASK)
        except (OSError, ValueError):
            # removed meanwhile: the session is over
            pass

    # -- the hub thread ------------------------------------------------------

    def _run(self, token, go):
        if go is not None:
            # a successor: wait until the watchdog has handed the loop over
            # (or found that the old thread went on after all)
            go.wait()
            if self._leader is not token:
                return
        self.ident = threading.get_ident()
        poll = self._epoll.poll
        readers = self._readers
        while True:
            if self._at >= len(self._batch):
                again = self._again
                try:
                    # (a socket left unread by a fair share goes on at once)
                    ready = poll(0 if again else -1, _MAX_EVENTS)
                except InterruptedError:  # pragma: no cover - PEP 475
                    continue
                batch, self._again = again, []
                wake = self._wake_r
                for fd, mask in ready:
                    if fd == wake:
                        self._take_handed_back(batch)
                        continue
                    reader = readers.get(fd)
                    # (one left over may be reported too: served twice, the
                    # second read finds nothing)
                    if reader is not None:
                        if mask & _HANGUP:
                            # the end of the stream raises no edge of its
                            # own when it came with the last data: read on
                            # until the socket says so
                            reader.hangup = True
                        batch.append(reader)
                self._batch, self._at = batch, 0
                continue
            reader = self._batch[self._at]
            self._at += 1
            self._serving = reader
            try:
                more = reader.serve(token)
            except BaseException as exc:  # pragma: no cover - serve catches
                logger.exception('flask-socketio-fast: WebSocket hub error')
                if self._leader is token:
                    reader._fail(exc)
                more = False
            if self._leader is not token:
                # stuck in a handler meanwhile: a successor took it all over
                return
            self._serving = None
            if more:
                self._again.append(reader)

    def _take_handed_back(self, batch):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        handed_back = self._handed_back
        while handed_back:
            batch.append(handed_back.popleft())

    def dispatch(self, token, deliver, sid, data):
        """``deliver(sid, data)`` on the hub thread, watched; False when
        it blocked and a successor has taken the hub over meanwhile."""
        guard = self._guard
        with guard:
            self._watched = token
            self._dispatches += 1
            if self._parked:
                self._parked = False
                self._unpark.release()
        try:
            deliver(sid, data)
        finally:
            with guard:
                if self._watched is token:
                    self._watched = None
        return self._leader is token

    def run_inline(self, fn, args):
        """Run an event's handler task on the hub thread (HandlerPool's
        ``submit`` calls this there); False when it must go to the pool:
        its kind of event blocked the hub before."""
        # (python-socketio's _handle_event_internal arguments: server, sid,
        # eio_sid, data, namespace, id)
        if len(args) != 6 or not args[3] or type(args[3][0]) is not str or \
                type(args[4]) is not str:
            return False
        blocking = self.blocking
        key = (args[4], args[3][0])
        if blocking and (key in blocking or len(blocking) >= _MAX_BLOCKING):
            return False
        token = self._leader
        self._handler_key = key
        try:
            # a fresh context, as a task of its own would have
            contextvars.Context().run(fn, *args)
        except BaseException:  # as the pool does: log, never propagate
            logger.exception('Unhandled exception in a Socket.IO event '
                             'handler')
        finally:
            if self._leader is token:
                self._handler_key = None
            else:
                self._left_behind_done(token)
        return True

    def _left_behind_done(self, token):
        # this thread was left behind in a handler: one that finished soon
        # after (it lost the GIL for a while rather than blocked) is let
        # back on the hub, a few times per kind of event
        with self._guard:
            taken = self._taken_over.pop(token, None)
            if taken is None:
                return
            when, key = taken
            if time.monotonic() - when < _PARDON_WITHIN and \
                    self._pardons.get(key, 0) < _MAX_PARDONS:
                self._pardons[key] = self._pardons.get(key, 0) + 1
                self.blocking.discard(key)

    # -- the watchdog ----------------------------------------------------------

    def _watch(self):
        seen = -1
        quiet = 0
        while True:
            try:
                time.sleep(WATCH_INTERVAL)
                park = stuck = False
                with self._guard:
                    count = self._dispatches
                    if self._watched is not None and count == seen:
                        stuck = True
                    elif self._watched is None and count == seen:
                        quiet += 1
                        if quiet >= _QUIET_LOOKS:
                            # nothing ran for a while: sleep until a
                            # message is dispatched
                            park = self._parked = True
                    else:
                        quiet = 0
                if stuck:
                    self._take_over(count)
                    quiet = 0
                seen = count
                if park:
                    self._unpark.acquire()
                    seen, quiet = -1, 0
            except Exception:  # pragma: no cover - keep watching
                logger.exception('flask-socketio-fast: WebSocket hub '
                                 'watchdog error')

    def _take_over(self, count):
        # the hub has been in one dispatch for a whole interval: a new hub
        # thread goes on from where it is (the rest of that connection
        # first), the old one finishes what it runs and exits
        token = object()
        go = threading.Event()
        thread = threading.Thread(target=self._run, args=(token, go),
                                  daemon=True,
                                  name='flask-socketio-fast-ws-hub')
        try:
            thread.start()
        except RuntimeError:
            # no thread to be had now: the hub stays stuck until its
            # handler returns; try again at the next look
            logger.warning('flask-socketio-fast: cannot start a thread to '
                           'take over the blocked WebSocket hub')
            return
        with self._guard:
            if self._watched is None or self._dispatches != count:
                # it went on meanwhile: the new thread is not needed
                key = None
                handed_over = False
            else:
                handed_over = True
                key = self._handler_key
                old = self._leader
                if key is not None:
                    self.blocking.add(key)
                    self._taken_over[old] = (time.monotonic(), key)
                reader = self._serving
                self._serving = None
                if reader is not None and reader.result is None:
                    reader.owner = None
                    self._batch.insert(self._at, reader)
                self._leader = token
                self.ident = None
                self._watched = None
                self.takeovers += 1
        go.set()
        if not handed_over:
            return
        if key is not None:
            logger.info('flask-socketio-fast: the handler of event %.80r '
                        '(namespace %.80s) blocked the WebSocket hub thread; '
                        'its events run on pooled threads from now on',
                        key[1], key[0])


class ThreadReader:
    """Serves one upgraded connection from the hub.

    :param sock: Our engine ``Socket``.
    :param conn: Its WebSocketConnection.
    :param hub: The engine's ReaderHub.
    """

    def __init__(self, sock, conn, hub):
        # (only made once the engine has hub_events: server.use_reader_hub)
        self._sock = sock
        self._conn = conn
        self._hub = hub
        self.fd = conn.raw.fileno()
        server = sock.server
        self._deliver = server.message_deliverer()
        self._server = server
        self._done = threading.Event()
        # messages read and not yet handled by the hub, last first
        self._pending = []
        #: epoll reported the end of the stream (or an error): the next
        #: reads end the session, however short the last one was
        self.hangup = False
        self._frame_error = None
        #: None, the hub, or the thread running this connection's stint
        self.owner = None
        self._error = None
        #: how the session ended (socket.py's _ws_session result), or None
        self.result = None

    def run(self):
        """Serve the connection until the session ends (on the WSGI
        server's thread); True when the peer ended it cleanly."""
        # what the upgrade already read, and what came meanwhile, on this
        # thread first; the hub watches from then on
        self.owner = threading.current_thread()
        self._hub.add(self)
        try:
            self._stint([], None)
            self._done.wait()
        finally:
            self._hub.remove(self)
            if self.result is None:  # pragma: no cover - interrupted
                self.result = False
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self.result

    # -- on the hub thread -----------------------------------------------------

    def serve(self, token):
        """Read and handle what arrived; True when the socket may hold
        more (a fair share was read), so the hub comes back at once."""
        if self.owner is not None or self.result is not None:
            # a stint has it: it reads until drained, then rearms
            return False
        self.owner = _HUB
        sock = self._sock
        conn = self._conn
        pending = self._pending
        if not pending and self._frame_error is None:
            try:
                events = conn.receive_ready()
            except FrameError as exc:
                events, self._frame_error = exc.events, exc
            except Exception as exc:  # pragma: no cover - recv raising oddly
                self._fail(exc)
                return False
            if events is None:
                self._end(True)
                return False
            if events:
                events.reverse()
                pending[:] = events
        dispatch = self._hub.dispatch
        for_hub = self._for_hub
        deliver = self._deliver
        sid = sock.sid
        info = self._server.logger.isEnabledFor(_INFO)
        while pending:
            opcode, payload = pending[-1]
            if for_hub(opcode, payload, info):
                pending.pop()
                if not dispatch(token, deliver, sid, payload[1:]):
                    # blocked in there and left behind: the new hub
                    # thread has this connection now
                    return False
                continue
            if opcode == _OP_TEXT and payload == '3' and not info and \
                    not sock.closed:
                pending.pop()
                sock.schedule_ping()
                continue
            # may block: the rest of it in order, on a thread of its own
            pending.reverse()
            events = pending[:]
            pending.clear()
            self._hand_over(events)
            return False
        if self._frame_error is not None:
            self._hand_over([])
            return False
        if conn.outbox.state != _OPEN and not sock.closed:
            self._end(False)
            return False
        self.owner = None
        return self.hangup or not conn.drained

    def _hand_over(self, events):
        error, self._frame_error = self._frame_error, None
        self.owner = _HANDED_OVER
        try:
            self._hub.pool.submit(self._stint, events, error)
        except BaseException as exc:  # pragma: no cover - no thread
            self._fail(exc)

    # -- on a stint's thread -----------------------------------------------

    def _stint(self, events, error):
        """What socket.py's read loop does, until the socket is drained or
        an event the hub may run comes up: from there on the hub goes on,
        so that the events of a connection run in order on one thread."""
        sock = self._sock
        conn = self._conn
        box = conn.outbox
        deliver = self._deliver
        try:
            while True:
                at = self._first_for_hub(events)
                ended = sock._ws_handle(
                    conn, events if at is None else events[:at], deliver)
                if ended is not None:
                    if ended is not True and ended is not False:
                        ended = sock._ws_frame_error(conn, ended)
                    self._end(ended)
                    return
                if at is not None:
                    rest = events[at:]
                    rest.reverse()
                    self._pending = rest
                    self._frame_error = error
                    return
                if error is not None:
                    self._end(sock._ws_frame_error(conn, error))
                    return
                if box.state != _OPEN and not sock.closed:
                    self._end(False)
                    return
                if events and conn.drained:
                    break
                try:
                    events = conn.receive_ready()
                except FrameError as exc:
                    events, error = exc.events, exc
                if events is None:
                    self._end(True)
                    return
                if not events and error is None:
                    break
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            if self.result is None:
                self.owner = None
                hub = self._hub
                if self._pending or self._frame_error is not None:
                    hub.hand_back(self)
                # (an edge raised while this stint owned the socket went
                # to the hub, which left it alone)
                hub.rearm(self)

    def _for_hub(self, opcode, payload, info):
        """Whether the hub may run this message itself: an EVENT, on an
        open socket, with INFO logging off, of a client that is not in the
        middle of a binary packet (``engine.hub_events``)."""
        sock = self._sock
        return opcode == _OP_TEXT and payload[:2] == '42' and not info and \
            not sock.closed and sock.sid not in self._server.hub_events

    def _first_for_hub(self, events):
        """Where in ``events`` the first one the hub may run is, or None."""
        info = self._server.logger.isEnabledFor(_INFO)
        for at, (opcode, payload) in enumerate(events):
            if self._for_hub(opcode, payload, info):
                return at
        return None

    def _fail(self, exc):
        # socket.py logs it and closes with 1011, as for the read loop
        self._error = exc
        self._end(False)

    def _end(self, result):
        if self.result is None:
            self.result = result
            self._pending.clear()
            self._hub.remove(self)
            self._done.set()
