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
which is always unless a handler read ``request.files``.  Pushing and
popping it is Flask's own code, so a fresh
``flask.g``, ``teardown_request`` / ``teardown_appcontext`` and the context
signals are unchanged.

The fast context relies on the attributes Flask's ``RequestContext``
initialises; ``probe()`` checks them against the installed Flask once, and
when they differ we use ``app.request_context()`` for every event instead
(and log it): slower, never wrong.
"""

import logging
import weakref

from flask.ctx import RequestContext
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as _WerkzeugRequest

logger = logging.getLogger('flask_socketio_fast')

ENVIRON_KEY = 'flask_socketio_fast.connection'

# what RequestContext.__init__ sets in the Flask releases this was written
# against (2.3 to 3.1); EventRequestContext sets the same, from prepared data
_EXPECTED_ATTRS = frozenset({'app', 'request', 'url_adapter', 'flashes',
                             '_session', '_after_request_functions',
                             '_cv_tokens'})


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


class ConnectionData:
    """What every event of one connection shares: request and URL adapter."""

    __slots__ = ('request', 'url_adapter', 'session', '_event_class')

    def __init__(self, app, environ):
        request = app.request_class(environ)
        request.json_module = app.json
        url_adapter = None
        try:
            url_adapter = app.create_url_adapter(request)
        except HTTPException as exc:
            request.routing_exception = exc
        if url_adapter is not None:
            # the handshake URL matches once; every event sees the result
            try:
                request.url_rule, request.view_args = url_adapter.match(
                    return_rule=True)
            except HTTPException as exc:
                request.routing_exception = exc
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

    def new_request(self):
        request = object.__new__(self._event_class)
        request.__dict__.update(self.request.__dict__)
        return request


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

    def match_request(self):
        # matched once per connection; the copied request has the result
        pass


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
