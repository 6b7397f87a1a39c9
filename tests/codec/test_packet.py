"""Socket.IO packet class: concrete cases against socketio.packet.Packet.

Each case runs on both twins; outputs must equal upstream's byte for byte
under upstream's own JSON module, and decode (with upstream) to the same data
under orjson.  Errors must have upstream's type and message.
"""

import copy
import datetime
import json as stdjson
import pickle

import pytest
from socketio import packet as sp

from flask_socketio_fast import jsonmod
from flask_socketio_fast._speedups.errors import (
    DecodeIndexError, DecodeRecursionError, DecodeTypeError)

from .support import (UpstreamPacket, engineio_json, is_violation, run, same,
                      same_error, state, strictly_refused, with_json)

SMALL = ['chat', {'user': 'u1', 'text': 'hello world'}]

ENCODE_CASES = [
    dict(packet_type=sp.EVENT, data=SMALL),
    dict(packet_type=sp.EVENT, data=SMALL, namespace='/chat', id=12),
    dict(packet_type=sp.EVENT, data=SMALL, namespace='/'),
    dict(packet_type=sp.CONNECT),
    dict(packet_type=sp.CONNECT, data={'token': 'x'}, namespace='/admin'),
    dict(packet_type=sp.DISCONNECT, namespace='/admin'),
    dict(packet_type=sp.ACK, data=['one', 2], id=0),
    dict(packet_type=sp.ACK, data=[b'\x00\x01'], id=7, namespace='/n'),
    dict(packet_type=sp.CONNECT_ERROR, data={'message': 'no'}),
    dict(packet_type=sp.EVENT, data=['bin', b'abc', {'k': bytearray(b'x'),
                                                     'l': [b'', 1]}]),
    dict(packet_type=sp.EVENT, data=b'top-level bytes'),
    dict(packet_type=sp.EVENT, data=['x', b'1'], binary=False),
    dict(packet_type=sp.EVENT, data=['no bytes'], binary=True),
    dict(packet_type=sp.BINARY_EVENT, data=['already binary, no bytes']),
    dict(packet_type=sp.BINARY_EVENT, data=['binary', b'refused']),
    dict(packet_type=sp.BINARY_ACK, data=None, id=3),
    dict(packet_type=sp.CONNECT, data={'auth': b'refused'}),
    dict(packet_type=sp.EVENT, data=['tuple', (b'not extracted',)]),
    dict(packet_type=sp.EVENT, data=['tuple', (1, 'two')]),
    dict(packet_type=sp.EVENT, data=['unicode', 'é€😀', {'ключ': '\u2028'}]),
    dict(packet_type=sp.EVENT, data=['big', 2 ** 70, -2 ** 64]),
    dict(packet_type=sp.EVENT, data=['floats', 0.1, 1e16, 1e-7, -0.0]),
    dict(packet_type=sp.EVENT, data=['keys', {1: 'a', None: 'b', True: 'c'}]),
    dict(packet_type=sp.EVENT, data=['surrogate', '\ud800']),
    dict(packet_type=sp.EVENT, data=['when', datetime.date(2020, 1, 2)]),
    dict(packet_type=sp.EVENT, data=['obj', object()]),
    dict(packet_type=sp.EVENT, data=['set', {1, 2}]),
    dict(packet_type=sp.EVENT, data='just a string', namespace='/ns?x=1'),
    dict(packet_type=sp.EVENT, data=['x'], namespace=b'/bytes'),
    dict(packet_type=sp.EVENT, data=['x'], id='abc'),
    dict(packet_type=9, data=['odd type']),
    dict(packet_type=12, data=None),
    dict(packet_type='2', data=['str type']),
    dict(packet_type=sp.EVENT, data=[[[[['deep']]]]] * 3),
]


def _encode(cls, case):
    pkt = cls(**case)
    return pkt.encode(), pkt.packet_type


def _key(case):
    return repr(case)[:60]


@pytest.mark.parametrize('case', ENCODE_CASES, ids=_key)
def test_encode_same_json_module_is_byte_identical(impl, case):
    ours = run(_encode, with_json(impl.Packet, engineio_json), case)
    theirs = run(_encode, UpstreamPacket, case)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert ours[1] == theirs[1]
    else:
        assert same_error(ours[1], theirs[1])


