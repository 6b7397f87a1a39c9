"""What the benchmarks ran on: hardware, OS and software versions.

Recorded at the top of every results file so a table can always be traced
back to the machine and the package versions that produced it.
"""

import os
import platform
import shutil
import subprocess
from importlib import metadata

from contenders import LOADGEN_DIR, NODE_SERVER_DIR, node_package_version

PYTHON_PACKAGES = (
    "Flask", "Werkzeug", "Flask-SocketIO", "python-socketio", "python-engineio",
    "eventlet", "gevent", "gevent-websocket", "simple-websocket", "orjson",
    "flask-socketio-fast", "pytest-benchmark",
)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _dist(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe():
    node = shutil.which("node")
    node_version = None
    if node:
        node_version = subprocess.run([node, "--version"], capture_output=True,
                                      text=True).stdout.strip()
    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "mem_gb": _mem_total_gb(),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "packages": {name: _dist(name) for name in PYTHON_PACKAGES},
        "node": node_version,
        "npm": {
            "socket.io": node_package_version(NODE_SERVER_DIR, "socket.io"),
            "ws (loadgen)": node_package_version(LOADGEN_DIR, "ws"),
        },
    }
