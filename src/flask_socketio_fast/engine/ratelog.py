"""Logging that one misbehaving client cannot turn into a flood.

A client can send thousands of undecodable packets a second; logging a
traceback for each (what python-engineio does) costs far more than
rejecting them, and on a single-threaded event loop stalls every other
client.  ``RateLimitedLog.log(key, level, msg, *args)`` lets through
``burst`` lines per ``key`` every ``window`` seconds, then one line saying
how many were suppressed.  ``exc_info`` is honoured only for the first line
of each window, so a traceback is still seen once.
"""

import threading
import time

_MAX_KEYS = 256


class RateLimitedLog:
    def __init__(self, logger, burst=5, window=10.0):
        self.logger = logger
        self.burst = burst
        self.window = window
        self._state = {}
        self._lock = threading.Lock()

    def log(self, key, level, msg, *args, exc_info=False):
        if not self.logger.isEnabledFor(level):
            return
        now = time.monotonic()
        suppressed = 0
        with self._lock:
            state = self._state.get(key)
            if state is None or now - state[0] >= self.window:
                if state is not None:
                    suppressed = state[2]
                elif len(self._state) >= _MAX_KEYS:
                    # bounded memory: a flood of distinct keys shares one
                    key = '(other)'
                    state = self._state.get(key)
                if state is None or now - state[0] >= self.window:
                    state = [now, 0, 0]
                    self._state[key] = state
            state[1] += 1
            count = state[1]
            if count > self.burst:
                state[2] += 1
                return
        if suppressed:
            self.logger.log(level, '%d similar messages suppressed in the '
                            'last %.0f s (%s)', suppressed, self.window, key)
        self.logger.log(level, msg, *args,
                        exc_info=exc_info if count == 1 else False)
