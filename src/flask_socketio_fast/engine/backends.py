"""Per async mode: how to wait for a raw socket and how to start a task.

The WebSocket driver keeps every connection's OS socket in non-blocking
mode and does its own waiting, so the same connection code serves threads
and greenlets.  A backend gives it three things:

* ``waiter(sock)``: an object with ``readable(timeout)`` and
  ``writable(timeout)``, each True when the socket is ready (or broken,
  which the next ``recv``/``send`` reports) and False when ``timeout``
  seconds passed first;
* ``spawn(fn, *args)``: run ``fn`` on a new thread or greenlet, returning a
  handle whose ``join(timeout)`` waits for it to end;
* ``cooperate()``: let other greenlets run (a no-op with threads, which
  the interpreter switches by itself), so a client that keeps its socket
  full cannot monopolise an event loop;
* ``call_soon(fn)``: run ``fn()`` once the current thread or greenlet
  lets others run (greenlets: on the hub's next turn; threads: on a
  flusher thread), which is how appended frames are coalesced;
* ``make_lock()``: a lock for critical sections that never block or
  switch: with greenlets the OS-level lock even when ``threading`` is
  monkey-patched (a patched lock costs a Python-level call per use);
* ``local_buffer()``: a receive buffer (a memoryview) shared by everything
  that runs on the current OS thread: one per thread in threading mode, a
  single one with greenlets, which never switch while it is in use.
"""

import functools
import select
import threading

RECV_SIZE = 65536


class _Task:
    """Handle for a spawned task: ``join(timeout)`` -> True once done."""

    __slots__ = ('_done',)

    def __init__(self, done):
        self._done = done

    def join(self, timeout=None):
        return self._done.wait(timeout)


class ThreadingBackend:
    name = 'threading'

    def __init__(self):
        self._local = threading.local()
        self._start_lock = threading.Lock()

    def waiter(self, sock):
        return _PollWaiter(sock)

    def spawn(self, fn, *args):
        done = threading.Event()

        def run():
            try:
                fn(*args)
            finally:
                done.set()

        threading.Thread(target=run, daemon=True,
                         name='flask-socketio-fast-ws-writer').start()
        return _Task(done)

    def cooperate(self):
        pass

    make_lock = staticmethod(threading.Lock)

    def call_soon(self, fn):
        # one long-lived thread runs what was asked for, in order
        calls = self.__dict__.get('_calls')
        if calls is None:
            with self._start_lock:
                calls = self.__dict__.get('_calls')
                if calls is None:
                    import queue
                    calls = queue.SimpleQueue()
                    threading.Thread(target=self._run_calls, args=(calls,),
                                     daemon=True,
                                     name='flask-socketio-fast-flush').start()
                    self._calls = calls
        calls.put(fn)

    @staticmethod
    def _run_calls(calls):
        while True:
            fn = calls.get()
            try:
                fn()
            except Exception:  # pragma: no cover - fn handles its errors
                import logging
                logging.getLogger('flask_socketio_fast').exception(
                    'flask-socketio-fast: deferred call failed')

    def local_buffer(self):
        buf = getattr(self._local, 'buf', None)
        if buf is None:
            buf = self._local.buf = memoryview(bytearray(RECV_SIZE))
        return buf


class _PollWaiter:
    """poll(2) on one socket; select(2) where poll does not exist."""

    __slots__ = ('_read', '_write', '_sock')

    def __init__(self, sock):
        self._sock = sock
        if hasattr(select, 'poll'):
            self._read = select.poll()
            self._read.register(sock, select.POLLIN | select.POLLPRI)
            self._write = select.poll()
            self._write.register(sock, select.POLLOUT)
        else:  # pragma: no cover - Windows
            self._read = self._write = None

    def readable(self, timeout):
        if self._read is None:  # pragma: no cover
            return bool(select.select([self._sock], [], [self._sock],
                                      timeout)[0])
        ms = None if timeout is None else max(0, int(timeout * 1000))
        return bool(self._read.poll(ms))

    def writable(self, timeout):
        if self._write is None:  # pragma: no cover
            r = select.select([], [self._sock], [self._sock], timeout)
            return bool(r[1] or r[2])
        ms = None if timeout is None else max(0, int(timeout * 1000))
        return bool(self._write.poll(ms))


