"""flask-socketio-fast: a drop-in, faster replacement for Flask-SocketIO.

Change ``from flask_socketio import ...`` to
``from flask_socketio_fast import ...``; the API and behaviour are those of
Flask-SocketIO 5.x (deliberate differences are listed in
docs/differences.md).

``IMPLEMENTATION`` says whether the compiled speedups (``'c'``) or their
pure-Python twins (``'python'``) are active.
"""

from socketio.exceptions import ConnectionRefusedError

from ._speedups import IMPLEMENTATION
from .extension import SocketIO
from .helpers import (call, close_room, disconnect, emit, join_room,
                      leave_room, rooms, send)
from .namespace import Namespace
from .test_client import SocketIOTestClient

__version__ = '0.1.0'

__all__ = [
    'IMPLEMENTATION', 'SocketIO', 'SocketIOTestClient', 'Namespace',
    'ConnectionRefusedError', 'emit', 'send', 'call', 'join_room',
    'leave_room', 'close_room', 'rooms', 'disconnect',
]
