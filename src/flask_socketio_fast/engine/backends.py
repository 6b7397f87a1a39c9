"""Per async mode: how to wait for a raw socket and how to start a task.

The WebSocket driver keeps every connection's OS socket in non-blocking
mode and does its own waiting, so the same connection code serves threads
and greenlets.  A backend gives it three things:

* ``waiter(sock)``: an object with ``readable(timeout)`` and
  ``writable(timeout)``, each True when the socket is ready (or broken,
  which the next ``recv``/``send`` reports) and False when ``timeout``
  seconds passed first, and ``release()`` for when the connection ends;
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
  single one with greenlets, which never switch while it is in use.  The
  per-thread ones are anonymous memory maps, so only the pages a read
  has filled take memory: a thread that only ever reads small messages
  holds one page, not 64 KiB (every WebSocket has its own thread).

The greenlet waiters can also call back instead of waiting
(``watch(callback)``, ``pause()``, ``resume()``, ``unwatch()``): the
callback runs in the hub whenever the socket is readable, for as long as
it is watched and not paused.  That is what the hub-driven readers
(green_reader.py) are made of.
"""

import functools
import select
import threading

RECV_SIZE = 65536


def _untouched_buffer(size):
    """A writable memoryview of ``size`` bytes whose pages are only
    allocated when written (a bytearray is zero-filled at once)."""
    try:
        import mmap
        return memoryview(mmap.mmap(-1, size))
    except (ImportError, OSError, ValueError):  # pragma: no cover
        return memoryview(bytearray(size))


class _Task:
    """Handle for a spawned task: ``join(timeout)`` -> True once done."""

    __slots__ = ('_done',)

    def __init__(self, done):
        self._done = done

    def join(self, timeout=None):
        return self._done.wait(timeout)


class ThreadingBackend:
    name = 'threading'
    # appended frames are flushed in GIL-free batches (engine/server.py)
    batch_flush = True

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
            buf = self._local.buf = _untouched_buffer(RECV_SIZE)
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

    def release(self):
        pass


class _WaitTimeout(Exception):
    pass


class _GreenBackend:
    """What the eventlet and gevent backends share: one hub thread, so one
    receive buffer, and tasks as greenlets with a set-once done flag."""

    # nothing else runs while a greenlet sends: flush one socket at a time
    batch_flush = False

    def spawn(self, fn, *args):
        done = self._new_done()

        def run():
            try:
                fn(*args)
            finally:
                done.set()

        self._spawn(run)
        return _Task(done)

    def park(self):
        """Switch to the hub until something switches back here (what
        the hub-driven readers' WSGI greenlet does while they serve)."""
        self._get_hub().switch()

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
        self._get_hub = get_hub
        import greenlet
        self._getcurrent = greenlet.getcurrent
        self._buf = memoryview(bytearray(RECV_SIZE))

    def waiter(self, sock):
        return _EventletWaiter(sock, self._get_hub(), self._trampoline,
                               self._getcurrent)

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
    """Waits for one socket on eventlet's hub.

    Reads: one hub listener per connection, kept while the reader keeps
    coming back to wait.  ``trampoline`` adds a listener and removes it
    again around every wait: two ``epoll_ctl`` calls per inbound message.
    If the socket turns readable while the reader is busy elsewhere, the
    listener is dropped (epoll is level-triggered and would report it on
    every turn) and the next wait adds it again.  Writes (rare: only when
    a client does not keep up) use ``trampoline``.
    """

    __slots__ = ('_sock', '_fd', '_hub', '_trampoline', '_greenlet',
                 '_listener', '_reader', '_watch')

    def __init__(self, sock, hub, trampoline, getcurrent):
        self._sock = sock
        self._fd = sock.fileno()
        self._hub = hub
        self._trampoline = trampoline
        self._greenlet = getcurrent
        self._listener = None
        self._reader = None
        self._watch = None

    def watch(self, callback):
        """Call ``callback()`` in the hub whenever the socket is readable
        (or closed under us), until ``unwatch()``; ``readable`` must not be
        used meanwhile."""
        self._drop()
        self._watch = callback
        self.resume()

    def pause(self):
        self._drop()

    def resume(self):
        if self._listener is None and self._watch is not None:
            hub = self._hub
            self._listener = hub.add(hub.READ, self._fd, self._watched,
                                     self._watched_thrown, _ignore)

    def unwatch(self):
        self._watch = None
        self._drop()

    def _watched(self, fileno):
        self._watch()

    def _watched_thrown(self, *exc):
        # closed under us: the callback's next recv says how
        callback = self._watch
        self._drop()
        if callback is not None:
            callback()

    def readable(self, timeout):
        hub = self._hub
        if self._listener is None:
            try:
                self._listener = hub.add(hub.READ, self._fd, self._ready,
                                         self._thrown, _ignore)
            except RuntimeError:
                # someone else waits on this descriptor: take turns
                return self._trampoline_wait(timeout, True)
        self._reader = self._greenlet()
        timer = None
        if timeout is not None:
            timer = hub.schedule_call_global(timeout, self._expired)
        try:
            return hub.switch()
        finally:
            self._reader = None
            if timer is not None:
                timer.cancel()

    def _ready(self, fileno):
        reader = self._reader
        if reader is None:
            self._drop()
            return
        self._reader = None
        reader.switch(True)

    def _thrown(self, *exc):
        # the descriptor was closed under us: the next recv says how
        reader = self._reader
        self._drop()
        if reader is not None:
            self._reader = None
            reader.switch(True)

    def _expired(self):
        reader = self._reader
        if reader is not None:
            self._reader = None
            reader.switch(False)

    def _drop(self):
        listener = self._listener
        if listener is not None:
            self._listener = None
            self._hub.remove(listener)

    def _trampoline_wait(self, timeout, read):
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

    def writable(self, timeout):
        return self._trampoline_wait(timeout, False)

    def release(self):
        """Remove the read listener (before the descriptor is closed)."""
        self._drop()


