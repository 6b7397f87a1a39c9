"""Helpers shared by the codec tests: outcome capture and strict equality."""

import math

from engineio import json as engineio_json
from engineio import packet as engineio_packet
from socketio import packet as upstream

from flask_socketio_fast._speedups.errors import ProtocolViolation

UpstreamPacket = upstream.Packet


def run(fn, *args, **kwargs):
    """``('ok', value)`` or ``('err', exception)``."""
    try:
        return 'ok', fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- the exception is the result
        return 'err', exc


def same(a, b):
    """Deep equality that also compares types (1 vs 1.0 vs True), treats
    NaN as equal to NaN and tells -0.0 from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def same_error(ours, theirs, message=True):
    """Ours is an instance of upstream's exception type (our classes may
    add ValueError), optionally with the same message."""
    return isinstance(ours, type(theirs)) and (
        not message or str(ours) == str(theirs))


def state(pkt):
    return (pkt.packet_type, pkt.namespace, pkt.id, pkt.data,
            pkt.attachment_count)


def with_json(cls, module):
    """A subclass of a packet class using ``module`` as its JSON module,
    as python-socketio's ``json=`` would set it (without touching ``cls``)."""
    return type(cls.__name__, (cls,), {'json': module})


def upstream_decode(text):
    return state(UpstreamPacket(encoded_packet=text))


def upstream_with_attachments(text, attachments):
    pkt = UpstreamPacket(encoded_packet=text)
    results = [pkt.add_attachment(a) for a in attachments]
    return state(pkt), results


# -- the strictness rules (docs/security.md, "Strictness") -------------------
#
# Where upstream accepts a packet that the protocol forbids, ours raises
# ProtocolViolation instead.  The rules, restated here from the protocol
# (not from our decoder) so the parity tests can tell a deliberate refusal
# from a difference:

def _non_finite(data):
    if isinstance(data, float):
        return not math.isfinite(data)
    if isinstance(data, list):
        return any(_non_finite(item) for item in data)
    if isinstance(data, dict):
        return any(_non_finite(item) for item in data.values())
    return False


def _placeholders(data, found):
    # where upstream's reconstruct_binary looks: lists and dict values; a
    # dict with a truthy _placeholder and a num is one
    if isinstance(data, list):
        for item in data:
            _placeholders(item, found)
    elif isinstance(data, dict):
        if data.get('_placeholder') and 'num' in data:
            found.append(data['num'])
        else:
            for item in data.values():
                _placeholders(item, found)
    return found


def _header_digits_not_ascii(text):
    """Upstream read a packet type, attachment count or ack id from
    Unicode digits that are not ASCII."""
    if not '0' <= text[0] <= '9':
        return True
    rest = text[1:]
    dash = rest.find('-')
    if dash > 0 and rest[:dash].isdigit():
        if not rest[:dash].isascii():
            return True
        rest = rest[dash + 1:]
    if rest.startswith('/'):
        comma = rest.find(',')
        rest = '' if comma == -1 else rest[comma + 1:]
    end = 0
    while end < len(rest) and end < 100 and rest[end].isdigit():
        end += 1
    return not rest[:end].isascii()


def strictly_refused(text, json_strict=True):
    """True when upstream decodes ``text`` but the strictness rules refuse
    it; ``json_strict``: our built-in JSON is in use (with a user's JSON
    module, NaN and Infinity are that module's business)."""
    if not isinstance(text, str) or not text:
        return False
    try:
        pkt = UpstreamPacket(encoded_packet=text)
    except Exception:  # noqa: BLE001 -- upstream refuses it too
        return False
    if _header_digits_not_ascii(text):
        return True
    if json_strict and _non_finite(pkt.data):
        return True
    if pkt.packet_type in (upstream.BINARY_EVENT, upstream.BINARY_ACK):
        nums = _placeholders(pkt.data, [])
        count = pkt.attachment_count
        return not (count > 0 and len(nums) == count and all(
            type(n) is int for n in nums) and sorted(nums) == list(
                range(count)))
    return False


def eio_strictly_refused(text):
    """The same for an Engine.IO packet: a type in non-ASCII digits."""
    if not isinstance(text, str) or not text or text[0] == 'b':
        return False
    try:
        engineio_packet.Packet(encoded_packet=text)
    except Exception:  # noqa: BLE001
        return False
    return not '0' <= text[0] <= '9'


def is_violation(outcome):
    return outcome[0] == 'err' and isinstance(outcome[1], ProtocolViolation)


__all__ = ['UpstreamPacket', 'engineio_json', 'eio_strictly_refused',
           'is_violation', 'run', 'same', 'same_error', 'state',
           'strictly_refused', 'with_json']


def drain(sock):
    """Everything a socket has to read now (it is made non-blocking)."""
    sock.setblocking(False)
    got = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            return bytes(got)
        if not chunk:
            return bytes(got)
        got += chunk
