"""Start and stop the scenario servers (cluster_app.py) and helper scripts as
subprocesses for the real-socket tests.

Every process started here is tracked by PID and killed by PID; nothing is
matched by name. Subprocesses get ``PYTHONPATH=<repo>/src`` so they import the
working tree's ``flask_socketio_fast``.
"""
import json
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / 'tests' / 'apps'
CLUSTER_APP = APPS / 'cluster_app.py'
IMPLS = ('flask_socketio', 'flask_socketio_fast')
MODES = ('threading', 'eventlet', 'gevent')
# the official JavaScript client's scenarios and their npm packages
JS_DIR = REPO / 'tests' / 'js'


def subprocess_env():
    env = dict(os.environ)
    src = str(REPO / 'src')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (src, env.get('PYTHONPATH')) if p)
    env['PYTHONUNBUFFERED'] = '1'
    # eventlet prints a deprecation banner on import; keep logs readable
    env.setdefault('EVENTLET_NO_GREENDNS', 'yes')
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def node_missing():
    """None if node and tests/js's packages are there, else what is not."""
    if shutil.which('node') is None:
        return 'node is not on PATH'
    if not (JS_DIR / 'node_modules' / 'socket.io-client').is_dir():
        return ('tests/js/node_modules is missing: run '
                'scripts/ensure-test-deps.sh')
    return None


@lru_cache(maxsize=None)
def impl_unavailable(impl):
    """None if `impl` is usable in a subprocess like the servers', else
    the reason it is not."""
    # SocketIO, not just the name: a half-written package without
    # __init__.py imports as an empty namespace package
    code = f'from {impl} import SocketIO'
    proc = subprocess.run([sys.executable, '-c', code],
                          env=subprocess_env(), capture_output=True,
                          text=True, timeout=60)
    if proc.returncode == 0:
        return None
    last = (proc.stderr.strip().splitlines() or ['(no output)'])[-1]
    return f'from {impl} import SocketIO fails: {last}'


def stop_process(proc, timeout=5):
    """Terminate one process we started, by its PID; kill it if it lingers."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


class ServerProcess:
    """One cluster_app.py server; use as a context manager."""

    def __init__(self, impl, async_mode, message_queue=None, name='server',
                 start_timeout=30):
        self.impl = impl
        self.async_mode = async_mode
        self.message_queue = message_queue
        self.name = name
        self.start_timeout = start_timeout
        self.port = None
        self.proc = None
        self.log = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def start(self):
        self.launch()
        self.wait_ready()
        return self

    def launch(self):
        """Start the process without waiting (to boot several in parallel)."""
        self.port = free_port()
        cmd = [sys.executable, str(CLUSTER_APP), '--impl', self.impl,
               '--async-mode', self.async_mode, '--port', str(self.port),
               '--name', self.name]
        if self.message_queue:
            cmd += ['--message-queue', self.message_queue]
        fd, self.log = tempfile.mkstemp(prefix=f'{self.name}-', suffix='.log')
        try:
            self.proc = subprocess.Popen(
                cmd, env=subprocess_env(), cwd=str(REPO),
                stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT)
        finally:
            os.close(fd)
        return self

    def wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'{self.name} exited with '
                                   f'{self.proc.returncode}:\n{self.output()}')
            try:
                r = requests.get(self.url + '/health', timeout=2)
                if r.status_code == 200:
                    self.health = r.json()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f'{self.name} not ready after {self.start_timeout}s'
                           f':\n{self.output()}')

    def output(self):
        """The server's log so far (read through its own file handle, so the
        child's write position is untouched)."""
        if self.log is None:
            return ''
        with open(self.log, errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self):
        return self.start()

    def close(self):
        """Stop the process and delete its log."""
        self.stop()
        if self.log is not None:
            os.unlink(self.log)
            self.log = None

    def __exit__(self, *exc):
        self.close()


def run_json_script(cmd, timeout, cwd=None):
    """Run a helper script that prints one JSON document; return it parsed."""
    proc = subprocess.Popen(cmd, env=subprocess_env(), cwd=str(cwd or REPO),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        out, err = proc.communicate()
        raise RuntimeError(f'{cmd[:2]} timed out after {timeout}s\n'
                           f'stdout:\n{out}\nstderr:\n{err}')
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f'{cmd[:2]} exited with {proc.returncode}\n'
                           f'stdout:\n{out}\nstderr:\n{err}')
    return json.loads(out)
