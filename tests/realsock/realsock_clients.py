"""A python-socketio ``Client`` that records what it sees, in arrival order.

Stock ``socketio.Client`` dispatches every Engine.IO message in its own
thread, so two events sent back to back may be recorded in either order, and
"did client C receive nothing?" cannot be answered reliably. Here messages
are handed to one worker thread in arrival order instead, which makes a
round-trip ack a real fence: anything the server queued for this client
before the ack is recorded before the ack is seen.
"""

import logging
import queue
import threading

import engineio
import engineio.packet
import engineio.payload
import requests
import socketio

TIMEOUT = 15

# python-engineio refuses a polling payload of more than 16 packets, but its
# server puts everything queued for a client into one payload, so a burst of
# emits kills a polling-only python client (any server implementation).
# This process is only ever a client: lift the cap here.
engineio.payload.Payload.max_decode_packets = 1000



class _DropAbortedQueueNoise(logging.Filter):
    # a polling client closed with abort=True (see disconnect below) leaves
    # a write loop that logs this once its queue times out, possibly after
    # pytest has finished
    def filter(self, record):
        return record.getMessage() != 'packet queue is empty, aborting'


logging.getLogger('engineio.client').addFilter(_DropAbortedQueueNoise())
OK = {'token': 'ok'}  # auth the scenario app accepts
TRANSPORTS = {
    'websocket': ['websocket'],
    'upgrade': None,  # python-socketio default: polling, then upgrade
    'polling': ['polling'],
}


class _SerialEngineIOClient(engineio.Client):
    """Engine.IO client that runs message handlers one at a time, in order."""

    _serial_queue = None
    pings = 0  # PINGs received from the server (answered by the base class)
    on_ping = None

    def _receive_packet(self, pkt):
        super()._receive_packet(pkt)
        if pkt.packet_type == engineio.packet.PING:
            self.pings += 1
            if self.on_ping is not None:
                self.on_ping()

    def _trigger_event(self, event, *args, **kwargs):
        if event == 'message' and kwargs.get('run_async'):
            if self._serial_queue is None:
                self._serial_queue = queue.Queue()
                threading.Thread(target=self._serial_worker,
                                 args=(self._serial_queue,),
                                 daemon=True).start()
            self._serial_queue.put(args)
            return None
        result = super()._trigger_event(event, *args, **kwargs)
        if event == 'disconnect' and self._serial_queue is not None:
            # messages already queued are still delivered, then it ends
            self._serial_queue.put(None)
            self._serial_queue = None
        return result

    def _serial_worker(self, messages):
        while True:
            args = messages.get()
            if args is None:
                return
            super()._trigger_event('message', *args, run_async=False)

    def disconnect(self, abort=False, reason=None):
        # websocket-client's close() waits up to 3 s for the server's close
        # frame, which the read loop thread usually swallows first; our close
        # frame is on the wire before that wait starts, so a short one is
        # enough and keeps the suite fast
        ws = getattr(self, 'ws', None)
        if ws is not None and self.current_transport == 'websocket':
            close = ws.close
            ws.close = lambda *a, **kw: close(timeout=0.1)
        if self.current_transport == 'polling':
            # the read loop may have a long-poll GET in flight that the
            # server only answers at the next ping (25 s); don't join it
            abort = True
        return super().disconnect(abort=abort, reason=reason)


class _SerialClient(socketio.Client):
    def _engineio_client_class(self):
        return _SerialEngineIOClient


