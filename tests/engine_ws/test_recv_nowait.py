"""``wsframe.recv_nowait``: the frame parser's non-blocking read, each twin
and the twins against each other, on real socket pairs: what arrived, an
empty socket, the end of the stream, errors (a closed socket, a buffer that
cannot be written), and a read larger than the buffer."""

import socket

import pytest


def _pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    return a, b


def _outcome(wsframe, sock, buf):
    try:
        n = wsframe.recv_nowait(sock, buf)
    except OSError as exc:
        return ('error', type(exc), exc.errno)
    except TypeError as exc:
        return ('type error', type(exc))
    return ('read', n, bytes(buf[:max(n, 0)]))


def _scenario(wsframe):
    out = []
    a, b = _pair()
    buf = memoryview(bytearray(8))
    out.append(_outcome(wsframe, a, buf))          # nothing there
    b.sendall(b'hello')
    out.append(_outcome(wsframe, a, buf))          # what arrived
    b.sendall(b'0123456789abc')
    out.append(_outcome(wsframe, a, buf))          # a bufferful
    out.append(_outcome(wsframe, a, buf))          # the rest
    out.append(_outcome(wsframe, a, buf))          # empty again
    out.append(_outcome(wsframe, a, bytes(4)))     # read-only buffer
    b.close()
    out.append(_outcome(wsframe, a, buf))          # end of the stream
    a.close()
    out.append(_outcome(wsframe, a, buf))          # closed socket
    return out


def test_each_twin(wsframe):
    got = _scenario(wsframe)
    assert got[0] == ('read', -1, b'')
    assert got[1] == ('read', 5, b'hello')
    assert got[2] == ('read', 8, b'01234567')
    assert got[3] == ('read', 5, b'89abc')
    assert got[4] == ('read', -1, b'')
    assert got[5][0] == 'type error'
    assert got[6] == ('read', 0, b'')
    assert got[7][0] == 'error' and issubclass(got[7][1], OSError)


def test_twins_agree(both_twins):
    c, py = both_twins
    assert _scenario(c) == _scenario(py)


@pytest.mark.parametrize('size', [1, 4096, 65536])
def test_large_reads(both_twins, size):
    results = []
    for twin in both_twins:
        a, b = _pair()
        data = bytes(range(256)) * (3 * size // 256 + 1)
        b.sendall(data[:3 * size])
        buf = memoryview(bytearray(size))
        got = b''
        while True:
            n = twin.recv_nowait(a, buf)
            if n <= 0:
                break
            got += bytes(buf[:n])
        results.append(got)
        a.close()
        b.close()
    assert results[0] == results[1] == data[:3 * size]
