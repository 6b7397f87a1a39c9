"""Socket.IO packet codec in pure Python: the twin of the compiled ``packet_c``.

Both modules expose the same API and give the same results, byte for byte and
error for error; the compiled one is only faster.  The wire format, and what
is accepted or rejected, follows ``socketio.packet.Packet`` from
python-socketio 5.x (read its ``decode`` for the quirks kept here: the dash
search over the whole remainder, the 10-digit attachment count and 100-digit
ack id limits), except for the strictness rules, where decoding raises
``ProtocolViolation`` for input upstream accepts: a packet type, attachment
count or ack id in non-ASCII digits, binary placeholders that do not number
the attachments 0 .. n-1, and (on the built-in JSON path) ``NaN`` and
``Infinity``.  A CONNECT payload that is not an object is accepted, as
upstream does (python-socketio's client sends whatever ``auth`` it is
given).

Besides the packet base class this module holds the JSON fast path that the
``flask_socketio_fast.jsonmod`` adapter uses: orjson first, the standard
library whenever orjson would answer differently (see ``docs/codec.md``).

API shared with ``packet_c``:

* ``PacketBase`` -- behaviour of ``socketio.packet.Packet``; subclass it
  together with that class (``flask_socketio_fast.packet`` does).
* ``decode(encoded, loads=None)`` -> ``(type, namespace, id, data, count)``
* ``encode(type, data, namespace, id, dumps=None)`` -> ``str`` or ``list``
* ``data_is_binary``, ``deconstruct_binary``, ``reconstruct_binary``,
  ``check_placeholders(data, count)``
* ``json_dumps(obj) -> str``, ``json_loads(text)``, ``set_fast_json(module)``

``loads=None`` / ``dumps=None`` select the built-in orjson path.
"""

import json as _stdjson
import re

import orjson

from .errors import (DecodeAttributeError, DecodeIndexError,
                     DecodeRecursionError, DecodeTypeError, ProtocolViolation)

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = \
    range(7)

IMPLEMENTATION = 'python'

# orjson would serialize these natively where the stdlib raises TypeError;
# routing them to ``default`` (which refuses) keeps emit-time TypeErrors.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | \
    orjson.OPT_PASSTHROUGH_DATACLASS
_COMPACT = (',', ':')

# orjson turns integers outside the 64-bit range into floats without an
# error.  Any literal that could be one has at least 19 digits in a row, so
# such input goes to the stdlib parser instead (a false positive, e.g. digits
# inside a string, only costs speed).
_LONG_DIGITS_STR = re.compile('[0-9]{19}')
_LONG_DIGITS_BYTES = re.compile(b'[0-9]{19}')

# the module object whose presence as ``Packet.json`` enables the fast path
_fast_json = None


def set_fast_json(module):
    """Declare ``module`` (the jsonmod adapter) as this codec's own JSON."""
    global _fast_json
    _fast_json = module


def _bounded_int(text):
    # python-socketio's default JSON module (engineio.json) refuses integer
    # literals longer than 100 characters, so the stdlib path does too
    if len(text) > 100:
        raise ValueError('Integer is too large')
    return int(text)


def stdlib_loads(text, **kwargs):
    """``json.loads`` with engineio's integer-length guard; deep nesting
    raises a ValueError-family error instead of a bare RecursionError."""
    kwargs.setdefault('parse_int', _bounded_int)
    try:
        return _stdjson.loads(text, **kwargs)
    except RecursionError as exc:
        raise DecodeRecursionError(
            'maximum recursion depth exceeded while decoding JSON') from exc


def json_loads(text):
    """Parse JSON text (str, bytes or bytearray) like ``stdlib_loads``,
    using orjson whenever that gives the same answer."""
    return _json_loads(text, False)


def _refuse_constant(name):
    raise ProtocolViolation(f'{name} is not JSON')


def _finite_float(text):
    value = float(text)
    if value - value != 0.0:
        raise ProtocolViolation(f'{text[:20]} overflows a double')
    return value


