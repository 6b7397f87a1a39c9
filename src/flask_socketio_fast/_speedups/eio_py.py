"""Engine.IO packet and polling-payload codec in pure Python: the twin of the
compiled ``eio_c``.

Same results as ``engineio.packet.Packet`` / ``engineio.payload.Payload``
(python-engineio 4.x), except that a packet type must be an ASCII digit
(``ProtocolViolation``, a ValueError, where upstream's ``int()`` takes any
Unicode decimal digit): text packets are ``<type><data>``, binary ones travel
raw over WebSocket or as ``b`` + base64 in polling payloads, and payloads
join packets with the record separator ``\\x1e``.

API shared with ``eio_c``:

* ``decode_packet(encoded, loads)`` -> ``(packet_type, data, binary)``
* ``encode_packet(packet_type, data, binary, b64, dumps)`` -> str or bytes
* ``decode_payload(encoded, max_packets, loads)`` -> list of the tuples above
* ``encode_payload(encoded_packets, jsonp_index=None)`` -> str
"""

import base64
import urllib.parse

from .errors import (DecodeKeyError, DecodeRecursionError, DecodeTypeError,
                     ProtocolViolation)

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)

IMPLEMENTATION = 'python'

_COMPACT = (',', ':')


def decode_packet(encoded, loads):
    """Parse one packet; ``loads`` is the JSON module's ``loads``.

    Text that is not JSON (or starts with a digit, which engine.io never
    parses as JSON) is kept as a string, like upstream does.
    """
    binary = isinstance(encoded, (bytes, bytearray))
    if not binary and len(encoded) == 0:
        raise ValueError('Invalid empty packet received')
    if not binary and encoded[0] == 'b':
        try:
            return MESSAGE, base64.b64decode(encoded[1:]), True
        except TypeError as exc:
            raise DecodeTypeError(*exc.args) from exc
    if binary:
        if not isinstance(encoded, bytes):
            encoded = bytes(encoded)
        return MESSAGE, encoded, True
    packet_type = int(encoded[0])
    # int() takes any Unicode decimal digit; we take ASCII only
    violation = not '0' <= encoded[0] <= '9'
    too_deep = None
    try:
        if encoded[1].isnumeric():
            # engine.io refuses integer payloads (python-engineio issue 75)
            raise ValueError
        data = loads(encoded[1:])
    except RecursionError as exc:
        too_deep = exc
    except (ValueError, IndexError):
        data = encoded[1:]
    if too_deep is not None:
        # upstream lets the RecursionError out; keep it, as a ValueError
        raise DecodeRecursionError(*too_deep.args) from too_deep
    if violation:
        raise ProtocolViolation('packet type is not an ASCII digit')
    return packet_type, data, False


def encode_packet(packet_type, data, binary, b64, dumps):
    """Encode one packet; ``dumps`` is the JSON module's ``dumps``."""
    if binary:
        if b64:
            return 'b' + base64.b64encode(data).decode('utf-8')
        return data
    head = str(packet_type)
    if isinstance(data, str):
        return head + data
    if isinstance(data, (dict, list)):
        return head + dumps(data, separators=_COMPACT)
    if data is not None:
        return head + str(data)
    return head


def split_payload(encoded, max_packets):
    """The encoded packets of a polling payload, not yet decoded."""
    if len(encoded) == 0:
        return []
    if encoded.startswith('d='):
        # JSONP POST body
        try:
            encoded = urllib.parse.parse_qs(encoded)['d'][0]
        except KeyError as exc:
            raise DecodeKeyError(*exc.args) from exc
    parts = encoded.split('\x1e')
    if len(parts) > max_packets:
        raise ValueError('Too many packets in payload')
    return parts


def decode_payload(encoded, max_packets, loads):
    """Decode a polling payload into ``(packet_type, data, binary)`` tuples."""
    return [decode_packet(part, loads)
            for part in split_payload(encoded, max_packets)]


def encode_payload(encoded_packets, jsonp_index=None):
    """Join already encoded (b64) packets into a polling payload."""
    payload = '\x1e'.join(encoded_packets)
    if jsonp_index is not None:
        payload = '___eio[' + str(jsonp_index) + ']("' + \
            payload.replace('"', '\\"') + '");'
    return payload
