"""Helpers shared by the API tests: importing an implementation, building apps, spying packets.

The test client only keeps what a user sees (events, the last ack, connected flags). Some
documented behaviour (connect-error arguments, acks sent by the client to the server) is only
observable at the packet level, so ``PacketSpy`` wraps the server's packet hook that the test
client installs and records every outgoing Socket.IO packet.
"""
import importlib
import json
import time

import flask
from socketio import packet

IMPLEMENTATIONS = ('flask_socketio', 'flask_socketio_fast')


def import_impl(name):
    """Import an implementation by module name.

    Returns ``(module, None)``, or ``(None, reason)`` when flask_socketio_fast cannot be
    imported yet (the lead is still writing it). The reference must always import.
    """
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        if name == 'flask_socketio_fast':
            return None, 'flask_socketio_fast is not importable yet: %r' % (exc,)
        raise


def new_app(name='testapp'):
    app = flask.Flask(name)
    app.config['SECRET_KEY'] = 'not-a-secret'
    app.config['TESTING'] = True
    return app


class PacketSpy:
    """Record Socket.IO packets the server sends, and play the client's side of acks.

    Call ``install()`` after every ``test_client()`` construction, because each test client
    replaces the server's packet hook with its own.
    """

    def __init__(self, socketio):
        self.socketio = socketio
        self.packets = []

    def install(self):
        server = self.socketio.server
        inner = server._send_packet

        def spying_send_packet(eio_sid, pkt):
            self.packets.append({
                'eio_sid': eio_sid,
                'type': pkt.packet_type,
                'namespace': pkt.namespace or '/',
                'data': _as_client_sees(pkt.data),
                'id': pkt.id,
            })
            return inner(eio_sid, pkt)

        server._send_packet = spying_send_packet
        return self

    def of_type(self, ptype, eio_sid=None, namespace=None):
        return [p for p in self.packets
                if p['type'] in ((ptype,) if isinstance(ptype, int) else ptype)
                and (eio_sid is None or p['eio_sid'] == eio_sid)
                and (namespace is None or p['namespace'] == namespace)]

    def connect_errors(self, eio_sid=None, namespace=None):
        return [p['data'] for p in self.of_type(packet.CONNECT_ERROR, eio_sid, namespace)]

    def events_with_ack_id(self, eio_sid=None):
        return [p for p in self.of_type((packet.EVENT, packet.BINARY_EVENT), eio_sid)
                if p['id'] is not None]

    def send_ack(self, client, pkt, *args):
        """Answer a server event that asked for an ack, as a real client would."""
        ack = packet.Packet(packet.ACK, data=list(args), namespace=pkt['namespace'],
                            id=pkt['id'])
        encoded = ack.encode()
        for part in (encoded if isinstance(encoded, list) else [encoded]):
            self.socketio.server._handle_eio_message(client.eio_sid, part)


def _as_client_sees(data):
    # tuples and lists are the same thing on the wire; compare what a client would decode
    try:
        return json.loads(json.dumps(data))
    except TypeError:  # binary attachments
        return data


def wait_for(predicate, timeout=5.0, interval=0.005):
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout`` seconds.

    Used only where the behaviour under test is asynchronous by nature (background tasks,
    ``call()`` waiting for an ack); the timeout is a hang guard, not a timed assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('condition not met within %.1fs' % timeout)
        time.sleep(interval)


def names(received):
    """Just the event names of a ``get_received()`` list, in order."""
    return [r['name'] for r in received]
