# cython: language_level=3, boundscheck=False, wraparound=False
"""Socket.IO packet codec, compiled: the twin of ``packet_py``.

Same API and same results as the pure-Python module (see its docstring for
the API); this one parses the packet header with direct access to the
string's characters and walks data structures in C.  Anything unusual (a
non-ASCII character where upstream would test ``str.isdigit()``, input that
is not an exact ``str``) takes the generic path below, written in Python
semantics, so the answers and the error messages stay upstream's.

Crash freedom: every data walk goes through ``Py_EnterRecursiveCall``, all
indexing stays within the string's length, and the parser raises only
ValueError-family exceptions for text input.

The strictness rules (``ProtocolViolation`` for what upstream accepts but the
protocol forbids) are packet_py's, checked at the same points.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.long cimport PyLong_FromLongLong
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8

import json as _stdjson

import orjson

from flask_socketio_fast._speedups.errors import (
    DecodeAttributeError, DecodeIndexError, DecodeRecursionError,
    DecodeTypeError, ProtocolViolation)

cdef extern from *:
    """
    #if PY_VERSION_HEX < 0x030C0000
    #define FSF_UNICODE_READY(s) PyUnicode_READY(s)
    #else
    #define FSF_UNICODE_READY(s) 0
    #endif
    /* Py_EnterRecursiveCall() reports failure as a nonzero value (1 on
       current CPythons), not -1; normalize it for Cython's error check */
    static int fsf_enter_recursive(const char *where) {
        return Py_EnterRecursiveCall(where) ? -1 : 0;
    }
    """
    int FSF_UNICODE_READY(object s) except -1
    int Py_EnterRecursiveCall "fsf_enter_recursive" (const char *where) \
        except -1

cdef extern from "Python.h":
    int PyUnicode_KIND(object s)
    void* PyUnicode_DATA(object s)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    Py_ssize_t PyUnicode_FindChar(object s, Py_UCS4 ch, Py_ssize_t start,
                                  Py_ssize_t end, int direction) except -2
    void Py_LeaveRecursiveCall()
    PyObject* PyDict_GetItemWithError(object d, object key) except? NULL
    int PyDict_Contains(object d, object key) except -1
    bint PyList_CheckExact(object o)
    bint PyDict_CheckExact(object o)

cdef enum:
    # longest digit run converted without a Python int (fits a long long)
    MAX_INLINE_DIGITS = 18

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = \
    range(7)

IMPLEMENTATION = 'c'

cdef object _orjson_dumps = orjson.dumps
cdef object _orjson_loads = orjson.loads
cdef object _OrjsonDecodeError = orjson.JSONDecodeError
cdef object _ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME |
                               orjson.OPT_PASSTHROUGH_DATACLASS)
cdef object _std_loads = _stdjson.loads
cdef object _std_dumps = _stdjson.dumps
cdef tuple _COMPACT = (',', ':')
cdef tuple _DIGIT_STR = tuple(str(i) for i in range(10))
cdef str _PLACEHOLDER_KEY = '_placeholder'
cdef str _NUM_KEY = 'num'

cdef object _fast_json = None


def set_fast_json(module):
    """Declare ``module`` (the jsonmod adapter) as this codec's own JSON."""
    global _fast_json
    _fast_json = module


# --- JSON -------------------------------------------------------------------

cdef inline bint _is_digit(Py_UCS4 c) nogil:
    return c >= 48 and c <= 57  # '0'..'9'


cdef bint _long_run_text(int kind, void* data, Py_ssize_t start,
                         Py_ssize_t end) nogil:
    # Is there a run of >= 19 ASCII digits in [start, end)?  Such a run
    # must cover position i + 18 for any start i <= its start, so checking
    # every 19th character suffices until a digit shows up.
    cdef Py_ssize_t i = start, j, k
    while i + 18 < end:
        if not _is_digit(PyUnicode_READ(kind, data, i + 18)):
            i += 19
            continue
        j = i + 18
        while j > i and _is_digit(PyUnicode_READ(kind, data, j - 1)):
            j -= 1
        k = i + 19
        while k < end and _is_digit(PyUnicode_READ(kind, data, k)):
            k += 1
        if k - j >= 19:
            return True
        i = k + 1
    return False


