"""Our Engine.IO server: python-engineio's, with our WebSocket transport.

What changes against ``engineio.Server`` (everything else -- polling, CORS,
cookies, compression of polling responses, the service task -- is stock):

* WebSocket connections in threading (Werkzeug), eventlet and gevent
  (pywsgi, with or without gevent-websocket) are served by our driver and
  frame codec (driver.py, wsconn.py, socket.py); others take the stock path.
* Pings come from one timer task per server (timers.py), not a task per
  ping per connection.
* With eventlet and gevent, the hub calls a connection's reader when its
  socket is readable and the event's handler runs on the worker that read
  it (green_reader.py); the acks sent meanwhile leave together after the
  hub's turn (``corked``).
* After an upgrade under eventlet.wsgi or gevent's pywsgi, the server's
  buffered request files for that connection are shrunk in place
  (wsgi_buffers.py): about 24 KiB (eventlet) or 8 KiB (gevent) per idle
  connection that our driver, reading the socket itself, never uses.
* Rejected polling POSTs are answered at once (socket.py).
* A handler exception is logged with a traceback once per window, then as
  one-line summaries (ratelog.py): a flood of malformed packets cannot
  flood the log or stall an event loop.
* A Socket.IO packet our packet class refuses on purpose
  (``ProtocolViolation``: the strictness rules of docs/security.md) closes
  the connection that sent it, with close code 1002 on a WebSocket.
* Polling responses encode each packet afresh (python-engineio's
  ``Packet.encode`` cache breaks binary packets shared by a WebSocket and
  a polling recipient).
* ``flush()`` / ``flush_soon()`` / ``batch()`` write the frames queued
  through ``frame_sink`` (socket.py has the fan-out API).

Options (all keyword arguments of ``SocketIO(...)`` / ``socketio.Server``):

``websocket_compression`` (False)
    Negotiate permessage-deflate when the client offers it.  Off by
    default, like Node's socket.io: compressed connections cannot share
    pre-encoded broadcast frames, and each costs zlib state.
``websocket_max_pending_bytes`` (4 MiB), ``websocket_max_pending_frames``
(10,000)
    Bound of one connection's outbound buffer; a client that lets it
    overflow is disconnected.
``websocket_close_timeout`` (5 s)
    How long the close handshake may take before the socket is shut down.
``max_polling_packets`` (1,000)
    Packets accepted in one polling POST (python-engineio: 16, and it
    silently drops the rest).  More is answered ``400``.
``websocket_reader_hub`` (True)
    Threading mode: one epoll thread reads every WebSocket connection
    (thread_reader.py) when the Socket.IO server starts event handlers as
    tasks of their own; False keeps a read loop on each connection's own
    thread.
"""

import collections
import contextlib
import logging
import math
import threading

import engineio
from engineio import exceptions, packet

from .. import _speedups
from .._speedups.errors import ProtocolViolation
from .._speedups.wsframe_errors import PROTOCOL_ERROR
from .. import green_pool
from . import green_reader, socket as engine_socket, thread_reader
from .backends import backend_for
from .driver import Driver
from .ratelog import RateLimitedLog
from .timers import Timers

logger = logging.getLogger('flask_socketio_fast')
_eio = _speedups.eio

DEFAULTS = {
    'websocket_compression': False,
    'websocket_max_pending_bytes': 4 * 1024 * 1024,
    'websocket_max_pending_frames': 10000,
    'websocket_close_timeout': 5.0,
    'max_polling_packets': 1000,
    'websocket_reader_hub': True,
}


