"""HandlerPool: reused threads that keep the thread-per-event guarantees."""

import threading
import time

import pytest

from flask_socketio_fast.handler_pool import HandlerPool

WAIT = 10  # generous bound for events that must happen; never a speed claim


def test_blocked_handler_does_not_delay_the_next_one():
    pool = HandlerPool()
    release = threading.Event()
    second_ran = threading.Event()
    pool.submit(release.wait, WAIT)
    pool.submit(second_ran.set)
    assert second_ran.wait(WAIT)
    release.set()


def test_workers_are_reused():
    pool = HandlerPool()
    names = []
    done = threading.Event()
    for i in range(50):
        ran = threading.Event()
        pool.submit(lambda ev=ran: (names.append(threading.get_ident()),
                                    ev.set()))
        assert ran.wait(WAIT)
        # give the worker the moment it needs to go back to the idle list
        deadline = time.monotonic() + WAIT
        while not pool._idle and time.monotonic() < deadline:
            time.sleep(0.001)
    done.set()
    assert len(set(names)) == 1
    assert pool.workers == 1


def test_bound_queues_in_arrival_order():
    pool = HandlerPool(max_workers=2)
    gate = threading.Event()
    order = []
    finished = threading.Semaphore(0)

    def blocker():
        gate.wait(WAIT)
        finished.release()

    def record(i):
        order.append(i)
        finished.release()

    pool.submit(blocker)
    pool.submit(blocker)
    for i in range(5):
        pool.submit(record, i)
    assert pool.workers == 2
    assert order == []  # both workers busy: the rest wait
    gate.set()
    for _ in range(7):
        assert finished.acquire(timeout=WAIT)
    assert order == [0, 1, 2, 3, 4]
    assert pool.workers <= 2


def test_idle_workers_exit():
    pool = HandlerPool(idle_timeout=0.05)
    ran = threading.Event()
    pool.submit(ran.set)
    assert ran.wait(WAIT)
    deadline = time.monotonic() + WAIT
    while pool.workers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.workers == 0
    # and the pool still works afterwards
    again = threading.Event()
    pool.submit(again.set)
    assert again.wait(WAIT)


def test_exception_is_logged_and_worker_survives(caplog):
    pool = HandlerPool()

    def boom():
        raise RuntimeError('handler failed')

    ok = threading.Event()
    pool.submit(boom)
    pool.submit(ok.set)
    assert ok.wait(WAIT)
    deadline = time.monotonic() + WAIT
    while 'handler failed' not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 'handler failed' in caplog.text


def test_invalid_bound():
    with pytest.raises(ValueError):
        HandlerPool(max_workers=0)
