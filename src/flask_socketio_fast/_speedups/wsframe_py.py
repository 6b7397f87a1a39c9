"""WebSocket (RFC 6455) frame codec in pure Python: the twin of the compiled
``wsframe_c``, with the same API and byte-identical results.

Parsing (client frames arriving at a server)::

    parser = FrameParser(max_message_size=1_000_000)
    for opcode, payload in parser.feed(received_bytes):
        ...

``feed()`` takes any bytes-like chunk and returns the complete events it
finished, in order:

* ``(OP_TEXT, str)``: a whole text message, fragments joined, UTF-8 checked;
* ``(OP_BINARY, bytes)``: a whole binary message;
* ``(OP_TEXT | COMPRESSED, bytes)`` / ``(OP_BINARY | COMPRESSED, bytes)``:
  a permessage-deflate message, still compressed (only with
  ``allow_compression=True``; the caller inflates it, with its own limit);
* ``(OP_PING, bytes)``, ``(OP_PONG, bytes)``;
* ``(OP_CLOSE, (code, reason))``: ``code`` is None when the frame had no
  payload; the parser ignores everything after it.

Input that breaks the protocol raises ``FrameError`` whose ``code`` is the
close code to answer with (1002 protocol error, 1007 invalid UTF-8, 1009 too
big) and whose ``events`` are the events completed before the error.  After
an error the parser is spent: every later ``feed()`` raises again.  The size
limit counts payload bytes of one message across all its fragments and is
checked from each frame header, before any of the payload is buffered.

Building (server frames, never masked, so one frame's bytes suit every
client): ``build_text_frame(data)``, ``build_binary_frame(data)``,
``build_eio_frame(packet_type, text)`` (a text frame carrying the Engine.IO
packet ``<type><text>``), ``build_frame(opcode, payload, fin, rsv1)``,
``build_close_frame(code, reason)``, ``build_ping_frame`` /
``build_pong_frame``.  ``build_masked_frame`` and ``mask_payload`` build
client frames (tests, clients).  ``build_text_frame`` does not check that
its bytes are UTF-8; that is the caller's promise.
"""

import codecs

from .wsframe_errors import (INVALID_DATA, MESSAGE_TOO_BIG, PROTOCOL_ERROR,
                             FrameError)

IMPLEMENTATION = 'python'

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
COMPRESSED = 0x40

# close codes a peer may send (RFC 6455 7.4, plus IANA's 1012-1014)
_PEER_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009,
                               1010, 1011, 1012, 1013, 1014))

_Utf8Decoder = codecs.getincrementaldecoder('utf-8')


def _as_bytes(data):
    # any bytes-like object, but not bytes()'s ints and iterables
    if type(data) is bytes:
        return data
    return memoryview(data).tobytes()


def _unmask(data, mask):
    n = len(data)
    if n == 0:
        return b''
    # one big-integer XOR does the whole payload at C speed
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'big') ^
            int.from_bytes(key, 'big')).to_bytes(n, 'big')


def mask_payload(data, mask):
    """``data`` XOR the 4-byte ``mask`` repeated (masking and unmasking are
    the same operation)."""
    mask = _as_bytes(mask)
    if len(mask) != 4:
        raise ValueError('a WebSocket mask is 4 bytes')
    return _unmask(_as_bytes(data), mask)


def _close_payload_info(payload):
    """``(code, reason)`` of a close frame's payload; raises FrameError."""
    if len(payload) == 0:
        return None, ''
    if len(payload) == 1:
        raise FrameError(PROTOCOL_ERROR, 'close frame with a 1-byte payload')
    code = (payload[0] << 8) | payload[1]
    if not (code in _PEER_CLOSE_CODES or 3000 <= code <= 4999):
        raise FrameError(PROTOCOL_ERROR, f'invalid close code {code}')
    try:
        reason = payload[2:].decode('utf-8')
    except UnicodeDecodeError:
        raise FrameError(INVALID_DATA,
                         'close reason is not valid UTF-8') from None
    return code, reason


