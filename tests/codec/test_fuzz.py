"""Crash freedom: whatever arrives, every decoder either returns or raises a
ValueError-family exception -- never another exception, never a crash.

A short run is part of the suite; ``make fuzz`` runs the same tests with
FSF_HYPOTHESIS_EXAMPLES raised.  Runs on both twins; the compiled one is the
point (a crash there would take the whole test process down).
"""

import random

import pytest
from engineio import json as engineio_json
from hypothesis import given, strategies as st

from flask_socketio_fast import jsonmod

from .strategies import SETTINGS, binaries, binary_messages, wire_texts


def _outcome_ok(fn, *args):
    try:
        fn(*args)
    except ValueError:
        pass


def _all_decoders(impl, data, attachments=()):
    """Feed ``data`` to each decoder; the only allowed failure is a
    ValueError (the assertion is that nothing else escapes)."""
    _outcome_ok(impl.codec.decode, data)
    _outcome_ok(impl.codec.decode, data, engineio_json.loads)
    _outcome_ok(impl.codec.json_loads, data)
    _outcome_ok(jsonmod.loads, data)
    _outcome_ok(impl.eio.decode_packet, data, engineio_json.loads)
    _outcome_ok(impl.eio.decode_packet, data, jsonmod.loads)
    if isinstance(data, str):
        _outcome_ok(impl.eio.decode_payload, data, 16, engineio_json.loads)
        _outcome_ok(impl.EioPayload, None, data)
    try:
        pkt = impl.Packet(encoded_packet=data)
    except ValueError:
        return
    for attachment in attachments:
        try:
            if pkt.add_attachment(attachment):
                break
        except ValueError:
            break


def _as_bytes(text):
    return text.encode('utf-8', 'surrogatepass')


@SETTINGS
@given(data=st.one_of(wire_texts(), st.text(), st.binary(max_size=64),
                      wire_texts().map(_as_bytes)))
def test_random_and_mutated_input(impl, data):
    _all_decoders(impl, data, [b'a', b'b'])


@SETTINGS
@given(message=binary_messages())
def test_binary_messages_with_wrong_attachments(impl, message):
    wire, attachments = message
    _all_decoders(impl, wire, attachments)


@SETTINGS
@given(data=st.binary(max_size=64).map(lambda b: b'2' + b),
       garbage=st.binary(min_size=1, max_size=4))
def test_invalid_utf8(impl, data, garbage):
    raw = data + b'\xff' + garbage
    _all_decoders(impl, raw)
    _all_decoders(impl, raw.decode('latin-1'))
    _all_decoders(impl, raw.decode('utf-8', 'surrogateescape'))


def _deep(opening, closing, depth, middle='1'):
    return opening * depth + middle + closing * depth


NASTY = [
    # deep nesting, closed and unclosed, lists and objects
    '2' + _deep('[', ']', 100000), '2' + '[' * 100000,
    '2' + _deep('{"a":', '}', 50000), '4' + _deep('[', ']', 100000),
    '51-' + _deep('[', ']', 1020, '{"_placeholder":true,"num":0}'),
    '51-' + _deep('[', ']', 5000, '{"_placeholder":true,"num":0}'),
    # huge attachment counts and out-of-range placeholders
    '59999999999-["x"]', '599999999999-["x"]', '5' + '9' * 5000 + '-[]',
    '51-[{"_placeholder":true,"num":99999999999999999999999}]',
    '51-[{"_placeholder":true,"num":-99}]',
    '51-[{"_placeholder":true,"num":1e308}]',
    '51-[{"_placeholder":true,"num":{"x":1}}]',
    '53-[' + ','.join(['{"_placeholder":true,"num":7}'] * 3) + ']',
    # over-long ack ids and integers
    '2' + '9' * 100, '2' + '9' * 101, '2' + '9' * 100000,
    '2/ns,' + '1' * 100 + '\u0663', '2' + '1' * 99 + '\u0663[]',
    '2[' + '9' * 100000 + ']', '2[-' + '9' * 5000 + ']',
    '2[1e' + '9' * 1000 + ']', '2[0.' + '1' * 100000 + ']',
    # namespaces and separators
    '2/' + ',' * 10000, '2/' + '?' * 10000, '2/' + 'a' * 100000,
    '2' + '-' * 10000, '\x1e' * 10000, 'd=' + '%1E' * 5000,
    'd=' + 'd%3D' * 1000, 'b' + '=' * 1001, 'b' + 'A' * 100001,
    # oversized inputs
    '2["' + 'x' * 2000000 + '"]', '2[' + '1,' * 500000 + '1]',
    '2' + '😀' * 100000, '2["\\ud800' * 1000 + '"]',
]


@pytest.mark.parametrize('data', NASTY, ids=lambda d: repr(d[:24]))
def test_nasty_inputs(impl, data):
    attachments = [b'x'] * 4
    _all_decoders(impl, data, attachments)
    _all_decoders(impl, _as_bytes(data), attachments)


def test_many_attachments(impl):
    count = 5000
    wire = '5%d-[%s]' % (count, ','.join(
        '{"_placeholder":true,"num":%d}' % i for i in reversed(range(count))))
    pkt = impl.Packet(encoded_packet=wire)
    done = [pkt.add_attachment(b'%d' % i) for i in range(count)]
    assert done[-1] is True and not any(done[:-1])
    assert pkt.data[0] == b'%d' % (count - 1)
    with pytest.raises(ValueError, match='Unexpected binary attachment'):
        pkt.add_attachment(b'extra')


def test_byte_flips_of_real_packets(impl):
    # cheap mutation fuzzing with a fixed seed: flip, drop and repeat bytes
    rng = random.Random(1234)
    seeds = [b'2["chat",{"user":"u1","text":"hello world"}]',
             b'52-/up,4["file",{"_placeholder":true,"num":0},'
             b'{"b":{"_placeholder":true,"num":1}}]',
             b'0/admin?x=1,{"token":"\xc3\xa9"}', b'4{"a":[1,2.5e3,null]}']
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                del data[pos]
            else:
                data[pos:pos] = data[pos:pos + 3] * rng.randint(1, 50)
        raw = bytes(data)
        _all_decoders(impl, raw, [b'x', b'y'])
        _all_decoders(impl, raw.decode('utf-8', 'surrogateescape'),
                      [b'x', b'y'])


@SETTINGS
@given(data=st.recursive(st.one_of(st.none(), st.integers(), st.text(),
                                   binaries),
                         lambda kids: st.one_of(
                             st.lists(kids, max_size=3),
                             st.dictionaries(st.text(max_size=3), kids,
                                             max_size=3),
                             st.fixed_dictionaries({
                                 '_placeholder': st.one_of(
                                     st.booleans(), st.integers(), kids),
                                 'num': st.one_of(st.integers(-3, 5), kids)
                             })), max_leaves=12),
       attachments=st.lists(binaries, max_size=3))
def test_reconstruct_binary_any_structure(impl, data, attachments):
    _outcome_ok(impl.codec.reconstruct_binary, data, attachments)
