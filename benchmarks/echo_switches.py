"""Echo round trips with the kernel's counters: context switches and CPU
time of the server per round trip, contender by contender, in one run.

Where the server's time goes in threading mode is mostly thread switches
(docs/receive-path.md); this counts them with ``perf stat`` on the server
process while the C load generator runs the echo workload (50 clients,
one acked event in flight each), alternating the contenders each
repetition:

    .venv/bin/python benchmarks/echo_switches.py --mode threading \\
        --contenders flask-socketio,fast \\
        --add-contender old=flask_socketio_fast,PYTHONPATH=/other/checkout/src

Needs ``perf`` (linux-perf); prints medians over the repetitions.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contenders as contenders_mod  # noqa: E402
import processes  # noqa: E402

_EVENTS = "context-switches,task-clock"


def _perf_counts(text):
    counts = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 2:
            try:
                counts[fields[2]] = float(fields[0])
            except ValueError:
                pass
    return counts


def measure(contender, mode, clients, seconds, logs):
    server_cpus, loadgen_cpus = processes.pick_cores()
    server = processes.ServerProcess(contender, mode, server_cpus,
                                     os.path.join(logs, "server.log")).start()
    loadgen = processes.LoadGen(server.port, loadgen_cpus,
                                os.path.join(logs, "loadgen.log"))
    try:
        loadgen.call("hello", timeout=30)
        loadgen.call("connect", timeout=60, n=clients, transport="websocket",
                     concurrency=50, connect_timeout=60)
        loadgen.call("echo", timeout=60, clients=clients, duration=1.0,
                     size=100)
        perf = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", _EVENTS, "-p", str(server.pid)],
            stderr=subprocess.PIPE, text=True)
        time.sleep(0.1)
        res = loadgen.call("echo", timeout=seconds + 60, clients=clients,
                           duration=seconds, size=100)
        perf.send_signal(signal.SIGINT)
        counts = _perf_counts(perf.communicate()[1])
    finally:
        loadgen.close()
        server.stop()
    n = res["round_trips"] or 1
    return {"rt_per_s": res["rt_per_s"], "p99_ms": res["p99_ms"],
            "switches_per_rt": counts.get("context-switches", 0) / n,
            "cpu_us_per_rt": counts.get("task-clock", 0) * 1e3 / n}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="threading")
    p.add_argument("--contenders", default="flask-socketio,fast")
    p.add_argument("--add-contender", action="append", default=[],
                   metavar="NAME=MODULE[,VAR=VAL]")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    if not shutil.which("perf"):
        raise SystemExit("perf is not installed (Debian: linux-perf)")
    if not os.path.exists(processes.LOADGEN_C):
        processes.build_loadgen_c()
    pool = {c.name: c for c in contenders_mod.DEFAULT_CONTENDERS}
    for spec in args.add_contender:
        c = contenders_mod.parse_custom(spec)
        pool[c.name] = c
    chosen = [pool[name] for name in args.contenders.split(",")]
    results = {c.name: [] for c in chosen}
    with tempfile.TemporaryDirectory() as logs:
        for rep in range(args.reps):
            for c in chosen:
                rec = measure(c, args.mode, args.clients, args.seconds, logs)
                results[c.name].append(rec)
                print(f"[rep {rep + 1}/{args.reps}] {c.name:14s} "
                      f"{rec['rt_per_s']:8.0f} rt/s  "
                      f"{rec['switches_per_rt']:5.2f} switches/rt  "
                      f"{rec['cpu_us_per_rt']:6.1f} µs CPU/rt", flush=True)
    print(f"\n{args.mode}, {args.clients} clients, medians of {args.reps}:")
    print(f"{'contender':14s} {'rt/s':>8s} {'switches/rt':>12s} "
          f"{'CPU µs/rt':>10s} {'p99 ms':>7s}")
    for name, recs in results.items():
        def med(key):
            return sorted(r[key] for r in recs)[len(recs) // 2]
        print(f"{name:14s} {med('rt_per_s'):8.0f} "
              f"{med('switches_per_rt'):12.2f} {med('cpu_us_per_rt'):10.1f} "
              f"{med('p99_ms'):7.1f}")


if __name__ == "__main__":
    main()
