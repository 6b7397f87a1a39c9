# cython: language_level=3, boundscheck=False, wraparound=False
"""WebSocket (RFC 6455) frame codec, compiled: the twin of ``wsframe_py``
(see its docstring for the API and the exact rules).

The work that costs per byte -- unmasking client payloads, UTF-8 checking,
copying a payload behind a server frame header -- runs here in C, eight
bytes at a time for the XOR.  A chunk holding whole frames is parsed in
place, without first being copied into the parser's buffer.
"""

from cpython.buffer cimport (PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release,
                             PyObject_GetBuffer)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import os

from flask_socketio_fast._speedups.wsframe_errors import FrameError

cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size,
                                const char *errors)
    object PyUnicode_DecodeUTF8Stateful(const char *s, Py_ssize_t size,
                                        const char *errors,
                                        Py_ssize_t *consumed)
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) \
        except NULL

cdef extern from "nonblocking_send.h":
    int FSF_NATIVE_SEND
    int FSF_EAGAIN
    Py_ssize_t fsf_recv(int fd, char *buf, Py_ssize_t n) nogil

IMPLEMENTATION = 'c'

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
COMPRESSED = 0x40

cdef enum:
    _PROTOCOL_ERROR = 1002
    _INVALID_DATA = 1007
    _MESSAGE_TOO_BIG = 1009
    _STACK_TEXT = 2048

cdef object _FrameError = FrameError


