"""The WebSocket frame codec: each twin on its own, the twins against each
other (hypothesis), and both against wsproto as the reference parser and
frame writer."""

import os
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import (CloseReason, FrameProtocol, Opcode,
                                    ParseFailed)

from flask_socketio_fast._speedups import wsframe_py
from flask_socketio_fast._speedups.wsframe_errors import FrameError

MASK = b'\x37\xfa\x21\x3d'
EXAMPLES = int(os.environ.get('WSFRAME_EXAMPLES', '300'))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.function_scoped_fixture])

client_frame = wsframe_py.build_masked_frame


def feed_all(parser, data, chunk_sizes=None):
    """Feed ``data`` in chunks; return (events, error code or None)."""
    events = []
    chunks = split(data, chunk_sizes) if chunk_sizes else [data]
    for chunk in chunks:
        try:
            events += parser.feed(chunk)
        except FrameError as exc:
            return events + exc.events, (exc.code, exc.reason)
    return events, None


def split(data, sizes):
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = max(1, sizes[i % len(sizes)])
        out.append(data[pos:pos + n])
        pos += n
        i += 1
    return out or [b'']


def error_code(parser, data):
    with pytest.raises(FrameError) as info:
        parser.feed(data)
    return info.value.code


# -- parsing, per twin --------------------------------------------------------

def test_text_and_binary_messages(wsframe):
    p = wsframe.FrameParser(1000)
    data = (client_frame(1, 'héllo ✓'.encode(), MASK) +
            client_frame(2, b'\x00\x01\xff', MASK) +
            client_frame(1, b'', MASK) + client_frame(2, b'', MASK))
    assert p.feed(data) == [(1, 'héllo ✓'), (2, b'\x00\x01\xff'), (1, ''),
                            (2, b'')]
    assert p.buffered == 0


def test_byte_by_byte_gives_the_same_events(wsframe):
    data = (client_frame(1, b'a' * 300, MASK) +
            client_frame(1, 'frag ✓'.encode()[:6], MASK, fin=False) +
            client_frame(9, b'ping', MASK) +
            client_frame(0, 'frag ✓'.encode()[6:], MASK) +
            client_frame(2, b'z' * 70000, MASK))
    whole, err = feed_all(wsframe.FrameParser(None), data)
    assert err is None
    assert whole == [(1, 'a' * 300), (9, b'ping'), (1, 'frag ✓'),
                     (2, b'z' * 70000)]
    p = wsframe.FrameParser(None)
    events = []
    for i in range(0, len(data) - 70000):
        events += p.feed(data[i:i + 1])
    events += p.feed(data[len(data) - 70000:])
    assert events == whole


def test_payload_lengths_at_the_encoding_boundaries(wsframe):
    p = wsframe.FrameParser(None)
    for n in (0, 1, 125, 126, 127, 65535, 65536, 100000):
        payload = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        assert p.feed(client_frame(2, payload, MASK)) == [(2, payload)]


def test_fragmented_message_with_control_frames_between(wsframe):
    p = wsframe.FrameParser(100)
    data = (client_frame(2, b'ab', MASK, fin=False) +
            client_frame(10, b'pong', MASK) +
            client_frame(0, b'cd', MASK, fin=False) +
            client_frame(9, b'', MASK) +
            client_frame(0, b'ef', MASK))
    assert p.feed(data) == [(10, b'pong'), (9, b''), (2, b'abcdef')]


def test_utf8_sequence_split_across_fragments(wsframe):
    text = '€uro ✓ 𝄞'.encode()
    p = wsframe.FrameParser(100)
    data = b''.join(client_frame(1 if i == 0 else 0, text[i:i + 1], MASK,
                                 fin=i == len(text) - 1)
                    for i in range(len(text)))
    assert p.feed(data) == [(1, '€uro ✓ 𝄞')]


