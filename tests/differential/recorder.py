"""Record everything a scenario makes observable, as plain data that two runs can compare.

A ``Recorder`` builds the scenario's app with one implementation, creates named test clients,
and runs steps. After every step it snapshots, per client: the events it received (the test
client's queue), the packets the server sent it through the packet hook (connects, connect
errors with their arguments, disconnects, acks, events asking for an ack), its connected
namespaces and its rooms; plus notes that handlers add with ``rec.note(...)`` and the step's
return value or exception. Session ids are random, so at the end every sid and eio sid is
replaced by a stable label such as ``'b:/chat#1'``.
"""
import json
import re

import flask
from socketio import packet as sio_packet


def _plain(data):
    # tuples and lists are the same on the wire; bytes stay bytes
    try:
        return json.loads(json.dumps(data))
    except TypeError:
        if isinstance(data, (list, tuple)):
            return [_plain(d) for d in data]
        if isinstance(data, dict):
            return {k: _plain(v) for k, v in data.items()}
        if isinstance(data, (bytes, bytearray)):
            return data
        try:
            json.dumps(data)
            return data
        except TypeError:  # e.g. a Flask test client passed as an option
            return '<%s>' % type(data).__name__


class Recorder:
    def __init__(self, mod):
        self.mod = mod
        self.app = None
        self.sio = None
        self.clients = {}          # name -> test client, in creation order
        self.namespaces = {}       # name -> namespaces the client ever tried
        self.labels = {}           # sid or eio sid -> label
        self.sids = {}             # (name, namespace) -> current sid
        self._generation = {}
        self._pending_name = None
        self._notes = []
        self._packets = []
        self.log = []
        self._client_class = self._make_client_class()

    # -- building ------------------------------------------------------------------------------

    def build(self, app=None, **options):
        options.setdefault('async_mode', 'threading')
        self.app = app or flask.Flask('differential')
        self.app.config['SECRET_KEY'] = 'differential'
        self.sio = self.mod.SocketIO(self.app, **options)
        return self.app, self.sio

    def _make_client_class(self):
        rec = self

        class RecordingTestClient(self.mod.SocketIOTestClient):
            # every connect, including the one the constructor makes, goes through here, after
            # the constructor has installed this client's packet hook
            def connect(self, namespace=None, query_string=None, headers=None, auth=None):
                rec._install_spy()
                try:
                    return super().connect(namespace=namespace, query_string=query_string,
                                           headers=headers, auth=auth)
                finally:
                    rec._learn(self, namespace or '/')

        return RecordingTestClient

    def _install_spy(self):
        server = self.sio.server
        inner = server._send_packet
        if getattr(inner, '_differential_spy', False):
            return

        def spying_send_packet(eio_sid, pkt):
            self._packets.append((eio_sid, pkt.packet_type, pkt.namespace or '/',
                                  _plain(pkt.data), pkt.id))
            if pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict):
                # a connection that is rejected right after being accepted (always_connect)
                # is gone before _learn() can ask the manager for its sid
                self._label_sid(self._name_of_eio_sid(eio_sid), pkt.namespace or '/',
                                pkt.data.get('sid'))
            return inner(eio_sid, pkt)

        spying_send_packet._differential_spy = True
        server._send_packet = spying_send_packet

    def _name_of(self, client):
        for name, c in self.clients.items():
            if c is client:
                return name
        return self._pending_name

    def _name_of_eio_sid(self, eio_sid):
        for name, c in self.clients.items():
            if c is not None and c.eio_sid == eio_sid:
                return name
        return self._pending_name

    def _label_sid(self, name, namespace, sid):
        if sid and sid not in self.labels:
            n = self._generation.get((name, namespace), 0) + 1
            self._generation[(name, namespace)] = n
            self.labels[sid] = '%s:%s#%d' % (name, namespace, n)

    def _learn(self, client, namespace):
        name = self._name_of(client)
        self.labels.setdefault(client.eio_sid, '%s:eio' % name)
        self.namespaces.setdefault(name, [])
        if namespace not in self.namespaces[name]:
            self.namespaces[name].append(namespace)
        sid = self.sio.server.manager.sid_from_eio_sid(client.eio_sid, namespace)
        self._label_sid(name, namespace, sid)
        if sid:
            self.sids[(name, namespace)] = sid

    # -- scenario API ----------------------------------------------------------------------------

    def note(self, *items):
        """Called from handlers: record what the handler saw."""
        self._notes.append(_plain(list(items)))

    def sort_rooms(self, rooms):
        """Sort room names as their labels sort, so the order does not depend on random sids."""
        return sorted((str(r) for r in rooms), key=lambda r: self.labels.get(r, r))

    def sid(self, name, namespace='/'):
        return self.sids[(name, namespace)]

    def client(self, name, namespace=None, **kwargs):
        def create():
            self._pending_name = name
            self.clients[name] = None  # keep creation order
            try:
                client = self._client_class(self.app, self.sio, namespace=namespace, **kwargs)
            finally:
                self._pending_name = None
            self.clients[name] = client
            self._learn(client, namespace or '/')
        self.step(('client', name, namespace, kwargs), create)
        return self.clients[name]

    def connect(self, name, namespace=None, **kwargs):
        return self.step(('connect', name, namespace, kwargs),
                         lambda: self.clients[name].connect(namespace, **kwargs))

    def disconnect(self, name, namespace=None):
        return self.step(('disconnect', name, namespace),
                         lambda: self.clients[name].disconnect(namespace))

    def emit(self, name, event, *args, namespace=None, callback=True):
        return self.step(('emit', name, event, args, namespace, callback),
                         lambda: self.clients[name].emit(event, *args, namespace=namespace,
                                                         callback=callback))

    def send(self, name, data, json=False, namespace=None, callback=True):
        return self.step(('send', name, data, json, namespace, callback),
                         lambda: self.clients[name].send(data, json=json, namespace=namespace,
                                                         callback=callback))

    def server(self, description, fn):
        """A server-side action outside any handler (SocketIO.emit, close_room, ...)."""
        return self.step(('server', description), fn)

    def ack(self, name, *args):
        """Answer the oldest unanswered server event to ``name`` that asked for an ack."""
        client = self.clients[name]
        pending = [p for p in self._acked_candidates if p[0] == client.eio_sid]
        target = pending[0]
        self._acked_candidates.remove(target)
        pkt = sio_packet.Packet(sio_packet.ACK, data=list(args), namespace=target[2], id=target[4])
        self.step(('ack', name, args),
                  lambda: self.sio.server._handle_eio_message(client.eio_sid, pkt.encode()))

    # -- recording -----------------------------------------------------------------------------

    _acked_candidates = None

    def step(self, description, fn):
        if self._acked_candidates is None:
            self._acked_candidates = []
        try:
            outcome = ('ok', _plain(fn()))
        except Exception as exc:  # the exception is part of the behaviour under comparison
            # name and message only: tracebacks differ between implementations
            outcome = ('raised', type(exc).__name__, str(exc))
        entry = {'step': _plain(list(description)), 'outcome': outcome,
                 'notes': self._notes, 'clients': self._snapshot()}
        self._notes = []
        self.log.append(entry)
        return outcome[1] if outcome[0] == 'ok' else None

    def _snapshot(self):
        packets, self._packets = self._packets, []
        for p in packets:
            if p[1] in (sio_packet.EVENT, sio_packet.BINARY_EVENT) and p[4] is not None:
                self._acked_candidates.append(p)
        snap = {}
        for name, client in self.clients.items():
            if client is None:
                continue
            received, client.queue = client.queue, []
            state = {
                'received': _plain(received),
                'packets': [[ptype, ns, data, pid is not None]
                            for eio_sid, ptype, ns, data, pid in packets
                            if eio_sid == client.eio_sid],
                'connected': sorted(ns for ns in self.namespaces.get(name, [])
                                    if client.is_connected(ns)),
                'rooms': {},
            }
            for ns in state['connected']:
                sid = self.sio.server.manager.sid_from_eio_sid(client.eio_sid, ns)
                if sid:
                    state['rooms'][ns] = self.sort_rooms(self.sio.server.rooms(sid, ns))
            snap[name] = state
        return snap

    def result(self):
        """The whole recording with sids replaced by labels."""
        labels = dict(self.labels)
        return _relabel(self.log, labels)


# python-socketio sids: 15 random bytes, base64url; one seen only inside a handler (a rejected
# connection's sid) gets a label by order of first appearance
_SID_SHAPE = re.compile(r'^[A-Za-z0-9_-]{20}$')


def _relabel(data, labels):
    if isinstance(data, float) and data != data:
        return '<NaN>'  # NaN never equals itself
    if isinstance(data, str):
        if data not in labels and _SID_SHAPE.match(data):
            labels[data] = 'unlearned-sid#%d' % sum(
                1 for v in labels.values() if v.startswith('unlearned-sid#'))
        return labels.get(data, data)
    if isinstance(data, list):
        return [_relabel(d, labels) for d in data]
    if isinstance(data, tuple):
        return tuple(_relabel(d, labels) for d in data)
    if isinstance(data, dict):
        return {_relabel(k, labels): _relabel(v, labels) for k, v in data.items()}
    return data