cdef bint _long_run_bytes(const unsigned char* data, Py_ssize_t end) nogil:
    cdef Py_ssize_t i = 0, j, k
    while i + 18 < end:
        if not _is_digit(data[i + 18]):
            i += 19
            continue
        j = i + 18
        while j > i and _is_digit(data[j - 1]):
            j -= 1
        k = i + 19
        while k < end and _is_digit(data[k]):
            k += 1
        if k - j >= 19:
            return True
        i = k + 1
    return False


def _bounded_int(text):
    # engineio.json's guard: integer literals over 100 characters are refused
    if len(text) > 100:
        raise ValueError('Integer is too large')
    return int(text)


def stdlib_loads(text, **kwargs):
    """``json.loads`` with engineio's integer-length guard; deep nesting
    raises a ValueError-family error instead of a bare RecursionError."""
    kwargs.setdefault('parse_int', _bounded_int)
    try:
        return _std_loads(text, **kwargs)
    except RecursionError as exc:
        raise DecodeRecursionError(
            'maximum recursion depth exceeded while decoding JSON') from exc


cdef bint _orjson_may_decide(object text):
    # orjson and the stdlib agree on ``text`` unless it holds a run of
    # digits long enough for engineio's integer guard to matter (or is of
    # a type orjson does not read)
    cdef type kind = type(text)
    if kind is str:
        FSF_UNICODE_READY(text)
        return not _long_run_text(PyUnicode_KIND(text), PyUnicode_DATA(text),
                                  0, PyUnicode_GET_LENGTH(text))
    if kind is bytes:
        return not _long_run_bytes(
            <const unsigned char*>PyBytes_AS_STRING(text),
            PyBytes_GET_SIZE(text))
    if kind is bytearray:
        return not _long_run_bytes(
            <const unsigned char*>PyByteArray_AS_STRING(text),
            PyByteArray_GET_SIZE(text))
    return False


cdef object _loads(object text):
    if _orjson_may_decide(text):
        try:
            return _orjson_loads(text)
        except _OrjsonDecodeError:
            pass  # maybe valid for the stdlib (NaN, lone surrogates, ...)
    return stdlib_loads(text)


def json_loads(text):
    """Parse JSON like ``stdlib_loads``, with orjson where it agrees."""
    return _loads(text)


def _refuse_constant(name):
    raise ProtocolViolation(f'{name} is not JSON')


def _finite_float(text):
    value = float(text)
    if value - value != 0.0:
        raise ProtocolViolation(f'{text[:20]} overflows a double')
    return value


cdef object _loads_strict(object text):
    # what received packets get on the built-in JSON path: NaN, Infinity
    # and numbers that overflow a double refused (orjson refuses them too)
    # (only ever given str: the text after a packet's header)
    if _orjson_may_decide(text):
        try:
            return _orjson_loads(text)
        except _OrjsonDecodeError:
            pass
    try:
        return stdlib_loads(text, parse_constant=_refuse_constant,
                            parse_float=_finite_float)
    except ProtocolViolation:
        # refused only if the stdlib would accept it; else its error
        stdlib_loads(text)
        raise


cdef str _dumps(object obj):
    cdef bytes body
    try:
        body = _orjson_dumps(obj, None, _ORJSON_OPTIONS)
    except TypeError:
        return _std_dumps(obj, separators=_COMPACT)
    return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(body),
                                PyBytes_GET_SIZE(body), NULL)


def json_dumps(obj):
    """Compact JSON text; the stdlib decides whenever orjson refuses."""
    return _dumps(obj)


