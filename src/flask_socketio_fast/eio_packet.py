"""Engine.IO packet and payload classes on the fast codec.

``Packet`` and ``Payload`` subclass ``engineio.packet.Packet`` and
``engineio.payload.Payload`` and give the same results; use them wherever
flask-socketio-fast builds or parses Engine.IO packets itself.  ``Packet.json``
is inherited from engineio's class, so ``json=`` given to the server (which
engineio assigns there) applies here too.
"""

from engineio import packet as _packet
from engineio import payload as _payload

from . import _speedups

__all__ = ['Packet', 'Payload', 'packet_classes']

_classes = {}


def packet_classes(implementation=None):
    """``(Packet, Payload)`` built on one implementation ('c' or 'python');
    the selected one by default."""
    codec = _speedups.eio if implementation is None else \
        _speedups.load(implementation).eio
    found = _classes.get(codec.IMPLEMENTATION)
    if found is None:
        found = _build(codec)
        # module-level names keep instances picklable
        suffix = '' if codec is _speedups.eio else f'_{codec.IMPLEMENTATION}'
        for cls in found:
            cls.__qualname__ = cls.__name__ + suffix
            globals()[cls.__qualname__] = cls
        _classes[codec.IMPLEMENTATION] = found
    return found


def _build(codec):
    decode_packet = codec.decode_packet
    encode_packet = codec.encode_packet
    split_payload = codec.split_payload
    encode_payload = codec.encode_payload
    binary_types = (bytes, bytearray)

    class Packet(_packet.Packet):
        """Engine.IO packet (python-engineio compatible)."""

        def __init__(self, packet_type=_packet.NOOP, data=None,
                     encoded_packet=None):
            self.packet_type = packet_type
            self.data = data
            self.encode_cache = None
            self.binary = isinstance(data, binary_types)
            if self.binary and packet_type != _packet.MESSAGE:
                raise ValueError('Binary packets can only be of type MESSAGE')
            if encoded_packet is not None:
                self.decode(encoded_packet)

        def encode(self, b64=False):
            """Encode for transmission; cached after the first call, like
            upstream (later changes to the data are not seen)."""
            if self.encode_cache:
                return self.encode_cache
            self.encode_cache = encode_packet(
                self.packet_type, self.data, self.binary, b64,
                self.json.dumps)
            return self.encode_cache

        def decode(self, encoded_packet):
            """Decode a transmitted packet."""
            self.packet_type, self.data, self.binary = decode_packet(
                encoded_packet, self.json.loads)

    class Payload(_payload.Payload):
        """Engine.IO polling payload (python-engineio compatible)."""

        def encode(self, jsonp_index=None):
            return encode_payload([pkt.encode(b64=True)
                                   for pkt in self.packets], jsonp_index)

        def decode(self, encoded_payload):
            self.packets = []
            self.packets = [
                Packet(encoded_packet=part) for part in
                split_payload(encoded_payload, self.max_decode_packets)]

    return Packet, Payload


Packet, Payload = packet_classes()
