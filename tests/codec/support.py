"""Helpers shared by the codec tests: outcome capture and strict equality."""

import math

from engineio import json as engineio_json
from socketio import packet as upstream

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


__all__ = ['UpstreamPacket', 'engineio_json', 'run', 'same', 'same_error',
           'state', 'with_json']