# --- binary attachments -----------------------------------------------------

cdef inline bint _is_binary_leaf(object o):
    return isinstance(o, (bytes, bytearray))


cdef bint _has_binary(object data) except -1:
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef bint found = False
    if _is_binary_leaf(data):
        return True
    if isinstance(data, list):
        Py_EnterRecursiveCall(' while looking for binary data')
        try:
            if PyList_CheckExact(data):
                for item in <list>data:
                    if _has_binary(item):
                        found = True
                        break
            else:
                for item in data:
                    if _has_binary(item):
                        found = True
                        break
        finally:
            Py_LeaveRecursiveCall()
        return found
    if isinstance(data, dict):
        Py_EnterRecursiveCall(' while looking for binary data')
        try:
            if PyDict_CheckExact(data):
                for item in (<dict>data).values():
                    if _has_binary(item):
                        found = True
                        break
            else:
                for item in data.values():
                    if _has_binary(item):
                        found = True
                        break
        finally:
            Py_LeaveRecursiveCall()
        return found
    return False


def data_is_binary(data):
    """True if bytes/bytearray occur in ``data`` (lists and dict values)."""
    return _has_binary(data)


cdef dict _placeholder(Py_ssize_t num):
    return {'_placeholder': True, 'num': num}


cdef object _deconstruct(object data, list attachments):
    cdef list out
    cdef dict dout
    if _is_binary_leaf(data):
        attachments.append(data)
        return _placeholder(len(attachments) - 1)
    if isinstance(data, list):
        Py_EnterRecursiveCall(' while extracting binary data')
        try:
            out = [_deconstruct(item, attachments) for item in data]
        finally:
            Py_LeaveRecursiveCall()
        return out
    if isinstance(data, dict):
        Py_EnterRecursiveCall(' while extracting binary data')
        try:
            if PyDict_CheckExact(data):
                dout = {key: _deconstruct(value, attachments)
                        for key, value in (<dict>data).items()}
            else:
                dout = {key: _deconstruct(value, attachments)
                        for key, value in data.items()}
        finally:
            Py_LeaveRecursiveCall()
        return dout
    return data


def deconstruct_binary(data):
    """Return ``(data with placeholders, attachments)``; containers are
    copied, so the caller's data is never modified."""
    cdef list attachments = []
    return _deconstruct(data, attachments), attachments


cdef object _reconstruct(object data, object attachments):
    cdef PyObject* flag
    if isinstance(data, list):
        Py_EnterRecursiveCall(' while inserting binary attachments')
        try:
            return [_reconstruct(item, attachments) for item in data]
        finally:
            Py_LeaveRecursiveCall()
    if isinstance(data, dict):
        if PyDict_CheckExact(data):
            flag = PyDict_GetItemWithError(data, _PLACEHOLDER_KEY)
            if flag is not NULL and (<object>flag) and \
                    PyDict_Contains(data, _NUM_KEY):
                return attachments[(<dict>data)[_NUM_KEY]]
        elif data.get(_PLACEHOLDER_KEY) and _NUM_KEY in data:
            return attachments[data[_NUM_KEY]]
        Py_EnterRecursiveCall(' while inserting binary attachments')
        try:
            return {key: _reconstruct(value, attachments)
                    for key, value in data.items()}
        finally:
            Py_LeaveRecursiveCall()
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


cdef int _binaries(object data, list found) except -1:
    # the attachments upstream would extract, in its order
    if _is_binary_leaf(data):
        found.append(data)
    elif isinstance(data, list):
        Py_EnterRecursiveCall(' while checking binary data')
        try:
            for item in data:
                _binaries(item, found)
        finally:
            Py_LeaveRecursiveCall()
    elif isinstance(data, dict):
        Py_EnterRecursiveCall(' while checking binary data')
        try:
            for item in data.values():
                _binaries(item, found)
        finally:
            Py_LeaveRecursiveCall()
    return 0