class EngineServer(engineio.Server):
    socket_class = engine_socket.Socket

    def __init__(self, *args, **kwargs):
        options = {name: kwargs.pop(name, default)
                   for name, default in DEFAULTS.items()}
        super().__init__(*args, **kwargs)
        for name, value in options.items():
            setattr(self, name, value)
        self.max_http_buffer_size = int(self.max_http_buffer_size)
        self._pending = collections.deque()
        self._flush_scheduled = False
        #: True while a hub-driven reader dispatches (green_reader.py):
        #: ``send_text`` appends and flushes on the hub's next turn then
        self.corked = False
        #: moves whenever a socket's frame_sink changes (socket.py)
        self.sink_epoch = 0
        self._timers = Timers(self)
        # protocol diagnostics go where engine.io logs (off by default);
        # connections we cut off and session errors to our own logger
        self._ratelog = RateLimitedLog(self.logger)
        self._warnlog = RateLimitedLog(logger)
        self._handler_errors = RateLimitedLog(self.logger, burst=3)
        self._connect_lock = threading.Lock()
        #: WebSocket sessions our driver has served (tests, monitoring)
        self.websocket_sessions = 0
        #: of those, the ones hub-driven readers served (green_reader.py)
        self.hub_driven_sessions = 0
        backend = self._backend = backend_for(self.async_mode)
        #: reused greenlets for event handlers and the hub-driven readers
        #: (eventlet, gevent; the Socket.IO server submits to it too)
        self.green_pool = green_pool.pool_for(self.async_mode)
        #: the hub-driven readers' queue of readable connections
        self.green_reader_queue = None if self.green_pool is None else \
            green_reader.ReaderQueue(self, self.green_pool, backend.call_soon)
        #: threading: the epoll thread reading every WebSocket, once the
        #: Socket.IO server says which events it may dispatch (use_hub)
        self.thread_reader_hub = None
        #: what that thread may dispatch itself: EVENT packets of sids not
        #: in this container (python-socketio's pending binary packets)
        self.hub_events = None
        # threads flush appended frames in batches (outbox.flush_batches)
        self._batch_flush = getattr(backend, 'batch_flush', False)
        if backend is None or 'websocket' not in self.transports:
            self._driver = None
            why = 'WebSocket not enabled' if backend is not None else \
                f'no driver for {self.async_mode}'
            self.fast_path = f'stock WebSocket ({why})'
        else:
            self._driver = Driver(self, backend)
            servers = {'threading': 'Werkzeug',
                       'eventlet': 'eventlet.wsgi',
                       'gevent': 'gevent pywsgi, with or without '
                                 'gevent-websocket'}[self.async_mode]
            compression = 'on request' if self.websocket_compression \
                else 'off'
            readers = ', hub-driven readers' if self.green_pool else ''
            self.fast_path = self.own_fast_path = (
                f'own WebSocket driver and frame codec ({servers}; '
                f'permessage-deflate {compression}), one ping timer'
                f'{readers}')

    def use_reader_hub(self, hub_events):
        """Threading mode: serve WebSockets from one epoll thread
        (thread_reader.py).  Called by our Socket.IO server when an EVENT
        packet only starts its handler as a task (never blocks the reader);
        ``hub_events`` is the container of sids whose next message is a
        binary attachment.  True when the hub is in use."""
        if self._driver is None or self.async_mode != 'threading' or \
                not self.websocket_reader_hub or not thread_reader.AVAILABLE:
            return False
        if self.thread_reader_hub is None:
            self.thread_reader_hub = thread_reader.ReaderHub()
            # (at start-up: no request has taken a fallback yet)
            self.own_fast_path += ', one hub thread reading'
            self.fast_path = self.own_fast_path
        self.hub_events = hub_events
        return True

    @property
    def websocket_fallbacks(self):
        """reason -> WebSocket requests that took python-engineio's own
        path (TLS, a WSGI server our driver does not know, ...)."""
        return dict(self._driver.fallbacks) if self._driver else {}

    # -- the fan-out API (see socket.py) -------------------------------------

    def flush(self):
        """Write every connection that has appended frames."""
        self._flush_pending()

    def _flush_pending(self):
        if self._batch_flush:
            # threads: one GIL-free pass writes them all (see outbox)
            _speedups.outbox.flush_batches(self._pending)
        else:
            _speedups.outbox.flush_pending(self._pending)

    def flush_soon(self):
        """Flush once the caller lets others run: appends from back-to-back
        broadcasts then leave in one ``send`` per connection.  Greenlets:
        on the hub's next turn; threads: on one flusher thread."""
        if self._flush_scheduled or self._backend is None:
            if self._backend is None:
                self._flush_pending()
            return
        self._flush_scheduled = True
        self._backend.call_soon(self._deferred_flush)

    def _deferred_flush(self):
        self._flush_scheduled = False
        try:
            self._flush_pending()
        except Exception:  # pragma: no cover - flush() handles its errors
            logger.exception('flask-socketio-fast: deferred flush failed')

    @contextlib.contextmanager
    def batch(self):
        """``with engine.batch(): ...append frames...`` flushes at the end,
        also when the block raises."""
        try:
            yield self
        finally:
            self.flush()

    # -- WebSocket -----------------------------------------------------------

    def _ws_prepare(self, environ):
        """A Pending upgrade, an error response dict, or None (stock)."""
        if self._driver is None or \
                engine_socket._patched('_websocket_handler'):
            # instrument() watches the stock handler's frames: let it
            return None
        return self._driver.prepare(environ)

    def _handle_connect(self, environ, start_response, transport,
                        jsonp_index=None):
        pending = None
        if transport == 'websocket':
            pending = self._ws_prepare(environ)
            if isinstance(pending, dict):
                return pending
        if self.start_service_task:
            with self._connect_lock:
                start = self.start_service_task
                self.start_service_task = False
            if start:
                self.service_task_handle = self.start_background_task(
                    self._service_task)

        sid = self.generate_id()
        s = self.socket_class(self, sid)
        self.sockets[sid] = s
        s.send(packet.Packet(packet.OPEN, {
            'sid': sid,
            'upgrades': self._upgrades(sid, transport),
            'pingTimeout': int(self.ping_timeout * 1000),
            'pingInterval': int(
                self.ping_interval + self.ping_interval_grace_period) * 1000,
            'maxPayload': self.max_http_buffer_size,
        }))
        ret = self._trigger_event('connect', sid, environ, run_async=False)
        if ret is not None and ret is not True:
            self.sockets.pop(sid, None)
            self.logger.warning('Application rejected connection')
            if pending is not None:
                pending.reject()
            return self._unauthorized(ret or None)
        s.schedule_ping()

        if transport == 'websocket':
            try:
                if pending is not None:
                    return s._ws_main(pending, environ, start_response)
                return s.handle_get_request(environ, start_response)
            finally:
                if s.closed and self.sockets.get(sid) is s:
                    del self.sockets[sid]

        s.connected = True
        headers = None
        if self.cookie:
            attributes = self.cookie if isinstance(self.cookie, dict) else \
                {'name': self.cookie, 'path': '/', 'SameSite': 'Lax'}
            headers = [('Set-Cookie',
                        self._generate_sid_cookie(sid, attributes))]
        try:
            return self._ok(s.poll(), headers=headers,
                            jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()

    # -- polling responses ---------------------------------------------------

    def _ok(self, packets=None, headers=None, jsonp_index=None):
        if packets is None:
            return super()._ok(headers=headers, jsonp_index=jsonp_index)
        # encoded here rather than by Packet.encode(), whose cache keeps the
        # first encoding of a packet shared by several recipients: raw bytes
        # from a WebSocket recipient would break this base64 payload
        dumps = packet.Packet.json.dumps
        encode = _eio.encode_packet
        body = _eio.encode_payload(
            [encode(p.packet_type, p.data, p.binary, True, dumps)
             for p in packets], jsonp_index)
        headers = list(headers or []) + [
            ('Content-Type', 'text/plain; charset=UTF-8')]
        return {'status': '200 OK', 'headers': headers,
                'response': body.encode('utf-8')}

    # -- sending -------------------------------------------------------------

    def send_text(self, sid, data):
        """``send(sid, data)`` for a str message, without the Packet and
        the three calls python-engineio makes on the way to the socket."""
        socket = self.sockets.get(sid)
        if socket is None or socket.closed:
            # the stock path logs it (and forgets a closed socket)
            return self.send(sid, data)
        socket.send_text(data)

    # -- handlers ------------------------------------------------------------

    def _trigger_event(self, event, *args, **kwargs):
        run_async = kwargs.pop('run_async', False)
        handler = self.handlers.get(event)
        if handler is None:
            return None
        if run_async:
            return self.start_background_task(self._run_handler, event,
                                              handler, args)
        return self._run_handler(event, handler, args)

    def message_deliverer(self):
        """What a reader calls with ``(sid, data)`` per MESSAGE packet."""
        if self.async_handlers:
            def deliver(sid, data):
                self._trigger_event('message', sid, data, run_async=True)
            return deliver
        return self.dispatch_message

    def dispatch_message(self, sid, data):
        """``_trigger_event('message', sid, data)`` without a background
        task (python-socketio keeps the engine's ``async_handlers`` off and
        runs its own): the WebSocket readers' per-message call, one frame
        instead of two and no keyword arguments."""
        handler = self.handlers.get('message')
        if handler is not None:
            try:
                handler(sid, data)
            except Exception as exc:
                self._handler_failed('message', exc, (sid, data))

    def _run_handler(self, event, handler, args):
        try:
            try:
                return handler(*args)
            except TypeError:
                # disconnect handlers written before the reason argument
                if event == 'disconnect' and len(args) == 2:
                    return handler(args[0])
                raise
        except Exception as exc:
            return self._handler_failed(event, exc, args)

    def _handler_failed(self, event, exc, args):
        """Log a handler's exception (called in its ``except``), or end
        the session of a refused packet; what ``_trigger_event`` returns."""
        if event == 'message' and isinstance(exc, ProtocolViolation):
            # a Socket.IO packet the strictness rules refuse (our
            # packet class raises this, never an application): end
            # the session that sent it
            self._refuse_violation(args[0], exc)
            return None
        # one traceback per kind of error and window, then one-liners:
        # a client sending garbage must not flood the log
        self._handler_errors.log(
            (event, type(exc).__name__), logging.ERROR,
            '%s handler error: %s: %s', event, type(exc).__name__, exc,
            exc_info=True)
        if event == 'connect':
            return False
        return None

    def _refuse_violation(self, sid, exc):
        """Close the connection that sent a Socket.IO packet we refuse on
        purpose (docs/security.md, Strictness): a WebSocket with close code
        1002, a polling session with a CLOSE packet; the application sees
        the reason ``server disconnect``."""
        self._ratelog.log('sio-violation', logging.INFO,
                          '%s: refused Socket.IO packet (%s), closing', sid,
                          exc)
        s = self.sockets.get(sid)
        if s is None or s.closed:
            return
        conn = getattr(s, '_ws', None)
        if conn is not None:
            conn.close(PROTOCOL_ERROR, 'invalid Socket.IO packet')
        s.close(wait=False, abort=conn is not None,
                reason=self.reason.SERVER_DISCONNECT)
        if conn is None and self.sockets.get(sid) is s:
            # as disconnect() does: later requests of this session get 400
            # (a GET already waiting takes the CLOSE packet)
            del self.sockets[sid]

    # -- the service task ------------------------------------------------------

    #: how often the service task wakes while clients are connected
    service_task_step = 1.0

    def _service_task(self):
        # python-engineio's checks every client once per ping_timeout, but
        # spreads them out one client per wake-up: with 5,000 clients that
        # is 250 wake-ups a second, each a thread (or greenlet) switch and,
        # with threads, a fight for the GIL with whoever is broadcasting.
        # Same cycle here, in slices: one wake-up per service_task_step.
        self.service_task_event = event = self.create_event()
        todo, at = [], 0
        per_wake = 1
        while not event.is_set():
            step = min(self.service_task_step, self.ping_timeout)
            try:
                if at >= len(todo):
                    todo, at = list(self.sockets.values()), 0
                    if not todo:
                        if event.wait(timeout=self.ping_timeout):
                            break
                        continue
                    per_wake = max(1, math.ceil(
                        len(todo) * step / self.ping_timeout))
                for s in todo[at:at + per_wake]:
                    if s.closed:
                        # (another thread may have removed it already)
                        self.sockets.pop(s.sid, None)
                    elif not s.closing:
                        s.check_ping_timeout()
                at += per_wake
                if at >= len(todo):
                    todo, at = [], 0
                if event.wait(timeout=step):
                    break
            except (SystemExit, KeyboardInterrupt):
                break
            except Exception:
                self.logger.exception('service task exception')
                todo, at = [], 0
                # (a fault that repeats must not turn this into a busy loop)
                if event.wait(timeout=step):
                    break
        self.logger.info('service task canceled')

    def shutdown(self):
        self._timers.stop()
        super().shutdown()

