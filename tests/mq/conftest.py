"""A private redis-server for the message-queue tests.

One instance per test session, on a free 127.0.0.1 port, with persistence
off, started from the redis-server binary (scripts/ensure-test-deps.sh
installs it) and stopped by its PID.
"""
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from serverprocs import free_port, stop_process  # noqa: E402

START_TIMEOUT = 10


@pytest.fixture(scope='session')
def redis_url():
    binary = shutil.which('redis-server')
    if binary is None:
        pytest.skip('redis-server is not on PATH: run '
                    'scripts/ensure-test-deps.sh')
    port = free_port()
    workdir = tempfile.mkdtemp(prefix='fsf-redis-')
    cmd = [binary, '--port', str(port), '--bind', '127.0.0.1',
           '--save', '', '--appendonly', 'no', '--dir', workdir,
           '--daemonize', 'no', '--logfile', '']
    log = open(Path(workdir) / 'redis.log', 'w+')
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f'redis://127.0.0.1:{port}/0'
    try:
        client = redis.Redis.from_url(url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f'redis-server exited with {proc.returncode}:\n'
                            f'{log.read()}')
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f'redis-server not answering on {port}')
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop_process(proc)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
