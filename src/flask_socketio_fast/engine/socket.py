"""Our Engine.IO socket: stock long-polling, our WebSocket transport.

A ``Socket`` starts like python-engineio's (packets queue up for polling
GETs).  Once it is on a WebSocket served by our driver, ``send`` builds the
WebSocket frame and hands it to the connection's outbound buffer
(wsconn.py): no queue, no writer task per connection while the socket takes
what we write.  A WebSocket the driver cannot serve (TLS, an unknown WSGI
server, admin instrumentation active) takes the stock path unchanged.

Pre-encoded frames (the broadcast fan-out API)
----------------------------------------------
Server-to-client WebSocket frames are unmasked, so one frame's bytes suit
every recipient.  A broadcaster builds the frame once, with the selected
codec (``flask_socketio_fast._speedups.wsframe``)::

    frame = wsframe.build_eio_frame(4, socketio_encoded_text)  # text msg
    frame = wsframe.build_binary_frame(attachment_bytes)       # binary msg
    # also: wsframe.build_text_frame(utf8_bytes_of_whole_eio_packet)

and hands the same bytes to each recipient::

    for eio_sid in recipients:
        sock = engine.sockets.get(eio_sid)
        sink = sock.frame_sink if sock is not None else None
        if sink is None:
            engine.send_packet(eio_sid, pkt)   # the per-recipient path
        else:
            sink.append(frame)
    engine.flush_soon()        # or engine.flush(), or `with engine.batch():`

* ``sock.frame_sink`` is None when the connection cannot take shared frames
  (long-polling, permessage-deflate negotiated, not upgraded yet, closing,
  or served by the stock WebSocket path); otherwise it is the connection's
  outbox, whose ``append(frame_bytes)`` queues the bytes in order with
  everything else sent on that connection, without writing and without
  waking any thread or greenlet.  It turns None when the connection
  closes; ``engine.sink_epoch`` moves with every such change, so a caller
  may keep the sinks it found until then (the room loop does).
* ``engine.flush()`` writes every connection that has appended bytes, one
  non-blocking ``send`` each (frames appended together leave together),
  and hands what the kernel does not take to that connection's own writer.
  ``engine.batch()`` is a context manager that flushes on exit.
* ``engine.flush_soon()`` (preferred after each broadcast) does the same
  once the caller lets others run: on the hub's next turn with greenlets,
  on one flusher thread in threading mode.  Back-to-back broadcasts then
  cost one ``send`` per connection for all of them instead of one per
  broadcast (about 5x less server CPU per delivered message in a burst).
  Calling it again before that flush is free.
* Appended bytes are written by a flush, by the next ordinary ``send`` on
  that connection, or when 64 KB / 512 frames are waiting there (so a long
  burst before the flush cannot push a healthy client to its bound);
  always flush after appending.
* A connection whose outbound buffer passes its bound
  (``websocket_max_pending_bytes`` / ``websocket_max_pending_frames``) is
  disconnected with a logged reason; ``append`` never blocks.
"""

import itertools
import logging
import queue as _queue
import threading
import time

import engineio.socket
from engineio import exceptions, packet

from .. import _speedups
from .._speedups.errors import DecodeKeyError
from .._speedups.wsframe_errors import PROTOCOL_ERROR, FrameError
from . import green_reader, thread_reader, wsconn

_wsframe = _speedups.wsframe
_eio = _speedups.eio
_build_eio_frame = _wsframe.build_eio_frame
_build_text_frame = _wsframe.build_text_frame
_build_binary_frame = _wsframe.build_binary_frame
_build_pong = _wsframe.build_pong_frame
_OP_TEXT = _wsframe.OP_TEXT
_OP_BINARY = _wsframe.OP_BINARY
_OP_PING = _wsframe.OP_PING
_OP_CLOSE = _wsframe.OP_CLOSE
_COMPRESSED = _wsframe.COMPRESSED
_OPEN = wsconn.OPEN
# values for EngineServer.sink_epoch: drawn atomically, never repeated, so
# a racing writer can never bring back an epoch a cache was built under
_next_sink_epoch = itertools.count(1).__next__

