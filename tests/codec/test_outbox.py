"""``_speedups.outbox``: the compiled twin against the pure one, operation
for operation on real socketpairs (what the peer receives and every piece
of state after each step), its lock against ``threading.Lock``, and the
errors on bad input.  The connection-level tests (writers, bounds, close
handshake, batches under threads) run on both twins in
``tests/engine_ws/test_wsconn.py``."""

import collections
import socket
import sys
import threading
import time

import pytest
from hypothesis import given, strategies as st

from .strategies import SETTINGS
from .support import drain


class RecordingBackend:
    """spawn() records the writer instead of running it, so both twins see
    the same, deterministic sequence (a writer that never runs keeps later
    sends queued, which is a state worth comparing too)."""

    def __init__(self):
        self.spawned = []

    @staticmethod
    def make_lock():
        return threading.Lock()

    def spawn(self, fn, *args):
        self.spawned.append(fn)
        return ('writer', len(self.spawned))


class NeverWritable:
    def writable(self, timeout):
        return False


def make_box(mod, sock, **kw):
    options = dict(max_pending_bytes=1 << 20, max_pending_frames=1000,
                   write_timeout=5.0)
    options.update(kw)
    pending = collections.deque()
    backend = RecordingBackend()
    box = mod.Outbox(sock, backend, NeverWritable(), pending,
                     options['max_pending_bytes'],
                     options['max_pending_frames'],
                     options['write_timeout'])
    return box, pending, backend


def state_of(box, pending, backend):
    return dict(queued=box.queued(), out_frames=box.out_frames,
                dirty=box.dirty, in_batch=box.in_batch, state=box.state,
                writer=box.writer, abort_reason=box.abort_reason,
                abort_policy=box.abort_policy,
                shut_after_flush=box.shut_after_flush,
                pending=len(pending), spawned=len(backend.spawned),
                pending_bytes=box.pending_bytes())


frames = st.binary(min_size=0, max_size=300)
operations = st.lists(st.one_of(
    st.tuples(st.just('send'), frames),
    st.tuples(st.just('append'), frames),
    st.tuples(st.just('flush'), st.none()),
    st.tuples(st.just('flush_batches'), st.none()),
    st.tuples(st.just('close'), frames),
    st.tuples(st.just('closing'), st.none()),
    st.tuples(st.just('abort'), st.sampled_from([None, 'why'])),
    st.tuples(st.just('flush_pending'), st.none()),
), max_size=40)


def run_script(mod, script, **kw):
    """Apply ``script`` to a fresh outbox; the peer's bytes and the state
    after every step."""
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, pending, backend = make_box(mod, a, **kw)
        trace = []
        for op, arg in script:
            if op == 'send':
                result = box.send(arg)
            elif op == 'append':
                result = box.append(arg)
            elif op == 'flush':
                result = box.flush()
            elif op == 'flush_batches':
                result = mod.flush_batches(pending)
            elif op == 'close':
                result = box.close_with(arg)
            elif op == 'closing':
                result = box.mark_closing()
            elif op == 'abort':
                result = box.abort(arg)
            else:
                result = mod.flush_pending(pending)
            trace.append((op, result, state_of(box, pending, backend)))
        return trace, drain(b)
    finally:
        a.close()
        b.close()


@SETTINGS
@given(operations)
def test_twins_agree_step_by_step(both, script):
    py, c = both
    assert run_script(c.outbox, script) == run_script(py.outbox, script)


@SETTINGS
@given(operations, st.integers(1, 12), st.integers(1, 2000))
def test_twins_agree_on_the_bounds(both, script, max_frames, max_bytes):
    py, c = both
    kw = dict(max_pending_frames=max_frames, max_pending_bytes=max_bytes)
    assert run_script(c.outbox, script, **kw) == \
        run_script(py.outbox, script, **kw)


