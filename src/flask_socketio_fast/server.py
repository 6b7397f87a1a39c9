"""Our python-socketio ``Server``: the stock one plus feature-gated fast paths.

Everything here is optional: each fast path checks at start-up that the
python-socketio it runs on has the shape it was written for, and otherwise
leaves the stock behaviour alone and says so in ``fast_paths`` (which
``SocketIO`` logs).

* **Handler pools** (``async_handlers=True``): events run on reused worker
  threads (threading mode, handler_pool.py) or greenlets (eventlet and
  gevent, green_pool.py) instead of a new thread or greenlet each.
* **Engine** (every mode): our engineio.Server subclass (engine/), with its
  own WebSocket driver, frame codec and ping timer, when the installed
  python-engineio is one it was written for.
"""

import logging

import socketio

from .engine import engine_server_class
from . import green_pool
from .handler_pool import HandlerPool

logger = logging.getLogger('flask_socketio_fast')

# python-socketio starts each event handler as
# start_background_task(self._handle_event_internal, ...); we recognise that
# call by the function, which exists in the releases we support
_HANDLE_EVENT_INTERNAL = getattr(socketio.Server, '_handle_event_internal',
                                 None)


class Server(socketio.Server):
    def __init__(self, *args, max_handler_threads=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_paths = {}
        self.fast_paths['engine'] = getattr(
            self.eio, 'fast_path', None) or self._engine_fallback
        self._handler_pool = None
        mode = self.eio.async_mode
        if _HANDLE_EVENT_INTERNAL is None:
            self.fast_paths['handlers'] = (
                'stock (this python-socketio has no _handle_event_internal)')
        elif not self.async_handlers:
            self.fast_paths['handlers'] = 'inline (async_handlers=False)'
        elif mode in ('eventlet', 'gevent'):
            self._handler_pool = green_pool.pool_for(mode)
            self.fast_paths['handlers'] = 'pooled greenlets'
        elif mode != 'threading':
            self.fast_paths['handlers'] = f'stock ({mode})'
        else:
            self._handler_pool = HandlerPool(max_workers=max_handler_threads)
            bound = max_handler_threads or 'no'
            self.fast_paths['handlers'] = f'pooled threads ({bound} bound)'

    def _engineio_server_class(self):
        cls, reason = engine_server_class()
        self._engine_fallback = reason
        return cls

    def start_background_task(self, target, *args, **kwargs):
        pool = self._handler_pool
        if pool is not None and not kwargs and \
                getattr(target, '__func__', None) is _HANDLE_EVENT_INTERNAL:
            pool.submit(target, *args)
            return None
        return super().start_background_task(target, *args, **kwargs)
