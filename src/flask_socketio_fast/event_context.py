"""Flask request contexts for Socket.IO events, built from per-connection data.

Every event of a connection gets a request context whose request describes
the connection's handshake (``request.args``, headers, cookies, ...).  The
stock way, ``app.request_context(environ)``, redoes per event what only
depends on the connection: it builds a new ``Request``, binds a URL adapter
to the environ and runs a URL match that always fails for ``/socket.io/``.

Here that work is done once per connection (``ConnectionData``).  Per event
there is a shallow copy of the prepared request (each event has its own
``request.sid`` / ``request.event`` even when events of one client run
concurrently; the parsed headers, args and cookies are shared, they are
immutable) and a request context that takes the prepared parts instead of
computing them.  The copy's ``close()`` (which Flask calls when the context
pops) skips Werkzeug's walk over uploaded files when the event parsed none,
which is always unless a handler read ``request.files``.

Pushing and popping do what Flask's ``RequestContext`` and ``AppContext``
do (a fresh ``flask.g``, ``teardown_request`` / ``teardown_appcontext``, the
context signals, the same context variables), minus the calls that would
do nothing: Flask's teardown walk when no teardown function is registered
and no receiver listens to its signal, and a signal send with no receivers.
Those calls cost about 7 of an event's 19 µs in-process (the teardown
walk alone reads ``request.blueprints`` through the request proxy).  An app
whose class overrides ``do_teardown_request``, ``do_teardown_appcontext``
or ``app_context`` gets Flask's push and pop, unchanged.

The fast context relies on the attributes Flask's ``RequestContext``
initialises; ``probe()`` checks them against the installed Flask once, and
when they differ we use ``app.request_context()`` for every event instead
(and log it): slower, never wrong.
"""

import logging
import sys
import weakref

import flask
from flask import signals
from flask.ctx import AppContext, RequestContext
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as _WerkzeugRequest

logger = logging.getLogger('flask_socketio_fast')

ENVIRON_KEY = 'flask_socketio_fast.connection'

# what RequestContext.__init__ sets in the Flask releases this was written
# against (2.3 to 3.1); EventRequestContext sets the same, from prepared data
_EXPECTED_ATTRS = frozenset({'app', 'request', 'url_adapter', 'flashes',
                             '_session', '_after_request_functions',
                             '_cv_tokens'})


# the context variables Flask 2.2 to 3.1 keep the current contexts in; the
# lean push/pop sets them as Flask's own push/pop does
_cv_app = getattr(flask.globals, '_cv_app', None)
_cv_request = getattr(flask.globals, '_cv_request', None)
LEAN_PUSH_POP = _cv_app is not None and _cv_request is not None

_event_request_classes = weakref.WeakKeyDictionary()
_werkzeug_close = _WerkzeugRequest.close


def event_request_class(cls):
    """``cls`` (the app's request class) with a ``close()`` that does
    nothing when no uploaded files were parsed.  Werkzeug's own walks them
    through ``iter_multi_items``, whose ABC checks cost a few percent of an
    event even when there are none; a handshake has no body.  A class that
    overrides ``close()`` is used as it is: its close runs every event."""
    if getattr(cls, 'close', None) is not _werkzeug_close:
        return cls
    sub = _event_request_classes.get(cls)
    if sub is None:
        def close(self):
            if 'files' in self.__dict__:
                cls.close(self)

        sub = type(cls.__name__, (cls,), {
            'close': close, '__module__': cls.__module__,
            '__qualname__': cls.__qualname__,
            '__doc__': cls.__doc__})
        _event_request_classes[cls] = sub
    return sub


def _bare(exc):
    """``exc`` without its traceback and chained exception: it is kept for
    the connection's life, and those would keep werkzeug's matcher frames
    (about 1 KB per connection); raising it again makes a new traceback."""
    exc.__traceback__ = None
    exc.__context__ = None
    return exc


class ConnectionData:
    """What every event of one connection shares: request and URL adapter."""

    __slots__ = ('request', 'url_adapter', 'session', '_event_class',
                 'plain_app')

    def __init__(self, app, environ):
        request = app.request_class(environ)
        request.json_module = app.json
        url_adapter = None
        try:
            url_adapter = app.create_url_adapter(request)
        except HTTPException as exc:
            request.routing_exception = _bare(exc)
        if url_adapter is not None:
            # the handshake URL matches once; every event sees the result
            try:
                request.url_rule, request.view_args = url_adapter.match(
                    return_rule=True)
            except HTTPException as exc:
                request.routing_exception = _bare(exc)
        # werkzeug parses lazily into the instance dict; parse the commonly
        # read parts now, so that per-event copies share them instead of
        # each parsing its own
        request.args
        request.headers
        request.cookies
        self.request = request
        self.url_adapter = url_adapter
        self.session = None  # the managed session, once opened
        self._event_class = event_request_class(type(request))
        self.plain_app = LEAN_PUSH_POP and _has_stock_teardown(app)

    def new_request(self):
        request = object.__new__(self._event_class)
        request.__dict__.update(self.request.__dict__)
        return request


