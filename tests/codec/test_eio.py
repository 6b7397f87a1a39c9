"""Engine.IO packets and polling payloads against python-engineio's own."""

import pytest
from engineio import packet as ep
from engineio import payload as epl

from .support import (eio_strictly_refused, is_violation, run, same,
                      same_error)


def eio_state(pkt):
    return pkt.packet_type, pkt.data, pkt.binary


ENCODE_CASES = [
    (ep.MESSAGE, '2["chat",{"a":1}]', False),
    (ep.MESSAGE, '2["chat",{"a":1}]', True),
    (ep.MESSAGE, b'\x00\x01binary', False),
    (ep.MESSAGE, b'\x00\x01binary', True),
    (ep.MESSAGE, bytearray(b'ba'), True),
    (ep.PING, None, False),
    (ep.PONG, 'probe', False),
    (ep.OPEN, {'sid': 'abc', 'upgrades': ['websocket'], 'pingTimeout': 20000},
     False),
    (ep.MESSAGE, ['list', 1], False),
    (ep.MESSAGE, 42, False),
    (ep.MESSAGE, 'é€', False),
    (ep.NOOP, None, True),
    (ep.PING, b'x', False),
    (9, 'odd', False),
]


@pytest.mark.parametrize('packet_type,data,b64', ENCODE_CASES,
                         ids=lambda v: repr(v)[:30])
def test_packet_encode_identical(impl, packet_type, data, b64):
    def go(cls):
        pkt = cls(packet_type, data)
        return pkt.encode(b64=b64), pkt.encode(b64=not b64), pkt.binary
    ours, theirs = run(go, impl.EioPacket), run(go, ep.Packet)
    assert ours[0] == theirs[0]
    if theirs[0] == 'ok':
        assert ours[1] == theirs[1]
    else:
        assert same_error(ours[1], theirs[1])


DECODE_CASES = [
    '42["chat",{"a":1}]', '40', '4', '2', '2probe', '3probe', '6', '1',
    '0{"sid":"x","upgrades":[],"pingInterval":25000}', '4{"a":1}', '4[1,2]',
    '4hello', '4"quoted"', '4null', '4 1', '4\u00bd', '4\u0663', '4é',
    '\u0663x', 'x', '', 'bAAEC', 'b', 'b!!!', 'bAAE', 'bé', '4' + '[' * 50,
    '4[' + '1' * 101 + ']', '4NaN', b'\x00\x01', b'', bytearray(b'ab'),
    '40/chat,', '4[1]\x00',
]


@pytest.mark.parametrize('encoded', DECODE_CASES, ids=lambda v: repr(v)[:30])
def test_packet_decode_identical(impl, encoded):
    ours = run(lambda: eio_state(impl.EioPacket(encoded_packet=encoded)))
    theirs = run(lambda: eio_state(ep.Packet(encoded_packet=encoded)))
    if eio_strictly_refused(encoded):
        # a type in non-ASCII digits ('\u0663' is 3 for upstream)
        assert is_violation(ours), (ours, theirs)
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])
    else:
        assert same_error(ours[1], theirs[1])
        assert isinstance(ours[1], ValueError)


def test_deep_json_in_eio_packet_is_a_valueerror(impl):
    deep = '4' + '[' * 100000 + ']' * 100000
    ours = run(impl.EioPacket, encoded_packet=deep)
    theirs = run(ep.Packet, encoded_packet=deep)
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1], message=False)
    assert isinstance(ours[1], ValueError)


def test_binary_requires_message_type(impl):
    with pytest.raises(ValueError, match='only be of type MESSAGE'):
        impl.EioPacket(ep.PING, b'x')


def test_encode_is_cached_like_upstream(impl):
    pkt = impl.EioPacket(ep.MESSAGE, 'one')
    assert pkt.encode() == '4one'
    pkt.data = 'two'
    assert pkt.encode() == '4one'


PAYLOADS = [
    '', '4hello', '4a\x1e4b\x1ebAAEC\x1e2', '\x1e'.join(['4x'] * 16),
    '\x1e'.join(['4x'] * 17), 'd=4hello', 'd=4a%1E4b', 'd=', 'x=1', '4a\x1e',
    '\x1e', 'd=%ZZ', '4é\x1e4😀',
]


@pytest.mark.parametrize('encoded', PAYLOADS, ids=lambda v: repr(v)[:30])
def test_payload_decode_identical(impl, encoded):
    def go(cls):
        return [eio_state(p) for p in cls(encoded_payload=encoded).packets]
    ours, theirs = run(go, impl.EioPayload), run(go, epl.Payload)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])
    else:
        assert same_error(ours[1], theirs[1])
        assert isinstance(ours[1], ValueError)


@pytest.mark.parametrize('jsonp', [None, 0, 3])
def test_payload_encode_identical(impl, jsonp):
    def go(packet_cls, payload_cls):
        packets = [packet_cls(ep.MESSAGE, '2["a \\"q\\""]'),
                   packet_cls(ep.MESSAGE, b'\x00bin'),
                   packet_cls(ep.PING), packet_cls(ep.OPEN, {'sid': 'x'})]
        return payload_cls(packets=packets).encode(jsonp_index=jsonp)
    assert go(impl.EioPacket, impl.EioPayload) == go(ep.Packet, epl.Payload)
    assert impl.EioPayload().encode() == epl.Payload().encode() == ''


def test_max_decode_packets_follows_upstreams_class_attribute(impl,
                                                              monkeypatch):
    monkeypatch.setattr(epl.Payload, 'max_decode_packets', 2)
    with pytest.raises(ValueError, match='Too many packets'):
        impl.EioPayload(encoded_payload='4a\x1e4b\x1e4c')


def test_codec_functions_directly(impl):
    from engineio import json as ejson
    assert impl.eio.decode_packet('42["x"]', ejson.loads) == \
        (ep.MESSAGE, '2["x"]', False)
    assert impl.eio.encode_packet(ep.MESSAGE, b'\x01', True, True,
                                  ejson.dumps) == 'bAQ=='
    assert impl.eio.decode_payload('4a\x1ebAQ==', 16, ejson.loads) == \
        [(ep.MESSAGE, 'a', False), (ep.MESSAGE, b'\x01', True)]
    assert impl.eio.encode_payload(['4a', 'bAQ==']) == '4a\x1ebAQ=='