_StockSocket = engineio.socket.Socket
MESSAGE, PING, PONG, UPGRADE, CLOSE, NOOP = (
    packet.MESSAGE, packet.PING, packet.PONG, packet.UPGRADE, packet.CLOSE,
    packet.NOOP)
_INFO = logging.INFO

# python-socketio's instrument() (admin UI) patches these on engineio's
# Socket class; we notice, and route through its wrappers
_STOCK_ATTRS = {name: _StockSocket.__dict__.get(name)
                for name in ('handle_post_request', '_websocket_handler',
                             '_send_ping')}


def _patched(name):
    return _StockSocket.__dict__.get(name) is not _STOCK_ATTRS[name]


class _SpentQueue:
    """Stands in for the polling queue once a socket is on our WebSocket."""

    unfinished_tasks = 0

    def put(self, item, *args, **kwargs):
        pass

    def get(self, *args, **kwargs):
        raise _queue.Empty()

    def task_done(self):
        pass

    def join(self, *args, **kwargs):
        pass


_SPENT_QUEUE = _SpentQueue()


class Socket(_StockSocket):
    def __init__(self, server, sid):
        super().__init__(server, sid)
        self._ws = None           # our WebSocketConnection, once upgraded
        self._ping_timer = None
        # guards the switch from the polling queue to the connection
        backend = getattr(server, '_backend', None)
        self._switch_lock = backend.make_lock() if backend is not None \
            else threading.Lock()

    # -- the fan-out API -----------------------------------------------------

    # The outbox of our WebSocketConnection (without permessage-deflate)
    # from the switch to our WebSocket until close() starts, else None.  A
    # plain attribute, not a property: the broadcast loop reads it once per
    # recipient.  Once the connection itself stops taking data, the
    # outbox's append() drops frames, as its send() would.  Every change
    # moves the engine's ``sink_epoch``: the broadcast loop keeps the sinks
    # of a room between broadcasts (_speedups.rooms) until it moves.
    frame_sink = None

    # -- sending -------------------------------------------------------------

    def send(self, pkt):
        if not self.check_ping_timeout():
            return
        conn = self._ws
        if conn is None:
            # polling (or stock WebSocket); the switch to our WebSocket
            # drains the queue under this lock, so look again under it
            with self._switch_lock:
                conn = self._ws
                if conn is None:
                    self.queue.put(pkt)
        if conn is not None:
            self._send_on(conn, pkt)
        # (checked here: a call per packet sent matters in a fan-out)
        if self.server.logger.isEnabledFor(_INFO):
            self._log_send(pkt)

    def send_text(self, data):
        """``send(Packet(MESSAGE, data))`` for a str ``data``: framed
        straight onto our WebSocket, with no Packet object on the way (an
        ack or an emit to one client is one of these per event)."""
        conn = self._ws
        if conn is None or conn.deflate is not None or \
                self.server.logger.isEnabledFor(_INFO):
            return self.send(packet.Packet(MESSAGE, data))
        if self.check_ping_timeout():
            server = self.server
            if server.corked:
                # a hub-driven reader is dispatching (green_reader.py): the
                # ack leaves with the others of this hub turn, in one burst
                conn.outbox.append(_build_eio_frame(MESSAGE, data))
                server.flush_soon()
            else:
                conn.send(_build_eio_frame(MESSAGE, data))

    def _send_on(self, conn, pkt):
        if conn.deflate is None:
            conn.send(self._frame(pkt))
        elif pkt.binary:
            conn.send_message(_OP_BINARY, pkt.data)
        else:
            conn.send_message(_OP_TEXT, pkt.encode().encode('utf-8'))

    def _log_send(self, pkt):
        self.server.logger.info(
            '%s: Sending packet %s data %s', self.sid,
            packet.packet_names[pkt.packet_type],
            pkt.data if not isinstance(pkt.data, bytes) else '<binary>')

    @staticmethod
    def _frame(pkt):
        if pkt.binary:
            return _build_binary_frame(pkt.data)
        data = pkt.data
        if type(data) is str:
            return _build_eio_frame(pkt.packet_type, data)
        return _build_text_frame(pkt.encode().encode('utf-8'))

    # -- receiving -----------------------------------------------------------

    def receive(self, pkt):
        self._receive(pkt.packet_type, pkt.data)

    def _receive(self, packet_type, data):
        server = self.server
        logger = server.logger
        if logger.isEnabledFor(_INFO):
            name = packet.packet_names[packet_type] \
                if 0 <= packet_type < len(packet.packet_names) else 'UNKNOWN'
            logger.info('%s: Received packet %s data %s', self.sid, name,
                        data if not isinstance(data, bytes) else '<binary>')
        if packet_type == MESSAGE:
            if server.async_handlers:
                server._trigger_event('message', self.sid, data,
                                      run_async=True)
            else:
                server.dispatch_message(self.sid, data)
        elif packet_type == PONG:
            self.schedule_ping()
        elif packet_type == UPGRADE:
            self.send(packet.Packet(NOOP))
        elif packet_type == CLOSE:
            self.close(wait=False, abort=True,
                       reason=server.reason.CLIENT_DISCONNECT)
        else:
            raise exceptions.UnknownPacketError()

    # -- long-polling --------------------------------------------------------

    def handle_post_request(self, environ):
        if _patched('handle_post_request'):
            # instrument()'s wrapper counts the packets, then calls the
            # name below, which is ours
            return super().handle_post_request(environ)
        return self._handle_post(environ)

    def _handle_post(self, environ):
        """A polling POST, answered at once whatever happens.

        Every rejection closes this socket without waiting for a GET that
        may never come (python-engineio waits for one), then raises the
        EngineIOError that makes the server answer ``400`` right away.
        """
        server = self.server
        try:
            length = int(environ.get('CONTENT_LENGTH') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > server.max_http_buffer_size:
            self._reject_post('body over max_http_buffer_size (%s bytes)'
                              if length >= 0 else 'bad Content-Length %s',
                              environ.get('CONTENT_LENGTH'))
            raise exceptions.ContentTooLongError()
        body = environ['wsgi.input'].read(length) if length else b''
        if len(body) != length:
            self._reject_post('body shorter than its Content-Length%s', '')
            raise exceptions.EngineIOError()
        try:
            text = body.decode('utf-8')
            parts = _eio.split_payload(text, server.max_polling_packets)
        except (UnicodeDecodeError, DecodeKeyError) as exc:
            self._reject_post('undecodable polling payload: %r', exc)
            raise exceptions.EngineIOError() from None
        except ValueError:
            # python-engineio drops all but 16 with 200 OK, which loses the
            # bursts the JS client sends before upgrading; we accept up to
            # max_polling_packets and say so beyond
            self._reject_post('polling POST with more than %s packets',
                              server.max_polling_packets)
            raise exceptions.EngineIOError() from None
        try:
            loads = packet.Packet.json.loads
            packets = [_eio.decode_packet(p, loads) for p in parts]
        except (ValueError, RecursionError) as exc:
            # python-engineio answers 200 and drops the payload, so the
            # client never learns its packets were lost (docs/differences.md)
            self._reject_post('undecodable polling payload: %r', exc)
            raise exceptions.EngineIOError() from None
        try:
            for packet_type, data, _ in packets:
                self._receive(packet_type, data)
        except exceptions.UnknownPacketError:
            self._reject_post('unexpected packet type in a polling POST%s',
                              '')
            raise

    # the name instrument()'s wrapper calls back (mangled from its class)
    _InstrumentedServer__handle_post_request = _handle_post

    def _reject_post(self, msg, arg):
        self.server._ratelog.log('post', _INFO, '%s: ' + msg, self.sid, arg)
        # the reason python-engineio's disconnect() after a refused POST
        # gives the application
        self.close(wait=False, reason=self.server.reason.SERVER_DISCONNECT)

    def handle_get_request(self, environ, start_response):
        try:
            return super().handle_get_request(environ, start_response)
        except exceptions.EngineIOError:
            # ends this socket now; the server's disconnect() that follows
            # then has nothing left to wait for
            self.close(wait=False,
                       reason=self.server.reason.TRANSPORT_ERROR)
            raise

    # -- pings ---------------------------------------------------------------

    def schedule_ping(self):
        # one server-wide timer task instead of a sleeping task per ping
        if self.last_ping:
            self.last_ping = None
            self._ping_timer = self.server._timers.call_later(
                self.server.ping_interval, self._ping_due)

    def _ping_due(self):
        if _patched('_send_ping'):
            self._send_ping()      # instrument()'s wrapper, then ours
        else:
            self._ping_now()

    def _ping_now(self):
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(PING))

    _InstrumentedServer__send_ping = _ping_now

    # -- closing -------------------------------------------------------------

    def close(self, wait=True, abort=False, reason=None):
        timer = self._ping_timer
        if timer is not None:
            # a closed socket is not kept alive until its next ping
            self._ping_timer = None
            self.server._timers.cancel(timer)
        conn = self._ws
        if conn is None:
            super().close(wait=False, abort=abort, reason=reason)
            if wait:
                self._wait_polled()
            return
        if self.closed or self.closing:
            return
        self.closing = True
        if self.frame_sink is not None:
            self.frame_sink = None
            self.server.sink_epoch = _next_sink_epoch()
        self.server._trigger_event(
            'disconnect', self.sid,
            reason or self.server.reason.SERVER_DISCONNECT, run_async=False)
        if not abort:
            self.send(packet.Packet(CLOSE))
        self.closed = True
        conn.close(1000)

    def _wait_polled(self):
        # python-engineio waits (queue.join) until a GET has taken the
        # CLOSE packet, for ever if the client never polls again; we wait
        # at most websocket_close_timeout
        deadline = time.monotonic() + self.server.websocket_close_timeout
        queue = self.queue
        while getattr(queue, 'unfinished_tasks', 0) and \
                time.monotonic() < deadline:
            self.server.sleep(0.02)

    # -- WebSocket -----------------------------------------------------------

    def _upgrade_websocket(self, environ, start_response):
        if self.upgraded:
            raise OSError('Socket has been upgraded already')
        pending = self.server._ws_prepare(environ)
        if pending is None:
            return super()._upgrade_websocket(environ, start_response)
        if isinstance(pending, dict):
            return pending
        return self._ws_main(pending, environ, start_response)

    def _ws_main(self, pending, environ, start_response):
        """Run one WebSocket session on the WSGI server's thread/greenlet."""
        self.server.websocket_sessions += 1
        try:
            conn = pending.accept(environ, start_response)
        except OSError:
            # the client left during the handshake
            if not self.connected:
                self.close(wait=False, abort=True,
                           reason=self.server.reason.TRANSPORT_CLOSE)
            self.upgrading = False
            return pending.finish()
        peer_done = False
        try:
            peer_done = self._ws_session(conn)
        except Exception:
            # never into the WSGI server: it would write a 500 response
            # into the upgraded stream
            self.server._warnlog.log('ws-error', logging.ERROR,
                                     '%s: WebSocket session error', self.sid,
                                     exc_info=True)
            conn.close(1011)
        finally:
            conn.finish(linger=not peer_done)
            if conn.abort_reason:
                if conn.abort_policy:
                    # our bounds ended it: say so where operators look
                    self.server._warnlog.log(
                        'ws-abort', logging.WARNING,
                        '%s: WebSocket connection cut off: %s', self.sid,
                        conn.abort_reason)
                else:
                    self.server._ratelog.log(
                        'ws-abort', _INFO, '%s: WebSocket connection ended:'
                        ' %s', self.sid, conn.abort_reason)
            if self._ws is conn:
                self.close(wait=False, abort=True,
                           reason=self.server.reason.TRANSPORT_CLOSE)
                if self.server.sockets.get(self.sid) is self:
                    del self.server.sockets[self.sid]
            else:
                self.upgrading = False
        return pending.finish()

    def _ws_session(self, conn):
        """The session proper; True when the peer ended it cleanly."""
        server = self.server
        timeout = server.ping_interval + server.ping_timeout
        if self.connected:
            # an upgrade from polling: the probe, then UPGRADE
            self.upgrading = True
            ok, text = self._ws_handshake_message(conn, timeout)
            if not ok:
                return text
            if text != '2probe':
                server.logger.info('%s: Failed websocket upgrade, no PING '
                                   'packet', self.sid)
                conn.close(PROTOCOL_ERROR, 'expected a probe')
                return False
            conn.send(_build_eio_frame(PONG, 'probe'))
            self.queue.put(packet.Packet(NOOP))  # ends the pending GET
            ok, text = self._ws_handshake_message(conn, timeout)
            if not ok:
                return text
            if text[:1] != '5':
                server.logger.info('%s: Failed websocket upgrade, expected '
                                   'UPGRADE packet, received %s instead.',
                                   self.sid, text)
                conn.close(PROTOCOL_ERROR, 'expected an upgrade')
                return False
        if not self._ws_switch(conn):
            conn.close(1000)
            return False
        if server.logger.isEnabledFor(_INFO):
            server.logger.info('%s: Upgrade to websocket successful',
                               self.sid)
        if server.service_task_handle is not None or \
                server.start_service_task:
            # the service task closes clients that stop answering pings;
            # an idle read then needs no timer of its own (memory per
            # idle connection)
            timeout = None
            pool = server.green_pool
            if pool is not None:
                server.hub_driven_sessions += 1
                return green_reader.GreenReader(self, conn, pool).run()
            hub = server.thread_reader_hub
            if hub is not None and server.hub_events is not None:
                server.hub_driven_sessions += 1
                return thread_reader.ThreadReader(self, conn, hub).run()
        return self._ws_loop(conn, timeout)

    def _ws_switch(self, conn):
        # from here on send() goes to the connection; what polling had
        # queued goes first, in order
        with self._switch_lock:
            queue = self.queue
            empty = self.server.get_queue_empty_exception()
            packets = []
            closed = False
            while True:
                try:
                    pkt = queue.get(block=False)
                except empty:
                    break
                queue.task_done()
                if pkt is None:
                    closed = True
                    break
                packets.append(pkt)
            if closed or self.closed or self.closing:
                return False
            for pkt in packets:
                self._send_on(conn, pkt)
            self._ws = conn
            if conn.deflate is None:
                self.frame_sink = conn.outbox
                self.server.sink_epoch = _next_sink_epoch()
            # nothing reads the polling queue from now on; an idle
            # connection should not keep one (a few KB each)
            self.queue = _SPENT_QUEUE
            self.connected = True
            self.upgraded = True
            self.upgrading = False
        return True

    def _ws_handshake_message(self, conn, timeout):
        """(True, text) for the next text message during the upgrade, or
        (False, peer_done) when the connection ended or failed first."""
        while True:
            try:
                events = conn.receive(timeout)
            except FrameError as exc:
                conn.close(exc.code, exc.reason)
                return False, False
            except TimeoutError:
                conn.close(1000)
                return False, False
            if events is None:
                return False, True
            for i, (opcode, payload) in enumerate(events):
                if opcode == _OP_TEXT:
                    # what came in the same read is for the session loop
                    conn.unread(events[i + 1:])
                    return True, payload
                if opcode == _OP_PING:
                    conn.send(_build_pong(payload))
                elif opcode == _OP_CLOSE:
                    self._answer_close(conn, payload)
                    return False, True
                elif opcode != _wsframe.OP_PONG:
                    conn.close(PROTOCOL_ERROR, 'expected a text message')
                    return False, False

    def _ws_loop(self, conn, timeout):
        receive = conn.receive
        handle = self._ws_handle
        box = conn.outbox
        deliver = self.server.message_deliverer()
        cooperate = conn.cooperate
        while True:
            error = None
            try:
                events = receive(timeout)
            except FrameError as exc:
                events, error = exc.events, exc
            except TimeoutError:
                conn.close(1000)
                return False
            if events is None:
                return True
            ended = handle(conn, events, deliver, cooperate)
            if ended is not None:
                if ended is True or ended is False:
                    return ended
                error = ended
            if error is not None:
                return self._ws_frame_error(conn, error)
            if box.state != _OPEN and not self.closed:
                return False

    def _ws_handle(self, conn, events, deliver, cooperate=None):
        """Handle one read's messages in order (the read loops': here and
        thread_reader.py's stints).  None to go on, else how the session
        ends: True, False, or a FrameError to close it with (what came
        after the bad message is dropped)."""
        dispatch = self._ws_dispatch
        info = self.server.logger.isEnabledFor
        for opcode, payload in events:
            if cooperate is not None:
                cooperate(1)
            ended = dispatch(conn, opcode, payload, deliver, info)
            if ended is not None:
                return ended
        return None

    def _ws_dispatch(self, conn, opcode, payload, deliver, info):
        """Handle one inbound message (the read loops' and green_reader's
        stints'): what ``_ws_message`` returns, None to go on."""
        # the common case first: a Socket.IO packet, a text message
        # "4<digit>...", straight to the engine's deliverer
        if opcode == _OP_TEXT and len(payload) > 1 and \
                payload[0] == '4' and '0' <= payload[1] <= '9' and \
                not self.closed and not info(_INFO):
            deliver(self.sid, payload[1:])
            return None
        return self._ws_message(conn, opcode, payload)

    def _ws_frame_error(self, conn, error):
        self.server._ratelog.log('ws-frame', _INFO,
                                 '%s: closing WebSocket: %s', self.sid, error)
        conn.close(error.code, error.reason)
        return False

    def _ws_message(self, conn, opcode, payload):
        """Handle one inbound WebSocket message.  None to go on, else how
        the session ends: True (the peer closed it), False (we did), or a
        FrameError to close it with."""
        if self.closed:
            # we closed: the peer's close is all we wait for
            return True if opcode == _OP_CLOSE else None
        if opcode == _OP_TEXT:
            return self._receive_ws_text(conn, payload)
        elif opcode == _OP_BINARY:
            self._receive_ws(MESSAGE, payload)
        elif opcode & _COMPRESSED:
            try:
                data = conn.deflate.inflate(payload, conn.max_message_size)
                if opcode & 0x0F == _OP_TEXT:
                    data = data.decode('utf-8')
            except FrameError as exc:
                return exc
            except UnicodeDecodeError:
                return FrameError(1007, 'invalid UTF-8')
            if not isinstance(data, bytes):
                return self._receive_ws_text(conn, data)
            self._receive_ws(MESSAGE, data)
        elif opcode == _OP_PING:
            conn.send(_build_pong(payload))
        elif opcode == _OP_CLOSE:
            self._answer_close(conn, payload)
            return True
        return None

    def _receive_ws_text(self, conn, text):
        # a Socket.IO packet is a message whose data starts with an ASCII
        # digit; a digit outside 0-6 is an unknown type, ignored as
        # python-engineio does; anything else cannot be decoded
        if not text or not '0' <= text[0] <= '9':
            return self._bad_packet(conn, text)
        try:
            packet_type, data, _ = _eio.decode_packet(
                text, packet.Packet.json.loads)
        except (ValueError, RecursionError):
            return self._bad_packet(conn, text)
        self._receive_ws(packet_type, data)
        return None

    def _receive_ws(self, packet_type, data):
        try:
            self._receive(packet_type, data)
        except exceptions.UnknownPacketError:
            # python-engineio ignores these on a WebSocket too
            self.server._ratelog.log('ws-unknown', _INFO,
                                     '%s: ignored packet of type %s',
                                     self.sid, packet_type)

    def _bad_packet(self, conn, payload):
        self.server._ratelog.log(
            'ws-bad-packet', _INFO, '%s: undecodable Engine.IO packet %r, '
            'closing', self.sid, payload[:40])
        conn.close(PROTOCOL_ERROR, 'invalid Engine.IO packet')
        return False

    @staticmethod
    def _answer_close(conn, info):
        code, _ = info
        # echo the peer's code; 1005 ("none given") is never sent
        conn.close(1000 if code is None else code)