cdef inline void _xor(unsigned char *dst, const unsigned char *src,
                      Py_ssize_t n, const unsigned char *mask) noexcept nogil:
    cdef uint32_t m32
    cdef uint64_t m64, w
    cdef Py_ssize_t i = 0
    memcpy(&m32, mask, 4)
    # the 4 mask bytes twice, in memory order, whatever the endianness
    m64 = (<uint64_t>m32 << 32) | m32
    while i + 8 <= n:
        memcpy(&w, src + i, 8)
        w ^= m64
        memcpy(dst + i, &w, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ mask[i & 3]
        i += 1


cdef inline bint _peer_close_code(unsigned int code) noexcept nogil:
    if 3000 <= code <= 4999:
        return True
    if 1000 <= code <= 1003:
        return True
    return 1007 <= code <= 1014


cdef object _close_info(const unsigned char *p, Py_ssize_t n):
    cdef unsigned int code
    if n == 0:
        return (None, '')
    if n == 1:
        raise _FrameError(_PROTOCOL_ERROR, 'close frame with a 1-byte payload')
    code = (p[0] << 8) | p[1]
    if not _peer_close_code(code):
        raise _FrameError(_PROTOCOL_ERROR, f'invalid close code {code}')
    try:
        reason = PyUnicode_DecodeUTF8(<const char*>p + 2, n - 2, 'strict')
    except UnicodeDecodeError:
        raise _FrameError(_INVALID_DATA,
                          'close reason is not valid UTF-8') from None
    return (code, reason)


cdef object _invalid_text():
    return _FrameError(_INVALID_DATA, 'text message is not valid UTF-8')


cdef class FrameParser:
    """Incremental parser of the frames a WebSocket client sends."""

    cdef readonly object max_message_size
    cdef readonly bint require_mask
    cdef readonly bint allow_compression
    cdef Py_ssize_t _limit          # -1: no limit
    cdef bytearray _buf
    cdef object _error
    cdef bint _closed
    cdef int _frag_opcode           # 0: no fragmented message open
    cdef bint _frag_compressed
    cdef bint _frag_text            # decode the fragments as UTF-8
    cdef list _frag_parts
    cdef Py_ssize_t _frag_size
    cdef bytes _frag_tail           # an incomplete UTF-8 sequence

    def __init__(self, max_message_size=None, require_mask=True,
                 allow_compression=False):
        if max_message_size is not None and max_message_size < 0:
            raise ValueError('max_message_size must be >= 0 or None')
        self.max_message_size = max_message_size
        self._limit = -1 if max_message_size is None else \
            min(max_message_size, (<Py_ssize_t>1 << 62))
        self.require_mask = bool(require_mask)
        self.allow_compression = bool(allow_compression)
        self._buf = bytearray()
        self._error = None
        self._closed = False
        self._frag_opcode = 0
        self._frag_compressed = False
        self._frag_text = False
        self._frag_parts = []
        self._frag_size = 0
        self._frag_tail = b''

    @property
    def closed(self):
        """True once a close frame has been parsed."""
        return self._closed

    @property
    def buffered(self):
        """Bytes held: the unparsed tail plus the fragments assembled so
        far."""
        return PyByteArray_GET_SIZE(self._buf) + self._frag_size

    def feed(self, data):
        cdef Py_buffer view
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t held
        cdef list events = []
        if self._error is not None:
            raise _FrameError(self._error.code, self._error.reason)
        if self._closed:
            return events
        try:
            if PyByteArray_GET_SIZE(self._buf) == 0:
                # nothing held: parse the caller's chunk where it is and
                # keep only its unfinished tail
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                try:
                    pos = self._parse(<const unsigned char*>view.buf,
                                      view.len, events)
                    if not self._closed and pos < view.len:
                        self._buf = bytearray(
                            (<const char*>view.buf)[pos:view.len])
                finally:
                    PyBuffer_Release(&view)
            else:
                self._buf += data
                held = PyByteArray_GET_SIZE(self._buf)
                pos = self._parse(
                    <const unsigned char*>PyByteArray_AS_STRING(self._buf),
                    held, events)
                if self._closed:
                    self._buf = bytearray()
                elif pos:
                    del self._buf[:pos]
        except _FrameError as exc:
            self._fail()
            self._error = exc
            exc.events = events
            raise
        return events

    cdef void _fail(self):
        self._buf = bytearray()
        self._frag_parts = []
        self._frag_size = 0
        self._frag_tail = b''

    cdef Py_ssize_t _parse(self, const unsigned char *p, Py_ssize_t n,
                           list events) except -1:
        cdef Py_ssize_t pos = 0, head, avail
        cdef unsigned char b0, b1, opcode, rsv
        cdef bint fin, masked, compressed
        cdef uint64_t length
        cdef int k
        cdef const unsigned char *mask
        cdef const unsigned char *src
        while n - pos >= 2:
            b0 = p[pos]
            b1 = p[pos + 1]
            fin = (b0 & 0x80) != 0
            rsv = b0 & 0x70
            opcode = b0 & 0x0F
            compressed = False
            if opcode >= 8:
                if opcode > OP_PONG:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      f'reserved opcode {opcode}')
                if rsv:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'RSV bits set on a control frame')
                if not fin:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'fragmented control frame')
            else:
                if opcode > OP_BINARY:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      f'reserved opcode {opcode}')
                if rsv:
                    if rsv != 0x40 or not self.allow_compression:
                        raise _FrameError(_PROTOCOL_ERROR,
                                          'RSV bits set without an extension')
                    if opcode == OP_CONTINUATION:
                        raise _FrameError(_PROTOCOL_ERROR,
                                          'RSV1 set on a continuation frame')
                    compressed = True
                if opcode == OP_CONTINUATION:
                    if not self._frag_opcode:
                        raise _FrameError(_PROTOCOL_ERROR,
                                          'continuation frame without a '
                                          'message to continue')
                elif self._frag_opcode:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'new message inside a fragmented one')
            masked = (b1 & 0x80) != 0
            length = b1 & 0x7F
            if opcode >= 8 and length > 125:
                raise _FrameError(_PROTOCOL_ERROR,
                                  'control frame payload over 125 bytes')
            if self.require_mask and not masked:
                raise _FrameError(_PROTOCOL_ERROR, 'unmasked client frame')
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (<uint64_t>p[pos + 2] << 8) | p[pos + 3]
                if length < 126:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'payload length not minimally encoded')
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = 0
                for k in range(8):
                    length = (length << 8) | p[pos + 2 + k]
                if length >> 63:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'payload length with the top bit set')
                if length < 65536:
                    raise _FrameError(_PROTOCOL_ERROR,
                                      'payload length not minimally encoded')
                head = 10
            if self._limit >= 0 and opcode < 8:
                # the whole message, including fragments already held
                if length > <uint64_t>(self._limit - (
                        self._frag_size if opcode == 0 else 0)):
                    raise _FrameError(_MESSAGE_TOO_BIG,
                                      'message over the size limit')
            if masked:
                head += 4
            avail = n - pos - head
            if avail < 0 or length > <uint64_t>avail:
                break
            src = p + pos + head
            mask = src - 4 if masked else NULL
            pos += head + <Py_ssize_t>length
            if opcode >= 8:
                payload = self._payload(src, <Py_ssize_t>length, mask)
                if opcode == OP_CLOSE:
                    events.append((OP_CLOSE, _close_info(
                        <const unsigned char*>PyBytes_AS_STRING(payload),
                        <Py_ssize_t>length)))
                    self._closed = True
                    break
                events.append((opcode, payload))
                continue
            if fin and opcode != OP_CONTINUATION:
                if opcode == OP_TEXT and not compressed:
                    events.append((OP_TEXT, self._text(
                        src, <Py_ssize_t>length, mask)))
                elif compressed:
                    events.append((opcode | COMPRESSED, self._payload(
                        src, <Py_ssize_t>length, mask)))
                else:
                    events.append((OP_BINARY, self._payload(
                        src, <Py_ssize_t>length, mask)))
                continue
            self._fragment(opcode, fin, compressed,
                           self._payload(src, <Py_ssize_t>length, mask),
                           events)
        return pos

    cdef bytes _payload(self, const unsigned char *src, Py_ssize_t n,
                        const unsigned char *mask):
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
        cdef unsigned char *dst = <unsigned char*>PyBytes_AS_STRING(out)
        if mask != NULL:
            with nogil:
                _xor(dst, src, n, mask)
        else:
            memcpy(dst, src, n)
        return out

    cdef object _text(self, const unsigned char *src, Py_ssize_t n,
                      const unsigned char *mask):
        cdef unsigned char stack[_STACK_TEXT]
        cdef unsigned char *tmp
        if mask == NULL:
            try:
                return PyUnicode_DecodeUTF8(<const char*>src, n, 'strict')
            except UnicodeDecodeError:
                raise _invalid_text() from None
        if n <= _STACK_TEXT:
            tmp = &stack[0]
        else:
            tmp = <unsigned char*>malloc(n)
        if tmp == NULL:
            raise MemoryError()
        try:
            _xor(tmp, src, n, mask)
            try:
                return PyUnicode_DecodeUTF8(<const char*>tmp, n, 'strict')
            except UnicodeDecodeError:
                raise _invalid_text() from None
        finally:
            if tmp != &stack[0]:
                free(tmp)

    cdef int _fragment(self, int opcode, bint fin, bint compressed,
                       bytes payload, list events) except -1:
        cdef Py_ssize_t consumed = 0
        cdef bytes data
        if opcode != OP_CONTINUATION:
            self._frag_opcode = opcode
            self._frag_compressed = compressed
            self._frag_text = opcode == OP_TEXT and not compressed
            self._frag_parts = []
            self._frag_size = 0
            self._frag_tail = b''
        self._frag_size += len(payload)
        if self._frag_text:
            data = self._frag_tail + payload if self._frag_tail else payload
            try:
                if fin:
                    text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(data),
                                                len(data), 'strict')
                    self._frag_tail = b''
                else:
                    text = PyUnicode_DecodeUTF8Stateful(
                        PyBytes_AS_STRING(data), len(data), 'strict',
                        &consumed)
                    self._frag_tail = data[consumed:]
            except UnicodeDecodeError:
                raise _invalid_text() from None
            self._frag_parts.append(text)
        else:
            self._frag_parts.append(payload)
        if not fin:
            return 0
        if self._frag_text:
            events.append((OP_TEXT, ''.join(self._frag_parts)))
        elif self._frag_compressed:
            events.append((self._frag_opcode | COMPRESSED,
                           b''.join(self._frag_parts)))
        else:
            events.append((self._frag_opcode, b''.join(self._frag_parts)))
        self._frag_opcode = 0
        self._frag_compressed = False
        self._frag_text = False
        self._frag_parts = []
        self._frag_size = 0
        self._frag_tail = b''
        return 0


