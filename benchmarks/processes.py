"""Starting, pinning, talking to and stopping the benchmark's child processes.

The server under test and the load generator each get their own CPU core
(``taskset``), so the load generator's work never lands on the server's
clock.  Every process started here is stopped here, by PID, even when a run
fails half way.
"""

import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from contenders import HERE, LOADGEN_DIR, NODE_SERVER_DIR

# The C load generator (benchmarks/loadgen_c, built by `make bench`): used
# for WebSocket sessions, where the Node one saturates its core first.
LOADGEN_C_DIR = os.path.join(HERE, "loadgen_c")
LOADGEN_C = os.path.join(LOADGEN_C_DIR, "loadgen")
# BENCH_LOADGEN=node forces the Node load generator everywhere (to compare).
LOADGEN_ENV = "BENCH_LOADGEN"


def raise_fd_limit():
    """Lift RLIMIT_NOFILE to its hard limit; children inherit it.

    Thousands of clients need thousands of descriptors on both ends.
    Returns the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_cores():
    """``(server_cpus, loadgen_cpus)`` as taskset lists, or Nones on one core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    # Server on the first core, load generator on the last one.
    return str(cpus[0]), str(cpus[-1])


def pinned(cmd, cpus):
    """``cmd`` prefixed with taskset when a core was chosen."""
    if cpus is None:
        return cmd
    if shutil.which("taskset"):
        return ["taskset", "-c", cpus] + cmd
    return cmd  # handled by _affinity_preexec


def _die_with_parent():
    """Ask Linux to SIGTERM this child if the runner dies (even by SIGKILL),
    so no server or load generator outlives an interrupted run."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _affinity_preexec(cpus):
    cores = None
    if cpus is not None and not shutil.which("taskset"):
        cores = {int(c) for c in cpus.split(",")}

    def preexec():
        _die_with_parent()
        if cores is not None:
            os.sched_setaffinity(0, cores)

    return preexec


def _stop(proc, grace=5.0):
    """Terminate one child we started; kill it if it will not go."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class ServerProcess:
    """One contender's server, in one async mode, on a free loopback port."""

    def __init__(self, contender, mode, cpus, log_path, python=sys.executable):
        self.contender = contender
        self.mode = mode
        self.cpus = cpus
        self.log_path = log_path
        self.python = python
        self.port = None
        self.proc = None

    def command(self):
        if self.contender.kind == "node":
            return ["node", os.path.join(NODE_SERVER_DIR, "server.js"),
                    "--port", str(self.port)]
        return [self.python, os.path.join(HERE, "e2e_app.py"),
                "--module", self.contender.module, "--mode", self.mode,
                "--port", str(self.port)]

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=30.0):
        self.port = free_port()
        log = open(self.log_path, "ab")
        log.write(f"\n=== {' '.join(self.command())}\n".encode())
        log.flush()
        try:
            self.proc = subprocess.Popen(
                pinned(self.command(), self.cpus), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                env=self.contender.environ(), cwd=HERE,
                preexec_fn=_affinity_preexec(self.cpus))
        finally:
            log.close()
        url = f"http://127.0.0.1:{self.port}/bench/ping"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n"
                                   + _tail(self.log_path))
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not come up:\n" + _tail(self.log_path))
            time.sleep(0.1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        _stop(self.proc)


class LoadGenError(RuntimeError):
    pass


def build_loadgen_c(cc=None):
    """Compile benchmarks/loadgen_c when the binary is missing or older than
    its source; raises LoadGenError when that fails (never a silent switch
    to the slower Node load generator)."""
    src = os.path.join(LOADGEN_C_DIR, "loadgen.c")
    if os.path.exists(LOADGEN_C) and \
            os.path.getmtime(LOADGEN_C) >= os.path.getmtime(src):
        return LOADGEN_C
    cmd = [cc or os.environ.get("CC", "cc"), "-O2", "-Wall", "-o", LOADGEN_C, src]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except OSError as exc:
        raise LoadGenError(f"cannot build the C load generator ({' '.join(cmd)}): "
                           f"{exc}; set {LOADGEN_ENV}=node to use the Node one") from exc
    if out.returncode != 0:
        raise LoadGenError(f"building the C load generator failed ({' '.join(cmd)}):\n"
                           f"{out.stderr}\nset {LOADGEN_ENV}=node to use the Node one")
    return LOADGEN_C


def loadgen_kind(transport="websocket", deflate=False):
    """Which load generator a session gets: ``"c"`` or ``"node"``.

    The C one speaks plain WebSocket only; long-polling and
    permessage-deflate sessions get the Node one.  It is built on first
    use (see build_loadgen_c).
    """
    if os.environ.get(LOADGEN_ENV) == "node":
        return "node"
    if transport == "websocket" and not deflate:
        build_loadgen_c()
        return "c"
    return "node"


class LoadGen:
    """A load generator process: JSON commands in, JSON replies out.

    ``kind`` says which one runs: ``"c"`` (benchmarks/loadgen_c) or
    ``"node"`` (benchmarks/loadgen, Node + ws); both speak the same protocol.
    """

    def __init__(self, port, cpus, log_path, deflate=False, transport="websocket"):
        self.kind = loadgen_kind(transport, deflate)
        if self.kind == "c":
            cmd = [LOADGEN_C, "--port", str(port)]
        else:
            cmd = ["node", os.path.join(LOADGEN_DIR, "loadgen.js"), "--port", str(port)]
            if deflate:
                cmd.append("--deflate")
        self.log_path = log_path
        log = open(log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                pinned(cmd, cpus), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, preexec_fn=_affinity_preexec(cpus))
        finally:
            log.close()
        self._buf = b""
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)

    @property
    def pid(self):
        return self.proc.pid

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                raise LoadGenError(f"load generator silent for {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise LoadGenError("load generator exited:\n" + _tail(self.log_path))
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def call(self, cmd, timeout=120.0, **args):
        """Send one command and wait (blocking, no CPU) for its reply."""
        msg = dict(args, cmd=cmd)
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        reply = json.loads(self._readline(timeout))
        if reply.get("ev") == "error":
            raise LoadGenError(f"{cmd}: {reply.get('error')}")
        return reply

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("quit", timeout=10)
        except (OSError, LoadGenError, ValueError):
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self._sel.close()
        _stop(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
