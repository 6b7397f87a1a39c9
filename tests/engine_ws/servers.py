"""Start and stop ws_app.py servers for the real-socket tests.

Each server is a subprocess on 127.0.0.1 with a free port, tracked and
killed by PID (never by name), with its output in a temporary log that
failing tests print.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import urllib3

# the TLS tests' servers present a self-signed certificate
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APP = HERE / 'ws_app.py'

# (async mode, WSGI server variant) pairs our driver serves
VARIANTS = {
    'threading': ('threading', 'default'),
    'eventlet': ('eventlet', 'default'),
    'gevent-websocket': ('gevent', 'gevent-websocket'),
    'gevent-pywsgi': ('gevent', 'pywsgi'),
}


# more setups, for tests that ask for them by name (not parametrized over)
EXTRA_VARIANTS = {
    # what socketio.run() starts in gevent mode with gevent-websocket
    # installed: pywsgi with its WebSocketHandler
    'gevent-run': ('gevent', 'default'),
}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def child_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO / 'src'), env.get('PYTHONPATH')) if p)
    env['PYTHONUNBUFFERED'] = '1'
    env['PYTHONWARNINGS'] = 'ignore::DeprecationWarning'
    return env


class WsServer:
    def __init__(self, variant, impl='flask_socketio_fast', **options):
        self.variant = variant
        self.mode, self.server = VARIANTS.get(variant) or \
            EXTRA_VARIANTS[variant]
        self.impl = impl
        self.options = options
        self.port = None
        self.proc = None
        self.log = None

    @property
    def url(self):
        scheme = 'https' if self.options.get('certfile') else 'http'
        return f'{scheme}://127.0.0.1:{self.port}'

    def start(self, timeout=30):
        self.port = free_port()
        cmd = [sys.executable, str(APP), '--impl', self.impl, '--mode',
               self.mode, '--server', self.server, '--port', str(self.port)]
        for name, value in self.options.items():
            flag = '--' + name.replace('_', '-')
            if value is True:
                cmd.append(flag)
            else:
                cmd += [flag, str(value)]
        fd, self.log = tempfile.mkstemp(prefix='engine-ws-', suffix='.log')
        try:
            self.proc = subprocess.Popen(cmd, env=child_env(), cwd=str(REPO),
                                         stdin=subprocess.DEVNULL, stdout=fd,
                                         stderr=subprocess.STDOUT)
        finally:
            os.close(fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'server exited:\n{self.output()}')
            try:
                if requests.get(self.url + '/health', timeout=2,
                                verify=False).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f'server not ready:\n{self.output()}')

    def health(self):
        # (a TLS server's certificate is self-signed)
        return requests.get(self.url + '/health', timeout=10,
                            verify=False).json()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        if not self.log:
            return ''
        with open(self.log, errors='replace') as f:
            return f.read()

    def stop(self):
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
            except ProcessLookupError:
                pass

    def close(self):
        self.stop()
        if self.log:
            os.unlink(self.log)
            self.log = None

    def wait_settled(self, baseline, timeout=20, keys=('sockets',)):
        """Poll /health until ``keys`` are back at ``baseline`` (and threads
        and fds not above it); returns the last health report."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if all(h[k] <= baseline[k] for k in keys) and \
                    h['threads'] <= baseline['threads'] and \
                    h['fds'] <= baseline['fds']:
                return h
            if time.monotonic() > deadline:
                return h
            time.sleep(0.1)
