"""Runs a Socket.IO handler the way a Flask view runs: inside a request context.

python-socketio calls our wrappers with the bare protocol arguments; this
module turns them into what Flask-SocketIO users expect: an app and request
context built from the connection's handshake environ, a fresh ``flask.g``,
``request.sid`` / ``request.namespace`` / ``request.event``, the user session
(managed per connection, or Flask's own), the optional ``auth`` / ``reason``
arguments of connect and disconnect handlers, and the error handlers.
"""

import inspect
import threading

import flask
from socketio.exceptions import ConnectionRefusedError

from . import event_context
from .sessions import ManagedSession

# The events whose handlers take an optional extra argument.
_OPTIONAL_ARG_EVENTS = ('connect', 'disconnect')


def takes_positional_argument(func):
    """True if ``func`` accepts at least one positional argument.

    Returns None when the signature cannot be inspected (some C callables).
    """
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                      p.VAR_POSITIONAL):
            return True
    return False


class _RetryGuard(threading.local):
    """Remembers a TypeError raised by a connect/disconnect handler.

    python-socketio retries connect and disconnect handlers with fewer
    arguments when they raise TypeError, assuming a signature mismatch.  Our
    wrappers never mismatch (we inspect signatures), so a TypeError always
    comes from the user's code; the guard makes the retry re-raise it instead
    of running the handler a second time.  (Flask-SocketIO 5.7 runs such a
    connect handler up to four times.)  It is per thread/greenlet because the
    retry happens synchronously in the same one.
    """
    pending = None

    def check(self, sid, event):
        pending = self.pending
        if pending is not None:
            self.pending = None
            if pending[0] == sid and pending[1] == event:
                raise pending[2]

    def remember(self, sid, event, exc):
        self.pending = (sid, event, exc)


retry_guard = _RetryGuard()


def _install_session(ctx, session):
    # where the request context keeps its session moved between Flask
    # releases; set it where this Flask reads it from
    if hasattr(ctx, '_session'):
        ctx._session = session
    else:  # pragma: no cover - Flask < 3.1.3
        ctx.session = session


class Dispatcher:
    """Per-event Flask context and handler invocation for one SocketIO."""

    def __init__(self, socketio):
        self.socketio = socketio
        # whether EventRequestContext suits this Flask; decided at the first
        # event, when there is an app and an environ to probe with
        self._fast_context = None

    def _remember_session(self, environ, session_obj):
        # Flask-SocketIO keeps it under this environ key; so do we, for
        # code that looks there
        environ['saved_session'] = session_obj
        data = environ.get(event_context.ENVIRON_KEY)
        if data is not None:
            data.session = session_obj

    def _request_context(self, app, environ):
        """The event's request context, and the managed session if known."""
        if self._fast_context is None:
            self._fast_context = event_context.probe(app, environ)
        if not self._fast_context:
            saved = environ.get('saved_session') \
                if self.socketio.manage_session else None
            return app.request_context(environ), saved
        data = event_context.connection_data(app, environ)
        saved = data.session if self.socketio.manage_session else None
        return event_context.EventRequestContext(app, data, saved), saved

    def handle(self, handler, message, namespace, sid, args,
               error_hook=None):
        """Run ``handler`` for one event; returns what becomes the ack.

        ``message`` is the registered event name (``request.event`` shows
        it), ``args`` the event arguments as python-socketio delivered them,
        ``error_hook`` a class-based namespace's ``error()`` method, used when
        no ``on_error`` handler claims the exception.
        """
        socketio = self.socketio
        environ = socketio.server.get_environ(sid, namespace=namespace)
        if not environ:
            # the client is gone (e.g. an ack arriving after a disconnect)
            return None
        app = environ['flask.app']
        ctx, session_obj = self._request_context(app, environ)
        with ctx:
            if socketio.manage_session:
                if session_obj is None:
                    # first event of the connection: fork the HTTP session
                    session_obj = ManagedSession(flask.session)
                    self._remember_session(environ, session_obj)
                    _install_session(ctx, session_obj)
                elif not self._fast_context:
                    _install_session(ctx, session_obj)
            else:
                # Flask's own session: for cookie sessions this freezes it
                # at connection time; server-side sessions are shared with
                # HTTP routes, both ways
                session_obj = flask.session._get_current_object()
            request = ctx.request
            request.sid = sid
            request.namespace = namespace
            request.event = {'message': message, 'args': args}
            try:
                ret = self._invoke(handler, message, sid, args)
            except ConnectionRefusedError as exc:
                # python-socketio turns it into a CONNECT_ERROR; elsewhere a
                # class-based namespace's error() gets it, as upstream
                if error_hook is None or message == 'connect':
                    raise
                return error_hook(exc)
            except Exception as exc:
                err_handler = socketio.exception_handlers.get(
                    namespace, socketio.default_exception_handler)
                if err_handler is not None:
                    if error_hook is None:
                        return err_handler(exc)
                    try:
                        return err_handler(exc)
                    except Exception as handler_exc:
                        # error() is the namespace's last resort
                        return error_hook(handler_exc)
                if error_hook is not None:
                    return error_hook(exc)
                if isinstance(exc, TypeError) and \
                        message in _OPTIONAL_ARG_EVENTS:
                    retry_guard.remember(sid, message, exc)
                raise
            if not socketio.manage_session:
                if not hasattr(session_obj, 'modified') or \
                        session_obj.modified:
                    resp = app.response_class()
                    app.session_interface.save_session(app, session_obj,
                                                       resp)
            return ret

    @staticmethod
    def _invoke(handler, message, sid, args):
        if message == 'connect':
            # python-socketio passes (environ, auth) or, on its legacy
            # retry, (environ,)
            retry_guard.check(sid, message)
            auth = args[1] if len(args) > 1 else None
            if takes_positional_argument(handler) is False:
                return handler()
            return handler(auth)
        if message == 'disconnect':
            retry_guard.check(sid, message)
            accepts = takes_positional_argument(handler)
            if accepts is False or not args:
                return handler()
            return handler(*args[:1])
        return handler(*args)
