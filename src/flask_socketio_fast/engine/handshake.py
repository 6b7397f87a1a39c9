"""The WebSocket opening handshake (RFC 6455 section 4.2), server side.

``check_request(environ)`` validates an upgrade request and returns the
``Sec-WebSocket-Accept`` value, or raises ``HandshakeError`` carrying the
HTTP status and headers to refuse it with.  ``negotiate_deflate`` picks a
permessage-deflate offer (RFC 7692) when the server allows compression.
``response_head`` builds the raw ``101 Switching Protocols`` head for servers
whose socket we write to directly.

Engine.IO clients do not use subprotocols, so none is ever selected.
"""

import base64
import binascii
import hashlib

_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class HandshakeError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


def _tokens(value):
    return {t.strip().lower() for t in value.split(',') if t.strip()}


def check_request(environ):
    """Validate an upgrade request; return the accept key (str)."""
    if environ.get('REQUEST_METHOD') != 'GET':
        raise HandshakeError('400 BAD REQUEST', 'WebSocket needs GET')
    if 'websocket' not in _tokens(environ.get('HTTP_UPGRADE', '')):
        raise HandshakeError('400 BAD REQUEST', 'Not a WebSocket upgrade')
    if 'upgrade' not in _tokens(environ.get('HTTP_CONNECTION', '')):
        raise HandshakeError('400 BAD REQUEST', 'Connection is not Upgrade')
    if environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip() != '13':
        # RFC 6455 4.4: say which version we speak
        raise HandshakeError('426 UPGRADE REQUIRED',
                             'Unsupported WebSocket version',
                             [('Sec-WebSocket-Version', '13')])
    key = environ.get('HTTP_SEC_WEBSOCKET_KEY', '').strip()
    try:
        raw = base64.b64decode(key.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b''
    if len(raw) != 16:
        raise HandshakeError('400 BAD REQUEST', 'Invalid Sec-WebSocket-Key')
    return accept_key(key)


def accept_key(key):
    digest = hashlib.sha1(key.encode('ascii') + _GUID).digest()
    return base64.b64encode(digest).decode('ascii')


class DeflateParams:
    """What was agreed for permessage-deflate on one connection."""

    __slots__ = ('server_no_context_takeover', 'server_max_window_bits',
                 'response')

    def __init__(self, server_no_context_takeover, server_max_window_bits,
                 response):
        self.server_no_context_takeover = server_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.response = response


def negotiate_deflate(header):
    """The first acceptable permessage-deflate offer in a
    ``Sec-WebSocket-Extensions`` value, as DeflateParams, or None."""
    for offer in header.split(','):
        parts = [p.strip() for p in offer.split(';')]
        if parts[0].lower() != 'permessage-deflate':
            continue
        params = {}
        ok = True
        for part in parts[1:]:
            if not part:
                continue
            name, _, value = part.partition('=')
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name in params:
                ok = False
                break
            params[name] = value
        if not ok:
            continue
        known = {'server_no_context_takeover', 'client_no_context_takeover',
                 'server_max_window_bits', 'client_max_window_bits'}
        if set(params) - known:
            continue
        response = ['permessage-deflate']
        no_takeover = 'server_no_context_takeover' in params
        if no_takeover:
            if params['server_no_context_takeover']:
                continue
            response.append('server_no_context_takeover')
        if 'client_no_context_takeover' in params:
            if params['client_no_context_takeover']:
                continue
            response.append('client_no_context_takeover')
        wbits = 15
        if 'server_max_window_bits' in params:
            try:
                wbits = int(params['server_max_window_bits'])
            except ValueError:
                continue
            # zlib cannot make raw deflate streams with an 8-bit window,
            # so an offer that insists on one is declined
            if not 9 <= wbits <= 15:
                continue
            response.append(f'server_max_window_bits={wbits}')
        if 'client_max_window_bits' in params:
            value = params['client_max_window_bits']
            if value:
                try:
                    if not 8 <= int(value) <= 15:
                        continue
                except ValueError:
                    continue
        return DeflateParams(no_takeover, wbits, '; '.join(response))
    return None


def response_head(accept, extensions=None):
    """The raw ``101 Switching Protocols`` response head."""
    lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket',
             'Connection: Upgrade', f'Sec-WebSocket-Accept: {accept}']
    if extensions:
        lines.append(f'Sec-WebSocket-Extensions: {extensions}')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def response_headers(accept, extensions=None):
    """The same as WSGI ``(name, value)`` pairs, for start_response."""
    headers = [('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
               ('Sec-WebSocket-Accept', accept)]
    if extensions:
        headers.append(('Sec-WebSocket-Extensions', extensions))
    return headers
