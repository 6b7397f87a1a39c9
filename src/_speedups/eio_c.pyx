# cython: language_level=3, boundscheck=False, wraparound=False
"""Engine.IO packet and polling-payload codec, compiled: the twin of
``eio_py`` (see its docstring for the API).

The common cases -- a text packet whose data starts with a digit (every
Socket.IO message), raw binary, ``b`` + base64 -- are handled here without
Python-level steps; anything else takes the generic path, which follows
``engineio.packet.Packet.decode`` step by step, except that a packet type
must be an ASCII digit (``ProtocolViolation`` otherwise, where upstream's
``int()`` takes any Unicode decimal digit).
"""

from cpython.unicode cimport PyUnicode_Join

import base64
import urllib.parse

from flask_socketio_fast._speedups.errors import (
    DecodeKeyError, DecodeRecursionError, DecodeTypeError, ProtocolViolation)

cdef extern from *:
    """
    #if PY_VERSION_HEX < 0x030C0000
    #define FSF_UNICODE_READY(s) PyUnicode_READY(s)
    #else
    #define FSF_UNICODE_READY(s) 0
    #endif
    """
    int FSF_UNICODE_READY(object s) except -1

cdef extern from "Python.h":
    int PyUnicode_KIND(object s)
    void* PyUnicode_DATA(object s)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)

IMPLEMENTATION = 'c'

cdef object _MESSAGE = MESSAGE
cdef tuple _COMPACT = (',', ':')
cdef tuple _DIGIT_INT = tuple(range(10))
cdef tuple _DIGIT_STR = tuple(str(i) for i in range(10))
cdef object _b64decode = base64.b64decode
cdef object _b64encode = base64.b64encode
cdef str _RS = '\x1e'


cdef inline bint _is_digit(Py_UCS4 c) nogil:
    return c >= 48 and c <= 57


def _decode_generic(encoded, loads):
    # engineio's algorithm, for input the fast path leaves alone
    binary = isinstance(encoded, (bytes, bytearray))
    if not binary and len(encoded) == 0:
        raise ValueError('Invalid empty packet received')
    if not binary and encoded[0] == 'b':
        return _MESSAGE, _b64decode(encoded[1:]), True
    if binary:
        if not isinstance(encoded, bytes):
            encoded = bytes(encoded)
        return _MESSAGE, encoded, True
    packet_type = int(encoded[0])
    data = _text_data(encoded, loads)
    if not '0' <= encoded[0] <= '9':
        # int() takes any Unicode decimal digit; we take ASCII only
        raise ProtocolViolation('packet type is not an ASCII digit')
    return packet_type, data, False


cdef object _text_data(object encoded, object loads):
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
        raise DecodeRecursionError(*too_deep.args) from too_deep
    return data


cdef tuple _decode_str(str s, object loads):
    cdef Py_ssize_t n
    cdef int kind
    cdef void* data
    cdef Py_UCS4 c0, c1
    FSF_UNICODE_READY(s)
    n = PyUnicode_GET_LENGTH(s)
    if n == 0:
        raise ValueError('Invalid empty packet received')
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    c0 = PyUnicode_READ(kind, data, 0)
    if c0 == 98:  # 'b'
        return _MESSAGE, _b64decode(PyUnicode_Substring(s, 1, n)), True
    if not _is_digit(c0):
        return None
    if n == 1:
        return _DIGIT_INT[<int>c0 - 48], '', False
    c1 = PyUnicode_READ(kind, data, 1)
    if _is_digit(c1):
        return _DIGIT_INT[<int>c0 - 48], PyUnicode_Substring(s, 1, n), False
    if c1 >= 128:
        return None  # str.isnumeric() may accept it
    return _DIGIT_INT[<int>c0 - 48], _text_data(s, loads), False


cdef tuple _decode(object encoded, object loads):
    cdef tuple result = None
    try:
        if type(encoded) is str:
            result = _decode_str(<str>encoded, loads)
        elif type(encoded) is bytes:
            return _MESSAGE, encoded, True
        if result is None:
            result = _decode_generic(encoded, loads)
    except ValueError:
        raise
    except TypeError as exc:
        raise DecodeTypeError(*exc.args) from exc
    except RecursionError as exc:
        raise DecodeRecursionError(*exc.args) from exc
    return result


def decode_packet(encoded, loads):
    """Parse one packet: ``(packet_type, data, binary)``."""
    return _decode(encoded, loads)


def encode_packet(packet_type, data, binary, b64, dumps):
    """Encode one packet; ``dumps`` is the JSON module's ``dumps``."""
    cdef str head
    if binary:
        if b64:
            return 'b' + _b64encode(data).decode('utf-8')
        return data
    if type(packet_type) is int and 0 <= packet_type <= 9:
        head = <str>_DIGIT_STR[packet_type]
    else:
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
        try:
            encoded = urllib.parse.parse_qs(encoded)['d'][0]
        except KeyError as exc:
            raise DecodeKeyError(*exc.args) from exc
    parts = encoded.split(_RS)
    if len(parts) > max_packets:
        raise ValueError('Too many packets in payload')
    return parts


def decode_payload(encoded, max_packets, loads):
    """Decode a polling payload into ``(packet_type, data, binary)`` tuples."""
    return [_decode(part, loads) for part in split_payload(encoded,
                                                          max_packets)]


def encode_payload(encoded_packets, jsonp_index=None):
    """Join already encoded (b64) packets into a polling payload."""
    cdef str payload = PyUnicode_Join(_RS, encoded_packets)
    if jsonp_index is not None:
        payload = '___eio[' + str(jsonp_index) + ']("' + \
            payload.replace('"', '\\"') + '");'
    return payload
