"""The ``SocketIO`` Flask extension: configuration, registration, emitting.

It builds a python-socketio ``Server`` from the options given to the
constructor and to ``init_app`` (merged), registers the user's handlers
through wrappers that give them a Flask request context (see dispatch.py),
and installs the WSGI middleware that routes ``/socket.io/`` traffic.
"""

import logging
import os
from functools import wraps

import flask
import socketio
from flask import has_request_context
from flask import json as flask_json

from . import _speedups, serving
from .dispatch import Dispatcher
from .manager import FastManager, describe_manager, fast_manager_supported
from .middleware import SocketIOMiddleware
from .namespace import Namespace
from .packet import Packet
from .queues import make_queue_manager
from .server import Server
from .test_client import SocketIOTestClient

logger = logging.getLogger('flask_socketio_fast')

# options that are ours, never forwarded to socketio.Server
_OWN_OPTIONS = ('manage_session', 'message_queue', 'channel', 'path',
                'resource')


class _FlaskSafeJSON:
    """flask.json with an app context around every call.

    flask.json's output depends on the current app's JSON provider, and
    python-socketio calls it from places with no context at all.
    """

    def __init__(self, app):
        self._app = app

    def dumps(self, *args, **kwargs):
        with self._app.app_context():
            return flask_json.dumps(*args, **kwargs)

    def loads(self, *args, **kwargs):
        with self._app.app_context():
            return flask_json.loads(*args, **kwargs)