def _json_loads(text, strict):
    # strict (what packets received with the built-in JSON get): NaN,
    # Infinity, -Infinity and numbers that overflow a double are refused;
    # orjson already refuses them, the stdlib is told to
    kind = type(text)
    if kind is str:
        risky = _LONG_DIGITS_STR.search(text)
    elif kind is bytes or kind is bytearray:
        risky = _LONG_DIGITS_BYTES.search(text)
    else:
        # memoryview and friends: orjson would take them, the stdlib does
        # not, and the stdlib defines what is accepted
        risky = True
    if not risky:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # maybe valid for the stdlib (NaN, lone surrogates, ...)
    if strict:
        try:
            return stdlib_loads(text, parse_constant=_refuse_constant,
                                parse_float=_finite_float)
        except ProtocolViolation:
            # refused only if the stdlib would accept it; else its error
            stdlib_loads(text)
            raise
    return stdlib_loads(text)


def json_dumps(obj):
    """Compact JSON text for ``obj``; the stdlib decides whenever orjson
    refuses (big integers, non-string keys, ...), so the same objects are
    accepted and the same TypeErrors raised as with ``json.dumps``."""
    try:
        return orjson.dumps(obj, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return _stdjson.dumps(obj, separators=_COMPACT)


# --- binary attachments -----------------------------------------------------

def data_is_binary(data):
    """True if bytes/bytearray occur in ``data``, looking into lists and
    dict values only (as upstream does: not into tuples or keys)."""
    if isinstance(data, (bytes, bytearray)):
        return True
    if isinstance(data, list):
        for item in data:
            if data_is_binary(item):
                return True
    elif isinstance(data, dict):
        for item in data.values():
            if data_is_binary(item):
                return True
    return False


def _deconstruct(data, attachments):
    if isinstance(data, (bytes, bytearray)):
        attachments.append(data)
        return {'_placeholder': True, 'num': len(attachments) - 1}
    if isinstance(data, list):
        return [_deconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, attachments)
                for key, value in data.items()}
    return data


def deconstruct_binary(data):
    """Return ``(data with placeholders, attachments)``; lists and dicts
    are copied, like upstream, so the caller's data is never modified."""
    attachments = []
    return _deconstruct(data, attachments), attachments


