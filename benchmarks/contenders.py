"""What the benchmarks compare: contenders, and which of them can run here.

A Python contender is an import name (a module with Flask-SocketIO's API)
plus environment variables to set for its process; the Node contender is the
socket.io server in benchmarks/node_server.  Contenders that cannot run on
this machine (module not importable, npm packages missing, compiled
extensions not built) are skipped with a printed note instead of failing the
run, so the harness works before, during and after flask_socketio_fast lands.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NODE_SERVER_DIR = os.path.join(HERE, "node_server")
LOADGEN_DIR = os.path.join(HERE, "loadgen")

# Makes flask_socketio_fast use its pure-Python twins.
NO_EXT_VAR = "FLASK_SOCKETIO_FAST_NO_EXTENSIONS"
# Makes it fail loudly instead of falling back when they cannot load.
REQUIRE_EXT_VAR = "FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS"


@dataclass(frozen=True)
class Contender:
    name: str                  # short id, used in results and on the command line
    label: str                 # what tables and charts call it
    kind: str = "python"       # "python" or "node"
    module: str = None         # import name of the Flask-SocketIO-compatible layer
    env: dict = field(default_factory=dict)  # value None removes the variable
    baseline: bool = False     # the one ratios are computed against

    def environ(self, base=None):
        """The process environment for this contender."""
        env = dict(os.environ if base is None else base)
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        # Let subprocesses import an in-tree build of flask_socketio_fast;
        # a contender's own PYTHONPATH comes first (another checkout's src/
        # to compare against this one: --add-contender old=...,PYTHONPATH=)
        src = os.path.join(REPO, "src")
        own = self.env.get("PYTHONPATH")
        inherited = None if own is not None else env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (own, src, inherited) if p)
        return env


BASELINE = Contender("flask-socketio", "Flask-SocketIO", module="flask_socketio",
                     baseline=True)
DEFAULT_CONTENDERS = (
    BASELINE,
    Contender("fast-pure", "fast (pure Python)", module="flask_socketio_fast",
              env={NO_EXT_VAR: "1"}),
    Contender("fast", "fast (compiled)", module="flask_socketio_fast",
              env={NO_EXT_VAR: None, REQUIRE_EXT_VAR: "1"}),
    Contender("node", "Node socket.io", kind="node"),
)


def parse_custom(spec):
    """``NAME=MODULE[,VAR=VALUE...]`` from the command line -> Contender."""
    name, _, rest = spec.partition("=")
    module, *assignments = rest.split(",")
    if not name or not module:
        raise ValueError(f"bad contender spec {spec!r}; want NAME=MODULE[,VAR=VALUE]")
    env = {}
    for item in assignments:
        key, _, value = item.partition("=")
        env[key] = value
    return Contender(name, name, module=module, env=env)


_PROBE = (
    "import importlib, importlib.metadata as md, json, sys\n"
    "m = importlib.import_module(sys.argv[1])\n"
    "v = getattr(m, '__version__', None)\n"
    "try:\n"
    "    v = v or md.version(sys.argv[1].replace('_', '-'))\n"
    "except md.PackageNotFoundError:\n"
    "    pass\n"
    "impl = getattr(m, 'IMPLEMENTATION', None)\n"
    "print(json.dumps({'version': v, 'implementation': None if impl is None else str(impl),\n"
    "                  'file': getattr(m, '__file__', None)}))\n"
)


def probe(contender, python=sys.executable):
    """``(info, None)`` if the contender can run here, else ``(None, reason)``."""
    if contender.kind == "node":
        return probe_node()
    try:
        out = subprocess.run([python, "-c", _PROBE, contender.module],
                             env=contender.environ(), capture_output=True,
                             text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, f"importing {contender.module} timed out"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"cannot import {contender.module}: {last}"
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def node_package_version(directory, package):
    path = os.path.join(directory, "node_modules", package, "package.json")
    try:
        with open(path) as f:
            return json.load(f)["version"]
    except OSError:
        return None


def probe_node():
    node = shutil.which("node")
    if not node:
        return None, "node is not installed"
    version = node_package_version(NODE_SERVER_DIR, "socket.io")
    if version is None:
        return None, ("npm packages missing in benchmarks/node_server "
                      "(run benchmarks/setup_node.sh)")
    node_version = subprocess.run([node, "--version"], capture_output=True,
                                  text=True).stdout.strip()
    return {"version": version, "implementation": f"node {node_version}"}, None


def available(contenders, log=print):
    """Probe every contender; return ``[(contender, info)]`` for those that run.

    A compiled contender that resolves to the same implementation as one
    already listed (extensions not built, or the environment switch not
    honoured) is dropped, since it would only measure the same code twice.
    """
    chosen = []
    seen = {}
    for contender in contenders:
        info, reason = probe(contender)
        if info is None:
            log(f"note: skipping contender {contender.name}: {reason}")
            continue
        key = (contender.kind, contender.module, info.get("implementation"),
               info.get("file"))
        if contender.kind == "python" and key in seen:
            log(f"note: skipping contender {contender.name}: it resolves to the "
                f"same code as {seen[key]} (IMPLEMENTATION="
                f"{info.get('implementation')}); compiled extensions missing?")
            continue
        seen[key] = contender.name
        chosen.append((contender, info))
    return chosen
