"""start_background_task, sleep, and call() (emit and wait for the client's ack).

The test client never acks server events by itself and forces async_handlers=False, under
which python-socketio refuses call(). What stays testable: that refusal, the broadcast refusal,
the timeout, and, with async_handlers switched back on and the client's ack played by the
packet spy, the value call() returns.
"""
import threading

import flask
import pytest
import socketio as python_socketio

from .support import wait_for


def test_start_background_task_runs_target_with_arguments(make):
    app, sio = make()
    done = []
    task = sio.start_background_task(lambda a, b=None: done.append((a, b)), 1, b=2)
    task.join()
    assert done == [(1, 2)]


def test_background_task_can_emit(make):
    app, sio = make()
    client = sio.test_client(app)

    def some_function():
        sio.sleep(0)
        sio.emit('some event', {'data': 42})

    sio.start_background_task(some_function).join()
    assert client.get_received() == [{'name': 'some event', 'args': [{'data': 42}],
                                      'namespace': '/'}]


def test_sleep(make):
    app, sio = make()
    assert sio.sleep(0) is None
    assert sio.sleep(0.001) is None
    assert sio.sleep() is None


def test_call_requires_a_recipient(make):
    app, sio = make()
    with pytest.raises(ValueError):
        sio.call('question', 'data')


def test_call_refused_under_the_test_client(make, mod):
    app, sio = make()
    errors = []

    @sio.on('ask')
    def ask():
        try:
            mod.call('question')
        except RuntimeError as exc:
            errors.append(str(exc))

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    client = sio.test_client(app)
    client.emit('ask')
    assert errors and 'async_handlers' in errors[0]
    with pytest.raises(RuntimeError):
        sio.call('question', to=client.emit('whoami', callback=True))


def test_call_times_out_without_ack(make):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    client = sio.test_client(app)
    sid = client.emit('whoami', callback=True)
    sio.server.async_handlers = True  # what a real server runs with
    with pytest.raises(python_socketio.exceptions.TimeoutError):
        sio.call('question', 'q', to=sid, timeout=0.05)
    # the event did go out, asking for an ack
    assert client.get_received() == [{'name': 'question', 'args': ['q'], 'namespace': '/'}]


@pytest.mark.timeout(20)
def test_call_returns_the_clients_ack(make, spy_factory):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    client = sio.test_client(app)
    sid = client.emit('whoami', callback=True)
    spy = spy_factory(sio).install()
    sio.server.async_handlers = True
    results = []
    caller = threading.Thread(
        target=lambda: results.append(sio.call('question', 'q', to=sid, timeout=10)),
        daemon=True)
    caller.start()
    [pkt] = wait_for(lambda: spy.events_with_ack_id(client.eio_sid))
    spy.send_ack(client, pkt, 'the answer')
    caller.join(10)
    assert results == ['the answer']


@pytest.mark.timeout(20)
def test_call_helper_inside_handler_returns_ack(make, mod, spy_factory):
    app, sio = make()

    @sio.on('ask')
    def ask():
        answer = mod.call('question', 'q', timeout=10)
        mod.emit('got', answer)

    client = sio.test_client(app)
    spy = spy_factory(sio).install()
    sio.server.async_handlers = True  # the handler now runs in its own thread
    client.emit('ask')
    [pkt] = wait_for(lambda: spy.events_with_ack_id(client.eio_sid))
    spy.send_ack(client, pkt, 'a', 'b')
    wait_for(lambda: any(q['name'] == 'got' for q in client.queue))
    assert client.get_received() == [
        {'name': 'question', 'args': ['q'], 'namespace': '/'},
        # several ack values come back as a tuple, which emit() spreads into arguments
        {'name': 'got', 'args': ['a', 'b'], 'namespace': '/'},
    ]


@pytest.mark.timeout(20)
def test_async_handlers_run_concurrently_with_their_own_context(make, mod):
    # what a real server does (async_handlers=True): each event in its own thread, each with
    # its own request context, even while several of one client's events are in flight
    app, sio = make()
    barrier = threading.Barrier(4, timeout=10)

    @sio.on('work')
    def work(n):
        flask.g.n = n
        barrier.wait()  # all four are running at once
        mod.emit('done', [n, flask.g.n, list(flask.request.event['args'])])

    client = sio.test_client(app)
    sio.server.async_handlers = True
    for n in range(4):
        client.emit('work', n)
    wait_for(lambda: len(client.queue) == 4)
    got = sorted(r['args'][0] for r in client.get_received())
    assert got == [[n, n, [n]] for n in range(4)]