@pytest.mark.parametrize('case', ENCODE_CASES, ids=_key)
def test_encode_orjson_decodes_like_upstream(impl, case):
    ours = run(_encode, impl.Packet, case)
    theirs = run(_encode, UpstreamPacket, case)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'err':
        assert same_error(ours[1], theirs[1], message=False)
        return
    (our_wire, our_type), (their_wire, their_type) = ours[1], theirs[1]
    assert our_type == their_type
    assert type(our_wire) is type(their_wire)
    if isinstance(their_wire, list):
        assert len(our_wire) == len(their_wire)
        # attachments are the caller's own objects, in upstream's order
        assert all(a is b for a, b in zip(our_wire[1:], their_wire[1:]))
        our_wire, their_wire = our_wire[0], their_wire[0]
    ours = run(lambda: state(UpstreamPacket(encoded_packet=our_wire)))
    theirs = run(lambda: state(UpstreamPacket(encoded_packet=their_wire)))
    assert ours[0] == theirs[0]
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])


def test_small_event_wire_format(impl):
    assert impl.Packet(sp.EVENT, data=SMALL).encode() == \
        '2["chat",{"user":"u1","text":"hello world"}]'
    assert impl.Packet(sp.EVENT, data=SMALL, namespace='/chat',
                       id=12).encode() == \
        '2/chat,12["chat",{"user":"u1","text":"hello world"}]'


def test_binary_event_wire_format(impl):
    blob = b'\x00' * 3
    assert impl.Packet(sp.EVENT, data=['file', blob, {'b': blob}],
                       namespace='/up', id=4).encode() == [
        '52-/up,4["file",{"_placeholder":true,"num":0},'
        '{"b":{"_placeholder":true,"num":1}}]', blob, blob]


def test_orjson_output_differs_only_in_documented_ways(impl):
    # raw UTF-8 instead of \u escapes; shortest float repr
    assert impl.Packet(sp.EVENT, data=['é', 1e-7]).encode() == '2["é",1e-7]'
    assert UpstreamPacket(sp.EVENT, data=['é', 1e-7]).encode() == \
        '2["\\u00e9",1e-07]'


DECODE_CASES = [
    '0', '0/admin,', '0/admin?token=1,{"a":1}', '0{"token":"t"}', '1',
    '1/admin,', '2["chat",{"user":"u1"}]', '2/chat,12["x"]', '212["x"]',
    '3/chat,0["ok"]', '4{"message":"no"}', '51-["a",{"_placeholder":true,'
    '"num":0}]', '52-/ns,7[{"_placeholder":true,"num":1},'
    '{"_placeholder":true,"num":0}]', '60-3[]', '2', '2/', '2/ns', '2/ns,',
    '2/a?b?c,[1]', '2/a,b,["x"]', '2[1,2', '2["unterminated', '2NaN',
    '2[Infinity,-Infinity]', '2["\\ud800"]', '2[' + '1' * 100 + ']',
    '2[' + '1' * 101 + ']', '2[-' + '1' * 99 + ']', '2[' + '1' * 30 + ']',
    '2' + '1' * 100, '2' + '1' * 101, '2' + '1' * 100 + '["x"]',
    '2' + '1' * 99 + 'x', '5' + '1' * 10 + '-[]', '5' + '1' * 11 + '-[]',
    '59999999999-["x"]', '2-1["x"]', '21-2', '2123-5', '2["a-b"]',
    '2\u0663["x"]', '\u0663["x"]', '2\u00b2["x"]', '2\u00b2-["x"]',
    '2\u0663-["x"]', '21\u0663-[]', '2/x,1\u0663["y"]', '2/é,["é"]',
    '9["x"]', 'x["x"]', ' 2["x"]', '-', '2 ["x"]', '2["x"] ', '2[1]\x00',
    '2\ufeff[1]', '2[' * 50 + ']' * 50, '2{"a":1,"a":2}',
    '2/ns,99999999999999999999999["x"]', '20', '2007["x"]', '2["é€😀"]',
]


@pytest.mark.parametrize('text', DECODE_CASES, ids=lambda t: repr(t)[:40])
def test_decode_same_json_module_is_identical(impl, text):
    ours = run(lambda: state(with_json(impl.Packet, engineio_json)(
        encoded_packet=text)))
    theirs = run(lambda: state(UpstreamPacket(encoded_packet=text)))
    if strictly_refused(text, json_strict=False):
        # accepted upstream, refused on purpose (docs/security.md)
        assert is_violation(ours), (ours, theirs)
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])
    else:
        assert same_error(ours[1], theirs[1])
        assert isinstance(ours[1], ValueError)


@pytest.mark.parametrize('text', DECODE_CASES, ids=lambda t: repr(t)[:40])
def test_decode_orjson_is_identical(impl, text):
    ours = run(lambda: state(impl.Packet(encoded_packet=text)))
    theirs = run(lambda: state(UpstreamPacket(encoded_packet=text)))
    if strictly_refused(text):
        assert is_violation(ours), (ours, theirs)
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])
    else:
        assert same_error(ours[1], theirs[1])