@pytest.mark.parametrize('frame', [
    b'\x81\x02hi',                                    # unmasked
    client_frame(1, b'x', MASK, rsv=4),               # RSV1, no extension
    client_frame(1, b'x', MASK, rsv=2),               # RSV2
    client_frame(1, b'x', MASK, rsv=1),               # RSV3
    client_frame(3, b'x', MASK),                      # reserved data opcode
    client_frame(7, b'x', MASK),
    client_frame(11, b'x', MASK),                     # reserved control
    client_frame(15, b'x', MASK),
    client_frame(9, b'x', MASK, fin=False),           # fragmented ping
    client_frame(9, b'x' * 126, MASK),                # control over 125
    client_frame(0, b'x', MASK),                      # nothing to continue
    client_frame(8, b'\x03', MASK),                   # 1-byte close payload
    client_frame(8, b'\x03\xed', MASK),               # close code 1005
    client_frame(8, b'\x03\xee', MASK),               # 1006
    client_frame(8, b'\x03\xec', MASK),               # 1004
    client_frame(8, b'\x00\x00', MASK),
    client_frame(8, b'\x13\x88', MASK),               # 5000
    b'\x82\xfe\x00\x05' + MASK + b'12345',            # 2-byte length for 5
    b'\x82\xff' + (5).to_bytes(8, 'big') + MASK + b'12345',
    b'\x82\xff' + (1 << 63).to_bytes(8, 'big') + MASK,
], ids=lambda f: f[:4].hex())
def test_protocol_errors_are_1002(wsframe, frame):
    assert error_code(wsframe.FrameParser(None), frame) == 1002


def test_a_new_message_inside_a_fragmented_one_is_refused(wsframe):
    p = wsframe.FrameParser(None)
    data = client_frame(1, b'a', MASK, fin=False) + client_frame(1, b'b',
                                                                  MASK)
    assert error_code(p, data) == 1002


def test_rsv1_is_the_compressed_flag_when_allowed(wsframe):
    p = wsframe.FrameParser(100, allow_compression=True)
    data = (client_frame(1, b'\xf2\x48', MASK, rsv=4) +
            client_frame(2, b'ab', MASK, fin=False, rsv=4) +
            client_frame(0, b'cd', MASK) + client_frame(1, b'plain', MASK))
    assert p.feed(data) == [(1 | wsframe.COMPRESSED, b'\xf2\x48'),
                            (2 | wsframe.COMPRESSED, b'abcd'), (1, 'plain')]
    # still not on continuation frames, nor RSV2/RSV3
    p = wsframe.FrameParser(100, allow_compression=True)
    bad = client_frame(2, b'a', MASK, fin=False) + \
        client_frame(0, b'b', MASK, rsv=4)
    assert error_code(p, bad) == 1002
    assert error_code(wsframe.FrameParser(100, allow_compression=True),
                      client_frame(1, b'x', MASK, rsv=6)) == 1002


@pytest.mark.parametrize('payload', [b'\xff', b'\xc3', b'\xed\xa0\x80',
                                     b'ok\xf5\x80\x80\x80'])
def test_invalid_utf8_is_1007(wsframe, payload):
    assert error_code(wsframe.FrameParser(None),
                      client_frame(1, payload, MASK)) == 1007


def test_invalid_utf8_in_a_fragment_fails_at_that_fragment(wsframe):
    p = wsframe.FrameParser(None)
    p.feed(client_frame(1, b'fine', MASK, fin=False))
    assert error_code(p, client_frame(0, b'\xff', MASK, fin=False)) == 1007
    # a sequence left incomplete by the last fragment
    p = wsframe.FrameParser(None)
    p.feed(client_frame(1, b'\xe2\x82', MASK, fin=False))
    assert error_code(p, client_frame(0, b'', MASK)) == 1007


