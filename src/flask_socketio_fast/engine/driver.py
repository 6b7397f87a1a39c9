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

Anything else (TLS sockets, gunicorn, uWSGI, ...) returns None from
``prepare`` and the caller takes the stock engine.io path (logged once per
reason).  With gevent-websocket's handler the handshake is already done by
the handler; everywhere else we do it: ``prepare`` validates the request
(and refuses it with a plain HTTP error, nothing upgraded), ``accept``
writes the ``101`` and returns the connection, ``finish`` returns what the
WSGI server needs to see so it writes nothing more on the upgraded stream.
"""

import logging
import os
import socket
import ssl

from . import handshake
from .._speedups import wsframe
from .wsconn import Deflate, WebSocketConnection

logger = logging.getLogger('flask_socketio_fast')


def _is_tls(sock):
    return isinstance(sock, ssl.SSLSocket) or \
        getattr(sock, '_sslobj', None) is not None or \
        'SSL' in type(sock).__name__


def _locate(environ, mode):
    """(kind, raw socket, server-side object) or (None, reason, None)."""
    if mode == 'threading':
        sock = environ.get('werkzeug.socket')
        if sock is None:
            return None, 'the WSGI server is not Werkzeug', None
        if _is_tls(sock):
            return None, 'TLS socket', None
        return 'werkzeug', sock, sock
    if mode == 'eventlet':
        wsgi_input = environ.get('eventlet.input')
        if wsgi_input is None:
            return None, 'the WSGI server is not eventlet.wsgi', None
        green = wsgi_input.get_socket()
        # the OS-level socket under eventlet's green one (socket.socket may
        # be monkey-patched into the green class itself: no isinstance)
        raw = getattr(green, 'fd', None)
        if raw is None or not hasattr(raw, 'recv_into') or \
                hasattr(raw, 'fd') or _is_tls(green) or _is_tls(raw):
            return None, 'TLS or unknown eventlet socket', None
        return 'eventlet', raw, green
    if mode == 'gevent':
        ws = environ.get('wsgi.websocket')
        if ws is not None:
            green = getattr(getattr(ws, 'handler', None), 'socket', None)
            kind = 'gevent-websocket'
        else:
            if not environ.get('SERVER_SOFTWARE', '').startswith('gevent'):
                return None, 'the WSGI server is not gevent pywsgi', None
            # pywsgi hands an upgrade request its raw rfile, others an
            # Input wrapping it
            rfile = environ.get('wsgi.input')
            if not hasattr(rfile, 'raw'):
                rfile = getattr(rfile, 'rfile', None)
            green = getattr(getattr(rfile, 'raw', None), '_sock', None)
            kind = 'gevent'
        raw = getattr(green, '_sock', None)
        if raw is None or not hasattr(raw, 'recv_into') or _is_tls(green):
            return None, 'TLS or unknown gevent socket', None
        return kind, raw, (green, ws)
    return None, f'no driver for async mode {mode}', None


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
        self._fallbacks_logged = set()

    def prepare(self, environ):
        """A Pending upgrade, an engine.io-style error response dict, or
        None when this request must take the stock path."""
        kind, raw, server_side = _locate(environ, self.backend.name)
        if kind is None:
            self._log_fallback(raw)
            return None
        if kind == 'gevent-websocket':
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

    def _log_fallback(self, reason):
        if reason not in self._fallbacks_logged:
            self._fallbacks_logged.add(reason)
            logger.info('flask-socketio-fast: WebSocket takes the stock '
                        'engine.io path here (%s)', reason)
