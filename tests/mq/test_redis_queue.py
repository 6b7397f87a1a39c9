"""A message-queue cluster on a real Redis: three cluster_app servers (one per
async mode) sharing one redis:// queue, plus a write-only emitter process.

On every server two python-socketio Clients connect: a member of room
'team' and an outsider. Emits from each server, from the emitter, and room
emits from a server and from the emitter must reach the right clients on every
server. Run for each implementation, compared between them, and on mixed
clusters (flask_socketio and flask_socketio_fast servers on one channel).
"""
import json
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from serverprocs import (  # noqa: E402
    APPS, IMPLS, ServerProcess, impl_unavailable, run_json_script)

CHANNEL = 'flask-socketio'
WAIT = 15  # seconds; bounds every wait below
MODES = ('threading', 'eventlet', 'gevent')

pytestmark = [pytest.mark.redis, pytest.mark.realsock,
              pytest.mark.timeout(120)]


class Recorder:
    """A python-socketio Client that records every event it receives."""

    def __init__(self, label, url):
        self.label = label
        self.events = []
        self.cond = threading.Condition()
        self.client = socketio.Client(reconnection=False, handle_sigint=False)
        self.client.on('*', self._record)
        self.client.connect(url, transports=['websocket'], wait_timeout=10)

    def _record(self, event, data=None):
        # python-socketio runs each handler in its own thread, hence the lock
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def call(self, event, data=None):
        return self.client.call(event, data, timeout=WAIT)

    def wait_until(self, predicate, deadline):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.events),
                                      max(0, deadline - time.monotonic()))

    def received(self, event):
        with self.cond:
            found = [data for name, data in self.events if name == event]
        return sorted(found, key=lambda d: json.dumps(d, sort_keys=True))

    def close(self):
        self.client.disconnect()


def wait_for_subscribers(url, count):
    """Servers subscribe once their first client connects, in a background
    task; emits published before that are lost, so wait for all of them."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            [(_, subscribers)] = client.pubsub_numsub(CHANNEL)
            if subscribers >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f'{subscribers} of {count} servers '
                                     f'subscribed to {CHANNEL!r}')
            time.sleep(0.05)
    finally:
        client.close()


def emit_from_emitter(impl, url, *emits):
    cmd = [sys.executable, str(APPS / 'emitter.py'), '--impl', impl,
           '--message-queue', url, *(json.dumps(e) for e in emits)]
    return run_json_script(cmd, timeout=60)


def run_cluster(redis_url, layout, emitter_impl):
    """Run the scenario on servers ``layout`` = [(name, impl, mode)];
    returns {client label: sorted payloads of its 'mq' events}."""
    for impl in {impl for _, impl, _ in layout} | {emitter_impl}:
        reason = impl_unavailable(impl)
        if reason:
            pytest.skip(reason)
    servers = [ServerProcess(impl, mode, message_queue=redis_url, name=name)
               for name, impl, mode in layout]
    clients = []
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
            assert server.health['message_queue'] is True
        members = {}
        for server in servers:
            member = Recorder(f'{server.name}.member', server.url)
            outsider = Recorder(f'{server.name}.outsider', server.url)
            clients += [member, outsider]
            members[server.name] = member
            assert member.call('join', 'team') == ['team']
        wait_for_subscribers(redis_url, len(servers))

        for name, member in members.items():
            assert member.call('mq_emit', {'event': 'mq',
                                           'data': {'from': name}}) == 'sent'
        first = layout[0][0]
        assert members[first].call('mq_emit', {
            'event': 'mq', 'data': {'from': first, 'to': 'team'},
            'room': 'team'}) == 'sent'
        assert emit_from_emitter(
            emitter_impl, redis_url,
            {'event': 'mq', 'data': {'from': 'emitter'}},
            {'event': 'mq', 'data': {'from': 'emitter', 'to': 'team'},
             'to': 'team'},
            # published last: Redis delivers a channel's messages in order,
            # so a client that has the fence has been sent everything else
            {'event': 'fence', 'data': 'end'},
        ) == {'emitted': 3}

        deadline = time.monotonic() + WAIT
        for client in clients:
            client.wait_until(
                lambda events: ('fence', 'end') in events, deadline)
        # fence handlers may overtake earlier ones (one thread per event):
        # a round trip per client lets those land before we look
        for client in clients:
            client.call('whoami')
        return {client.label: client.received('mq') for client in clients}
    except Exception:
        for server in servers:
            print(f'--- {server.name} log ---\n{server.output()}')
        raise
    finally:
        close_all(clients)
        for server in servers:
            server.close()


def close_all(clients):
    # a client disconnect from a threading-mode server takes ~3 s (the
    # client waits for the server to close the WebSocket); do them together
    threads = [threading.Thread(target=c.close, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)


def expected_for(layout):
    names = [name for name, _, _ in layout]
    everyone = [{'from': name} for name in names] + [{'from': 'emitter'}]
    team = [{'from': names[0], 'to': 'team'},
            {'from': 'emitter', 'to': 'team'}]

    def ordered(items):
        return sorted(items, key=lambda d: json.dumps(d, sort_keys=True))

    expected = {}
    for name in names:
        expected[f'{name}.member'] = ordered(everyone + team)
        expected[f'{name}.outsider'] = ordered(everyone)
    return expected


def uniform_layout(impl):
    return [(f's_{mode}', impl, mode) for mode in MODES]


_results = {}


def cluster_results(redis_url, impl):
    if impl not in _results:
        _results[impl] = run_cluster(redis_url, uniform_layout(impl), impl)
    return _results[impl]


@pytest.mark.parametrize('impl', IMPLS)
def test_cluster_delivers_everywhere(redis_url, impl):
    results = cluster_results(redis_url, impl)
    assert results == expected_for(uniform_layout(impl))


def test_cluster_differential(redis_url):
    assert (cluster_results(redis_url, 'flask_socketio_fast')
            == cluster_results(redis_url, 'flask_socketio'))


@pytest.mark.parametrize('layout, emitter', [
    ([('s_ref', 'flask_socketio', 'threading'),
      ('s_fast', 'flask_socketio_fast', 'eventlet')], 'flask_socketio_fast'),
    ([('s_fast', 'flask_socketio_fast', 'gevent'),
      ('s_ref', 'flask_socketio', 'eventlet')], 'flask_socketio'),
], ids=['ref+fast_fast-emitter', 'fast+ref_ref-emitter'])
def test_mixed_cluster_interoperates(redis_url, layout, emitter):
    # a rolling upgrade runs both packages on one channel
    assert run_cluster(redis_url, layout, emitter) == expected_for(layout)
