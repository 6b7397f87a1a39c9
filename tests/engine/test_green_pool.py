"""GreenHandlerPool: reused greenlets that keep the greenlet-per-event
guarantees, under eventlet and under gevent (each library's own hub and
sleep; no monkey patching needed)."""

import contextvars
import logging

import pytest

from flask_socketio_fast.green_pool import pool_for


@pytest.fixture(params=['eventlet', 'gevent'])
def green(request):
    if request.param == 'eventlet':
        import eventlet
        sleep = eventlet.sleep
    else:
        import gevent
        sleep = gevent.sleep
    return pool_for(request.param), sleep


def _wait_until(sleep, cond, limit=2000):
    for _ in range(limit):
        if cond():
            return True
        sleep(0.001)
    return cond()


def test_tasks_start_on_the_next_turn_in_submission_order(green):
    pool, sleep = green
    seen = []
    for i in range(20):
        pool.submit(seen.append, i)
    assert seen == []  # the submitter goes on first, as after spawn()
    assert _wait_until(sleep, lambda: len(seen) == 20)
    assert seen == list(range(20))


def test_a_task_submitted_by_a_task_starts_after_its_batch(green):
    pool, sleep = green
    seen = []

    def first():
        seen.append('first')
        pool.submit(seen.append, 'submitted by first')
        seen.append('first done')

    pool.submit(first)
    pool.submit(seen.append, 'second')
    assert _wait_until(sleep, lambda: len(seen) == 4)
    # 'second' was in first's batch; the task first submitted starts on a
    # later turn, after first has gone on, as a spawned greenlet would
    assert seen == ['first', 'first done', 'second', 'submitted by first']


def test_a_blocked_handler_delays_nobody(green):
    pool, sleep = green
    log = []

    def slow():
        log.append('slow start')
        sleep(0.2)
        log.append('slow end')

    pool.submit(slow)
    for i in range(3):
        pool.submit(log.append, i)
    assert _wait_until(sleep, lambda: len(log) == 5)
    assert log == ['slow start', 0, 1, 2, 'slow end']


def test_workers_are_reused(green):
    pool, sleep = green
    done = []
    for round_ in range(5):
        for i in range(10):
            pool.submit(done.append, i)
        assert _wait_until(sleep, lambda: len(done) == 10 * (round_ + 1))
    assert pool.workers <= 10
    assert pool.idle == pool.workers


def test_each_task_gets_a_fresh_context(green):
    pool, sleep = green
    var = contextvars.ContextVar('v', default='unset')
    seen = []

    def first():
        var.set('leaked?')
        seen.append(var.get())

    def second():
        seen.append(var.get())

    pool.submit(first)
    assert _wait_until(sleep, lambda: len(seen) == 1)
    pool.submit(second)  # runs on the same (idle) worker
    assert _wait_until(sleep, lambda: len(seen) == 2)
    assert pool.workers == 1
    assert seen == ['leaked?', 'unset']


def test_an_error_is_logged_and_the_worker_survives(green, caplog):
    pool, sleep = green
    done = []

    def boom():
        raise RuntimeError('handler failed')

    with caplog.at_level(logging.ERROR, logger='flask_socketio_fast'):
        pool.submit(boom)
        pool.submit(done.append, 'after')
        assert _wait_until(sleep, lambda: done == ['after'])
    assert 'Unhandled exception in a Socket.IO event handler' in caplog.text
    assert 'handler failed' in caplog.text
    assert pool.workers == pool.idle


def test_a_burst_leaves_at_most_max_idle_workers(green):
    pool, sleep = green
    pool.max_idle = 4
    done = []

    def blocking(i):
        sleep(0.05)
        done.append(i)

    for i in range(30):
        pool.submit(blocking, i)
    assert _wait_until(sleep, lambda: len(done) == 30)
    assert _wait_until(sleep, lambda: pool.workers == 4)
    assert pool.idle == 4


def test_other_modes_have_no_green_pool():
    assert pool_for('threading') is None


def _from_hub(green, fn):
    """Run ``fn()`` in the hub greenlet (where hub-driven readers call
    ``run_now``) and return what it returned."""
    pool, sleep = green
    out = []
    pool._schedule(lambda _: out.append(fn()), None)
    assert _wait_until(sleep, lambda: out)
    return out[0]


def test_run_now_says_whether_the_call_finished_or_blocked(green):
    pool, sleep = green
    seen = []

    def quick(arg):
        seen.append(arg)

    def blocking(arg):
        sleep(0.01)
        seen.append(arg)

    assert _from_hub(green, lambda: pool.run_now(quick, 'q')) is True
    assert seen == ['q']
    assert _from_hub(green, lambda: pool.run_now(blocking, 'b')) is False
    # the blocked one goes on by itself once woken
    assert _wait_until(sleep, lambda: seen == ['q', 'b'])


class _Reader:
    """Stands in for a hub-driven reader: takes what submit hands it."""

    def __init__(self):
        self.ran = []

    def run_inline(self, fn, args):
        self.ran.append(args)
        fn(*args)


def test_submit_from_the_registered_worker_runs_inline(green):
    pool, sleep = green
    reader = _Reader()
    seen = []

    def dispatch(_):
        import greenlet
        pool._inline_reader = reader
        pool._inline_greenlet = greenlet.getcurrent()
        pool.submit(seen.append, 'first')   # inline, at once
        seen.append('after first')
        pool.submit(seen.append, 'second')  # registration is single-use
        seen.append('after second')

    assert _from_hub(green, lambda: pool.run_now(dispatch, None)) is True
    assert reader.ran == [('first',)]
    # 'second' went the ordinary way: after dispatch finished
    assert _wait_until(sleep, lambda: len(seen) == 4)
    assert seen == ['first', 'after first', 'after second', 'second']


def test_submit_from_another_greenlet_is_not_inline(green):
    pool, sleep = green
    reader = _Reader()
    seen = []
    import greenlet
    pool._inline_reader = reader
    pool._inline_greenlet = greenlet.greenlet(lambda: None)
    pool.submit(seen.append, 'x')
    assert seen == [] and reader.ran == []
    assert _wait_until(sleep, lambda: seen == ['x'])