# -- builders ---------------------------------------------------------------

cdef inline Py_ssize_t _header_len(Py_ssize_t n) noexcept nogil:
    if n < 126:
        return 2
    if n < 65536:
        return 4
    return 10


cdef inline void _write_header(unsigned char *out, unsigned char first,
                               Py_ssize_t n) noexcept nogil:
    cdef int k
    cdef uint64_t v
    out[0] = first
    if n < 126:
        out[1] = <unsigned char>n
    elif n < 65536:
        out[1] = 126
        out[2] = <unsigned char>(n >> 8)
        out[3] = <unsigned char>(n & 0xFF)
    else:
        out[1] = 127
        v = <uint64_t>n
        for k in range(8):
            out[9 - k] = <unsigned char>(v & 0xFF)
            v >>= 8


cdef bytes _frame(unsigned char first, const char *prefix, Py_ssize_t plen,
                  const char *data, Py_ssize_t n):
    cdef Py_ssize_t total = plen + n
    cdef Py_ssize_t hlen = _header_len(total)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, hlen + total)
    cdef unsigned char *dst = <unsigned char*>PyBytes_AS_STRING(out)
    _write_header(dst, first, total)
    if plen:
        memcpy(dst + hlen, prefix, plen)
    if n:
        memcpy(dst + hlen + plen, data, n)
    return out


