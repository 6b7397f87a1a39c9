"""The Engine.IO / WebSocket layer of flask-socketio-fast.

``engine_server_class()`` returns ``(cls, description)``: our
``EngineServer`` (server.py) when the installed python-engineio is a
release it was written for, else ``engineio.Server`` with the reason.
``FLASK_SOCKETIO_FAST_STOCK_ENGINE=1`` forces the stock class.

Modules: server.py (the engineio.Server subclass), socket.py (the Socket
subclass and the pre-encoded frame API for broadcasts), driver.py (taking
the socket from each WSGI server, the handshake), handshake.py, wsconn.py
(one connection's buffers and close handshake), backends.py (per async
mode waiting and tasks), timers.py, ratelog.py.
"""

import os

import engineio

# the releases whose internals (Socket._upgrade_websocket,
# Server._handle_connect, the polling queue protocol) we follow
SUPPORTED = ((4, 12), (5, 0))

_REQUIRED = {
    'engineio.Server': (engineio.Server, ('_handle_connect', '_trigger_event',
                                          'handle_request', '_upgrades',
                                          '_generate_sid_cookie', '_ok')),
    'engineio.socket.Socket': (None, ('_upgrade_websocket', 'schedule_ping',
                                      'handle_post_request', 'poll',
                                      'handle_get_request', 'close')),
}


def _version():
    try:
        from importlib.metadata import version
        text = version('python-engineio')
    except Exception:  # pragma: no cover - not installed as a distribution
        text = getattr(engineio, '__version__', '0')
    parts = []
    for piece in text.split('.')[:2]:
        digits = ''.join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts), text


def _check():
    """None when our engine fits this python-engineio, else why not."""
    if os.environ.get('FLASK_SOCKETIO_FAST_STOCK_ENGINE') == '1':
        return 'FLASK_SOCKETIO_FAST_STOCK_ENGINE=1 is set'
    version, text = _version()
    low, high = SUPPORTED
    if not low <= version < high:
        return (f'python-engineio {text} is outside the supported '
                f'{low[0]}.{low[1]} - <{high[0]}.{high[1]}')
    import engineio.socket
    _REQUIRED['engineio.socket.Socket'] = (
        engineio.socket.Socket, _REQUIRED['engineio.socket.Socket'][1])
    for name, (cls, attrs) in _REQUIRED.items():
        missing = [a for a in attrs if not hasattr(cls, a)]
        if missing:
            return f'{name} lacks {", ".join(missing)}'
    return None


def engine_server_class():
    reason = _check()
    if reason is not None:
        return engineio.Server, f'stock engine.io ({reason})'
    from .server import EngineServer
    return EngineServer, None


__all__ = ['engine_server_class', 'SUPPORTED']
