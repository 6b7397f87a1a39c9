"""Start ``tests/apps/scenario_app.py`` in a subprocess and stop it again.

One ``AppServer`` is one process listening on a free 127.0.0.1 port. It is
ready once its ``/info`` route answers; it is always killed by its own PID.
The JS-client and message-queue suites may reuse this module.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / 'src'
APP = REPO / 'tests' / 'apps' / 'scenario_app.py'

REFERENCE = 'flask_socketio'
IMPLS = [REFERENCE, 'flask_socketio_fast']

# The async modes the suite runs, as scenario_app command line arguments.
MODES = {
    'threading': ['--async-mode', 'threading'],
    'eventlet': ['--async-mode', 'eventlet'],
    'gevent': ['--async-mode', 'gevent'],
    'gevent-simple-websocket': ['--async-mode', 'gevent',
                                '--no-gevent-websocket'],
}

# Extra arguments per server variant, for the timeout and limit tests:
# 'tight' pings every second (and allows 2 s for the pong, so a loaded
# machine does not drop the clients that do answer), 'small-buffer' takes
# messages up to 100 kB.
VARIANTS = {
    'default': [],
    'tight': ['--ping-interval', '1', '--ping-timeout', '2',
              '--max-http-buffer-size', '100000'],
    'small-buffer': ['--max-http-buffer-size', '100000'],
}

STARTUP_TIMEOUT = 30


def child_env():
    """Environment for child processes: the source tree comes first."""
    env = dict(os.environ)
    parts = [str(SRC)]
    if env.get('PYTHONPATH'):
        parts.append(env['PYTHONPATH'])
    env['PYTHONPATH'] = os.pathsep.join(parts)
    env['PYTHONUNBUFFERED'] = '1'
    # eventlet prints a deprecation banner; keep the logs readable
    env.setdefault('PYTHONWARNINGS', 'ignore::DeprecationWarning')
    return env


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def import_error(module):
    """None if ``module`` imports in the child environment, else the error."""
    proc = subprocess.run([sys.executable, '-c', 'import ' + module],
                          env=child_env(), capture_output=True, text=True,
                          timeout=60)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else 'exit code %d' % proc.returncode


class ServerStartError(RuntimeError):
    pass


class AppServer:
    """The scenario app running as a child process."""

    def __init__(self, impl, args):
        self.impl = impl
        self.args = list(args)
        self.proc = None
        self.port = None
        self.info = None
        self._log = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, attempts=3):
        """Launch (unless launched already) and wait until it answers."""
        # another process may grab the port between probe and bind; retry
        for _ in range(attempts):
            if self.proc is None:
                self.launch()
            try:
                self.wait_ready()
                return self
            except ServerStartError as exc:
                error = exc
                self.kill()
                self.proc = None
                if 'in use' not in str(exc):
                    break
        raise error

    def launch(self):
        """Start the process without waiting for it (see wait_ready)."""
        self.port = free_port()
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile(mode='w+')
        self._cmd = [sys.executable, str(APP), '--impl', self.impl,
                     '--port', str(self.port)] + self.args
        self.proc = subprocess.Popen(self._cmd, env=child_env(),
                                     cwd=str(REPO), stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self._deadline = time.monotonic() + STARTUP_TIMEOUT
        return self

    def wait_ready(self):
        # servers are launched ahead of their first use; one whose launch
        # deadline passed while other tests ran still gets a few seconds
        deadline = max(self._deadline, time.monotonic() + 5)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError('%s exited with %d:\n%s' % (
                    self._cmd, self.proc.returncode, self.log_text()))
            try:
                r = requests.get(self.url + '/info', timeout=2)
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                self.info = r.json()
                return
        raise ServerStartError('%s did not answer within %ds:\n%s' % (
            self._cmd, STARTUP_TIMEOUT, self.log_text()))

    def log_text(self):
        if self._log is None:
            return ''
        self._log.flush()
        self._log.seek(0)
        text = self._log.read()
        self._log.seek(0, os.SEEK_END)
        return text[-20000:]

    def wait_exit(self, timeout):
        """Return code once the process ends, or None after ``timeout``."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self):
        self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None