def test_appends_leave_in_one_send_after_the_flush(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, pending, _ = make_box(impl.outbox, a)
        for i in range(5):
            box.append(b'%d;' % i)
        assert list(pending) == [box]          # listed once
        assert box.dirty and box.out_frames == 5
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(10)
        impl.outbox.flush_pending(pending)
        assert not pending and not box.dirty
        assert drain(b) == b'0;1;2;3;4;'
    finally:
        a.close()
        b.close()


def test_a_long_burst_writes_early(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, pending, _ = make_box(impl.outbox, a, max_pending_frames=3)
        for i in range(4):
            box.append(b'x')
        # the eager bound is min(EAGER_FRAMES, max_pending_frames) = 3
        assert drain(b) == b'xxx' and box.queued() == b'x'
        assert box.state == impl.outbox.OPEN
    finally:
        a.close()
        b.close()


def test_a_dead_peer_aborts_on_the_next_write(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.close()
    try:
        box, _, _ = make_box(impl.outbox, a)
        box.send(b'lost')
        assert box.state == impl.outbox.CLOSED
        assert box.abort_reason is None and not box.abort_policy
        assert not box.send(b'more') and box.pending_bytes() == 0
    finally:
        a.close()


def test_a_full_socket_hands_over_to_a_writer_that_times_out(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        box, _, backend = make_box(impl.outbox, a, write_timeout=0.5)
        box.send(b'z' * 500_000)
        assert box.writer is not None and len(backend.spawned) == 1
        assert 0 < box.pending_bytes() < 500_000
        # the writer: the waiter says the socket never became writable
        backend.spawned[0]()
        assert box.state == impl.outbox.CLOSED and box.writer is None
        assert box.abort_reason == 'client read nothing for 0.5 s'
        assert box.abort_policy
    finally:
        a.close()
        b.close()


def test_close_with_half_closes_after_the_frame(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, _, _ = make_box(impl.outbox, a)
        assert box.close_with(b'\x88\x00')
        assert box.state == impl.outbox.CLOSING
        assert not box.close_with(b'\x88\x00') and not box.send(b'late')
        b.settimeout(5)
        assert b.recv(10) == b'\x88\x00' and b.recv(10) == b''
    finally:
        a.close()
        b.close()


BAD_FRAMES = [None, 'text', 3, 1.5, object()]


@pytest.mark.parametrize('frame', BAD_FRAMES, ids=repr)
@pytest.mark.parametrize('method', ['send', 'append'])
def test_bad_frames_are_refused_alike_and_release_the_lock(both, method,
                                                           frame):
    outcomes = []
    for impl in both:
        a, b = socket.socketpair()
        a.setblocking(False)
        try:
            box, pending, backend = make_box(impl.outbox, a)
            with pytest.raises(TypeError) as info:
                getattr(box, method)(frame)
            # the lock was released: the next send goes through
            assert box.send(b'ok')
            outcomes.append((info.type, state_of(box, pending, backend),
                             drain(b)))
        finally:
            a.close()
            b.close()
    assert outcomes[0] == outcomes[1]


def test_frames_are_shared_not_copied_and_buffers_are_frozen(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        boxes = [make_box(impl.outbox, a)[0] for _ in range(3)]
        frame = b'shared frame'
        before = sys.getrefcount(frame)
        for box in boxes:
            box.append(frame)
        # one reference per queue, no copy of the bytes
        assert sys.getrefcount(frame) == before + 3
        mutable = bytearray(b'abc')
        boxes[0].append(mutable)
        mutable[:] = b'XYZ'           # too late: the frame was taken as is
        assert boxes[0].queued() == b'shared frameabc'
        for box in boxes:
            box.abort()
        assert sys.getrefcount(frame) == before
    finally:
        a.close()
        b.close()


def test_more_frames_than_one_send_takes_leave_in_several(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        per_send = impl.outbox.MAX_FRAMES_PER_SEND
        box, pending, _ = make_box(impl.outbox, a,
                                   max_pending_frames=10 * per_send)
        frames = [b'%d,' % i for i in range(2 * per_send + 7)]
        # queue without writing: a writer is "busy" (the recording backend
        # never runs it), so send() only queues
        box.writer = 'busy'
        for f in frames:
            assert box.send(f)
        assert box.out_frames == len(frames)
        box.writer = None
        box.flush()
        assert drain(b) == b''.join(frames) and box.out_frames == 0
        assert box.pending_bytes() == 0 and box.writer is None
    finally:
        a.close()
        b.close()


def test_flush_batches_writes_partly_then_hands_over_to_a_writer(impl):
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        box, pending, backend = make_box(impl.outbox, a)
        big = b'q' * 200_000
        box.append(big)
        impl.outbox.flush_batches(pending)
        assert not pending and not box.in_batch
        assert box.writer is not None and len(backend.spawned) == 1
        assert 0 < box.pending_bytes() < len(big)
        got = drain(b)
        assert got == big[:len(got)] and \
            len(got) + box.pending_bytes() == len(big)
    finally:
        a.close()
        b.close()


def test_flush_batches_aborts_a_dead_peer_and_writes_the_others(impl):
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        pending = collections.deque()
        boxes = []
        for a, _ in pairs:
            a.setblocking(False)
            box = impl.outbox.Outbox(a, RecordingBackend(), NeverWritable(),
                                     pending, 1 << 20, 1000, 5.0, True)
            boxes.append(box)
        pairs[1][1].close()
        for i, box in enumerate(boxes):
            box.append(b'to %d' % i)
        impl.outbox.flush_batches(pending)
        assert [box.state for box in boxes] == \
            [impl.outbox.OPEN, impl.outbox.CLOSED, impl.outbox.OPEN]
        assert not any(box.in_batch or box.pending_bytes() for box in boxes)
        assert drain(pairs[0][1]) == b'to 0' and drain(pairs[2][1]) == b'to 2'
    finally:
        for a, b in pairs:
            a.close()
            if b.fileno() >= 0:
                b.close()


@pytest.mark.parametrize('args', [
    ('many', 10, 1.0), (10.5, 10, 1.0), (10, None, 1.0), (10, 10, 'soon')],
    ids=repr)
def test_constructor_refuses_bad_bounds_alike(both, args):
    kinds = []
    for impl in both:
        a, b = socket.socketpair()
        try:
            with pytest.raises(Exception) as info:
                impl.outbox.Outbox(a, RecordingBackend(), NeverWritable(),
                                   collections.deque(), *args)
            kinds.append(info.type)
        finally:
            a.close()
            b.close()
    assert kinds == [TypeError, TypeError]


# -- the compiled lock, against threading.Lock --------------------------------

@pytest.fixture
def make_lock(impl):
    """The compiled lock; the pure twin's outbox uses the backend's OS
    lock, which is what the compiled one must behave like."""
    if impl.name == 'c':
        return impl.outbox.Lock
    return threading.Lock


def test_lock_behaves_like_threading_lock(make_lock):
    lock = make_lock()
    assert lock.acquire() is True and lock.locked()
    assert lock.acquire(False) is False
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
    with lock:
        assert lock.locked()
    assert not lock.locked()


def test_a_waiting_thread_lets_the_holder_run(make_lock):
    # the waiter must not keep the GIL while it waits, or the holder (which
    # needs the GIL to get to its release) never releases
    lock = make_lock()
    order = []
    lock.acquire()

    def waiter():
        with lock:
            order.append('waiter')

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    total = sum(range(100_000))        # Python work needs the GIL
    order.append('holder')
    lock.release()
    t.join(5)
    assert not t.is_alive() and order == ['holder', 'waiter'] and total


def test_compiled_lock_excludes_under_contention(make_lock):
    lock = make_lock()
    counter = [0]

    def bump():
        for _ in range(20_000):
            with lock:
                v = counter[0]
                counter[0] = v + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    # switch threads often, inside the critical section too
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join(30)
    finally:
        sys.setswitchinterval(old)
    assert counter[0] == 80_000


def test_flush_batches_hands_back_what_it_took_when_one_entry_raises(impl):
    class Broken:
        def flush(self):
            raise RuntimeError('cannot flush')

    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, pending, _ = make_box(impl.outbox, a)
        box.append(b'hello')
        pending.append(Broken())
        with pytest.raises(RuntimeError, match='cannot flush'):
            impl.outbox.flush_batches(pending)
        assert not box.in_batch
        box.append(b' more')
        impl.outbox.flush_batches(pending)
        assert drain(b) == b'hello more' and box.pending_bytes() == 0
    finally:
        a.close()
        b.close()


def test_the_outbox_lock_is_what_its_sends_take(impl):
    # the compiled outbox keeps its lock's state inline; ``box.lock`` must
    # still be that lock, not a copy
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        box, _, _ = make_box(impl.outbox, a)
        lock = box.lock
        lock.acquire()
        sender = threading.Thread(target=box.send, args=(b'after',))
        sender.start()
        time.sleep(0.05)
        assert sender.is_alive() and box.lock.locked()
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(10)
        lock.release()
        sender.join(5)
        assert not sender.is_alive() and drain(b) == b'after'
        assert not box.lock.locked()
    finally:
        a.close()
        b.close()
