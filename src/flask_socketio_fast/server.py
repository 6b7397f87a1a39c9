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
* **Fused event dispatch**: an inbound EVENT packet (the common case: not
  a binary attachment, our packet class with its own JSON) goes from the
  engine's message to the handler task in one call, doing what
  python-socketio's ``_handle_eio_message`` -> ``_handle_event`` ->
  ``start_background_task`` chain does (the same lookups, checks, log lines
  and errors), when that chain has the shape it was written for.
* **Direct sends**: a packet to one client (acks, emits to a sid) goes to
  the engine's ``send_text`` when the engine is ours and its ``send`` is
  python-engineio's; the bytes on the wire are the same.
"""

import logging

import engineio
import socketio

from . import _speedups, green_pool, jsonmod
from .engine import engine_server_class
from .handler_pool import HandlerPool
from .packet import Packet

logger = logging.getLogger('flask_socketio_fast')

# the selected codec's decoder: what Packet(encoded_packet=...) runs
_decode_packet = _speedups.packet.decode
_fused_dumps = _speedups.packet.fused_dumps
_ACK = socketio.packet.ACK

# python-socketio starts each event handler as
# start_background_task(self._handle_event_internal, ...), which our
# start_background_task recognises; releases without it keep stock handlers
_HANDLE_EVENT_INTERNAL = getattr(socketio.Server, '_handle_event_internal',
                                 None)

_INFO = logging.INFO


def _stock_dispatch_shape():
    """None when python-socketio's event dispatch is the chain the fused
    path reproduces, else why not (checked by the names its code uses)."""
    needs = {
        '_handle_eio_message': ('_binary_packet', 'packet_class',
                                '_handle_event'),
        '_handle_event': ('sid_from_eio_sid', 'is_connected',
                          'async_handlers', 'start_background_task',
                          '_handle_event_internal'),
        '_handle_event_internal': ('_trigger_event', 'not_handled',
                                   '_send_packet', 'packet_class'),
    }
    for name, names in needs.items():
        code = getattr(getattr(socketio.Server, name, None), '__code__',
                       None)
        if code is None:
            return f'this python-socketio has no Server.{name}'
        missing = [n for n in names if n not in code.co_names]
        if missing:
            return f'Server.{name} does not use {", ".join(missing)}'
    return None


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
        why_not = _stock_dispatch_shape()
        if why_not is None:
            # a subclass of ours that overrides a step of the chain gets
            # the chain, with its override
            for name in ('_handle_event', 'start_background_task'):
                if getattr(type(self), name) is not getattr(Server, name):
                    why_not = f'{name} is overridden'
        self._fused_events = why_not is None
        self.fast_paths['events'] = 'fused dispatch' if why_not is None \
            else f'stock ({why_not})'
        use_hub = getattr(self.eio, 'use_reader_hub', None)
        if use_hub is not None and self._fused_events and \
                self.async_handlers and self._handler_pool is not None and \
                use_hub(self._binary_packet):
            # (an EVENT only starts its task: the engine's hub thread may
            # dispatch it, and run it too, engine/thread_reader.py)
            self._handler_pool.inline_hub = self.eio.thread_reader_hub
            self.fast_paths['engine'] = self.eio.fast_path
        self._direct_sends = self._engine_takes_text(self.eio)
        self.fast_paths['sends'] = 'direct' if self._direct_sends else \
            'stock (not our engine)'

    @staticmethod
    def _engine_takes_text(eio):
        cls = type(eio)
        return callable(getattr(cls, 'send_text', None)) and \
            cls.send is engineio.Server.send and \
            cls.send_packet is engineio.Server.send_packet

    def _sends_direct(self):
        # (checked per packet: a spy may replace them on the instance)
        eio_attrs = self.eio.__dict__
        return self._direct_sends and 'send' not in eio_attrs and \
            'send_packet' not in eio_attrs

    def _handle_eio_message(self, eio_sid, data):
        if not self._fused_events or data.__class__ is not str or \
                data[:1] != '2' or eio_sid in self._binary_packet or \
                self.packet_class is not Packet or Packet.json is not jsonmod:
            return super()._handle_eio_message(eio_sid, data)
        # an EVENT ('2'): what _handle_event does, with the handler task
        # started here (the pool's submit is start_background_task's)
        _, namespace, id, args, _ = _decode_packet(data)
        namespace = namespace or '/'
        manager = self.manager
        sid = manager.sid_from_eio_sid(eio_sid, namespace)
        # (read before the level check: a packet without arguments fails
        # here, as python-socketio's log call makes it fail)
        event = args[0]
        logger = self.logger
        if logger.isEnabledFor(_INFO):
            logger.info('received event "%s" from %s [%s]', event, sid,
                        namespace)
        if not manager.is_connected(sid, namespace):
            logger.warning('%s is not connected to namespace %s', sid,
                           namespace)
            return
        if not self.async_handlers:
            self._handle_event_internal(self, sid, eio_sid, args, namespace,
                                        id)
        elif self._handler_pool is not None:
            self._handler_pool.submit(self._handle_event_internal, self, sid,
                                      eio_sid, args, namespace, id)
        else:
            self.start_background_task(self._handle_event_internal, self,
                                       sid, eio_sid, args, namespace, id)

    def _handle_event_internal(self, server, sid, eio_sid, data, namespace,
                               id):
        if not self._fused_events:
            return super()._handle_event_internal(server, sid, eio_sid, data,
                                                  namespace, id)
        r = server._trigger_event(data[0], namespace, sid, *data[1:])
        if r != self.not_handled and id is not None:
            # the ack: the handler's return value, a tuple as several
            # arguments
            if r is None:
                args = []
            elif isinstance(r, tuple):
                args = list(r)
            else:
                args = [r]
            if self.packet_class is Packet and Packet.json is jsonmod and \
                    '_send_packet' not in server.__dict__ and \
                    self._sends_direct():
                # what Packet(ACK, ...).encode() makes, without the packet
                # (None: something orjson alone cannot encode as upstream)
                fused = _fused_dumps(args)
                if fused is not None and not fused[1]:
                    head = '3' if namespace == '/' else '3' + namespace + ','
                    self.eio.send_text(eio_sid,
                                       head + str(id) + fused[0].decode())
                    return
            server._send_packet(eio_sid, self.packet_class(
                _ACK, namespace=namespace, id=id, data=args))

    def _send_packet(self, eio_sid, pkt):
        encoded = pkt.encode()
        eio = self.eio
        if isinstance(encoded, list):
            for part in encoded:
                eio.send(eio_sid, part)
        elif self._sends_direct():
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
                getattr(target, '__func__', None) is \
                Server._handle_event_internal:
            pool.submit(target, *args)
            return None
        return super().start_background_task(target, *args, **kwargs)
