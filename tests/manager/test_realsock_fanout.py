"""Broadcast fan-out over real sockets: 1,000 WebSocket clients per server.

One server process per (implementation, async mode) runs fanout_app.py; the
clients are RawClients in this process.  They sit in overlapping rooms; one
of them asks the server for a plan of broadcasts (rooms, lists of rooms and
sid rooms, everyone, ``skip_sid`` as one sid or a list, ``include_self``,
context-aware and server-level emits, binary attachments), repeated three
times.  Every client must receive exactly the broadcasts addressed to it,
in plan order, then ``done``; nothing else.  The same test runs on
Flask-SocketIO, which checks the expectations themselves.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from .rawclients import RawClient, Swarm

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APP = HERE / 'fanout_app.py'

N_CLIENTS = int(os.environ.get('FANOUT_CLIENTS', 1000))
MODES = {
    'threading': ['--async-mode', 'threading'],
    'eventlet': ['--async-mode', 'eventlet'],
    'gevent': ['--async-mode', 'gevent'],
    'gevent-simple-websocket': ['--async-mode', 'gevent',
                                '--no-gevent-websocket'],
}
# flask_socketio_fast on each twin: the child selects its speedups itself
IMPLS = ['flask_socketio', 'flask_socketio_fast', 'flask_socketio_fast-py']

CYCLE = [
    {'via': 'ctx', 'to': 'r1'},
    {'via': 'ctx', 'to': 'r0', 'include_self': False},
    {'via': 'ctx', 'to': ['r3', 'r4', 'even']},
    {'via': 'ctx', 'to': None, 'skip': ['c5', 'c6']},
    {'via': 'server', 'to': 'odd', 'skip': ['c7'], 'skip_one': True},
    {'via': 'server', 'to': '@c42'},
    {'via': 'ctx', 'to': ['r5', '@c3', '@c10', 'r5']},
    {'via': 'ctx', 'to': 'r6', 'binary': True},
    {'via': 'ctx', 'to': None, 'include_self': False},
    {'via': 'server', 'to': 'r1', 'skip': ['c1', 'c8']},
    {'via': 'server', 'to': ['tens', 'r2'], 'binary': True},
    {'via': 'server', 'to': None},
    {'via': 'ctx', 'to': 'nobody'},
]


def client_rooms(i):
    rooms = [f'r{i % 7}', 'even' if i % 2 == 0 else 'odd']
    if i % 10 == 0:
        rooms.append('tens')
    return rooms


def make_plan():
    plan = []
    for _ in range(3):
        for step in CYCLE:
            plan.append(dict(step, seq=len(plan) + 1))
    return plan


def expected_events(names, plan, controller):
    """name -> the events it must receive, in order."""
    rooms = {name: set(client_rooms(i)) for i, name in enumerate(names)}

    def members(ref):
        if ref is None:
            return set(names)
        if isinstance(ref, list):
            return set().union(*(members(r) for r in ref))
        if ref.startswith('@'):
            return {ref[1:]}
        return {n for n in names if ref in rooms[n]}

    out = {name: [] for name in names}
    for step in plan:
        targets = members(step.get('to'))
        if step.get('skip'):
            targets -= set(step['skip'])
        elif step['via'] == 'ctx' and not step.get('include_self', True):
            targets.discard(controller)
        seq = step['seq']
        event = ('m', seq, bytes([seq % 256]) * 3) if step.get('binary') \
            else ('m', seq)
        for name in targets:
            out[name].append(event)
    for name in names:
        out[name].append(('done', len(plan)))
    return out


class FanoutServer:
    def __init__(self, impl, args):
        self.impl, _, twin = impl.partition('-')
        self.pure = twin == 'py'
        self.args = args
        self.proc = None
        self.log = tempfile.TemporaryFile(mode='w+')

    def start(self):
        import socket
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, PYTHONUNBUFFERED='1',
                   PYTHONWARNINGS='ignore::DeprecationWarning')
        env.pop('FLASK_SOCKETIO_FAST_NO_EXTENSIONS', None)
        if self.pure:
            # the pure twin on purpose; a REQUIRE inherited from CI would
            # contradict it
            env['FLASK_SOCKETIO_FAST_NO_EXTENSIONS'] = '1'
            env.pop('FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS', None)
        env['PYTHONPATH'] = os.pathsep.join(
            [str(REPO / 'src')] + ([env['PYTHONPATH']]
                                   if env.get('PYTHONPATH') else []))
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), '--impl', self.impl,
             '--port', str(self.port)] + self.args,
            env=env, cwd=str(REPO), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('fanout app exited:\n' + self.log_text())
            try:
                r = requests.get(f'http://127.0.0.1:{self.port}/info',
                                 timeout=2)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError('fanout app did not start:\n' + self.log_text())

    def info(self):
        return requests.get(f'http://127.0.0.1:{self.port}/info',
                            timeout=10).json()

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def fanout_server(request):
    servers = []

    def start(impl, mode):
        server = FanoutServer(impl, MODES[mode])
        servers.append(server)
        return server, server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.mark.timeout(180)
@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('impl', IMPLS)
def test_thousand_clients_get_exactly_their_broadcasts(fanout_server, impl,
                                                       mode):
    server, info = fanout_server(impl, mode)
    if impl.startswith('flask_socketio_fast'):
        assert info['manager'] == 'FastManager'
        twin = 'python' if impl.endswith('-py') else 'c'
        assert f'{twin} registry' in info['fast_paths']['broadcast fan-out']
    names = [f'c{i}' for i in range(N_CLIENTS)]
    clients = [RawClient(name, f'name={name}&rooms={",".join(client_rooms(i))}')
               for i, name in enumerate(names)]
    swarm = Swarm(server.port)
    try:
        swarm.connect(clients, timeout=90)
        assert server.info()['connected'] == N_CLIENTS
        plan = make_plan()
        controller = clients[0]
        controller.emit('plan', plan, ack_id=1)
        total = len(plan)
        swarm.run_until(
            lambda: all(c.events and c.events[-1] == ('done', total)
                        for c in clients),
            timeout=60, what='every client done')
        swarm.pump(0.2)  # anything extra would arrive now
        assert controller.acks == {1: ['planned']}
        expected = expected_events(names, plan, 'c0')
        wrong = [c.name for c in clients if c.events != expected[c.name]]
        assert not wrong, (len(wrong), wrong[:5],
                           clients[names.index(wrong[0])].events[:20],
                           expected[wrong[0]][:20])
        assert sum(len(e) for e in expected.values()) > 10 * N_CLIENTS
        assert not any(c.closed for c in clients)
        after = server.info()
        sinks = sum(n for kind, n in after['sockets'].items()
                    if kind.endswith('/sink'))
        if sinks == N_CLIENTS:
            # every connection takes shared frames: every delivery was one
            assert after['shared_frames'] == sum(
                len(e) for e in expected.values())
        print(f'{impl} {mode}: {sinks} connections with a frame sink, '
              f'{after["shared_frames"]} shared frames')
    except Exception:
        print(server.log_text())
        raise
    finally:
        swarm.close()