@pytest.mark.parametrize('value', [b'2["x"]', b'x', bytearray(b'2'),
                                   b'\xff\xfe'])
def test_decode_bytes_raises_upstreams_error_as_valueerror(impl, value):
    ours = run(impl.Packet, encoded_packet=value)
    theirs = run(UpstreamPacket, encoded_packet=value)
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])
    assert isinstance(ours[1], ValueError)


@pytest.mark.parametrize('value', [7, 3.5, ['2']])
def test_decode_non_text_keeps_object_as_type_like_upstream(impl, value):
    assert state(impl.Packet(encoded_packet=value)) == \
        state(UpstreamPacket(encoded_packet=value))


def test_decode_memoryview_fails_like_upstream_as_valueerror(impl):
    ours = run(impl.Packet, encoded_packet=memoryview(b'2["x"]'))
    theirs = run(UpstreamPacket, encoded_packet=memoryview(b'2["x"]'))
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])
    assert isinstance(ours[1], ValueError)


def test_empty_encoded_packet_is_not_decoded(impl):
    assert state(impl.Packet(encoded_packet='')) == \
        state(UpstreamPacket(encoded_packet='')) == (sp.EVENT, None, None,
                                                     None, 0)


def test_decode_keeps_constructor_id_when_packet_has_none(impl):
    assert impl.Packet(id=5, encoded_packet='2["x"]').id == \
        UpstreamPacket(id=5, encoded_packet='2["x"]').id == 5


def test_deep_nesting_is_a_valueerror(impl):
    deep = '2' + '[' * 100000 + ']' * 100000
    with pytest.raises(ValueError):
        impl.Packet(encoded_packet=deep)
    with pytest.raises(ValueError):
        with_json(impl.Packet, engineio_json)(encoded_packet=deep)
    try:
        UpstreamPacket(encoded_packet=deep)
    except RecursionError as exc:  # what upstream raises; ours is one too
        with pytest.raises(type(exc)):
            with_json(impl.Packet, engineio_json)(encoded_packet=deep)


ATTACHMENT_CASES = [
    ('51-["a",{"_placeholder":true,"num":0}]', [b'x']),
    ('52-[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]',
     [b'0', b'1']),
    ('51-{"_placeholder":true,"num":0,"extra":1}', [b'x']),
    ('51-[{"_placeholder":1,"num":0}]', [b'x']),
    ('51-[{"_placeholder":false,"num":0}]', [b'x']),
    ('51-[{"_placeholder":true}]', [b'x']),
    ('51-[{"_placeholder":true,"num":true}]', [b'x']),
    ('51-[{"_placeholder":true,"num":-1}]', [b'x']),
    ('51-[{"_placeholder":true,"num":5}]', [b'x']),
    ('51-[{"_placeholder":true,"num":"0"}]', [b'x']),
    ('51-[{"_placeholder":true,"num":0.0}]', [b'x']),
    ('51-[{"_placeholder":true,"num":null}]', [b'x']),
    ('51-[{"_placeholder":true,"num":[0]}]', [b'x']),
    ('51-[1]', [b'x', b'y']),
    ('50-[1]', [b'x']),
    ('2["x"]', [b'x']),
    ('61-/n,3[{"_placeholder":true,"num":0}]', [bytearray(b'z')]),
    ('51-"text"', [b'x']),
    ('51-', [b'x']),
]


@pytest.mark.parametrize('text,attachments', ATTACHMENT_CASES,
                         ids=lambda v: repr(v)[:40])
def test_add_attachment_like_upstream(impl, text, attachments):
    def feed(cls):
        pkt = cls(encoded_packet=text)
        done = [pkt.add_attachment(a) for a in attachments]
        return state(pkt), done
    ours = run(feed, impl.Packet)
    theirs = run(feed, UpstreamPacket)
    if strictly_refused(text):
        # placeholders that do not number the attachments: refused when
        # the packet is decoded, before any attachment is waited for
        assert is_violation(ours), (ours, theirs)
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'ok':
        assert same(ours[1], theirs[1])
    else:
        assert same_error(ours[1], theirs[1])
        assert isinstance(ours[1], ValueError)


def test_placeholder_errors_are_valueerrors_of_upstreams_type(impl):
    # decoding refuses such placeholders (ProtocolViolation); called on
    # its own, reconstruct_binary still fails like upstream's
    cls = impl.Packet
    with pytest.raises(DecodeIndexError):
        cls.reconstruct_binary([{'_placeholder': True, 'num': 9}], [b'x'])
    with pytest.raises(DecodeTypeError) as info:
        cls.reconstruct_binary([{'_placeholder': True, 'num': 'a'}], [b'x'])
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError)
    assert issubclass(DecodeRecursionError, RecursionError)


