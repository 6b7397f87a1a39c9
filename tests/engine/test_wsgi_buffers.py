"""wsgi_buffers: the WSGI server's per-request buffers are shrunk in place
after an upgrade, and the file objects keep working."""

import io
import socket

from flask_socketio_fast.engine import wsgi_buffers


class HttpProtocol:
    """Stands in for eventlet.wsgi's protocol object (matched by name)."""

    def __init__(self, wfile):
        self.wfile = wfile


class Input:
    def __init__(self, rfile):
        self.rfile = rfile


def _pair():
    a, b = socket.socketpair()
    return a, b


def test_eventlet_buffers_are_shrunk_and_stay_usable():
    a, b = _pair()
    try:
        rfile = a.makefile('rb', 8192)
        wfile = a.makefile('wb', 16384)
        protocol = HttpProtocol(wfile)

        def set_idle():
            return protocol

        environ = {'eventlet.input': Input(rfile),
                   'eventlet.set_idle': set_idle}
        assert wsgi_buffers.buffer_bytes(rfile) == 8192
        freed = wsgi_buffers.release(environ, 'eventlet')
        assert freed == 8192 - 1 + 16384 - 1
        assert wsgi_buffers.buffer_bytes(rfile) == 1
        assert wsgi_buffers.buffer_bytes(wfile) == 1
        # still the same, working objects
        wfile.write(b'hello')
        wfile.flush()
        assert b.recv(10) == b'hello'
        b.sendall(b'world\n')
        assert rfile.readline() == b'world\n'
        rfile.close()
        wfile.close()
    finally:
        a.close()
        b.close()


def test_gevent_read_buffer_is_shrunk():
    a, b = _pair()
    try:
        rfile = a.makefile('rb', -1)
        assert wsgi_buffers.release({'wsgi.input': Input(rfile)},
                                    'gevent') == io.DEFAULT_BUFFER_SIZE - 1
        assert wsgi_buffers.release({'wsgi.input': rfile}, 'gevent') == 0
        rfile.close()
    finally:
        a.close()
        b.close()


def test_other_objects_are_left_alone():
    raw = io.BytesIO(b'data')
    assert wsgi_buffers.release({'eventlet.input': Input(raw),
                                 'eventlet.set_idle': None}, 'eventlet') == 0
    assert wsgi_buffers.release({}, 'eventlet') == 0
    assert wsgi_buffers.release({}, 'gevent') == 0
    assert raw.read() == b'data'