class FrameParser:
    """Incremental parser of the frames a WebSocket client sends."""

    def __init__(self, max_message_size=None, require_mask=True,
                 allow_compression=False):
        if max_message_size is not None and max_message_size < 0:
            raise ValueError('max_message_size must be >= 0 or None')
        self.max_message_size = max_message_size
        self.require_mask = bool(require_mask)
        self.allow_compression = bool(allow_compression)
        self._buf = bytearray()
        self._error = None
        self._closed = False
        # the fragmented message being assembled (opcode 0: none)
        self._frag_opcode = 0
        self._frag_compressed = False
        self._frag_parts = []
        self._frag_size = 0
        self._frag_decoder = None

    @property
    def closed(self):
        """True once a close frame has been parsed."""
        return self._closed

    @property
    def buffered(self):
        """Bytes held: the unparsed tail plus the fragments assembled so far
        (what this connection costs in memory right now)."""
        return len(self._buf) + self._frag_size

    def feed(self, data):
        if self._error is not None:
            raise FrameError(self._error.code, self._error.reason)
        if self._closed:
            return []
        buf = self._buf
        buf += data
        events = []
        pos = 0
        try:
            pos = self._parse(buf, events)
        except FrameError as exc:
            self._fail()
            self._error = exc
            exc.events = events
            raise
        if self._closed:
            self._buf = bytearray()
        elif pos:
            del buf[:pos]
        return events

    def _fail(self):
        self._buf = bytearray()
        self._frag_parts = []
        self._frag_size = 0
        self._frag_decoder = None

    def _parse(self, buf, events):
        n = len(buf)
        pos = 0
        limit = self.max_message_size
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            fin = b0 & 0x80
            rsv = b0 & 0x70
            opcode = b0 & 0x0F
            compressed = False
            if opcode >= 8:
                if opcode > OP_PONG:
                    raise FrameError(PROTOCOL_ERROR,
                                     f'reserved opcode {opcode}')
                if rsv:
                    raise FrameError(PROTOCOL_ERROR,
                                     'RSV bits set on a control frame')
                if not fin:
                    raise FrameError(PROTOCOL_ERROR,
                                     'fragmented control frame')
            else:
                if opcode > OP_BINARY:
                    raise FrameError(PROTOCOL_ERROR,
                                     f'reserved opcode {opcode}')
                if rsv:
                    if rsv != 0x40 or not self.allow_compression:
                        raise FrameError(PROTOCOL_ERROR,
                                         'RSV bits set without an extension')
                    if opcode == OP_CONTINUATION:
                        raise FrameError(PROTOCOL_ERROR,
                                         'RSV1 set on a continuation frame')
                    compressed = True
                if opcode == OP_CONTINUATION:
                    if not self._frag_opcode:
                        raise FrameError(PROTOCOL_ERROR,
                                         'continuation frame without a '
                                         'message to continue')
                elif self._frag_opcode:
                    raise FrameError(PROTOCOL_ERROR,
                                     'new message inside a fragmented one')
            masked = b1 & 0x80
            length = b1 & 0x7F
            if opcode >= 8 and length > 125:
                raise FrameError(PROTOCOL_ERROR,
                                 'control frame payload over 125 bytes')
            if self.require_mask and not masked:
                raise FrameError(PROTOCOL_ERROR, 'unmasked client frame')
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                if length < 126:
                    raise FrameError(PROTOCOL_ERROR,
                                     'payload length not minimally encoded')
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], 'big')
                if length >> 63:
                    raise FrameError(PROTOCOL_ERROR,
                                     'payload length with the top bit set')
                if length < 65536:
                    raise FrameError(PROTOCOL_ERROR,
                                     'payload length not minimally encoded')
                head = 10
            if limit is not None and opcode < 8:
                # the whole message, including fragments already held
                if length > limit - (self._frag_size if opcode == 0 else 0):
                    raise FrameError(MESSAGE_TOO_BIG,
                                     'message over the size limit')
            if masked:
                head += 4
            end = pos + head + length
            if end > n:
                break
            if masked:
                payload = _unmask(buf[pos + head:end],
                                  bytes(buf[pos + head - 4:pos + head]))
            else:
                payload = bytes(buf[pos + head:end])
            pos = end
            if opcode >= 8:
                if opcode == OP_CLOSE:
                    events.append((OP_CLOSE, _close_payload_info(payload)))
                    self._closed = True
                    break
                events.append((opcode, payload))
                continue
            self._data_frame(opcode, bool(fin), compressed, payload, events)
        return pos

    def _data_frame(self, opcode, fin, compressed, payload, events):
        if opcode != OP_CONTINUATION:
            if fin:
                if compressed:
                    events.append((opcode | COMPRESSED, payload))
                elif opcode == OP_TEXT:
                    events.append((OP_TEXT, _decode_text(payload)))
                else:
                    events.append((OP_BINARY, payload))
                return
            self._frag_opcode = opcode
            self._frag_compressed = compressed
            self._frag_parts = []
            self._frag_size = 0
            self._frag_decoder = (_Utf8Decoder() if opcode == OP_TEXT
                                  and not compressed else None)
        self._frag_size += len(payload)
        decoder = self._frag_decoder
        if decoder is not None:
            try:
                self._frag_parts.append(decoder.decode(payload, fin))
            except UnicodeDecodeError:
                raise FrameError(INVALID_DATA,
                                 'text message is not valid UTF-8') from None
        else:
            self._frag_parts.append(payload)
        if not fin:
            return
        opcode = self._frag_opcode
        parts = self._frag_parts
        if decoder is not None:
            events.append((OP_TEXT, ''.join(parts)))
        elif self._frag_compressed:
            events.append((opcode | COMPRESSED, b''.join(parts)))
        else:
            events.append((opcode, b''.join(parts)))
        self._frag_opcode = 0
        self._frag_compressed = False
        self._frag_parts = []
        self._frag_size = 0
        self._frag_decoder = None


