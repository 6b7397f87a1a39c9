"""Our WebSocket driver: takes the raw socket from the WSGI server.

Replaces python-engineio's per-mode ``_async['websocket']`` wrappers
(simple-websocket, eventlet.websocket, gevent-websocket's reader) for the
servers we know how to take a socket from:

=========  =====================================  ==========================
mode       WSGI server                            socket
=========  =====================================  ==========================
threading  Werkzeug (``flask run``, ``run()``)    ``environ['werkzeug.socket']``
eventlet   eventlet.wsgi                          ``eventlet.input`` socket
gevent     pywsgi                                 ``wsgi.input``'s socket
gevent     pywsgi + gevent-websocket's handler    the handler's socket
=========  =====================================  ==========================

Anything else (TLS sockets, gunicorn's own HTTP parser, ...) returns None
from ``prepare`` and the caller takes the stock engine.io path, logged once
per reason (INFO) and counted in ``fallbacks``; where that path cannot work
(gevent without gevent-websocket's handler while gevent-websocket is
installed) the upgrade is refused with a 400 instead, logged at WARNING.  With gevent-websocket's handler the handshake is already done by
the handler; everywhere else we do it: ``prepare`` validates the request
(and refuses it with a plain HTTP error, nothing upgraded), ``accept``
writes the ``101`` and returns the connection, ``finish`` returns what the
WSGI server needs to see so it writes nothing more on the upgraded stream.
"""

import logging
import os
import socket
import ssl

from . import handshake, wsgi_buffers
from .._speedups import wsframe
from .wsconn import Deflate, WebSocketConnection

logger = logging.getLogger('flask_socketio_fast')


def _is_tls(sock):
    return isinstance(sock, ssl.SSLSocket) or \
        getattr(sock, '_sslobj', None) is not None or \
        'SSL' in type(sock).__name__


def _server_name(environ):
    name = environ.get('SERVER_SOFTWARE')
    return f' ({name[:40]})' if name else ''


def _locate(environ, mode):
    """(kind, raw socket, server-side object) or (None, reason, None)."""
    if mode == 'threading':
        sock = environ.get('werkzeug.socket')
        if sock is None:
            return None, ('the WSGI server is not Werkzeug' +
                          _server_name(environ)), None
        if _is_tls(sock):
            return None, 'TLS socket (Werkzeug ssl_context)', None
        return 'werkzeug', sock, sock
    if mode == 'eventlet':
        wsgi_input = environ.get('eventlet.input')
        if wsgi_input is None:
            return None, ('the WSGI server is not eventlet.wsgi' +
                          _server_name(environ)), None
        green = wsgi_input.get_socket()
        # the OS-level socket under eventlet's green one (socket.socket may
        # be monkey-patched into the green class itself: no isinstance)
        raw = getattr(green, 'fd', None)
        if _is_tls(green) or _is_tls(raw):
            return None, 'TLS socket (eventlet)', None
        if raw is None or not hasattr(raw, 'recv_into') or \
                hasattr(raw, 'fd'):
            return None, 'unknown eventlet socket', None
        return 'eventlet', raw, green
    if mode == 'gevent':
        ws = environ.get('wsgi.websocket')
        if ws is not None:
            green = getattr(getattr(ws, 'handler', None), 'socket', None)
            kind = 'gevent-websocket'
        else:
            if not environ.get('SERVER_SOFTWARE', '').startswith('gevent'):
                return None, ('the WSGI server is not gevent pywsgi' +
                              _server_name(environ)), None
            # pywsgi hands an upgrade request its raw rfile, others an
            # Input wrapping it
            rfile = environ.get('wsgi.input')
            if not hasattr(rfile, 'raw'):
                rfile = getattr(rfile, 'rfile', None)
            green = getattr(getattr(rfile, 'raw', None), '_sock', None)
            kind = 'gevent'
        raw = getattr(green, '_sock', None)
        if _is_tls(green) or _is_tls(raw):
            return None, 'TLS socket (gevent)', None
        if raw is None or not hasattr(raw, 'recv_into'):
            return None, 'unknown gevent socket', None
        return kind, raw, (green, ws)
    return None, f'no driver for async mode {mode}', None


