"""Give back the WSGI server's per-connection I/O buffers after an upgrade.

eventlet.wsgi and gevent's pywsgi read each request through a buffered file
over the socket (eventlet also writes through one): 8 KiB to read and, with
eventlet, 16 KiB to write, allocated per connection and held for as long as
the request runs -- which for a WebSocket is the connection's whole life.
Our driver reads and writes the raw socket itself, so those buffers sit
unused: about half of the memory of an idle connection.

Re-initialising a ``BufferedReader``/``BufferedWriter`` with a 1-byte
buffer frees the old buffer in place (CPython's ``_io`` allocates the new
buffer in ``__init__`` and frees the previous one), so every reference the
server keeps to the file stays valid.  It is only done to objects of
exactly the stdlib classes.  Whatever the read buffer held is dropped: a
client may not send before it has the 101 response, and what one sent
anyway was never going to reach our reader, which reads the socket.
"""

import io

_TINY = 1


def buffer_bytes(f):
    """Size of the buffer a buffered file holds (0 for anything else)."""
    if type(f) not in (io.BufferedReader, io.BufferedWriter):
        return 0
    return f.__sizeof__() - type(f).__basicsize__


def _shrink(f, cls):
    if type(f) is not cls or f.closed:
        return 0
    before = buffer_bytes(f)
    if before <= _TINY:
        return 0
    try:
        if cls is io.BufferedWriter:
            f.flush()
        f.__init__(f.raw, _TINY)
    except (OSError, ValueError):
        return 0
    return before - buffer_bytes(f)


def release(environ, kind):
    """Shrink the buffers of the request in ``environ``; bytes freed."""
    freed = 0
    if kind == 'eventlet':
        wsgi_input = environ.get('eventlet.input')
        freed += _shrink(getattr(wsgi_input, 'rfile', None),
                         io.BufferedReader)
        # the write file is only reachable through the protocol object,
        # which eventlet.wsgi's set_idle() closes over
        protocol = _closure_self(environ.get('eventlet.set_idle'))
        freed += _shrink(getattr(protocol, 'wfile', None), io.BufferedWriter)
    elif kind == 'gevent':
        wsgi_input = environ.get('wsgi.input')
        rfile = getattr(wsgi_input, 'rfile', wsgi_input)
        freed += _shrink(rfile, io.BufferedReader)
    return freed


def _closure_self(fn):
    cells = getattr(fn, '__closure__', None) or ()
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if type(value).__name__ == 'HttpProtocol':
            return value
    return None
