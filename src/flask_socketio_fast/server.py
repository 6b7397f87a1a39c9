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
* **Direct sends**: a packet to one client (acks, emits to a sid) goes to
  the engine's ``send_text`` when the engine is ours and its ``send`` is
  python-engineio's; the bytes on the wire are the same.
"""

import logging

import engineio
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
            # the engine's pool when it has one: its hub-driven readers run
            # an event's handler on the worker that read it (green_pool.py)
            self._handler_pool = getattr(self.eio, 'green_pool', None) or \
                green_pool.pool_for(mode)
            self.fast_paths['handlers'] = 'pooled greenlets'
        elif mode != 'threading':
            self.fast_paths['handlers'] = f'stock ({mode})'
        else:
            self._handler_pool = HandlerPool(max_workers=max_handler_threads)
            bound = max_handler_threads or 'no'
            self.fast_paths['handlers'] = f'pooled threads ({bound} bound)'
        self._direct_sends = self._engine_takes_text(self.eio)
        self.fast_paths['sends'] = 'direct' if self._direct_sends else \
            'stock (not our engine)'

    @staticmethod
    def _engine_takes_text(eio):
        cls = type(eio)
        return callable(getattr(cls, 'send_text', None)) and \
            cls.send is engineio.Server.send and \
            cls.send_packet is engineio.Server.send_packet

    def _send_packet(self, eio_sid, pkt):
        encoded = pkt.encode()
        eio = self.eio
        if isinstance(encoded, list):
            for part in encoded:
                eio.send(eio_sid, part)
        elif self._direct_sends and 'send' not in eio.__dict__ and \
                'send_packet' not in eio.__dict__:
            # (checked per packet: a spy may replace them on the instance)
            eio.send_text(eio_sid, encoded)
        else:
            eio.send(eio_sid, encoded)

    # what the broadcast loop needs of a stock _send_packet: it sends the
    # encoded packet through eio.send, nothing more (manager._hooks_are_stock)
    _send_packet.forwards_to_eio = True

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