def _stock_needs_gevent_websocket(environ, mode):
    """True where python-engineio's gevent WebSocket cannot work: with
    gevent-websocket installed it needs that package's handler (its
    ``wsgi.websocket``), which plain pywsgi over TLS and gunicorn's
    ``gevent`` worker do not have."""
    if mode != 'gevent' or 'wsgi.websocket' in environ:
        return False
    try:
        from engineio.async_drivers import gevent as stock
    except ImportError:  # pragma: no cover
        return False
    # set when gevent-websocket is missing: simple-websocket serves then
    return getattr(stock, 'SimpleWebSocketWSGI', True) is None


def _retire(raw):
    """Make a finished WebSocket's descriptor read as EOF.

    After the application returns, Werkzeug reads the next HTTP request
    from the same socket (it keeps upgraded connections alive); what the
    peer still sends would be parsed as one and answered 400 on the
    stream.  Swapping an already-ended socket into the descriptor ends
    that loop, and closes the TCP connection, which we have shut down.
    """
    try:
        raw.setblocking(True)
        ended, peer = socket.socketpair()
    except (OSError, AttributeError):  # pragma: no cover - no socketpair
        return
    try:
        peer.close()
        os.dup2(ended.fileno(), raw.fileno())
    except OSError:  # pragma: no cover
        pass
    finally:
        ended.close()


class Pending:
    """A validated upgrade request, not yet answered."""

    def __init__(self, driver, kind, raw, server_side, accept, deflate):
        self.driver = driver
        self.kind = kind
        self.raw = raw
        self.server_side = server_side
        self.accept_key = accept
        self.deflate_params = deflate
        self.conn = None

    def accept(self, environ, start_response):
        """Answer ``101`` and return the WebSocketConnection."""
        ext = self.deflate_params.response if self.deflate_params else None
        if self.kind == 'werkzeug':
            self.raw.sendall(handshake.response_head(self.accept_key, ext))
        elif self.kind == 'eventlet':
            self.server_side.sendall(
                handshake.response_head(self.accept_key, ext))
            set_idle = environ.get('eventlet.set_idle')
            if set_idle is not None:
                # counts as idle for eventlet's graceful stop, as its own
                # websocket module does
                set_idle()
        elif self.kind == 'gevent':
            write = start_response(
                '101 Switching Protocols',
                handshake.response_headers(self.accept_key, ext))
            write(b'')
        if self.kind != 'werkzeug':
            # the server's read/write buffers for this request are never
            # used again: give their memory back (wsgi_buffers.py)
            kind = 'eventlet' if self.kind == 'eventlet' else 'gevent'
            self.driver.wsgi_buffer_bytes_released += \
                wsgi_buffers.release(environ, kind)
        raw = self.raw
        raw.setblocking(False)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        deflate = Deflate(self.deflate_params) if self.deflate_params \
            else None
        self.conn = WebSocketConnection(raw, self.driver.backend,
                                        self.driver.engine, deflate)
        return self.conn

    def reject(self):
        """Refuse after all (the connect handler said no).  Only needed
        where the handshake was already answered."""
        if self.kind == 'gevent-websocket':
            green, ws = self.server_side
            try:
                green.sendall(wsframe.build_close_frame(1008, 'rejected'))
            except OSError:
                pass
            ws.closed = True

    def finish(self):
        """What the WSGI application returns once the session is over."""
        if self.kind == 'werkzeug':
            _retire(self.raw)
            # Werkzeug treats this as a dropped connection and writes
            # nothing; returning normally would make it send a response
            raise ConnectionError('WebSocket connection closed')
        if self.kind == 'eventlet':
            import eventlet.wsgi
            eventlet.wsgi.WSGI_LOCAL.already_handled = True
        elif self.kind == 'gevent-websocket':
            # gevent-websocket's handler would otherwise send its own close
            self.server_side[1].closed = True
        # not a list: engine.io would turn a list into a 200 response
        return ()


