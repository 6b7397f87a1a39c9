"""Reusable worker greenlets for Socket.IO event handlers (eventlet, gevent).

With ``async_handlers=True`` python-socketio starts every inbound event in a
new greenlet (``eventlet.spawn`` / ``gevent.spawn``).  A greenlet is cheap,
but not free: besides the greenlet and the library's thread-like wrapper
(an event, links, a timer), CPython 3.11+ gives each new greenlet its own
frame stack chunk, which is an ``mmap`` and a ``munmap`` per event, plus the
page faults of touching it.  Measured over loopback in the echo benchmark
that was about a sixth of the server's CPU per round trip.

This pool keeps the greenlet-per-event guarantee with reused greenlets:

* an event goes to an idle worker if there is one, else to a new worker, so
  a blocked handler never delays another event, not even a later one of the
  same client;
* a worker starts its task on the hub's next turn, as a spawned greenlet
  would, so events start in arrival order and the reader goes on reading;
  the tasks submitted in one turn start from one scheduled callback, not
  one hub timer each (eventlet makes, heaps and fires a ``Timer`` object
  per scheduled call);
* each task runs in a fresh ``contextvars`` context, as it would in a new
  greenlet, so nothing set by one handler leaks into the next;
* at most ``max_idle`` workers wait for work; one that finishes beyond that
  ends, so a burst does not leave greenlets behind.

The same workers serve the engine's hub-driven WebSocket readers
(engine/green_reader.py): ``run_now`` runs a call on a worker straight from
the hub and says whether it finished or blocked, and a reader that is
dispatching an event on its worker registers there (``_inline_greenlet``)
so that the event's handler, when it comes back here through ``submit``,
runs at once on that worker instead of on another one a hub turn later;
the reader hands the rest of its connection to another worker if that
handler blocks.
"""

import contextvars
import logging

try:
    import greenlet
except ImportError:  # a threading-only install: nothing here is used then
    greenlet = None

logger = logging.getLogger('flask_socketio_fast')


class GreenHandlerPool:
    """Runs submitted calls on reused greenlets (see module docstring).

    :param hub_greenlet: Returns the hub's greenlet (eventlet: the hub's
                         ``greenlet``, gevent: the hub itself), the parent
                         of the workers and where idle ones wait.
    :param schedule: ``schedule(fn, arg)`` calls ``fn(arg)`` on the hub's next
                     turn.
    :param max_idle: How many idle workers to keep.
    """

    def __init__(self, hub_greenlet, schedule, max_idle=64):
        self._hub_greenlet = hub_greenlet
        self._schedule = schedule
        self.max_idle = max_idle
        self._idle = []
        self._workers = 0
        self._ready = []  # (worker, task) to start on the hub's next turn
        self._start_scheduled = False
        # the worker that last finished a task (run_now's answer)
        self._finished = None
        # a reader dispatching on this worker takes the event's handler
        self._inline_greenlet = None
        self._inline_reader = None

    @property
    def workers(self):
        """Number of live worker greenlets."""
        return self._workers

    @property
    def idle(self):
        """Number of workers waiting for a task."""
        return len(self._idle)

    def submit(self, fn, *args):
        inline = self._inline_greenlet
        if inline is not None and inline is greenlet.getcurrent():
            self._inline_greenlet = None
            reader, self._inline_reader = self._inline_reader, None
            return reader.run_inline(fn, args)
        self._ready.append((self._take_worker(), (fn, args)))
        if not self._start_scheduled:
            self._start_scheduled = True
            self._schedule(self._start_ready, None)

    def run_now(self, fn, arg):
        """From the hub: run ``fn(arg)`` on a worker now.  True when it
        finished, False when it blocked (it goes on when it is woken)."""
        worker = self._take_worker()
        self._finished = None
        worker.switch((fn, (arg,)))
        return self._finished is worker

    def _take_worker(self):
        # an idle worker if there is one (the last one idle: warm), else
        # a new one
        idle = self._idle
        if idle:
            return idle.pop()
        self._workers += 1
        return greenlet.greenlet(self._run, parent=self._hub_greenlet())

    def _start_ready(self, _):
        # runs in the hub: each worker runs until it finishes or blocks, and
        # then switches back here; what is submitted meanwhile waits for the
        # next turn, as it would have with a timer of its own
        ready, self._ready = self._ready, []
        self._start_scheduled = False
        for worker, task in ready:
            try:
                worker.switch(task)
            except BaseException:  # pragma: no cover - _run catches all
                logger.exception('A Socket.IO handler greenlet failed')

    def _run(self, task):
        idle = self._idle
        me = greenlet.getcurrent()
        hub = me.parent
        while True:
            fn, args = task
            task = None
            try:
                contextvars.Context().run(fn, *args)
            except greenlet.GreenletExit:
                self._workers -= 1
                raise
            except BaseException:  # a handler's error must not kill the pool
                logger.exception('Unhandled exception in a Socket.IO event '
                                 'handler')
            del fn, args
            self._finished = me
            if len(idle) >= self.max_idle:
                self._workers -= 1
                return
            idle.append(me)
            # asleep until submit() schedules ``me.switch(task)``
            task = hub.switch()


def pool_for(async_mode):
    """A GreenHandlerPool for eventlet or gevent, or None for other modes."""
    if async_mode == 'eventlet':
        from eventlet.hubs import get_hub

        def hub_greenlet():
            return get_hub().greenlet

        def schedule(fn, arg):
            get_hub().schedule_call_global(0, fn, arg)

        return GreenHandlerPool(hub_greenlet, schedule)
    if async_mode == 'gevent':
        import gevent

        def schedule(fn, arg):
            gevent.get_hub().loop.run_callback(fn, arg)

        return GreenHandlerPool(gevent.get_hub, schedule)
    return None