def _decode_text(payload):
    try:
        return payload.decode('utf-8')
    except UnicodeDecodeError:
        raise FrameError(INVALID_DATA,
                         'text message is not valid UTF-8') from None


def _header(first, length):
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126, length >> 8, length & 0xFF))
    return bytes((first, 127)) + length.to_bytes(8, 'big')


def recv_nowait(sock, buf):
    """One non-blocking read of ``sock`` into the writable buffer
    ``buf``: the bytes read (0 at the end of the stream), or -1 when
    nothing is there; OSError on an error."""
    try:
        return sock.recv_into(buf)
    except (BlockingIOError, InterruptedError):
        return -1


def build_frame(opcode, payload, fin=True, rsv1=False):
    """One unmasked frame (what a server sends)."""
    payload = _as_bytes(payload)
    if not 0 <= opcode <= 0xF:
        raise ValueError('opcode out of range')
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    return _header(first, len(payload)) + payload


def build_text_frame(data):
    """A final text frame around ``data`` (bytes already UTF-8)."""
    data = _as_bytes(data)
    return _header(0x81, len(data)) + data


def build_binary_frame(data):
    """A final binary frame around ``data``."""
    data = _as_bytes(data)
    return _header(0x82, len(data)) + data


def build_eio_frame(packet_type, text):
    """A text frame with the Engine.IO packet ``str(packet_type) + text``."""
    if not isinstance(text, str):
        raise TypeError('text must be a str')
    if not 0 <= packet_type <= 9:
        raise ValueError('Engine.IO packet type out of range')
    data = text.encode('utf-8')
    return _header(0x81, len(data) + 1) + bytes((48 + packet_type,)) + data


def _control(opcode, payload):
    payload = _as_bytes(payload)
    if len(payload) > 125:
        raise ValueError('control frame payload over 125 bytes')
    return bytes((0x80 | opcode, len(payload))) + payload


def build_close_frame(code=None, reason=b''):
    """A close frame; no payload at all when ``code`` is None."""
    if code is None:
        return _control(OP_CLOSE, b'')
    if not 0 <= code <= 0xFFFF:
        raise ValueError('close code out of range')
    if isinstance(reason, str):
        reason = reason.encode('utf-8')
    return _control(OP_CLOSE,
                    bytes((code >> 8, code & 0xFF)) + _as_bytes(reason))


def build_ping_frame(payload=b''):
    return _control(OP_PING, payload)


def build_pong_frame(payload=b''):
    return _control(OP_PONG, payload)


def build_masked_frame(opcode, payload, mask, fin=True, rsv=0):
    """A masked frame as a client sends it; ``rsv`` is the 3 RSV bits
    (0-7).  Lengths are always minimally encoded."""
    payload = _as_bytes(payload)
    mask = _as_bytes(mask)
    if len(mask) != 4:
        raise ValueError('a WebSocket mask is 4 bytes')
    if not 0 <= opcode <= 0xF or not 0 <= rsv <= 7:
        raise ValueError('opcode or rsv out of range')
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    head = bytearray(_header(first, len(payload)))
    head[1] |= 0x80
    return bytes(head) + mask + _unmask(payload, mask)


__all__ = ['FrameError', 'FrameParser', 'IMPLEMENTATION', 'OP_CONTINUATION',
           'OP_TEXT', 'OP_BINARY', 'OP_CLOSE', 'OP_PING', 'OP_PONG',
           'COMPRESSED', 'build_frame', 'build_text_frame',
           'build_binary_frame', 'build_eio_frame', 'build_close_frame',
           'build_ping_frame', 'build_pong_frame', 'build_masked_frame',
           'mask_payload']