def _ignore(*args):
    pass


class GeventBackend(_GreenBackend):
    name = 'gevent'

    def __init__(self):
        import gevent
        import gevent.event
        self._spawn = gevent.spawn
        self.cooperate = functools.partial(gevent.sleep, 0)
        from gevent.monkey import get_original
        self.make_lock = get_original('_thread', 'allocate_lock')
        self.call_soon = lambda fn: gevent.get_hub().loop.run_callback(fn)
        self._event = gevent.event.Event
        self._get_hub = gevent.get_hub
        self._timeout = gevent.Timeout
        self._buf = memoryview(bytearray(RECV_SIZE))

    def waiter(self, sock):
        return _GeventWaiter(sock.fileno(), self._get_hub(), self._timeout)

    def _new_done(self):
        return self._event()


class _GeventWaiter:
    """One read and one write watcher per connection, kept for its life.

    ``gevent.socket.wait_read`` makes a new libev watcher per wait and
    closes it after, which costs an ``epoll_ctl`` (and an ``fcntl``) per
    message; a watcher that is only started and stopped again stays
    registered with epoll.
    """

    __slots__ = ('_fd', '_loop', '_hub', '_timeout', '_read', '_write',
                 '_watch')

    def __init__(self, fd, hub, timeout_class):
        self._fd = fd
        self._hub = hub
        self._loop = hub.loop
        self._timeout = timeout_class
        self._read = None
        self._write = None
        self._watch = None

    def watch(self, callback):
        """Call ``callback()`` in the hub whenever the socket is readable,
        until ``unwatch()``; ``readable`` must not be used meanwhile."""
        if self._read is None:
            self._read = self._loop.io(self._fd, 1)
        self._watch = callback
        self._read.start(callback)

    def pause(self):
        if self._read is not None:
            self._read.stop()

    def resume(self):
        if self._read is not None and self._watch is not None:
            self._read.start(self._watch)

    def unwatch(self):
        self._watch = None
        self.pause()

    def _wait(self, watcher, timeout):
        if timeout is None:
            self._hub.wait(watcher)
            return True
        timer = self._timeout(timeout, False)
        timer.start()
        try:
            self._hub.wait(watcher)
        except self._timeout as exc:
            if exc is not timer:
                raise
            return False
        finally:
            timer.close()
        return True

    def readable(self, timeout):
        watcher = self._read
        if watcher is None:
            watcher = self._read = self._loop.io(self._fd, 1)
        try:
            return self._wait(watcher, timeout)
        except OSError:
            return True

    def writable(self, timeout):
        watcher = self._write
        if watcher is None:
            watcher = self._write = self._loop.io(self._fd, 2)
        try:
            return self._wait(watcher, timeout)
        except OSError:
            return True

    def release(self):
        """Close the watchers (before the descriptor is closed)."""
        for watcher in (self._read, self._write):
            if watcher is not None:
                watcher.close()
        self._read = self._write = None


def backend_for(async_mode):
    """The backend of an engine.io async mode, or None if it has none."""
    if async_mode == 'threading':
        return ThreadingBackend()
    if async_mode == 'eventlet':
        return EventletBackend()
    if async_mode == 'gevent':
        return GeventBackend()
    return None