class _WaitTimeout(Exception):
    pass


class _GreenBackend:
    """What the eventlet and gevent backends share: one hub thread, so one
    receive buffer, and tasks as greenlets with a set-once done flag."""

    def spawn(self, fn, *args):
        done = self._new_done()

        def run():
            try:
                fn(*args)
            finally:
                done.set()

        self._spawn(run)
        return _Task(done)

    def local_buffer(self):
        return self._buf


class EventletBackend(_GreenBackend):
    name = 'eventlet'

    def __init__(self):
        import eventlet
        import eventlet.event
        from eventlet.hubs import trampoline
        self._spawn = eventlet.spawn
        self.cooperate = functools.partial(eventlet.sleep, 0)
        import eventlet.patcher
        from eventlet.hubs import get_hub
        self.make_lock = eventlet.patcher.original('_thread').allocate_lock
        self.call_soon = lambda fn: get_hub().schedule_call_global(0, fn)
        self._event = eventlet.event.Event
        self._trampoline = trampoline
        self._buf = memoryview(bytearray(RECV_SIZE))

    def waiter(self, sock):
        return _EventletWaiter(sock, self._trampoline)

    def _new_done(self):
        return _GreenDone(self._event)


class _GreenDone:
    """A set-once flag with ``wait(timeout)`` for eventlet."""

    def __init__(self, event_class):
        self._event = event_class()

    def set(self):
        if not self._event.ready():
            self._event.send(True)

    def wait(self, timeout=None):
        import eventlet
        if self._event.ready():
            return True
        with eventlet.Timeout(timeout, False):
            self._event.wait()
        return self._event.ready()


class _EventletWaiter:
    __slots__ = ('_sock', '_trampoline')

    def __init__(self, sock, trampoline):
        self._sock = sock
        self._trampoline = trampoline

    def _wait(self, timeout, read):
        try:
            if read:
                self._trampoline(self._sock, read=True, timeout=timeout,
                                 timeout_exc=_WaitTimeout)
            else:
                self._trampoline(self._sock, write=True, timeout=timeout,
                                 timeout_exc=_WaitTimeout)
        except _WaitTimeout:
            return False
        except OSError:
            # closed under us: the next socket call tells what happened
            return True
        return True

    def readable(self, timeout):
        return self._wait(timeout, True)

    def writable(self, timeout):
        return self._wait(timeout, False)


class GeventBackend(_GreenBackend):
    name = 'gevent'

    def __init__(self):
        import gevent
        import gevent.event
        from gevent.socket import wait_read, wait_write
        self._spawn = gevent.spawn
        self.cooperate = functools.partial(gevent.sleep, 0)
        from gevent.monkey import get_original
        self.make_lock = get_original('_thread', 'allocate_lock')
        self.call_soon = lambda fn: gevent.get_hub().loop.run_callback(fn)
        self._event = gevent.event.Event
        self._wait_read = wait_read
        self._wait_write = wait_write
        self._buf = memoryview(bytearray(RECV_SIZE))

    def waiter(self, sock):
        return _GeventWaiter(sock.fileno(), self._wait_read,
                             self._wait_write)

    def _new_done(self):
        return self._event()


class _GeventWaiter:
    __slots__ = ('_fd', '_wait_read', '_wait_write')

    def __init__(self, fd, wait_read, wait_write):
        self._fd = fd
        self._wait_read = wait_read
        self._wait_write = wait_write

    def readable(self, timeout):
        try:
            self._wait_read(self._fd, timeout, _WaitTimeout)
        except _WaitTimeout:
            return False
        except OSError:
            return True
        return True

    def writable(self, timeout):
        try:
            self._wait_write(self._fd, timeout, _WaitTimeout)
        except _WaitTimeout:
            return False
        except OSError:
            return True
        return True


def backend_for(async_mode):
    """The backend of an engine.io async mode, or None if it has none."""
    if async_mode == 'threading':
        return ThreadingBackend()
    if async_mode == 'eventlet':
        return EventletBackend()
    if async_mode == 'gevent':
        return GeventBackend()
    return None