@cython.final
@cython.freelist(8)
cdef class _Collector:
    """orjson ``default`` hook: bytes become numbered placeholders."""
    cdef list found

    def __call__(self, obj):
        if _is_binary_leaf(obj):
            if self.found is None:
                self.found = []
            self.found.append(obj)
            return _placeholder(len(self.found) - 1)
        raise TypeError


cdef tuple _fused(object data):
    # (json bytes, attachments or None) in one orjson pass, or None when
    # the exact path must decide (see packet_py.fused_dumps)
    cdef _Collector collector = _Collector.__new__(_Collector)
    cdef list expected
    cdef Py_ssize_t i
    try:
        body = _orjson_dumps(data, collector, _ORJSON_OPTIONS)
    except TypeError:
        return None
    if collector.found is not None:
        expected = []
        try:
            _binaries(data, expected)
        except RecursionError:
            return None
        if len(expected) != len(collector.found):
            return None
        for i in range(len(expected)):
            if expected[i] is not collector.found[i]:
                return None
    return body, collector.found


def fused_dumps(data):
    """``(json_bytes, attachments)`` in one pass, or None (see packet_py)."""
    result = _fused(data)
    if result is None:
        return None
    body, found = result
    return body, [] if found is None else found


# --- decoding ---------------------------------------------------------------

cdef inline bint _non_ascii_number(object text):
    # digits int() accepts that are not ASCII ('\u0663' is 3)
    return not text.isascii() and text.isdecimal()


def _decode_generic(ep, loads):
    # upstream's algorithm, for input the fast parser leaves alone, with
    # the strictness rules raised once the rest has decoded
    try:
        packet_type = int(ep[0:1])
    except TypeError:
        return ep, None, None, None, 0
    violation = None
    if isinstance(ep, str) and not '0' <= ep[0] <= '9':
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
        data = loads(rest) if loads is not None else _loads_strict(rest)
    if violation is not None:
        raise ProtocolViolation(violation)
    _check_structure(packet_type, data, count)
    return packet_type, namespace, packet_id, data, count


cdef int _placeholder_nums(object data, list found) except -1:
    # the placeholders _reconstruct would replace, by their ``num``
    cdef PyObject* flag
    if isinstance(data, list):
        Py_EnterRecursiveCall(' while checking placeholders')
        try:
            for item in data:
                _placeholder_nums(item, found)
        finally:
            Py_LeaveRecursiveCall()
    elif isinstance(data, dict):
        if PyDict_CheckExact(data):
            flag = PyDict_GetItemWithError(data, _PLACEHOLDER_KEY)
            if flag is not NULL and (<object>flag) and \
                    PyDict_Contains(data, _NUM_KEY):
                found.append((<dict>data)[_NUM_KEY])
                return 0
        elif data.get(_PLACEHOLDER_KEY) and _NUM_KEY in data:
            found.append(data[_NUM_KEY])
            return 0
        Py_EnterRecursiveCall(' while checking placeholders')
        try:
            for item in data.values():
                _placeholder_nums(item, found)
        finally:
            Py_LeaveRecursiveCall()
    return 0


def check_placeholders(data, count):
    """Refuse binary packet data whose placeholders do not number its
    ``count`` attachments exactly once each (see packet_py)."""
    cdef list nums = []
    cdef set seen
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


cdef inline int _check_structure(object packet_type, object data,
                                 object count) except -1:
    # 5 BINARY_EVENT, 6 BINARY_ACK
    if packet_type == 5 or packet_type == 6:
        check_placeholders(data, count)
    return 0


cdef object _digits_value(str s, int kind, void* data, Py_ssize_t start,
                          Py_ssize_t end):
    cdef long long value = 0
    cdef Py_ssize_t i
    if end - start > MAX_INLINE_DIGITS:
        return int(PyUnicode_Substring(s, start, end))
    for i in range(start, end):
        value = value * 10 + (<long long>PyUnicode_READ(kind, data, i) - 48)
    return PyLong_FromLongLong(value)


