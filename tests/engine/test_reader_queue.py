"""ReaderQueue (engine/green_reader.py): the connections that became
readable in one hub turn are served one after the other on one worker, and
a stint that blocks hands the rest of the queue to another worker; under
eventlet and under gevent, with stand-in readers."""

import contextvars

import pytest

from flask_socketio_fast.engine.green_reader import ReaderQueue
from flask_socketio_fast.green_pool import pool_for

_mark = contextvars.ContextVar('mark', default=None)


@pytest.fixture(params=['eventlet', 'gevent'])
def green(request):
    if request.param == 'eventlet':
        import eventlet
        from eventlet.hubs import get_hub
        sleep = eventlet.sleep

        def call_soon(fn):
            get_hub().schedule_call_global(0, fn)
    else:
        import gevent
        sleep = gevent.sleep

        def call_soon(fn):
            gevent.get_hub().loop.run_callback(fn)
    return pool_for(request.param), sleep, call_soon


class _Engine:
    corked = False


class _Reader:
    """What the queue uses of a GreenReader; its stint logs and may block."""

    def __init__(self, name, log, sleep, block=None):
        self.name = name
        self.log = log
        self.sleep = sleep
        self.block = block
        self.result = None
        self.owner = None
        self._queued = False
        self.paused = self.blocked = 0

    def _stint(self, _):
        import greenlet
        engine.corked = True
        # a fresh context per stint: nothing from the previous one
        assert _mark.get() is None
        _mark.set(self.name)
        self.log.append((self.name, id(greenlet.getcurrent())))
        if self.block is not None:
            self.owner = greenlet.getcurrent()
            self.sleep(self.block)
            self.log.append((self.name + ' woke',
                             id(greenlet.getcurrent())))
            self.owner = None

    def _pause(self):
        self.paused += 1

    def _blocked(self):
        self.blocked += 1


engine = _Engine()


def _queue(pool, call_soon):
    engine.corked = False
    return ReaderQueue(engine, pool, call_soon)


def _counting(pool):
    calls = []
    run_now = pool.run_now

    def counted(fn, arg):
        calls.append(fn)
        return run_now(fn, arg)
    pool.run_now = counted
    return calls


def test_one_turns_readers_share_one_worker_in_order(green):
    pool, sleep, call_soon = green
    queue = _queue(pool, call_soon)
    calls = _counting(pool)
    log = []
    readers = [_Reader(f'r{i}', log, sleep) for i in range(5)]
    for reader in readers:
        reader._queued = True
        queue.add(reader)
    sleep(0)
    sleep(0)
    assert [name for name, _ in log] == ['r0', 'r1', 'r2', 'r3', 'r4']
    assert len({worker for _, worker in log}) == 1
    assert len(calls) == 1
    assert not any(reader._queued for reader in readers)
    assert engine.corked is False


def test_a_blocked_stint_hands_the_rest_to_another_worker(green):
    pool, sleep, call_soon = green
    queue = _queue(pool, call_soon)
    log = []
    slow = _Reader('slow', log, sleep, block=0.05)
    readers = [_Reader('a', log, sleep), slow, _Reader('b', log, sleep),
               _Reader('c', log, sleep)]
    for reader in readers:
        queue.add(reader)
    sleep(0)
    sleep(0)
    # the rest did not wait for the blocked one
    assert [name for name, _ in log] == ['a', 'slow', 'b', 'c']
    assert slow.blocked == 1
    assert log[0][1] == log[1][1] != log[2][1] == log[3][1]
    assert engine.corked is False
    # what is queued meanwhile goes to a worker of its own turn, not to the
    # blocked one when it wakes
    late = _Reader('late', log, sleep, block=0.1)
    queue.add(late)
    sleep(0)
    sleep(0.1)
    names = [name for name, _ in log]
    assert names.index('late') < names.index('slow woke')
    woke = dict(log)['slow woke']
    assert woke == log[1][1]
    after = _Reader('after', log, sleep)
    queue.add(after)
    sleep(0)
    sleep(0)
    assert dict(log)['after'] != woke


def test_ended_and_owned_readers_are_skipped(green):
    pool, sleep, call_soon = green
    queue = _queue(pool, call_soon)
    log = []
    ended = _Reader('ended', log, sleep)
    ended.result = True
    owned = _Reader('owned', log, sleep)
    owned.owner = object()
    fine = _Reader('fine', log, sleep)
    for reader in (ended, owned, fine):
        reader._queued = True
        queue.add(reader)
    sleep(0)
    sleep(0)
    assert [name for name, _ in log] == ['fine']
    assert owned.paused == 1 and ended.paused == 0
    assert not any(r._queued for r in (ended, owned, fine))