class Recorder:
    """Connects to the scenario app and records events per namespace.

    ``events`` holds ``(namespace, event, args)`` tuples; reserved events
    are recorded too, as ``connect``, ``connect_error`` and ``disconnect``.
    Client-side handlers for ``server_call`` and ``ask`` answer the server's
    acks with ``['client-ack', data]`` and ``('a1', data)``.
    """

    def __init__(self, url, transport='websocket',
                 namespaces=('/',)):
        self.url = url
        self.transport = transport
        self.namespaces = list(namespaces)
        self.events = []
        self.sids = {}  # namespace -> sid, kept after disconnecting
        self._cond = threading.Condition()
        self.sio = _SerialClient(reconnection=False, handle_sigint=False)
        self.sio.eio.on_ping = self._notify
        for ns in self.namespaces:
            self._install(ns)

    def _notify(self):
        with self._cond:
            self._cond.notify_all()

    def wait_for_pings(self, count):
        """Block until the server has pinged us ``count`` times."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self.sio.eio.pings >= count,
                                     timeout=TIMEOUT)
        if not ok:
            raise AssertionError('got %d of %d pings in %ss' % (
                self.sio.eio.pings, count, TIMEOUT))

    def _install(self, ns):
        sio = self.sio

        def record(event, args):
            with self._cond:
                self.events.append((ns, event, list(args)))
                self._cond.notify_all()

        sio.on('connect', lambda: record('connect', []), namespace=ns)
        sio.on('connect_error', lambda *a: record('connect_error', a),
               namespace=ns)
        sio.on('disconnect', lambda reason: record('disconnect', [reason]),
               namespace=ns)
        sio.on('*', lambda event, *a: record(event, a), namespace=ns)

        def server_call(data):
            record('server_call', [data])
            return ['client-ack', data]

        def ask(data):
            record('ask', [data])
            return 'a1', data

        sio.on('server_call', server_call, namespace=ns)
        sio.on('ask', ask, namespace=ns)

    # ------------------------------------------------------------ connection

    def connect(self, auth=None, namespaces=None, headers=None):
        # a copy: engineio's websocket upgrade deletes "Cookie" from the
        # dict it is given
        self.sio.connect(self.url, auth=auth, headers=dict(headers or {}),
                         transports=TRANSPORTS[self.transport],
                         namespaces=namespaces or self.namespaces,
                         wait_timeout=TIMEOUT)
        self.sids = dict(self.sio.namespaces)
        return self

    def disconnect(self):
        if self.sio.connected:
            self.sio.disconnect()

    def sid(self, namespace='/'):
        return self.sio.get_sid(namespace)

    # -------------------------------------------------------------- traffic

    def emit(self, event, *args, namespace='/'):
        self.sio.emit(event, _payload(args), namespace=namespace)

    def ack(self, event, *args, namespace='/'):
        """Emit and return the ack arguments as a list."""
        got = self.try_ack(event, *args, namespace=namespace)
        if got is None:
            raise AssertionError('disconnected before the ack for %r'
                                 % (event,))
        return got

    def try_ack(self, event, *args, namespace='/'):
        """Like ack(), but None if the namespace disconnects first."""
        return self._acked(lambda cb: self.sio.emit(
            event, _payload(args), namespace=namespace, callback=cb),
            event, namespace)

    def send(self, data, namespace='/'):
        """``Client.send`` (the reserved ``message`` event), returning the
        ack arguments."""
        got = self._acked(lambda cb: self.sio.send(
            data, namespace=namespace, callback=cb), 'message', namespace)
        if got is None:
            raise AssertionError('disconnected before the ack for send')
        return got

    def _acked(self, emit, event, namespace):
        box = []

        def callback(*answer):
            with self._cond:
                box.append(list(answer))
                self._cond.notify_all()

        emit(callback)
        with self._cond:
            self._cond.wait_for(
                lambda: box or self.received('disconnect', namespace),
                timeout=TIMEOUT)
        if box:
            return box[0]
        if self.received('disconnect', namespace):
            return None
        raise AssertionError('no ack for %r within %ss' % (event, TIMEOUT))

    def fence(self, namespace='/'):
        """Round trip to the server: everything sent to us before it has
        been recorded once this returns."""
        self.ack('echo', 'fence', namespace=namespace)

    # ------------------------------------------------------------ reading

    def wait_for(self, event, namespace='/', count=1):
        """Block until ``count`` ``event``s arrived; return their args.
        Gives up early if the namespace disconnects first."""
        def done():
            return (len(self.received(event, namespace)) >= count
                    or (event != 'disconnect'
                        and self.received('disconnect', namespace)))

        with self._cond:
            self._cond.wait_for(done, timeout=TIMEOUT)
            found = self.received(event, namespace)
        if len(found) < count:
            seen = repr(self.events)
            if len(seen) > 1500:
                seen = seen[:700] + ' ... ' + seen[-700:]
            raise AssertionError('waited %ss for %d %r on %s, got %s' % (
                TIMEOUT, count, event, namespace, seen))
        return found

    def received(self, event, namespace='/'):
        return [self.unsid(args) for ns, ev, args in list(self.events)
                if ns == namespace and ev == event]

    def app_events(self, namespace='/'):
        """``(event, args)`` for ``namespace``, without connect/disconnect."""
        return [(ev, self.unsid(args)) for ns, ev, args in list(self.events)
                if ns == namespace and ev not in ('connect', 'disconnect')]

    def unsid(self, obj):
        """``obj`` with this client's own sids replaced by ``<self ns>``:
        sids are random, observations must compare equal across runs."""
        names = {sid: '<self %s>' % ns for ns, sid in self.sids.items()}
        return _replace(obj, names)


def _replace(obj, names):
    if isinstance(obj, str):
        return names.get(obj, obj)
    if isinstance(obj, tuple):
        return tuple(_replace(x, names) for x in obj)
    if isinstance(obj, list):
        return [_replace(x, names) for x in obj]
    if isinstance(obj, dict):
        return {_replace(k, names): _replace(v, names)
                for k, v in obj.items()}
    return obj


def _payload(args):
    # python-socketio sends a tuple as several arguments
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


class SimpleClient(socketio.SimpleClient):
    """python-socketio's SimpleClient on the in-order, quick-closing client."""

    client_class = _SerialClient


def server_reasons(url, sid, count=1):
    """The scenario app's record of disconnect reasons for ``sid``:
    ``[[namespace, reason], ...]``, waiting (server-side, bounded) for
    ``count`` of them."""
    r = requests.get('%s/reasons/%s' % (url, sid),
                     params={'count': count, 'timeout': TIMEOUT},
                     timeout=TIMEOUT + 5)
    r.raise_for_status()
    return r.json()