cdef object _decode_text(str s, object loads):
    # Fast parser for exact str; returns None to ask for the generic path.
    cdef Py_ssize_t n, pos, k, end, limit, comma, stop, resume, query
    cdef int kind
    cdef void* data
    cdef Py_UCS4 c
    cdef object count = 0, namespace = None, packet_id = None, value = None
    FSF_UNICODE_READY(s)
    n = PyUnicode_GET_LENGTH(s)
    if n == 0:
        return None
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    c = PyUnicode_READ(kind, data, 0)
    if not _is_digit(c):
        return None  # error or a non-ASCII digit: upstream's int() decides
    packet_type = PyLong_FromLongLong(<long long>c - 48)
    pos = 1
    # attachment count: digits then '-' (the first dash of the remainder,
    # as no dash can precede it inside a digit run)
    k = pos
    while k < n and _is_digit(PyUnicode_READ(kind, data, k)):
        k += 1
    if k < n:
        c = PyUnicode_READ(kind, data, k)
        if c >= 128:
            return None  # str.isdigit() may accept it
        if c == 45 and k > pos:  # '-'
            if k - pos > 10:
                raise ValueError('too many attachments')
            count = _digits_value(s, kind, data, pos, k)
            pos = k + 1
    # namespace: '/' up to the first ',' (anywhere), without '?...'
    if pos < n and PyUnicode_READ(kind, data, pos) == 47:  # '/'
        comma = PyUnicode_FindChar(s, 44, pos, n, 1)
        if comma == -1:
            stop = n
            resume = n
        else:
            stop = comma
            resume = comma + 1
        query = PyUnicode_FindChar(s, 63, pos, stop, 1)  # '?'
        if query != -1:
            stop = query
        namespace = PyUnicode_Substring(s, pos, stop)
        pos = resume
    # ack id: up to 100 digits, a 101st is an error
    if pos < n:
        c = PyUnicode_READ(kind, data, pos)
        if c >= 128:
            return None
        if _is_digit(c):
            limit = pos + 100
            if limit > n:
                limit = n
            end = pos + 1
            while end < limit and _is_digit(PyUnicode_READ(kind, data, end)):
                end += 1
            if end < n:
                c = PyUnicode_READ(kind, data, end)
                if c >= 128:
                    return None
                if end == pos + 100 and _is_digit(c):
                    raise ValueError('id field is too long')
            packet_id = _digits_value(s, kind, data, pos, end)
            pos = end
    if pos < n:
        rest = PyUnicode_Substring(s, pos, n)
        value = _loads_strict(rest) if loads is None else loads(rest)
    _check_structure(packet_type, value, count)
    return packet_type, namespace, packet_id, value, count


cdef tuple _decode(object encoded, object loads):
    result = None
    try:
        if type(encoded) is str:
            result = _decode_text(<str>encoded, loads)
        if result is None:
            result = _decode_generic(encoded, loads)
    except ValueError:
        raise
    except TypeError as exc:
        raise DecodeTypeError(*exc.args) from exc
    except AttributeError as exc:
        raise DecodeAttributeError(*exc.args) from exc
    except RecursionError as exc:
        raise DecodeRecursionError(*exc.args) from exc
    return result


def decode(encoded, loads=None):
    """Parse one encoded packet: ``(packet_type, namespace, id, data,
    attachment_count)``; ``loads=None`` uses the built-in JSON path."""
    return _decode(encoded, loads)


# --- encoding ---------------------------------------------------------------

cdef str _type_str(object packet_type):
    cdef long v
    if type(packet_type) is int:
        try:
            v = packet_type
        except OverflowError:
            return str(packet_type)
        if 0 <= v <= 9:
            return <str>_DIGIT_STR[v]
    return str(packet_type)


