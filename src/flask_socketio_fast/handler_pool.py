"""Reusable worker threads for Socket.IO event handlers (threading mode).

With ``async_handlers=True`` python-socketio starts a new OS thread for
every inbound event, so that a handler may block (sleep, ``call()``, I/O)
without holding up other events.  Starting a thread costs far more than
most handlers do.  This pool keeps that guarantee with reused threads:

* an event goes to an idle worker if there is one, else to a new worker, so
  a blocked handler never delays another event, not even a later one of the
  same client;
* only when ``max_workers`` is set and that many handlers are running at
  once do further events wait, in arrival order, for the next free worker;
* a worker idle for ``idle_timeout`` seconds exits, so a burst does not
  leave threads behind;
* each task runs in a fresh ``contextvars`` context, as in a new thread.

A task submitted from the threading-mode WebSocket hub thread
(engine/thread_reader.py, ``inline_hub``) runs right there instead, unless
its kind of event once blocked the hub; the hub's watchdog keeps the
promise above for those.
"""

import collections
import contextvars
import logging
import threading

logger = logging.getLogger('flask_socketio_fast')
_get_ident = threading.get_ident


class _Worker:
    __slots__ = ('pool', 'task', 'wake')

    def __init__(self, pool, task):
        self.pool = pool
        self.task = task
        # a lock used as a one-shot signal: released when a task is handed
        # over, so an idle worker sleeps in acquire() without polling
        self.wake = threading.Lock()
        self.wake.acquire()

    def run(self):
        pool = self.pool
        while True:
            fn, args = self.task
            self.task = None
            try:
                # a fresh context, as a new thread would have: nothing a
                # handler sets in a ContextVar leaks into the next one
                contextvars.Context().run(fn, *args)
            except BaseException:  # a handler's error must not kill the pool
                logger.exception('Unhandled exception in a Socket.IO event '
                                 'handler')
            del fn, args
            if not pool._next_task(self):
                return


class HandlerPool:
    """Runs submitted calls on reused daemon threads (see module docstring).

    :param max_workers: Upper bound on concurrently running handlers; None
                        (the default) means no bound, as with a thread per
                        event.
    :param idle_timeout: Seconds an idle worker waits for work before it
                         exits.
    """

    def __init__(self, max_workers=None, idle_timeout=30.0):
        if max_workers is not None and max_workers < 1:
            raise ValueError('max_workers must be at least 1 or None')
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle = []          # workers waiting for a task, newest last
        self._backlog = collections.deque()
        self._workers = 0        # threads alive
        #: the engine's WebSocket hub (thread_reader.ReaderHub), whose
        #: thread runs the tasks it submits itself
        self.inline_hub = None

    @property
    def workers(self):
        """Number of live worker threads."""
        return self._workers

    def submit(self, fn, *args):
        hub = self.inline_hub
        if hub is not None and hub.ident == _get_ident() and \
                hub.run_inline(fn, args):
            return
        task = (fn, args)
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
                worker.task = task
                worker.wake.release()
                return
            if self.max_workers is not None and \
                    self._workers >= self.max_workers:
                self._backlog.append(task)
                return
            self._workers += 1
        worker = _Worker(self, task)
        thread = threading.Thread(target=worker.run, daemon=True,
                                  name='socketio-handler')
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._workers -= 1
            raise

    def _next_task(self, worker):
        """Give ``worker`` its next task; False when it should exit."""
        with self._lock:
            if self._backlog:
                worker.task = self._backlog.popleft()
                return True
            self._idle.append(worker)
        if worker.wake.acquire(timeout=self.idle_timeout):
            return True
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
                self._workers -= 1
                return False
        # a task was handed over just as the wait timed out
        worker.wake.acquire()
        return True
