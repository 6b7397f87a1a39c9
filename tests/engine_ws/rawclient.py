"""A raw WebSocket / Engine.IO client for tests that need to misbehave.

It speaks just enough: the HTTP upgrade, masked frames built with the
codec's pure-Python twin, and a parser for what the server sends (the same
parser without the masking rule).  Every read has a timeout; nothing here
can hang a test.
"""

import base64
import json
import os
import socket
import time

from flask_socketio_fast._speedups import wsframe_py as wsframe
from flask_socketio_fast._speedups.wsframe_errors import FrameError

MASK = b'\x11\x22\x33\x44'


class Closed(Exception):
    """The server closed the TCP stream."""


def http_request(port, head, body=b'', timeout=10):
    """Send a raw HTTP request; return (status line, headers dict, body)."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(head.encode('latin-1') + body)
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, rest = data.partition(b'\r\n\r\n')
        lines = head_bytes.decode('latin-1').split('\r\n')
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            headers[name.strip().lower()] = value.strip()
        length = headers.get('content-length')
        if length is not None:
            while len(rest) < int(length):
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        return lines[0], headers, rest


def upgrade_head(port, path, key=None, version='13', extra=''):
    key = key or base64.b64encode(os.urandom(16)).decode()
    return (f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\n'
            f'Sec-WebSocket-Version: {version}\r\n{extra}\r\n')


class RawWebSocket:
    def __init__(self, port, path='/socket.io/?EIO=4&transport=websocket',
                 extensions=None, timeout=10, version='13', ssl_context=None):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection(('127.0.0.1', port),
                                             timeout=timeout)
        if ssl_context is not None:
            self.sock = ssl_context.wrap_socket(self.sock,
                                                server_hostname='127.0.0.1')
        extra = f'Sec-WebSocket-Extensions: {extensions}\r\n' \
            if extensions else ''
        self.sock.sendall(upgrade_head(port, path, version=version,
                                       extra=extra).encode())
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed('closed during the handshake')
            data += chunk
        head, _, rest = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        self.status = lines[0]
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            self.headers[name.strip().lower()] = value.strip()
        self.parser = wsframe.FrameParser(None, require_mask=False,
                                          allow_compression=True)
        self.events = []
        self._feed(rest)

    def _feed(self, data):
        if data:
            self.events += self.parser.feed(data)

    # -- sending --

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload, fin=True, rsv=0, mask=MASK):
        self.sock.sendall(wsframe.build_masked_frame(opcode, payload, mask,
                                                     fin=fin, rsv=rsv))

    def send_text(self, text):
        self.send_frame(1, text.encode('utf-8'))

    def send_event(self, *args, ack=None, namespace=''):
        head = '42' + (namespace + ',' if namespace else '') + \
            ('' if ack is None else str(ack))
        self.send_text(head + json.dumps(list(args), separators=(',', ':')))

    # -- receiving --

    def next_event(self, timeout=None):
        """The next (opcode, payload) the server sent."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no frame from the server')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError('no frame from the server') from None
            except ConnectionResetError:
                raise Closed('connection reset') from None
            if not chunk:
                raise Closed('EOF')
            self._feed(chunk)
        return self.events.pop(0)

    def next_text(self, timeout=None, skip_pings=True):
        while True:
            opcode, payload = self.next_event(timeout)
            if opcode == wsframe.OP_TEXT:
                if skip_pings and payload == '2':
                    continue
                return payload
            if opcode == wsframe.OP_CLOSE:
                raise Closed(f'close frame {payload}')

    def open_socketio(self, namespace='/'):
        """Read the Engine.IO OPEN packet, connect the namespace; return
        the Socket.IO CONNECT reply."""
        opened = self.next_text()
        assert opened.startswith('0{'), opened
        self.handshake = json.loads(opened[1:])
        self.send_text('40' if namespace == '/' else f'40{namespace},')
        return self.next_text()

    def expect_close(self, timeout=None):
        """Wait for the server's close frame; return its (code, reason)."""
        while True:
            try:
                opcode, payload = self.next_event(timeout)
            except FrameError as exc:  # pragma: no cover - server bug
                raise AssertionError(f'bad frame from the server: {exc}')
            if opcode == wsframe.OP_CLOSE:
                return payload

    def expect_eof(self, timeout=None):
        """Read until the server ends the stream (EOF or reset)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('the server kept the connection open')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError('the server kept the connection '
                                   'open') from None
            except OSError:
                return
            if not chunk:
                return

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