def test_close_frames(wsframe):
    p = wsframe.FrameParser(None)
    assert p.feed(client_frame(8, b'', MASK)) == [(8, (None, ''))]
    assert p.closed
    # everything after a close frame is ignored
    assert p.feed(b'\xff\xff\xff') == []
    for code in (1000, 1001, 1003, 1011, 1012, 1014, 3000, 4999):
        p = wsframe.FrameParser(None)
        payload = code.to_bytes(2, 'big') + 'bye ✓'.encode()
        data = client_frame(8, payload, MASK) + client_frame(1, b'x', MASK)
        assert p.feed(data) == [(8, (code, 'bye ✓'))]
    p = wsframe.FrameParser(None)
    assert error_code(p, client_frame(8, b'\x03\xe8\xff', MASK)) == 1007


def test_size_limit_is_checked_from_the_header(wsframe):
    p = wsframe.FrameParser(1000)
    assert p.feed(client_frame(2, b'x' * 1000, MASK)) == [(2, b'x' * 1000)]
    frame = client_frame(2, b'x' * 1001, MASK)
    # only the header: refused before any payload is buffered
    with pytest.raises(FrameError) as info:
        p.feed(frame[:4])
    assert info.value.code == 1009
    assert p.buffered == 0


def test_a_huge_declared_length_is_refused_at_once(wsframe):
    p = wsframe.FrameParser(1_000_000)
    header = b'\x82\xff' + (1 << 62).to_bytes(8, 'big')
    assert error_code(p, header) == 1009
    assert p.buffered == 0


def test_fragments_count_towards_the_limit_together(wsframe):
    p = wsframe.FrameParser(10)
    assert p.feed(client_frame(1, b'1234', MASK, fin=False)) == []
    assert p.feed(client_frame(0, b'5678', MASK, fin=False)) == []
    # a control frame between does not count
    assert p.feed(client_frame(9, b'x' * 100, MASK)) == [(9, b'x' * 100)]
    assert p.buffered == 8
    with pytest.raises(FrameError) as info:
        p.feed(client_frame(0, b'9ab', MASK)[:2])
    assert info.value.code == 1009
    assert p.buffered == 0
    # exactly at the limit is fine
    p = wsframe.FrameParser(10)
    data = client_frame(1, b'12345', MASK, fin=False) + \
        client_frame(0, b'67890', MASK)
    assert p.feed(data) == [(1, '1234567890')]


def test_an_error_keeps_the_events_before_it_and_spends_the_parser(wsframe):
    p = wsframe.FrameParser(None)
    data = client_frame(1, b'one', MASK) + b'\x81\x01x'
    with pytest.raises(FrameError) as info:
        p.feed(data)
    assert info.value.events == [(1, 'one')]
    assert info.value.code == 1002
    with pytest.raises(FrameError) as again:
        p.feed(client_frame(1, b'two', MASK))
    assert again.value.code == 1002


def test_unmasked_frames_when_masking_is_not_required(wsframe):
    p = wsframe.FrameParser(None, require_mask=False)
    assert p.feed(b'\x81\x02hi' + client_frame(2, b'm', MASK)) == [
        (1, 'hi'), (2, b'm')]


def test_bytes_like_input_and_type_errors(wsframe):
    p = wsframe.FrameParser(None)
    frame = client_frame(1, b'hey', MASK)
    assert p.feed(bytearray(frame[:3])) == []
    assert p.feed(memoryview(frame)[3:]) == [(1, 'hey')]
    with pytest.raises(TypeError):
        p.feed('text')
    with pytest.raises(TypeError):
        p.feed(None)
    with pytest.raises(ValueError):
        wsframe.FrameParser(-1)


# -- building ----------------------------------------------------------------

def _reference_server():
    return FrameProtocol(client=False, extensions=[])


