"""One timer task per engine server, for pings and close deadlines.

python-engineio starts a thread or greenlet per connection for every ping
(it sleeps ``ping_interval`` and sends), and in threading mode that thread
outlives the connection.  Here every connection's next ping, and every close
handshake's deadline, is an entry in one heap served by one task, started on
first use.  Callbacks must not block: they run on the timer task.
"""

import heapq
import itertools
import logging
import threading
import time

logger = logging.getLogger('flask_socketio_fast')


class Timers:
    def __init__(self, engine):
        self._engine = engine
        self._heap = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = None
        self._task_started = False
        self._stopped = False
        self._next_due = None

    def call_later(self, delay, fn, *args):
        """Run ``fn(*args)`` on the timer task after ``delay`` seconds.
        Returns an entry that ``cancel()`` accepts."""
        due = time.monotonic() + delay
        entry = [due, next(self._seq), fn, args]
        with self._lock:
            if self._stopped:
                return entry
            heapq.heappush(self._heap, entry)
            wake = self._next_due is None or due < self._next_due
            start = not self._task_started
            if start:
                self._task_started = True
                self._wake = self._engine.create_event()
        if start:
            self._engine.start_background_task(self._run)
        elif wake:
            self._wake.set()
        return entry

    @staticmethod
    def cancel(entry):
        entry[2] = None
        entry[3] = ()

    def pending(self):
        with self._lock:
            return sum(1 for e in self._heap if e[2] is not None)

    def stop(self):
        with self._lock:
            self._stopped = True
            self._heap = []
            wake = self._wake
        if wake is not None:
            wake.set()

    def _run(self):
        while True:
            self._wake.clear()
            due = []
            with self._lock:
                if self._stopped:
                    return
                now = time.monotonic()
                heap = self._heap
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap))
                self._next_due = heap[0][0] if heap else None
                next_due = self._next_due
            for entry in due:
                fn = entry[2]
                if fn is None:
                    continue
                try:
                    fn(*entry[3])
                except Exception:  # a timer must never end the task
                    logger.exception('flask-socketio-fast: timer callback '
                                     'failed')
            if due:
                continue
            timeout = None if next_due is None else \
                max(0.0, next_due - time.monotonic())
            self._wake.wait(timeout)