def _reconstruct(data, attachments):
    if isinstance(data, list):
        return [_reconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get('_placeholder') and 'num' in data:
            return attachments[data['num']]
        return {key: _reconstruct(value, attachments)
                for key, value in data.items()}
    return data


def reconstruct_binary(data, attachments):
    """Replace placeholders in ``data`` by their attachments."""
    try:
        return _reconstruct(data, attachments)
    except IndexError as exc:
        raise DecodeIndexError(*exc.args) from exc
    except TypeError as exc:
        raise DecodeTypeError(*exc.args) from exc
    except RecursionError as exc:
        raise DecodeRecursionError(*exc.args) from exc


def _binaries(data, found):
    # the attachments upstream would extract, in its order
    if isinstance(data, (bytes, bytearray)):
        found.append(data)
    elif isinstance(data, list):
        for item in data:
            _binaries(item, found)
    elif isinstance(data, dict):
        for item in data.values():
            _binaries(item, found)


def fused_dumps(data):
    """Serialize ``data`` and extract its binary attachments in one orjson
    pass.  Returns ``(json_bytes, attachments)``, or None when the result
    could differ from upstream's (unserializable values, or bytes somewhere
    upstream does not look, such as inside a tuple); the caller then takes
    the exact path."""
    attachments = []

    def placeholder(obj):
        if isinstance(obj, (bytes, bytearray)):
            attachments.append(obj)
            return {'_placeholder': True, 'num': len(attachments) - 1}
        raise TypeError

    try:
        body = orjson.dumps(data, default=placeholder, option=_ORJSON_OPTIONS)
    except TypeError:
        return None
    if attachments:
        expected = []
        try:
            _binaries(data, expected)
        except RecursionError:
            return None
        if len(expected) != len(attachments) or any(
                a is not b for a, b in zip(expected, attachments)):
            return None
    return body, attachments


# --- decoding ---------------------------------------------------------------

def _non_ascii_number(text):
    # digits int() accepts but that are not ASCII ('\u0663' is 3); others
    # ('\u00b2') keep failing in int() as upstream's do
    return not text.isascii() and text.isdecimal()


def _placeholder_nums(data, found):
    # the placeholders upstream's reconstruct_binary would replace, in the
    # places it looks (lists and dict values), by their ``num``
    if isinstance(data, list):
        for item in data:
            _placeholder_nums(item, found)
    elif isinstance(data, dict):
        if data.get('_placeholder') and 'num' in data:
            found.append(data['num'])
        else:
            for item in data.values():
                _placeholder_nums(item, found)


def check_placeholders(data, count):
    """Refuse binary packet data whose placeholders do not number its
    ``count`` attachments exactly once each (0 .. count - 1, integers).
    Upstream takes any index Python does (-1 is the last attachment, True
    is 1), fails later on others and keeps waiting for attachments that
    a count of 0 never completes."""
    nums = []
    try:
        _placeholder_nums(data, nums)
    except RecursionError as exc:
        raise DecodeRecursionError(*exc.args) from exc
    if count == 0:
        raise ProtocolViolation('binary packet without attachments')
    if len(nums) != count:
        raise ProtocolViolation(
            f'{count} attachments announced, {len(nums)} placeholders')
    seen = set()
    for num in nums:
        if type(num) is not int or not 0 <= num < count or num in seen:
            raise ProtocolViolation(f'invalid placeholder num {num!r:.20}')
        seen.add(num)


def _decode(ep, loads):
    try:
        packet_type = int(ep[0:1])
    except TypeError:
        # not text at all: upstream keeps the object itself as the type
        return ep, None, None, None, 0
    # the strictness rules refuse only what upstream accepts: a violation
    # of the header is raised once the rest has decoded
    violation = None
    if isinstance(ep, str) and not '0' <= ep[0] <= '9':
        # int() takes any Unicode decimal digit ('\u0663' is 3)
        violation = 'packet type is not an ASCII digit'
    rest = ep[1:]
    count = 0
    dash = rest.find('-')
    if dash > 0 and rest[0:dash].isdigit():
        if dash > 10:
            raise ValueError('too many attachments')
        if _non_ascii_number(rest[0:dash]):
            violation = 'attachment count is not ASCII digits'
        count = int(rest[0:dash])
        rest = rest[dash + 1:]
    namespace = None
    if rest and rest[0:1] == '/':
        comma = rest.find(',')
        if comma == -1:
            namespace, rest = rest, ''
        else:
            namespace, rest = rest[0:comma], rest[comma + 1:]
        query = namespace.find('?')
        if query != -1:
            namespace = namespace[0:query]
    packet_id = None
    if rest and rest[0].isdigit():
        end = 1
        limit = len(rest)
        while end < limit and end < 100 and rest[end].isdigit():
            end += 1
        if _non_ascii_number(rest[:end]):
            violation = 'ack id is not ASCII digits'
        packet_id = int(rest[:end])
        rest = rest[end:]
        if rest and rest[0].isdigit():
            raise ValueError('id field is too long')
    data = None
    if rest:
        data = _json_loads(rest, True) if loads is None else loads(rest)
    if violation is not None:
        raise ProtocolViolation(violation)
    if packet_type == BINARY_EVENT or packet_type == BINARY_ACK:
        check_placeholders(data, count)
    return packet_type, namespace, packet_id, data, count


def decode(encoded, loads=None):
    """Parse one encoded packet.

    Returns ``(packet_type, namespace, id, data, attachment_count)``;
    ``namespace`` and ``id`` are None when absent.  Raises only
    ValueError-family exceptions for text input: upstream's, and
    ``ProtocolViolation`` for what upstream accepts but the strictness
    rules refuse (see ``_decode``; with ``loads=None`` also ``NaN`` and
    ``Infinity``, which the built-in JSON path then refuses).
    """
    try:
        return _decode(encoded, loads)
    except ValueError:
        raise
    except TypeError as exc:
        raise DecodeTypeError(*exc.args) from exc
    except AttributeError as exc:
        raise DecodeAttributeError(*exc.args) from exc
    except RecursionError as exc:
        raise DecodeRecursionError(*exc.args) from exc


# --- encoding ---------------------------------------------------------------

def _header(packet_type, count, namespace, packet_id):
    head = str(packet_type)
    if count is not None:
        head += str(count) + '-'
    if namespace is not None and namespace != '/':
        head += namespace + ','
    if packet_id is not None:
        head += str(packet_id)
    return head


def encode(packet_type, data, namespace=None, id=None, dumps=None):
    """Encode a packet whose type is final (BINARY_* for binary data).

    ``dumps`` is the JSON module's ``dumps`` (called with compact
    separators) or None for the built-in orjson path.  Returns a str, or
    for binary packets ``[str, attachment, ...]``.
    """
    if packet_type == BINARY_EVENT or packet_type == BINARY_ACK:
        data, attachments = deconstruct_binary(data)
        head = _header(packet_type, len(attachments), namespace, id)
    else:
        attachments = None
        head = _header(packet_type, None, namespace, id)
    if data is not None:
        if dumps is None:
            head += json_dumps(data)
        else:
            head += dumps(data, separators=_COMPACT)
    if attachments is not None:
        return [head] + attachments
    return head


# --- the packet class -------------------------------------------------------

class PacketBase:
    """Socket.IO packet with upstream's attributes and methods.

    Whether an EVENT or ACK carries binary data (which makes it a BINARY_*
    packet) is settled lazily: ``encode()`` finds the attachments while it
    serializes, so the data is walked once instead of three times.  Reading
    ``packet_type`` before that settles it on the spot.
    Meant to be combined with ``socketio.packet.Packet``, which provides
    ``json`` and ``uses_binary_events``.
    """

    def __init__(self, packet_type=EVENT, data=None, namespace=None, id=None,
                 binary=None, encoded_packet=None):
        self._packet_type = packet_type
        self._data = data
        self._pending = False
        self.namespace = namespace
        self.id = id
        # (binary=None with data=None, the decoding case, is never binary:
        # no need to look up uses_binary_events)
        if (binary is not None or data is not None) and \
                self.uses_binary_events:
            if binary:
                self._promote()
            elif binary is None:
                if packet_type == EVENT or packet_type == ACK:
                    if isinstance(data, (list, dict)):
                        self._pending = True
                    elif isinstance(data, (bytes, bytearray)):
                        self._promote()
                elif data_is_binary(data):
                    self._promote()
        self.attachment_count = 0
        self.attachments = []
        if encoded_packet:
            self.attachment_count = self.decode(encoded_packet) or 0

    def _promote(self):
        if self._packet_type == EVENT:
            self._packet_type = BINARY_EVENT
        elif self._packet_type == ACK:
            self._packet_type = BINARY_ACK
        else:
            raise ValueError('Packet does not support binary payload.')

    def _settle(self):
        self._pending = False
        if data_is_binary(self._data):
            self._promote()

    @property
    def packet_type(self):
        if self._pending:
            self._settle()
        return self._packet_type

    @packet_type.setter
    def packet_type(self, value):
        self._pending = False
        self._packet_type = value

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        # the binary decision belongs to the data given at construction
        if self._pending:
            self._settle()
        self._data = value

    def encode(self):
        """Encode the packet: a str, or a list ``[str, attachment, ...]``
        for binary packets (same output as upstream)."""
        json = self.json
        fast = json is _fast_json
        if self._pending:
            if fast:
                fused = fused_dumps(self._data)
                if fused is not None:
                    self._pending = False
                    body, attachments = fused
                    if attachments:
                        self._promote()
                        head = _header(self._packet_type, len(attachments),
                                       self.namespace, self.id)
                        return [head + body.decode()] + attachments
                    return _header(self._packet_type, None, self.namespace,
                                   self.id) + body.decode()
            self._settle()
        return encode(self._packet_type, self._data, self.namespace, self.id,
                      None if fast else json.dumps)

    def decode(self, encoded_packet):
        """Decode a packet; returns how many binary attachments must follow."""
        json = self.json
        packet_type, namespace, packet_id, data, count = decode(
            encoded_packet, None if json is _fast_json else json.loads)
        self._pending = False
        self._packet_type = packet_type
        self.namespace = namespace
        self._data = data
        if packet_id is not None:
            self.id = packet_id
        return count

    def add_attachment(self, attachment):
        if self.attachment_count <= len(self.attachments):
            raise ValueError('Unexpected binary attachment')
        self.attachments.append(attachment)
        if self.attachment_count == len(self.attachments):
            self.data = self.reconstruct_binary(self.data, self.attachments)
            return True
        return False

    @classmethod
    def reconstruct_binary(cls, data, attachments):
        return reconstruct_binary(data, attachments)

    @classmethod
    def deconstruct_binary(cls, data):
        return deconstruct_binary(data)

    @classmethod
    def data_is_binary(cls, data):
        return data_is_binary(data)
