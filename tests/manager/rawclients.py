"""Many Socket.IO-over-WebSocket clients in one thread, with selectors.

A real client per connection (python-socketio's, or websocket-client) would
cost a thread or two each; a thousand of them would swamp two cores.  These
clients speak just enough of the protocol for the fan-out tests: the
WebSocket upgrade (no compression offered), Engine.IO v4 open / ping / pong /
message, Socket.IO v5 connect to ``/``, events with one binary attachment,
and one ack.  Each client records the events it receives, in order.
"""

import base64
import json
import os
import selectors
import socket
import time

from flask_socketio_fast._speedups import wsframe_py as wsframe


class ProtocolError(AssertionError):
    pass


class RawClient:
    def __init__(self, name, query):
        self.name = name
        self.query = query
        self.sock = None
        self.state = 'new'
        self.http = b''
        self.parser = wsframe.FrameParser(require_mask=False)
        self.out = bytearray()
        self.sid = None
        self.events = []  # (event, args) in arrival order
        self.acks = {}
        self.binary_head = None  # a binary event waiting for attachments
        self.closed = False

    # -- sending -----------------------------------------------------------

    def send_text(self, text):
        self.out += wsframe.build_masked_frame(
            wsframe.OP_TEXT, text.encode('utf-8'), os.urandom(4))

    def emit(self, event, *args, ack_id=None):
        ack = '' if ack_id is None else str(ack_id)
        self.send_text('42' + ack + json.dumps([event, *args],
                                               separators=(',', ':')))

    # -- receiving ---------------------------------------------------------

    def feed(self, data):
        if self.state == 'http':
            self.http += data
            head, sep, rest = self.http.partition(b'\r\n\r\n')
            if not sep:
                return
            if not head.startswith(b'HTTP/1.1 101'):
                raise ProtocolError(f'{self.name}: upgrade refused: {head!r}')
            self.state = 'ws'
            data = rest
        for opcode, payload in self.parser.feed(data):
            if opcode == wsframe.OP_TEXT:
                self._eio_text(payload)
            elif opcode == wsframe.OP_BINARY:
                self._attachment(payload)
            elif opcode == wsframe.OP_CLOSE:
                self.closed = True
            elif opcode == wsframe.OP_PING:
                self.out += wsframe.build_masked_frame(
                    wsframe.OP_PONG, payload, os.urandom(4))

    def _eio_text(self, text):
        kind, body = text[:1], text[1:]
        if kind == '0':
            self.send_text('40')  # Socket.IO connect to "/"
        elif kind == '2':
            self.send_text('3' + body)
        elif kind == '4':
            self._sio(body)
        elif kind == '1':
            self.closed = True
        elif kind != '6':
            raise ProtocolError(f'{self.name}: unexpected eio {text!r}')

    def _sio(self, text):
        kind = text[0]
        if kind == '0':
            self.sid = json.loads(text[1:])['sid']
            self.state = 'ready'
        elif kind == '2':
            self.events.append(tuple(json.loads(text[1:])))
        elif kind == '3':
            i = 1
            while text[i].isdigit():
                i += 1
            self.acks[int(text[1:i])] = json.loads(text[i:])
        elif kind == '5':
            count, _, rest = text[1:].partition('-')
            self.binary_head = [int(count), json.loads(rest), []]
        else:
            raise ProtocolError(f'{self.name}: unexpected sio {text!r}')

    def _attachment(self, data):
        if self.binary_head is None:
            raise ProtocolError(f'{self.name}: stray binary frame')
        count, packet, parts = self.binary_head
        parts.append(data)
        if len(parts) == count:
            self.binary_head = None
            self.events.append(tuple(_fill(packet, parts)))


def _fill(value, parts):
    if isinstance(value, dict):
        if value.get('_placeholder') is True and 'num' in value:
            return parts[value['num']]
        return {k: _fill(v, parts) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, parts) for v in value]
    return value


class Swarm:
    """Connects RawClients to one server and pumps their sockets."""

    def __init__(self, port, handshakes_at_once=32):
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.clients = []
        self.at_once = handshakes_at_once

    def _open(self, client):
        sock = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f'GET /socket.io/?EIO=4&transport=websocket&{client.query} '
            'HTTP/1.1\r\n'
            f'Host: 127.0.0.1:{self.port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n')
        client.sock = sock
        client.state = 'http'
        client.out += request.encode()
        self.selector.register(sock, selectors.EVENT_READ, client)

    def connect(self, clients, timeout):
        """Open every client, a few handshakes at a time (listen backlogs
        are short), until all are Socket.IO-connected."""
        deadline = time.monotonic() + timeout
        waiting = list(clients)
        waiting.reverse()
        while True:
            opening = [c for c in self.clients if c.state != 'ready']
            while waiting and len(opening) < self.at_once:
                client = waiting.pop()
                self._open(client)
                self.clients.append(client)
                opening.append(client)
            if not waiting and not opening:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f'{len(opening) + len(waiting)} clients not connected '
                    f'after {timeout}s')
            self.pump(0.05)

    def pump(self, timeout):
        for client in self.clients:
            if client.out:
                self._write(client)
        for key, _ in self.selector.select(timeout):
            client = key.data
            try:
                data = client.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                client.closed = True
                self.selector.unregister(client.sock)
                continue
            client.feed(data)

    def _write(self, client):
        try:
            n = client.sock.send(client.out)
        except BlockingIOError:
            return
        del client.out[:n]

    def run_until(self, done, timeout, what):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f'{what} not reached after {timeout}s')
            self.pump(0.05)

    def close(self):
        for client in self.clients:
            try:
                self.selector.unregister(client.sock)
            except (KeyError, ValueError):
                pass
            client.sock.close()
        self.selector.close()