_NOT_GIVEN = object()

_STOCK_METHODS = ('do_teardown_request', 'do_teardown_appcontext',
                  'app_context')


def _has_stock_teardown(app):
    """True if ``app`` tears down and builds app contexts as Flask does, so
    that skipping a teardown with nothing registered changes nothing."""
    cls = type(app)
    return all(getattr(cls, name, None) is getattr(flask.Flask, name)
               and name not in vars(app) for name in _STOCK_METHODS)


def connection_data(app, environ):
    data = environ.get(ENVIRON_KEY)
    if data is None:
        data = environ[ENVIRON_KEY] = ConnectionData(app, environ)
    return data


class EventRequestContext(RequestContext):
    """A RequestContext made from a connection's prepared request data."""

    def __init__(self, app, data, session):
        # deliberately not calling RequestContext.__init__: it would build
        # the request and URL adapter that ``data`` already holds
        self.app = app
        self.request = data.new_request()
        self.url_adapter = data.url_adapter
        self.flashes = None
        self._session = session
        self._after_request_functions = []
        self._cv_tokens = []
        self._plain_app = data.plain_app

    def match_request(self):
        # matched once per connection; the copied request has the result
        pass

    def copy(self):
        # what flask.copy_current_request_context() pushes elsewhere: the
        # same request and session in a new context (RequestContext.copy()
        # would call our __init__ with its own arguments)
        other = object.__new__(type(self))
        other.app = self.app
        other.request = self.request
        other.url_adapter = self.url_adapter
        other.flashes = None
        other._session = self._session
        other._after_request_functions = []
        other._cv_tokens = []
        other._plain_app = self._plain_app
        return other

    if LEAN_PUSH_POP:
        def push(self):
            if not self._plain_app:
                return RequestContext.push(self)
            app = self.app
            app_ctx = _cv_app.get(None)
            if app_ctx is None or app_ctx.app is not app:
                app_ctx = EventAppContext(app)
                app_ctx.push()
            else:
                app_ctx = None
            self._cv_tokens.append((_cv_request.set(self), app_ctx))
            if self._session is None:
                # unmanaged sessions: opened per event, as Flask does
                interface = app.session_interface
                session = interface.open_session(app, self.request)
                if session is None:
                    session = interface.make_null_session(app)
                self._session = session
            # no match_request(): the URL was matched for the connection

        def pop(self, exc=_NOT_GIVEN):
            if exc is _NOT_GIVEN:
                exc = sys.exc_info()[1]
            if not self._plain_app:
                return RequestContext.pop(self, exc)
            app = self.app
            last = len(self._cv_tokens) == 1
            try:
                if last:
                    if app.teardown_request_funcs or \
                            signals.request_tearing_down.receivers:
                        app.do_teardown_request(exc)
                    self.request.close()
            finally:
                ctx = _cv_request.get()
                token, app_ctx = self._cv_tokens.pop()
                _cv_request.reset(token)
                if last:
                    ctx.request.environ['werkzeug.request'] = None
                if app_ctx is not None:
                    app_ctx.pop(exc)
                if ctx is not self:
                    raise AssertionError(
                        f'popped the wrong request context ({ctx!r} '
                        f'instead of {self!r})')


class EventAppContext(AppContext):
    """Flask's app context, pushed and popped without the teardown walk
    and signal sends that would do nothing (see the module docstring); made
    only for apps that keep Flask's own ``app_context()``."""

    def push(self):
        self._cv_tokens.append(_cv_app.set(self))
        if signals.appcontext_pushed.receivers:
            signals.appcontext_pushed.send(
                self.app, _async_wrapper=self.app.ensure_sync)

    def pop(self, exc=_NOT_GIVEN):
        if exc is _NOT_GIVEN:
            exc = sys.exc_info()[1]
        app = self.app
        try:
            if len(self._cv_tokens) == 1 and (
                    app.teardown_appcontext_funcs or
                    signals.appcontext_tearing_down.receivers):
                app.do_teardown_appcontext(exc)
        finally:
            ctx = _cv_app.get()
            _cv_app.reset(self._cv_tokens.pop())
        if ctx is not self:
            raise AssertionError(f'popped the wrong app context ({ctx!r} '
                                 f'instead of {self!r})')
        if signals.appcontext_popped.receivers:
            signals.appcontext_popped.send(app, _async_wrapper=app.ensure_sync)


def probe(app, environ):
    """True if EventRequestContext matches the installed Flask."""
    try:
        stock = RequestContext(app, environ.copy())
    except Exception:  # pragma: no cover - a Flask we do not know
        return False
    if set(vars(stock)) != _EXPECTED_ATTRS or \
            not isinstance(getattr(RequestContext, 'session', None),
                           property):
        logger.warning('flask-socketio-fast: this Flask release lays out '
                       'its request context differently; events use '
                       'app.request_context() (slower)')
        return False
    return True
