"""``outbound.send_batch``: both twins against a plain loop of
``socket.send`` (the reference), on real socketpairs, including the errors
on bad input."""

import errno
import socket

import pytest
from hypothesis import given, strategies as st

from .strategies import SETTINGS
from .support import drain


def reference_send_batch(socks, bufs):
    """What one ``sock.send`` per buffer does, as send_batch reports it."""
    out = []
    for sock, buf in zip(socks, bufs):
        if not len(memoryview(buf)):
            out.append(0)
            continue
        try:
            out.append(sock.send(buf))
        except BlockingIOError:
            out.append(0)
        except OSError as exc:
            out.append(-exc.errno)
    return out


def pairs(n):
    made = [socket.socketpair() for _ in range(n)]
    for a, _ in made:
        a.setblocking(False)
    return made


def run_batch(fn, bufs, prepare=None):
    """Results and what each peer received, on fresh socketpairs."""
    made = pairs(len(bufs))
    try:
        if prepare is not None:
            prepare(made)
        results = fn([a for a, _ in made], list(bufs))
        received = [drain(b) if b.fileno() >= 0 else None for _, b in made]
        return results, received
    finally:
        for a, b in made:
            a.close()
            b.close()


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=300),
                          st.binary(max_size=20).map(bytearray)),
                max_size=12))
def test_twins_send_what_socket_send_sends(impl, bufs):
    ours = run_batch(impl.outbound.send_batch, bufs)
    assert ours == run_batch(reference_send_batch, bufs)
    assert ours[1] == [bytes(b) for b in bufs]


def test_a_full_socket_takes_part_then_nothing(impl):
    big = b'x' * (4 << 20)

    def shrink(made):
        for a, _ in made:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    results, received = run_batch(impl.outbound.send_batch, [big, big],
                                  shrink)
    assert all(0 < n < len(big) for n in results)
    assert received == [big[:n] for n in results]

    made = pairs(1)
    try:
        a, b = made[0]
        while True:
            try:
                a.send(big)
            except BlockingIOError:
                break
        assert impl.outbound.send_batch([a], [b'more']) == [0]
    finally:
        for a, b in made:
            a.close()
            b.close()


def test_a_dead_peer_is_an_errno_and_the_others_still_get_theirs(impl):
    def kill_middle(made):
        made[1][1].close()

    results, received = run_batch(impl.outbound.send_batch,
                                  [b'one', b'two', b'three'], kill_middle)
    assert results == [3, -errno.EPIPE, 5]
    assert received == [b'one', None, b'three']
    assert run_batch(reference_send_batch, [b'one', b'two', b'three'],
                     kill_middle)[0] == results


@pytest.mark.parametrize('socks,bufs,error', [
    ('sock', [b'x', b'y'], ValueError),        # lengths differ
    ('sock', [12], TypeError),                  # not bytes-like
    ('sock', ['text'], TypeError),
    ('closed', [b'x'], ValueError),             # no descriptor
    ('tuple', [b'x'], TypeError),
    ('nofileno', [b'x'], AttributeError),
], ids=['lengths', 'int', 'str', 'closed', 'tuple', 'nofileno'])
def test_bad_input_is_refused_before_any_send(impl, socks, bufs, error):
    made = pairs(2)
    a, b = made[0]
    other = made[1][0]
    try:
        if socks == 'closed':
            dead = socket.socket()
            dead.close()
            arg = [dead]
        elif socks == 'tuple':
            arg = (a,)
        elif socks == 'nofileno':
            arg = [object()]
        else:
            arg = [a]
        if socks != 'tuple' and len(bufs) == 1:
            # a good first entry proves nothing was sent before the refusal
            arg, bufs = [other] + arg, [b'first'] + bufs
        with pytest.raises(error):
            impl.outbound.send_batch(arg, bufs)
        assert drain(made[1][1]) == b''
    finally:
        for x, y in made:
            x.close()
            y.close()
