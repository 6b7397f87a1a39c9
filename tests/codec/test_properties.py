"""Property tests: compiled twin == pure twin byte for byte, and both ==
upstream byte for byte under the same JSON module (engineio's stdlib-based
one) and equal after decoding under orjson.  The same for decode() of valid,
mutated and random input, including which inputs are rejected and how.
"""

from engineio import packet as ep
from hypothesis import given, strategies as st

from .strategies import (SETTINGS, binary_messages, json_data, packets,
                         finite_floats, text, wire_texts)
from .support import (UpstreamPacket, eio_strictly_refused, engineio_json,
                      is_violation, run, same, same_error, state,
                      strictly_refused, with_json)


def _encode(cls, kwargs):
    pkt = cls(**kwargs)
    return pkt.encode(), pkt.packet_type


def _decode(cls, wire):
    return state(cls(encoded_packet=wire))


def _decode_all(cls, wire, attachments):
    pkt = cls(encoded_packet=wire)
    done = [pkt.add_attachment(a) for a in attachments]
    return state(pkt), done


def _identical(a, b, message=True):
    """Same outcome: equal values (strictly) or matching errors."""
    if a[0] != b[0]:
        return False
    if a[0] == 'ok':
        return same(a[1], b[1])
    return same_error(a[1], b[1], message)


def _twins_identical(a, b):
    # twin against twin: the very same exception class and message
    if a[0] == 'err' and b[0] == 'err':
        return type(a[1]) is type(b[1]) and str(a[1]) == str(b[1])
    return _identical(a, b)


# --- encode -----------------------------------------------------------------

@SETTINGS
@given(kwargs=packets())
def test_encode_twins_identical(both, kwargs):
    py, c = both
    assert _twins_identical(run(_encode, py.Packet, kwargs),
                            run(_encode, c.Packet, kwargs))
    assert _twins_identical(
        run(_encode, with_json(py.Packet, engineio_json), kwargs),
        run(_encode, with_json(c.Packet, engineio_json), kwargs))


@SETTINGS
@given(kwargs=packets())
def test_encode_same_json_module_identical_to_upstream(impl, kwargs):
    ours = run(_encode, with_json(impl.Packet, engineio_json), kwargs)
    theirs = run(_encode, UpstreamPacket, kwargs)
    assert _identical(ours, theirs), (ours, theirs)


def _wire_meaning(wire):
    """What upstream's decoder makes of an encoding."""
    if isinstance(wire, list):
        return run(_decode_all, UpstreamPacket, wire[0], wire[1:])
    return run(_decode, UpstreamPacket, wire)


@SETTINGS
@given(kwargs=packets(data=json_data(floats=finite_floats)))
def test_encode_orjson_decodes_to_upstreams_data(impl, kwargs):
    # NaN/Infinity excluded: orjson writes null (docs/codec.md)
    ours = run(_encode, impl.Packet, kwargs)
    theirs = run(_encode, UpstreamPacket, kwargs)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == 'err':
        assert same_error(ours[1], theirs[1], message=False)
        return
    assert ours[1][1] == theirs[1][1]  # packet type
    assert type(ours[1][0]) is type(theirs[1][0])
    assert _identical(_wire_meaning(ours[1][0]), _wire_meaning(theirs[1][0]))


# --- decode -----------------------------------------------------------------

@SETTINGS
@given(wire=wire_texts())
def test_decode_twins_identical(both, wire):
    py, c = both
    assert _twins_identical(run(_decode, py.Packet, wire),
                            run(_decode, c.Packet, wire))
    assert _twins_identical(
        run(_decode, with_json(py.Packet, engineio_json), wire),
        run(_decode, with_json(c.Packet, engineio_json), wire))
    assert _twins_identical(run(py.codec.decode, wire),
                            run(c.codec.decode, wire))


@SETTINGS
@given(wire=wire_texts())
def test_decode_identical_to_upstream(impl, wire):
    # ...except where the strictness rules refuse what upstream accepts
    theirs = run(_decode, UpstreamPacket, wire)
    ours = run(_decode, with_json(impl.Packet, engineio_json), wire)
    if strictly_refused(wire, json_strict=False):
        assert is_violation(ours), (ours, theirs)
    else:
        assert _identical(ours, theirs), (ours, theirs)
    ours = run(_decode, impl.Packet, wire)
    if strictly_refused(wire):
        assert is_violation(ours), (ours, theirs)
    else:
        assert _identical(ours, theirs), (ours, theirs)
    if ours[0] == 'err':
        assert isinstance(ours[1], ValueError)


@SETTINGS
@given(data=st.binary(max_size=40))
def test_decode_bytes_like_upstream(impl, data):
    ours = run(_decode, impl.Packet, data)
    theirs = run(_decode, UpstreamPacket, data)
    assert _identical(ours, theirs)
    assert ours[0] == 'ok' or isinstance(ours[1], ValueError)


@SETTINGS
@given(message=binary_messages())
def test_attachments_identical_to_upstream(both, message):
    wire, attachments = message
    theirs = run(_decode_all, UpstreamPacket, wire, attachments)
    outcomes = [run(_decode_all, impl.Packet, wire, attachments)
                for impl in both]
    assert _twins_identical(*outcomes)
    refused = strictly_refused(wire)
    for ours in outcomes:
        if refused:
            assert is_violation(ours), (ours, theirs)
        else:
            assert _identical(ours, theirs), (ours, theirs)
        assert ours[0] == 'ok' or isinstance(ours[1], ValueError)


# --- engine.io ----------------------------------------------------------------

def _eio_decode(cls, wire):
    pkt = cls(encoded_packet=wire)
    return pkt.packet_type, pkt.data, pkt.binary


eio_wires = st.one_of(
    st.text(max_size=30),
    st.tuples(st.sampled_from('0123456b9x'), text).map(''.join),
    st.binary(max_size=20))


@SETTINGS
@given(wire=eio_wires)
def test_eio_decode_identical_to_upstream(both, wire):
    theirs = run(_eio_decode, ep.Packet, wire)
    outcomes = [run(_eio_decode, impl.EioPacket, wire) for impl in both]
    assert _twins_identical(*outcomes)
    for ours in outcomes:
        if eio_strictly_refused(wire):
            assert is_violation(ours), (ours, theirs)
        else:
            assert _identical(ours, theirs), (ours, theirs)


@SETTINGS
@given(packet_type=st.integers(0, 6),
       data=st.one_of(st.none(), text, st.binary(max_size=10),
                      json_data(tuples=False, floats=finite_floats),
                      st.integers()),
       b64=st.booleans())
def test_eio_encode_identical_to_upstream(impl, packet_type, data, b64):
    def go(cls):
        return cls(packet_type, data).encode(b64=b64)
    assert _identical(run(go, impl.EioPacket), run(go, ep.Packet))
