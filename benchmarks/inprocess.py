"""Runs the pytest-benchmark files once per contender and merges the results.

Which implementation flask_socketio_fast uses (compiled or pure Python) is
fixed when it is imported, so every contender gets its own pytest process
with its own environment; the per-process JSON reports are then folded into
one list of records (and one table, see report.py) with ratios against
Flask-SocketIO.  Files must take the module under test from the
``sio_module`` fixture (benchmarks/conftest.py).

    .venv/bin/python benchmarks/inprocess.py [--sizes 1000,10000] [--max-time 1]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from contenders import DEFAULT_CONTENDERS, HERE, available
from processes import pick_cores, pinned

# Files that take the module under test from the ``sio_module`` fixture
# (bench_codec.py compares its implementations itself, in one process).
DEFAULT_FILES = tuple(f for f in ("bench_emit.py", "bench_fanout_inprocess.py")
                      if os.path.exists(os.path.join(HERE, f)))


def run_contender(contender, files, cpus, max_time, min_rounds, sizes, log):
    """Run the files for one contender; return its pytest-benchmark JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-m", "pytest", "-q", "-c", os.path.join(HERE, "pytest.ini"),
               "--rootdir", HERE, f"--benchmark-json={out}",
               f"--benchmark-max-time={max_time}",
               f"--benchmark-min-rounds={min_rounds}", "--benchmark-columns=min,median,max,rounds"]
        cmd += [os.path.join(HERE, f) for f in files]
        env = contender.environ()
        env["BENCH_CONTENDER_MODULE"] = contender.module
        if sizes:
            env["BENCH_EMIT_SIZES"] = sizes
        proc = subprocess.run(pinned(cmd, cpus), env=env, cwd=HERE,
                              capture_output=True, text=True, timeout=1800)
        if log:
            with open(log, "a") as f:
                f.write(f"\n=== {contender.name}: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n")
        if proc.returncode != 0 or not os.path.exists(out):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"pytest failed for {contender.name}:\n{tail}")
        with open(out) as f:
            return json.load(f)


def records_from(report, contender, info):
    recs = []
    for b in report["benchmarks"]:
        st = b["stats"]
        extra = b.get("extra_info", {})
        n = extra.get("recipients")
        recs.append({
            "type": "result", "workload": "inprocess", "bench": b["group"] or b["name"],
            "test": b["name"].split("[")[0], "recipients": n,
            "contender": contender.name, "label": contender.label,
            "implementation": info.get("implementation"),
            "median_s": st["median"], "min_s": st["min"], "max_s": st["max"],
            "mean_s": st["mean"], "stddev_s": st["stddev"], "iqr_s": st["iqr"],
            "rounds": st["rounds"],
            "ns_per_recipient": 1e9 * st["median"] / n if n else None,
        })
    return recs


def run(chosen, files=DEFAULT_FILES, max_time=1.0, min_rounds=5, sizes=None,
        log=None, say=print):
    """Records for every available Python contender, in the given order."""
    cpus, _ = pick_cores()
    records = []
    for contender, info in chosen:
        if contender.kind != "python":
            continue
        say(f"in-process: {contender.label} ...")
        try:
            report = run_contender(contender, files, cpus, max_time, min_rounds,
                                   sizes, log)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"  failed: {exc}")
            records.append({"type": "result", "workload": "error", "phase": "inprocess",
                            "contender": contender.name, "error": str(exc)})
            continue
        records.extend(records_from(report, contender, info))
    return records


def main(argv=None):
    import report as report_mod

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="room sizes, e.g. 1000,10000")
    parser.add_argument("--max-time", type=float, default=1.0)
    parser.add_argument("--min-rounds", type=int, default=5)
    parser.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    args = parser.parse_args(argv)
    chosen = available([c for c in DEFAULT_CONTENDERS if c.kind == "python"])
    recs = run(chosen, args.files, args.max_time, args.min_rounds, args.sizes)
    for table in report_mod.inprocess_tables(recs):
        print(report_mod.render_text(table))


if __name__ == "__main__":
    main()
