"""Stand-ins shared by the client-manager tests.

``RecordingServer`` replaces ``socketio.Server`` where only the manager is
under test: deterministic sids, and a log of every packet the manager hands
to ``_send_eio_packet`` / ``_send_packet``.
"""

import logging

import socketio

# managers log every unknown ack at WARNING; the random tests make plenty
_QUIET = logging.getLogger('tests.manager.quiet')
_QUIET.setLevel(logging.CRITICAL)
_QUIET.propagate = False

class CountingEio:
    """Just enough of an Engine.IO server for a manager: sid generation."""

    def __init__(self):
        self.count = 0

    def generate_id(self):
        self.count += 1
        return f'sid{self.count}'


class RecordingServer:
    """A stand-in ``socketio.Server`` that logs what the manager sends."""

    packet_class = socketio.packet.Packet

    def __init__(self):
        self.eio = CountingEio()
        self.sent = []
        self.logger = _QUIET

    def _send_eio_packet(self, eio_sid, eio_pkt):
        self.sent.append(('eio', eio_sid, eio_pkt.packet_type,
                          eio_pkt.encode()))

    def _send_packet(self, eio_sid, pkt):
        self.sent.append(('sio', eio_sid, pkt.encode()))


def make_manager(kind, twin=None):
    """``'upstream'`` -> socketio.Manager, ``'fast'`` -> FastManager(twin);
    either attached to a fresh RecordingServer."""
    from flask_socketio_fast.manager import FastManager

    manager = socketio.Manager() if kind == 'upstream' \
        else FastManager(speedups=twin)
    server = RecordingServer()
    manager.set_server(server)
    return manager, server