def test_packet_type_is_settled_lazily_but_reads_like_upstream(impl):
    data = ['x', {'y': [b'bytes']}]
    pkt = impl.Packet(sp.EVENT, data=data)
    assert pkt.packet_type == sp.BINARY_EVENT  # settled by the read
    assert pkt.encode() == UpstreamPacket(sp.EVENT, data=data).encode()
    pkt = impl.Packet(sp.ACK, data=['plain'], id=1)
    assert pkt.encode() == '31["plain"]'
    assert pkt.packet_type == sp.ACK


def test_replacing_data_keeps_the_construction_time_type(impl):
    for cls in (impl.Packet, UpstreamPacket):
        pkt = cls(sp.EVENT, data=[b'x'])
        pkt.data = ['no longer binary']
        assert pkt.packet_type == sp.BINARY_EVENT
        pkt = cls(sp.EVENT, data=['text'])
        pkt.data = [b'now binary']
        assert pkt.packet_type == sp.EVENT


def test_setting_packet_type_wins(impl):
    pkt = impl.Packet(sp.EVENT, data=[b'x'])
    pkt.packet_type = sp.EVENT
    assert pkt.packet_type == sp.EVENT


def test_encode_does_not_modify_data(impl):
    data = ['x', {'a': b'1', 'b': [bytearray(b'2')]}]
    snapshot = copy.deepcopy(data)
    impl.Packet(sp.EVENT, data=data).encode()
    assert data == snapshot


def test_uses_binary_events_false_disables_binary(impl):
    cls = type('NoBinary', (impl.Packet,), {'uses_binary_events': False})
    pkt = cls(sp.EVENT, data=['x', b'y'])
    assert pkt.packet_type == sp.EVENT
    with pytest.raises(TypeError):
        pkt.encode()


def test_unserializable_data_raises_typeerror_at_encode(impl):
    for value in (object(), datetime.datetime(2020, 1, 1), {1, 2},
                  memoryview(b'x'), 1j):
        pkt = impl.Packet(sp.EVENT, data=['x', value])
        with pytest.raises(TypeError):
            pkt.encode()


def test_upstream_helpers_on_the_class(impl):
    data = ['a', b'1', {'k': [bytearray(b'2')]}, (b'tuple',)]
    cls = impl.Packet
    assert cls.data_is_binary(data) is UpstreamPacket.data_is_binary(data)
    assert cls.data_is_binary([(b'only in tuple',)]) is False
    assert cls.deconstruct_binary(data) == \
        UpstreamPacket.deconstruct_binary(data)
    flat, attachments = cls.deconstruct_binary(data)
    assert cls.reconstruct_binary(flat, attachments) == \
        UpstreamPacket.reconstruct_binary(flat, attachments)
    assert impl.Packet(sp.EVENT, data=['x'], namespace='/n', id=2)._to_dict() \
        == UpstreamPacket(sp.EVENT, data=['x'], namespace='/n', id=2)._to_dict()


def test_pickle_and_copy(impl):
    pkt = impl.Packet(sp.EVENT, data=['x', b'y'], namespace='/n', id=3)
    pkt.extra = 'attribute'
    for clone in (pickle.loads(pickle.dumps(pkt)), copy.copy(pkt),
                  copy.deepcopy(pkt)):
        assert type(clone) is type(pkt)
        assert state(clone) == state(pkt)
        assert clone.extra == 'attribute'
        assert clone.encode() == pkt.encode()


def test_json_module_assigned_on_class_is_used(impl):
    calls = []

    class Recorder:
        @staticmethod
        def dumps(obj, **kwargs):
            calls.append(('dumps', kwargs))
            return stdjson.dumps(obj, **kwargs)

        @staticmethod
        def loads(text):
            calls.append(('loads', text))
            return stdjson.loads(text)

    cls = with_json(impl.Packet, Recorder)
    assert cls(sp.EVENT, data=['é']).encode() == '2["\\u00e9"]'
    assert cls(encoded_packet='2["x"]').data == ['x']
    assert calls == [('dumps', {'separators': (',', ':')}),
                     ('loads', '["x"]')]


def test_default_json_is_the_orjson_adapter(impl):
    assert impl.Packet.json is jsonmod


def test_encode_twice_gives_the_same_output(impl):
    for data in (['x', b'y', {'z': [bytearray(b'w')]}], ['plain', 1]):
        pkt = impl.Packet(sp.EVENT, data=data, namespace='/n', id=1)
        assert pkt.encode() == pkt.encode() == \
            UpstreamPacket(sp.EVENT, data=data, namespace='/n', id=1).encode()
