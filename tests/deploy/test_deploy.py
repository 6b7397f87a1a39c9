"""Deployments our WebSocket driver does not (or not only) serve: gunicorn's
workers and uWSGI, started as the Flask-SocketIO docs show.

For each: a python-socketio client connects over WebSocket (directly, and
upgrading from polling), emits and gets its ack; and the server says which
WebSocket path served it, and why (``/health`` and the
``flask_socketio_fast`` log line).  The servers are subprocesses on
127.0.0.1, stopped by PID.  Skipped when gunicorn / uWSGI is not installed.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import socketio

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(60)]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent


def _tool(name):
    path = BIN / name
    if path.exists():
        return str(path)
    return shutil.which(name)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Deployed:
    """One server process running tests/deploy/deploy_app.py."""

    def __init__(self, cmd, async_mode):
        self.port = _free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        env = dict(os.environ)
        env['DEPLOY_ASYNC_MODE'] = async_mode
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (str(REPO / 'src'), str(HERE), env.get('PYTHONPATH'))
            if p)
        env['PYTHONUNBUFFERED'] = '1'
        env['PYTHONWARNINGS'] = 'ignore::DeprecationWarning'
        fd, self.log = tempfile.mkstemp(prefix='deploy-', suffix='.log')
        try:
            self.proc = subprocess.Popen(
                [c.format(port=self.port) for c in cmd], env=env,
                cwd=str(HERE), stdin=subprocess.DEVNULL, stdout=fd,
                stderr=subprocess.STDOUT)
        finally:
            os.close(fd)

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'server exited:\n{self.output()}')
            try:
                if requests.get(self.url + '/health', timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f'server not ready:\n{self.output()}')

    def health(self):
        return requests.get(self.url + '/health', timeout=10).json()

    def output(self):
        with open(self.log, errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        os.unlink(self.log)


@pytest.fixture
def deploy():
    started = []

    def start(cmd, async_mode):
        server = Deployed(cmd, async_mode)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()


def round_trip(url, transports):
    """(transport the client ended on, ack of an echo); raises if the
    client cannot connect."""
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=list(transports), wait_timeout=10)
    try:
        return client.transport(), client.call(
            'echo', ('deployed ✓', [1, 2.5]), timeout=10)
    finally:
        client.disconnect()


def both_round_trips(url):
    for transports in (('websocket',), ('polling', 'websocket')):
        transport, answer = round_trip(url, transports)
        assert transport == 'websocket', transports
        assert answer == ['deployed ✓', [1, 2.5]]


# -- gunicorn -----------------------------------------------------------------

def gunicorn_cmd(worker, *extra):
    gunicorn = _tool('gunicorn')
    if gunicorn is None:
        pytest.skip('gunicorn is not installed')
    from gunicorn.workers import SUPPORTED_WORKERS
    if '.' not in worker and worker not in SUPPORTED_WORKERS:
        import gunicorn as g
        pytest.skip(f'gunicorn {g.__version__} has no {worker} worker')
    cmd = [gunicorn, '-b', '127.0.0.1:{port}', '-w', '1', '-k', worker,
           '--graceful-timeout', '2', *extra, 'deploy_app:app']
    if _gunicorn_has_control_socket():
        # gunicorn 25+ opens a control socket in ~/.gunicorn by default
        cmd.insert(1, '--no-control-socket')
    return cmd


def _gunicorn_has_control_socket():
    out = subprocess.run([_tool('gunicorn'), '--help'], capture_output=True,
                         text=True, timeout=30).stdout
    return '--no-control-socket' in out


def test_gunicorn_threads_take_the_stock_path(deploy):
    # gunicorn -w 1 --threads 100 module:app  (Flask-SocketIO's docs)
    server = deploy(gunicorn_cmd('gthread', '--threads', '20'), 'threading')
    both_round_trips(server.url)
    health = server.health()
    # simple-websocket on gunicorn's socket: python-engineio's own path
    assert health['ws_sessions'] == 0
    reason = next(iter(health['ws_fallbacks']))
    assert reason.startswith('the WSGI server is not Werkzeug (gunicorn/')
    assert health['engine_fast_path'].startswith(
        'stock engine.io WebSocket here (the WSGI server is not Werkzeug')
    assert 'WebSocket takes the stock engine.io path (the WSGI server is ' \
        'not Werkzeug (gunicorn/' in server.output()


@pytest.mark.parametrize('worker', [
    'geventwebsocket.gunicorn.workers.GeventWebSocketWorker',
    'gevent_pywsgi'])
def test_gunicorn_gevent_pywsgi_workers_get_our_driver(deploy, worker):
    # gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker
    # -w 1 module:app  (Flask-SocketIO's docs); gevent_pywsgi is the same
    # pywsgi server without gevent-websocket's handler
    server = deploy(gunicorn_cmd(worker), 'gevent')
    both_round_trips(server.url)
    health = server.health()
    assert health['ws_sessions'] == 2
    assert health['ws_fallbacks'] == {}
    assert health['engine_fast_path'].startswith('own WebSocket driver')
    assert 'Traceback' not in server.output()


def test_gunicorn_gevent_worker_refuses_websocket_cleanly(deploy):
    # gunicorn -k gevent: gunicorn's own HTTP parser, no pywsgi; with
    # gevent-websocket installed python-engineio cannot do WebSocket there
    # (it raises out of each upgrade); we answer 400 and say why once
    pytest.importorskip('geventwebsocket')
    server = deploy(gunicorn_cmd('gevent'), 'gevent')
    with pytest.raises(socketio.exceptions.ConnectionError):
        round_trip(server.url, ('websocket',))
    transport, answer = round_trip(server.url, ('polling', 'websocket'))
    assert transport == 'polling'
    assert answer == ['deployed ✓', [1, 2.5]]
    log = server.output()
    assert 'WebSocket requests are refused (the WSGI server is not gevent ' \
        'pywsgi (gunicorn/' in log
    assert 'RuntimeError' not in log


def test_gunicorn_eventlet_worker(deploy):
    # gunicorn --worker-class eventlet -w 1 module:app  (Flask-SocketIO's
    # docs); gunicorn dropped that worker in recent releases
    server = deploy(gunicorn_cmd('eventlet'), 'eventlet')
    both_round_trips(server.url)
    health = server.health()
    assert health['ws_sessions'] == 0
    assert 'WebSocket takes the stock engine.io path' in server.output()


# -- uWSGI --------------------------------------------------------------------

def test_uwsgi_gevent_takes_the_stock_path(deploy):
    # uwsgi --http :5000 --gevent 1000 --http-websockets --master
    #       --wsgi-file app.py --callable app  (Flask-SocketIO's docs)
    uwsgi = _tool('uwsgi')
    if uwsgi is None:
        pytest.skip('uWSGI is not installed')
    server = deploy([uwsgi, '--http', '127.0.0.1:{port}', '--gevent', '100',
                     '--http-websockets', '--master', '--die-on-term',
                     '--wsgi-file', 'deploy_app.py', '--callable', 'app'],
                    'gevent_uwsgi')
    both_round_trips(server.url)
    health = server.health()
    assert health['async_mode'] == 'gevent_uwsgi'
    # uWSGI's own WebSocket API, through python-engineio: said at start-up
    assert health['fast_paths']['engine'] == \
        'stock WebSocket (no driver for gevent_uwsgi)'
    assert 'flask-socketio-fast: engine: stock WebSocket (no driver for ' \
        'gevent_uwsgi)' in server.output()