@pytest.mark.parametrize('n', [0, 1, 125, 126, 65535, 65536, 70000])
def test_builders_match_wsproto(wsframe, n):
    data = bytes(i % 251 for i in range(n))
    assert wsframe.build_binary_frame(data) == \
        _reference_server().send_data(data)
    text = ('✓' * (n // 3 + 1))[:max(0, n // 3)]
    assert wsframe.build_text_frame(text.encode()) == \
        _reference_server().send_data(text)
    assert wsframe.build_frame(2, data, fin=False) == \
        _reference_server().send_data(data, fin=False)


def test_control_builders(wsframe):
    assert wsframe.build_close_frame(1000, 'bye') == \
        _reference_server().close(1000, 'bye')
    assert wsframe.build_close_frame() == b'\x88\x00'
    assert wsframe.build_close_frame(1009, b'big') == b'\x88\x05\x03\xf1big'
    assert wsframe.build_ping_frame(b'p') == \
        _reference_server().ping(b'p')
    assert wsframe.build_pong_frame(b'q') == \
        _reference_server().pong(b'q')
    with pytest.raises(ValueError):
        wsframe.build_ping_frame(b'x' * 126)
    with pytest.raises(ValueError):
        wsframe.build_close_frame(70000)


def test_eio_frame(wsframe):
    for text in ('', 'hello', '["chat","✓ é"]', 'x' * 70000):
        assert wsframe.build_eio_frame(4, text) == \
            wsframe.build_text_frame(('4' + text).encode())
    assert wsframe.build_eio_frame(2, '') == b'\x81\x012'
    with pytest.raises(ValueError):
        wsframe.build_eio_frame(10, 'x')
    with pytest.raises(TypeError):
        wsframe.build_eio_frame(4, b'x')
    with pytest.raises(UnicodeEncodeError):
        wsframe.build_eio_frame(4, '\ud800')


def test_masked_frames_parse_back_and_match_wsproto_client(wsframe):
    for n in (0, 5, 200, 70000):
        payload = bytes(i % 7 for i in range(n))
        frame = wsframe.build_masked_frame(2, payload, MASK)
        assert wsframe.FrameParser(None).feed(frame) == [(2, payload)]
        assert wsframe.mask_payload(wsframe.mask_payload(payload, MASK),
                                    MASK) == payload
    assert wsframe.build_masked_frame(1, b'abc', MASK, rsv=4)[0] == 0xC1
    with pytest.raises(ValueError):
        wsframe.build_masked_frame(1, b'abc', b'123')


# -- differential: twin against twin, and against wsproto -------------------

def _frame_strategy():
    payloads = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=80).map(lambda t: t.encode('utf-8')),
        st.binary(min_size=126, max_size=300),
        st.sampled_from([b'\xff', b'\xe2\x82', b'\xed\xa0\x80']))
    close_payloads = st.one_of(
        st.just(b''), st.binary(max_size=3),
        st.tuples(st.sampled_from([1000, 1001, 1002, 1005, 1007, 1012, 2999,
                                   3000, 4999, 5000]),
                  st.text(max_size=20)).map(
            lambda t: t[0].to_bytes(2, 'big') + t[1].encode()))

    @st.composite
    def one(draw):
        opcode = draw(st.one_of(st.sampled_from([0, 1, 2, 8, 9, 10]),
                                st.integers(0, 15)))
        payload = draw(close_payloads if opcode == 8 else payloads)
        if opcode >= 8 and draw(st.integers(0, 9)):
            payload = payload[:125]
        fin = draw(st.integers(0, 3)) > 0
        rsv = draw(st.sampled_from([0] * 12 + [1, 2, 4, 6]))
        mask = draw(st.binary(min_size=4, max_size=4))
        if draw(st.integers(0, 19)) == 0:
            return wsframe_py.build_frame(opcode, payload, fin=fin,
                                          rsv1=rsv == 4)
        return wsframe_py.build_masked_frame(opcode, payload, mask, fin=fin,
                                             rsv=rsv)

    @st.composite
    def message(draw):
        # a well-formed fragmented message, most of the time
        opcode = draw(st.sampled_from([1, 2]))
        body = draw(payloads)
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        pieces = [body[a:b] for a, b in zip([0] + cuts, cuts + [len(body)])]
        out = []
        for i, piece in enumerate(pieces):
            out.append(wsframe_py.build_masked_frame(
                opcode if i == 0 else 0, piece, MASK,
                fin=i == len(pieces) - 1))
            if draw(st.integers(0, 3)) == 0:
                out.append(wsframe_py.build_masked_frame(9, b'p', MASK))
        return b''.join(out)

    return st.lists(st.one_of(one(), message()), max_size=8).map(b''.join)