class Driver:
    def __init__(self, engine, backend):
        self.engine = engine
        self.backend = backend
        #: reason -> WebSocket requests that took the stock path for it
        self.fallbacks = {}
        #: memory of WSGI-server buffers freed after upgrades (monitoring)
        self.wsgi_buffer_bytes_released = 0

    def prepare(self, environ):
        """A Pending upgrade, an engine.io-style error response dict, or
        None when this request must take the stock path."""
        kind, raw, server_side = _locate(environ, self.backend.name)
        if kind is None:
            refuse = _stock_needs_gevent_websocket(environ,
                                                   self.backend.name)
            self._log_fallback(raw, refuse)
            if refuse:
                # python-engineio would raise out of the request (a 500
                # and a traceback per attempt); refuse it plainly instead
                return {'status': '400 BAD REQUEST',
                        'headers': [('Content-Type', 'text/plain')],
                        'response': b'WebSocket is not available on this '
                                    b'server; use polling'}
            return None
        if kind == 'gevent-websocket':
            version = environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip()
            if version != '13':
                return self._refuse_upgraded(server_side, version)
            return Pending(self, kind, raw, server_side, None, None)
        try:
            accept = handshake.check_request(environ)
        except handshake.HandshakeError as exc:
            self.engine._ratelog.log('handshake', logging.INFO,
                                     'WebSocket handshake refused: %s',
                                     exc.message)
            return {'status': exc.status,
                    'headers': [('Content-Type', 'text/plain')] +
                    exc.headers,
                    'response': exc.message.encode('utf-8')}
        deflate = None
        if self.engine.websocket_compression:
            offer = environ.get('HTTP_SEC_WEBSOCKET_EXTENSIONS')
            if offer:
                deflate = handshake.negotiate_deflate(offer)
        return Pending(self, kind, raw, server_side, accept, deflate)

    def _refuse_upgraded(self, server_side, version):
        # gevent-websocket's handler accepts versions 7 and 8 (drafts of
        # RFC 6455) and has answered 101 before the application runs, so
        # the 426 the other servers get cannot be sent: a close frame ends
        # the connection instead
        green, ws = server_side
        self.engine._ratelog.log('handshake', logging.INFO,
                                 'WebSocket handshake refused: version %r '
                                 '(closed after gevent-websocket\'s 101)',
                                 version)
        try:
            green.sendall(wsframe.build_close_frame(
                1002, 'unsupported WebSocket version'))
        except OSError:
            pass
        ws.closed = True
        # what the handler does with this answer: nothing (the stream is
        # upgraded already); the close frame above is what the client sees
        return {'status': '426 UPGRADE REQUIRED',
                'headers': [('Sec-WebSocket-Version', '13')],
                'response': b''}

    def _log_fallback(self, reason, refused=False):
        # never silent: the first time for each reason, the same kind of
        # line as the start-up one, and the engine's fast_path says it too
        if refused:
            reason += ", no WebSocket: gevent-websocket's handler is missing"
        first = reason not in self.fallbacks
        self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1
        if not first:
            return
        engine = self.engine
        engine.fast_path = (f'stock engine.io WebSocket here '
                            f'({"; ".join(self.fallbacks)}); otherwise '
                            f'{engine.own_fast_path}')
        if refused:
            logger.warning(
                'flask-socketio-fast: engine: WebSocket requests are refused '
                "(%s): python-engineio's gevent WebSocket needs "
                "gevent-websocket's WebSocketHandler when gevent-websocket "
                'is installed, and our driver serves Werkzeug, eventlet.wsgi '
                'and gevent pywsgi without TLS; clients stay on long-polling',
                reason)
        else:
            logger.info('flask-socketio-fast: engine: WebSocket takes the '
                        'stock engine.io path (%s): our driver serves '
                        'Werkzeug, eventlet.wsgi and gevent pywsgi without '
                        'TLS', reason)
