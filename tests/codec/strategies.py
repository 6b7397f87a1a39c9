"""Hypothesis strategies for packets, JSON-able data with bytes anywhere,
and wire text: valid encodings, mutations of them, and noise."""

import os

from hypothesis import settings, strategies as st
from socketio import packet as sp

# the suite runs a short pass; `make fuzz` raises this
EXAMPLES = int(os.environ.get('FSF_HYPOTHESIS_EXAMPLES', '150'))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    database=None, derandomize=False)

# characters that matter to the parser, Unicode digits (accepted by
# str.isdigit / int()), lone surrogates, and anything else
SPECIAL = ',?/-"\\:{}[]0123456789 bn\x1e\x00\u0663\u00b2\u00bd\ud800\udfff'
chars = st.one_of(st.sampled_from(SPECIAL), st.characters())
text = st.text(chars, max_size=12)

ints = st.one_of(st.integers(-10, 100), st.integers(-2 ** 80, 2 ** 80))
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
binaries = st.one_of(st.binary(max_size=6), st.binary(max_size=6).map(
    bytearray))


def json_data(floats=st.floats(), keys=text, tuples=True):
    """Nested lists/dicts/tuples of JSON leaves with bytes anywhere."""
    leaves = st.one_of(st.none(), st.booleans(), ints, floats, text,
                       binaries)

    def nest(children):
        options = [st.lists(children, max_size=4),
                   st.dictionaries(keys, children, max_size=4)]
        if tuples:
            options.append(st.lists(children, max_size=3).map(tuple))
        return st.one_of(*options)

    return st.recursive(leaves, nest, max_leaves=16)


any_keys = st.one_of(text, st.integers(-5, 5), st.none(), st.booleans())

namespaces = st.one_of(st.none(), st.just('/'), text.map(lambda s: '/' + s))
ids = st.one_of(st.none(), st.integers(0, 2 ** 70))
types = st.integers(0, 6)
binary_flags = st.sampled_from([None, None, None, True, False])


@st.composite
def packets(draw, data=None):
    """Keyword arguments for a packet constructor."""
    return dict(packet_type=draw(types),
                data=draw(data if data is not None else json_data(
                    keys=any_keys)),
                namespace=draw(namespaces), id=draw(ids),
                binary=draw(binary_flags))


def _upstream_wire(kwargs):
    try:
        wire = sp.Packet(**kwargs).encode()
    except Exception:  # noqa: BLE001 -- unencodable: start from a default
        return '2["x"]', []
    if isinstance(wire, list):
        return wire[0], wire[1:]
    return wire, []


@st.composite
def mutate(draw, base):
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(base)))
        op = draw(st.sampled_from(['insert', 'delete', 'replace', 'dup']))
        piece = draw(st.text(chars, min_size=1, max_size=3))
        if op == 'insert':
            base = base[:pos] + piece + base[pos:]
        elif op == 'delete':
            base = base[:pos] + base[pos + len(piece):]
        elif op == 'replace':
            base = base[:pos] + piece + base[pos + 1:]
        else:
            base = base[:pos] + base[pos:pos + 4] * 3 + base[pos:]
    return base


@st.composite
def wire_texts(draw):
    """Packet text: a valid upstream encoding, a mutation of one, or noise."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(chars, max_size=40))
    wire, _ = _upstream_wire(draw(packets(data=json_data(tuples=False))))
    if kind == 1:
        return wire
    return draw(mutate(wire))


@st.composite
def binary_messages(draw):
    """(header text, attachments) with placeholders valid or not."""
    wire, attachments = _upstream_wire(draw(packets(data=json_data(
        tuples=False).map(lambda d: ['ev', d, b'x']))))
    if draw(st.booleans()):
        wire = draw(mutate(wire))
    extra = draw(st.lists(binaries, max_size=2))
    if draw(st.booleans()):
        attachments = attachments[:draw(st.integers(0, len(attachments)))]
    return wire, attachments + extra