streams = _frame_strategy()
chunkings = st.lists(st.integers(1, 64), min_size=1, max_size=6)


def _mutate(data, flips):
    data = bytearray(data)
    for pos, bit in flips:
        if data:
            data[pos % len(data)] ^= 1 << bit
    return bytes(data)


flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)),
                 max_size=3)


@FUZZ
@given(data=streams, chunks=chunkings, flip=flips,
       limit=st.one_of(st.none(), st.integers(0, 400)),
       compression=st.booleans())
def test_twins_agree_on_frame_streams(both_twins, data, chunks, flip, limit,
                                      compression):
    c, py = both_twins
    data = _mutate(data, flip)
    results = []
    for twin in (c, py):
        parser = twin.FrameParser(limit, allow_compression=compression)
        results.append((feed_all(parser, data, chunks), parser.buffered,
                        parser.closed))
    assert results[0] == results[1]


@FUZZ
@given(data=st.binary(max_size=600), chunks=chunkings,
       require_mask=st.booleans())
def test_twins_agree_on_random_bytes(both_twins, data, chunks, require_mask):
    c, py = both_twins
    out = [feed_all(t.FrameParser(300, require_mask=require_mask), data,
                    chunks) for t in (c, py)]
    assert out[0] == out[1]


def _wsproto_events(data, chunks):
    proto = FrameProtocol(client=False, extensions=[])
    events, parts, opcode, open_message = [], [], None, False
    try:
        for chunk in split(data, chunks):
            proto.receive_bytes(chunk)
            for frame in proto.received_frames():
                op = frame.opcode
                if op is Opcode.CLOSE:
                    code, reason = frame.payload
                    code = None if code == CloseReason.NO_STATUS_RCVD \
                        else int(code)
                    events.append((8, (code, reason)))
                    return events, None
                if op in (Opcode.PING, Opcode.PONG):
                    events.append((int(op), bytes(frame.payload)))
                    continue
                # wsproto hands out partial frames; a message starts with
                # the first piece after the previous message finished
                if not open_message:
                    opcode, parts, open_message = int(op), [], True
                parts.append(frame.payload)
                if frame.message_finished:
                    open_message = False
                    joined = ''.join(parts) if opcode == 1 else \
                        b''.join(bytes(p) for p in parts)
                    events.append((opcode, joined))
    except ParseFailed as exc:
        return events, int(exc.code)
    return events, None


@FUZZ
@given(data=streams, chunks=chunkings, flip=flips)
def test_parser_agrees_with_wsproto(wsframe, data, chunks, flip):
    data = _mutate(data, flip)
    # 1014 is registered with IANA and accepted here; wsproto predates it
    assume(b'\x03\xf6' not in data)
    parser = wsframe.FrameParser(None)
    ours, err = feed_all(parser, data, chunks)
    theirs, their_err = _wsproto_events(data, chunks)
    our_code = err[0] if err else None
    if our_code is None and their_err == 1007 and parser.buffered:
        # wsproto checks UTF-8 on a partial frame; we wait for the frame
        return
    if our_code is not None and their_err is None:
        # we judge a header from its first bytes; wsproto waits for all of
        # it, so complete the header and it must come to the same verdict
        theirs, their_err = _wsproto_events(data + bytes(14), chunks)
    assert ours == theirs
    assert our_code == their_err


def test_random_mutations_never_raise_anything_but_frame_error(both_twins):
    rng = random.Random(7)
    base = b''.join(client_frame(rng.choice([1, 2, 9]), b'x' * rng.randrange(
        300), MASK) for _ in range(30))
    for twin in both_twins:
        for _ in range(300):
            data = bytearray(base)
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            feed_all(twin.FrameParser(200), bytes(data),
                     [rng.randrange(1, 200)])