cdef str _header(object packet_type, Py_ssize_t count, object namespace,
                 object packet_id):
    cdef str head = _type_str(packet_type)
    if count >= 0:
        head = head + str(count) + '-'
    if namespace is not None and namespace != '/':
        head = head + (namespace + ',')
    if packet_id is not None:
        head = head + str(packet_id)
    return head


cdef inline str _utf8(bytes body):
    return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(body),
                                PyBytes_GET_SIZE(body), NULL)


cdef object _encode(object packet_type, object data, object namespace,
                    object packet_id, object dumps):
    cdef list attachments = None
    cdef str head
    cdef list out
    if packet_type == BINARY_EVENT or packet_type == BINARY_ACK:
        attachments = []
        data = _deconstruct(data, attachments)
        head = _header(packet_type, len(attachments), namespace, packet_id)
    else:
        head = _header(packet_type, -1, namespace, packet_id)
    if data is not None:
        if dumps is None:
            head = head + _dumps(data)
        else:
            head = head + dumps(data, separators=_COMPACT)
    if attachments is not None:
        out = [head]
        out.extend(attachments)
        return out
    return head


def encode(packet_type, data, namespace=None, id=None, dumps=None):
    """Encode a packet whose type is final; see packet_py.encode."""
    return _encode(packet_type, data, namespace, id, dumps)


# --- the packet class -------------------------------------------------------

cdef class PacketBase:
    """Socket.IO packet with upstream's attributes and methods.

    Whether an EVENT or ACK carries binary data (making it a BINARY_*
    packet) is settled lazily: ``encode()`` finds the attachments while it
    serializes, so the data is walked once.  Reading ``packet_type`` first
    settles it on the spot.  Combine with ``socketio.packet.Packet``, which
    provides ``json`` and ``uses_binary_events``.
    """

    cdef object _packet_type
    cdef object _data
    cdef bint _pending
    cdef public object namespace
    cdef public object id
    cdef public object attachment_count
    cdef public object attachments

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
                    elif _is_binary_leaf(data):
                        self._promote()
                elif _has_binary(data):
                    self._promote()
        self.attachment_count = 0
        self.attachments = []
        if encoded_packet:
            self.attachment_count = self.decode(encoded_packet) or 0

    cdef int _promote(self) except -1:
        if self._packet_type == EVENT:
            self._packet_type = BINARY_EVENT
        elif self._packet_type == ACK:
            self._packet_type = BINARY_ACK
        else:
            raise ValueError('Packet does not support binary payload.')
        return 0

    cdef int _settle(self) except -1:
        self._pending = False
        if _has_binary(self._data):
            self._promote()
        return 0

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
        """Encode the packet: a str, or ``[str, attachment, ...]`` for
        binary packets (same output as upstream)."""
        cdef tuple fused
        cdef list found, out
        cdef str head
        json = self.json
        cdef bint fast = json is _fast_json
        if self._pending:
            if fast:
                fused = _fused(self._data)
                if fused is not None:
                    self._pending = False
                    found = <list>fused[1]
                    if found is not None:
                        self._promote()
                        head = _header(self._packet_type, len(found),
                                       self.namespace, self.id)
                        out = [head + _utf8(<bytes>fused[0])]
                        out.extend(found)
                        return out
                    return _header(self._packet_type, -1, self.namespace,
                                   self.id) + _utf8(<bytes>fused[0])
            self._settle()
        return _encode(self._packet_type, self._data, self.namespace, self.id,
                       None if fast else json.dumps)

    cpdef decode(self, encoded_packet):
        """Decode a packet; returns how many binary attachments follow."""
        json = self.json
        cdef tuple result = _decode(
            encoded_packet, None if json is _fast_json else json.loads)
        self._pending = False
        self._packet_type = result[0]
        self.namespace = result[1]
        self._data = result[3]
        if result[2] is not None:
            self.id = result[2]
        return result[4]

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
        return _has_binary(data)