class SocketIO:
    """Socket.IO for a Flask application.

    :param app: The Flask application, or None to call ``init_app()`` later
                (application factories).  With no app but a
                ``message_queue``, the instance is a write-only emitter for
                processes that only send events through the queue.
    :param manage_session: ``True`` (default) gives each connection its own
                           copy of the Flask session; ``False`` uses Flask's
                           session interface, which shares server-side
                           sessions with HTTP routes.
    :param message_queue: URL of the message queue that connects several
                          server processes (Redis, Valkey, Kafka, Kombu,
                          ZeroMQ).
    :param channel: The queue's channel name (default ``'flask-socketio'``).
    :param path: Where the Socket.IO endpoint is served (default
                 ``'socket.io'``); ``resource`` is an alias.
    :param kwargs: Every other option goes to ``socketio.Server`` and
                   ``engineio.Server`` (``async_mode``,
                   ``cors_allowed_origins``, ``ping_interval``, ``json``,
                   ``client_manager``, ``async_handlers``, ...).
    :param max_handler_threads: In threading mode with ``async_handlers``,
                                event handlers run on reused threads; this
                                bounds how many run at once (default: no
                                bound, a blocked handler never delays
                                another event).  Handlers of WebSocket
                                events that the hub thread runs itself
                                (docs/receive-path.md) do not count.
    :param websocket_reader_hub: Threading mode: one hub thread reads every
                                 WebSocket and runs event handlers itself
                                 (default True); False gives each
                                 connection a reader thread of its own.
    """

    reason = socketio.Server.reason

    def __init__(self, app=None, **kwargs):
        self.server = None
        self.server_options = {}
        self.wsgi_server = None
        self.handlers = []
        self.namespace_handlers = []
        self.exception_handlers = {}
        self.default_exception_handler = None
        self.manage_session = True
        self.async_mode = None
        self.sockio_mw = None
        self._dispatcher = Dispatcher(self)
        if app is not None or 'message_queue' in kwargs:
            self.init_app(app, **kwargs)
        else:
            self.server_options.update(kwargs)

    # -- configuration -----------------------------------------------------

    def init_app(self, app, **kwargs):
        """Attach to ``app``; ``kwargs`` are merged over the constructor's."""
        if app is not None:
            if not hasattr(app, 'extensions'):
                app.extensions = {}  # pragma: no cover
            app.extensions['socketio'] = self
        self.server_options.update(kwargs)
        self.manage_session = self.server_options.pop('manage_session',
                                                      self.manage_session)
        if 'client_manager' not in kwargs:
            url = self.server_options.get('message_queue')
            channel = self.server_options.pop('channel', 'flask-socketio')
            if url:
                self.server_options['client_manager'] = make_queue_manager(
                    url, channel=channel, write_only=app is None)
        if self.server_options.get('json') is flask_json:
            self.server_options['json'] = _FlaskSafeJSON(app)
        resource = self.server_options.pop('path', None) or \
            self.server_options.pop('resource', None) or 'socket.io'
        resource = resource.lstrip('/')
        if os.environ.get('FLASK_RUN_FROM_CLI') and \
                self.server_options.get('async_mode') is None:
            # `flask run` is Werkzeug, whatever else is installed
            self.server_options['async_mode'] = 'threading'

        options = {k: v for k, v in self.server_options.items()
                   if k not in _OWN_OPTIONS}
        # our packet class (compiled codec, orjson) unless the user chose a
        # serializer; a user's json= still wins, python-socketio assigns it
        # to whichever packet class is in use
        options.setdefault('serializer', Packet)
        if 'client_manager' not in options and fast_manager_supported():
            # our rooms and broadcast fan-out; a new one per server, never
            # kept in server_options where a second init_app would share it
            options['client_manager'] = FastManager()
        self.server = Server(**options)
        self.server.fast_paths['broadcast fan-out'] = describe_manager(
            self.server.manager, self.server.eio)
        self.async_mode = self.server.async_mode
        for message, handler, namespace in self.handlers:
            self.server.on(message, handler, namespace=namespace)
        for namespace_handler in self.namespace_handlers:
            self.server.register_namespace(namespace_handler)
        if app is not None:
            self.sockio_mw = SocketIOMiddleware(self.server, app,
                                                socketio_path=resource)
            app.wsgi_app = self.sockio_mw
        # never a silent fallback: say which implementation serves us
        _speedups.log_active(logger)
        for name, state in self.server.fast_paths.items():
            logger.info('flask-socketio-fast: %s: %s', name, state)

    # -- handler registration ----------------------------------------------

    def on(self, message, namespace=None):
        """Decorator that registers a handler for event ``message``.

        ``'message'`` and ``'json'`` receive unnamed ``send()`` traffic,
        ``'connect'`` / ``'disconnect'`` the connection events, ``'*'`` any
        event without a handler of its own (the handler gets the event name
        first).  ``namespace='*'`` registers for every namespace.
        """
        namespace = namespace or '/'

        def decorator(handler):
            wrapper = self._event_wrapper(handler, message, namespace)
            if self.server:
                self.server.on(message, wrapper, namespace=namespace)
            else:
                self.handlers.append((message, wrapper, namespace))
            return handler
        return decorator

    def _event_wrapper(self, handler, message, namespace):
        dispatcher = self._dispatcher

        @wraps(handler)
        def wrapper(*args):
            # python-socketio puts the event name first for event '*', the
            # namespace first for namespace '*', and both (event first) when
            # both are wildcards; then the sid, then the event arguments
            event = message
            if message == '*':
                event, args = args[0], args[1:]
            real_ns = namespace
            if namespace == '*':
                real_ns, args = args[0], args[1:]
                # a class-based namespace that handles this event keeps it:
                # a wildcard never hides an explicit handler
                ns_handler = self.server.namespace_handlers.get(real_ns)
                if ns_handler is not None and \
                        hasattr(ns_handler, 'on_' + (event or '')):
                    return ns_handler.trigger_event(event, *args)
            sid, args = args[0], args[1:]
            if message == '*':
                args = (event,) + tuple(args)
            return dispatcher.handle(handler, message, real_ns, sid, args)
        return wrapper

    def on_error(self, namespace=None):
        """Decorator for the error handler of ``namespace`` (default ``'/'``).

        It gets the exception; its return value becomes the event's ack.
        """
        namespace = namespace or '/'

        def decorator(exception_handler):
            if not callable(exception_handler):
                raise ValueError('exception_handler must be callable')
            self.exception_handlers[namespace] = exception_handler
            return exception_handler
        return decorator

    def on_error_default(self, exception_handler):
        """Decorator for the error handler of namespaces without their own."""
        if not callable(exception_handler):
            raise ValueError('exception_handler must be callable')
        self.default_exception_handler = exception_handler
        return exception_handler

    def on_event(self, message, handler, namespace=None):
        """Register ``handler`` for ``message``: ``on()`` without decorator."""
        self.on(message, namespace=namespace)(handler)

    def event(self, *args, **kwargs):
        """Decorator that registers a handler named after the function.

        Usable bare (``@socketio.event``) or with ``on()``'s arguments
        (``@socketio.event(namespace='/chat')``).
        """
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler):
            return self.on(handler.__name__, *args, **kwargs)(handler)
        return set_handler

    def on_namespace(self, namespace_handler):
        """Register a class-based ``Namespace`` instance."""
        if not isinstance(namespace_handler, Namespace):
            raise ValueError('Not a namespace instance.')
        namespace_handler._set_socketio(self)
        if self.server:
            self.server.register_namespace(namespace_handler)
        else:
            self.namespace_handlers.append(namespace_handler)

    # -- sending -----------------------------------------------------------

    def emit(self, event, *args, **kwargs):
        """Emit an event; to everyone in ``namespace`` unless ``to`` is given.

        :param namespace: The namespace (default ``'/'``).
        :param to: A room, a client's sid, or a list of them (``room`` is an
                   alias).
        :param include_self: ``False`` leaves out the client whose handler is
                             running.
        :param skip_sid: A sid, or a list of sids, to leave out.
        :param callback: Called with the client's acknowledgement; inside a
                         handler it runs in that client's request context.
        :param broadcast: Accepted and ignored: without ``to`` this is
                          always a broadcast.
        """
        namespace = kwargs.pop('namespace', '/')
        to = kwargs.pop('to', None) or kwargs.pop('room', None)
        include_self = kwargs.pop('include_self', True)
        skip_sid = kwargs.pop('skip_sid', None)
        kwargs.pop('broadcast', None)
        if not include_self and not skip_sid:
            skip_sid = flask.request.sid
        callback = kwargs.pop('callback', None)
        if callback:
            callback = self._callback_in_context(callback, namespace)
        self.server.emit(event, *args, namespace=namespace, to=to,
                         skip_sid=skip_sid, callback=callback, **kwargs)

    def _callback_in_context(self, callback, namespace):
        """Wrap an ack callback so it runs in the emitting client's context.

        Only when emitting from a Socket.IO handler: elsewhere there is no
        client context to restore, and the callback is called bare.
        """
        if not has_request_context():
            return callback
        sid = getattr(flask.request, 'sid', None)
        if not sid:
            return callback
        origin_ns = getattr(flask.request, 'namespace', None)
        dispatcher = self._dispatcher

        def run_in_context(*args):
            return dispatcher.handle(callback, None, origin_ns, sid, args)
        return run_in_context

    def call(self, event, *args, **kwargs):
        """Emit to one client and wait for its acknowledgement.

        :param to: The client's sid (``room`` is an alias).
        :param namespace: The namespace (default ``'/'``).
        :param timeout: Seconds to wait (default 60) before raising
                        ``socketio.exceptions.TimeoutError``.
        :return: The values the client acknowledged with.
        """
        namespace = kwargs.pop('namespace', '/')
        to = kwargs.pop('to', None) or kwargs.pop('room', None)
        return self.server.call(event, *args, namespace=namespace, to=to,
                                **kwargs)

    def send(self, data, json=False, namespace=None, to=None, callback=None,
             include_self=True, skip_sid=None, **kwargs):
        """Send a ``message`` event, or a ``json`` one with ``json=True``.

        ``include_self=False`` leaves out the current client (and, as in
        Flask-SocketIO, then takes the place of ``skip_sid``).
        """
        if not include_self:
            skip_sid = flask.request.sid
        self.emit('json' if json else 'message', data, namespace=namespace,
                  to=to, include_self=include_self, skip_sid=skip_sid,
                  callback=callback, **kwargs)

    def close_room(self, room, namespace=None):
        """Remove every client from ``room``."""
        self.server.close_room(room, namespace)

    # -- running -----------------------------------------------------------

    def run(self, app, host=None, port=None, **kwargs):
        """Serve ``app`` with the web server of the active async mode.

        eventlet if installed, else gevent, else the Werkzeug development
        server (which needs ``allow_unsafe_werkzeug=True`` outside debug
        mode).  Other keyword arguments (``debug``, ``use_reloader``,
        ``reloader_options``, ``extra_files``, ``log_output``, SSL options,
        ...) go to the server.
        """
        serving.run(self, app, host=host, port=port, **kwargs)

    def stop(self):
        """Stop the web server started by ``run()``, in any async mode."""
        serving.stop(self)

    def start_background_task(self, target, *args, **kwargs):
        """Start ``target`` as a thread or greenlet of the async mode."""
        return self.server.start_background_task(target, *args, **kwargs)

    def sleep(self, seconds=0):
        """Sleep in the way of the async mode (yields to other greenlets)."""
        return self.server.sleep(seconds)

    def test_client(self, app, namespace=None, query_string=None,
                    headers=None, auth=None, flask_test_client=None):
        """Return a :class:`SocketIOTestClient` connected to this server."""
        return SocketIOTestClient(app, self, namespace=namespace,
                                  query_string=query_string, headers=headers,
                                  auth=auth,
                                  flask_test_client=flask_test_client)

    # Flask-SocketIO name, kept for code that calls it directly
    def _handle_event(self, handler, message, namespace, sid, *args):
        return self._dispatcher.handle(handler, message, namespace, sid, args)