cdef bytes _frame_from(unsigned char first, object payload):
    cdef Py_buffer view
    if type(payload) is bytes:
        return _frame(first, NULL, 0, PyBytes_AS_STRING(payload),
                      len(<bytes>payload))
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        return _frame(first, NULL, 0, <const char*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def recv_nowait(sock, buf):
    """One non-blocking read of ``sock`` into the writable buffer
    ``buf``: the bytes read (0 at the end of the stream), or -1 when
    nothing is there; OSError on an error.

    The GIL is kept: the read never waits, and letting go of the GIL while
    another thread wants it costs a switch to that thread and one back."""
    cdef Py_buffer view
    cdef Py_ssize_t n
    if not FSF_NATIVE_SEND:  # pragma: no cover - Windows
        try:
            return sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return -1
    cdef int fd = sock.fileno()
    try:
        PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
    except BufferError:
        # (what socket.recv_into raises, as the pure twin does)
        raise TypeError('recv_nowait() needs a writable buffer, not '
                        + type(buf).__name__) from None
    try:
        n = fsf_recv(fd, <char *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    if n >= 0:
        return n
    if n == -FSF_EAGAIN:
        return -1
    # (OSError picks the subclass from the number, as socket.recv_into's)
    raise OSError(<int>-n, os.strerror(<int>-n))


def build_frame(int opcode, payload, fin=True, rsv1=False):
    """One unmasked frame (what a server sends)."""
    if not 0 <= opcode <= 0xF:
        raise ValueError('opcode out of range')
    return _frame_from((0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode,
                       payload)


def build_text_frame(data):
    """A final text frame around ``data`` (bytes already UTF-8)."""
    return _frame_from(0x81, data)


def build_binary_frame(data):
    """A final binary frame around ``data``."""
    return _frame_from(0x82, data)


def build_eio_frame(int packet_type, str text):
    """A text frame with the Engine.IO packet ``str(packet_type) + text``."""
    cdef Py_ssize_t n
    cdef const char *utf8
    cdef char digit
    if not 0 <= packet_type <= 9:
        raise ValueError('Engine.IO packet type out of range')
    utf8 = PyUnicode_AsUTF8AndSize(text, &n)
    digit = <char>(48 + packet_type)
    return _frame(0x81, &digit, 1, utf8, n)


cdef bytes _control(unsigned char opcode, object payload):
    cdef Py_buffer view
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        if view.len > 125:
            raise ValueError('control frame payload over 125 bytes')
        return _frame(0x80 | opcode, NULL, 0, <const char*>view.buf,
                      view.len)
    finally:
        PyBuffer_Release(&view)


def build_close_frame(code=None, reason=b''):
    """A close frame; no payload at all when ``code`` is None."""
    cdef int c
    if code is None:
        return _control(OP_CLOSE, b'')
    if not 0 <= code <= 0xFFFF:
        raise ValueError('close code out of range')
    c = code
    if isinstance(reason, str):
        reason = (<str>reason).encode('utf-8')
    return _control(OP_CLOSE, bytes(((c >> 8) & 0xFF, c & 0xFF)) +
                    bytes(memoryview(reason)))


def build_ping_frame(payload=b''):
    return _control(OP_PING, payload)


def build_pong_frame(payload=b''):
    return _control(OP_PONG, payload)


cdef bytes _mask4(object mask):
    cdef bytes m = bytes(memoryview(mask))
    if len(m) != 4:
        raise ValueError('a WebSocket mask is 4 bytes')
    return m


def mask_payload(data, mask):
    """``data`` XOR the 4-byte ``mask`` repeated (masking and unmasking are
    the same operation)."""
    cdef Py_buffer view
    cdef bytes m = _mask4(mask)
    cdef bytes out
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        out = PyBytes_FromStringAndSize(NULL, view.len)
        _xor(<unsigned char*>PyBytes_AS_STRING(out),
             <const unsigned char*>view.buf, view.len,
             <const unsigned char*>PyBytes_AS_STRING(m))
        return out
    finally:
        PyBuffer_Release(&view)


def build_masked_frame(int opcode, payload, mask, fin=True, int rsv=0):
    """A masked frame as a client sends it; ``rsv`` is the 3 RSV bits
    (0-7).  Lengths are always minimally encoded."""
    cdef Py_buffer view
    cdef bytes m = _mask4(mask)
    cdef Py_ssize_t hlen, n
    cdef bytes out
    cdef unsigned char *dst
    if not 0 <= opcode <= 0xF or not 0 <= rsv <= 7:
        raise ValueError('opcode or rsv out of range')
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        n = view.len
        hlen = _header_len(n)
        out = PyBytes_FromStringAndSize(NULL, hlen + 4 + n)
        dst = <unsigned char*>PyBytes_AS_STRING(out)
        _write_header(dst, (0x80 if fin else 0) | (rsv << 4) | opcode, n)
        dst[1] |= 0x80
        memcpy(dst + hlen, PyBytes_AS_STRING(m), 4)
        _xor(dst + hlen + 4, <const unsigned char*>view.buf, n,
             <const unsigned char*>PyBytes_AS_STRING(m))
        return out
    finally:
        PyBuffer_Release(&view)


__all__ = ['FrameError', 'FrameParser', 'IMPLEMENTATION', 'OP_CONTINUATION',
           'OP_TEXT', 'OP_BINARY', 'OP_CLOSE', 'OP_PING', 'OP_PONG',
           'COMPRESSED', 'build_frame', 'build_text_frame',
           'build_binary_frame', 'build_eio_frame', 'build_close_frame',
           'build_ping_frame', 'build_pong_frame', 'build_masked_frame',
           'mask_payload']
