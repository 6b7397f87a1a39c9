"""The benchmark comparison run: every contender, every workload, one command.

    .venv/bin/python benchmarks/run.py            # full run (make bench)
    .venv/bin/python benchmarks/run.py --quick    # under 3 minutes (make bench-quick)
    .venv/bin/python benchmarks/run.py --smoke    # a few seconds, to check the harness

Runs the in-process benchmarks (benchmarks/inprocess.py), then the
end-to-end workloads (benchmarks/workloads.py) for each contender in each
async mode, alternating contenders within every repetition.  Raw results go
to benchmarks/results/<run>.jsonl (first line: machine, versions, plan),
then report.py prints the tables, draws the chart and, for the full and
quick presets, regenerates docs/performance.md.
"""

import argparse
import datetime
import json
import os
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import contenders as contenders_mod  # noqa: E402
import inprocess  # noqa: E402
import machine  # noqa: E402
import processes  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402
from session import LiveSession  # noqa: E402

RESULTS_DIR = os.path.join(HERE, "results")


def _csv(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    preset = p.add_mutually_exclusive_group()
    preset.add_argument("--quick", dest="preset", action="store_const", const="quick")
    preset.add_argument("--smoke", dest="preset", action="store_const", const="smoke")
    preset.add_argument("--preset", choices=("full", "quick", "smoke"))
    p.add_argument("--contenders", type=_csv,
                   help="comma-separated names (default: all of "
                        + ",".join(c.name for c in contenders_mod.DEFAULT_CONTENDERS) + ")")
    p.add_argument("--add-contender", action="append", default=[], metavar="NAME=MODULE[,VAR=VAL]",
                   help="an extra Python contender: a module with Flask-SocketIO's API, "
                        "and environment variables for its process")
    p.add_argument("--no-node", action="store_true", help="leave out the Node socket.io server")
    p.add_argument("--modes", type=_csv, help="async modes (threading,eventlet,gevent,gevent-sw)")
    p.add_argument("--reps", type=int, help="repetitions (>= 3 for publishable numbers)")
    p.add_argument("--clients", type=lambda v: [int(x) for x in _csv(v)],
                   help="fan-out client counts, e.g. 100,1000")
    p.add_argument("--messages", type=int, help="broadcasts per fan-out phase")
    p.add_argument("--echo-seconds", type=float)
    p.add_argument("--workloads", type=_csv,
                   help="keep only the sessions with these phase kinds "
                        "(idle,burst,paced,echo), e.g. echo")
    p.add_argument("--no-inprocess", action="store_true")
    p.add_argument("--no-e2e", action="store_true")
    p.add_argument("--deflate", action="store_true",
                   help="let the load generator offer permessage-deflate (browsers do)")
    docs = p.add_mutually_exclusive_group()
    docs.add_argument("--docs", dest="docs", action="store_true", default=None,
                      help="regenerate docs/performance.md (default for full/quick presets "
                           "without size overrides)")
    docs.add_argument("--no-docs", dest="docs", action="store_false")
    p.add_argument("--results-dir", default=RESULTS_DIR)
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (contenders, modes, sessions, phases) and exit")
    args = p.parse_args(argv)
    args.preset = args.preset or "full"
    if args.docs is None:
        overridden = any([args.modes, args.reps, args.clients, args.messages,
                          args.echo_seconds, args.contenders, args.no_inprocess, args.no_e2e,
                          args.workloads])
        args.docs = args.preset in ("full", "quick") and not overridden
    return args


def choose_contenders(args, say):
    pool = list(contenders_mod.DEFAULT_CONTENDERS)
    pool += [contenders_mod.parse_custom(s) for s in args.add_contender]
    if args.contenders:
        by_name = {c.name: c for c in pool}
        unknown = [n for n in args.contenders if n not in by_name]
        if unknown:
            raise SystemExit(f"unknown contenders {unknown}; known: {sorted(by_name)}")
        extra = [c for c in pool[len(contenders_mod.DEFAULT_CONTENDERS):]
                 if c.name not in args.contenders]
        pool = [by_name[n] for n in args.contenders] + extra
    if args.no_node:
        pool = [c for c in pool if c.kind != "node"]
    if not any(c.baseline for c in pool):
        say("note: Flask-SocketIO is not among the contenders; no ratios will be shown")
    return contenders_mod.available(pool, log=say)


def targets_for_rep(chosen, modes, rep):
    """(contender, info, mode) in run order: modes in turn, contenders rotated per rep."""
    py = [(c, i) for c, i in chosen if c.kind == "python"]
    out = []
    for mode in modes:
        k = rep % len(py) if py else 0
        for c, i in py[k:] + py[:k]:
            out.append((c, i, mode))
    out += [(c, i, "node") for c, i in chosen if c.kind == "node"]
    return out


def run_sessions(chosen, plan, cores, log_dir, deflate, on_record):
    """Every session for every target, in the plan's order."""
    def live(target, spec):
        contender, info, mode = target
        return LiveSession(contender, info, mode, spec, plan, cores, log_dir, deflate)

    if not plan.keep_alive:
        for rep in range(plan.reps):
            for spec in plan.sessions:
                for target in targets_for_rep(chosen, plan.modes, rep):
                    s = live(target, spec)
                    try:
                        for rec in s.open(rep):
                            on_record(rec, rep, spec, target)
                        for rec in s.measure(rep):
                            on_record(rec, rep, spec, target)
                    finally:
                        s.close()
        return
    # One live session per target, for all repetitions; targets of one mode
    # (the ones compared with each other) alive side by side.
    for spec in plan.sessions:
        for mode in list(plan.modes) + ["node"]:
            group = [t for t in targets_for_rep(chosen, plan.modes, 0) if t[2] == mode]
            if not group:
                continue
            sessions = {}
            try:
                for target in group:
                    sessions[target[0].name] = s = live(target, spec)
                    for rec in s.open(0):
                        on_record(rec, 0, spec, target)
                for rep in range(plan.reps):
                    for target in targets_for_rep(chosen, plan.modes, rep):
                        if target[2] == mode:
                            for rec in sessions[target[0].name].measure(rep):
                                on_record(rec, rep, spec, target)
            finally:
                for s in sessions.values():
                    s.close()


def _summary(rec):
    w = rec.get("workload")
    noise = (f" core-other {rec['server_core_other_pct']:.0f}%"
             if rec.get("server_core_other_pct") is not None else "")
    if w == "fanout":
        flag = " SATURATED-LOADGEN" if rec.get("loadgen_saturated") else ""
        bad = "" if not (rec["lost"] or rec["out_of_order"]) else \
            f" LOST {rec['lost']} OOO {rec['out_of_order']}"
        return (f"{rec['variant']:5s} {rec['delivered']:>8} msgs {rec['msgs_per_s']:>9.0f}/s "
                f"cpu {report.fmt(rec['server_cpu_us_per_msg'])} us/msg "
                f"lg {rec['loadgen_cpu_pct']:.0f}%{noise}{bad}{flag}")
    if w == "echo":
        return (f"echo  {rec['rt_per_s']:>8.0f} rt/s p50 {report.fmt(rec['p50_ms'])} ms "
                f"p99 {report.fmt(rec['p99_ms'])} ms lg {rec['loadgen_cpu_pct']:.0f}%{noise}")
    if w == "idle":
        return f"idle  {rec['kb_per_client']:.1f} KB/client (rss {rec['rss_kb'] // 1024} MB)"
    return f"ERROR {rec.get('error')}"


def main(argv=None):
    args = parse_args(argv)
    say = print
    t_start = time.monotonic()
    started = datetime.datetime.now().astimezone()
    run_id = started.strftime("%Y%m%d-%H%M%S") + f"-{args.preset}"
    results_path = os.path.join(args.results_dir, f"{run_id}.jsonl")
    log_dir = os.path.join(args.results_dir, f"{run_id}-logs")

    nofile = processes.raise_fd_limit()
    cores = processes.pick_cores()
    plan = workloads.make_plan(args.preset)
    if args.modes:
        bad = [m for m in args.modes if m not in workloads.ALL_MODES]
        if bad:
            raise SystemExit(f"unknown modes {bad}; known: {workloads.ALL_MODES}")
        plan.modes = tuple(args.modes)
    if args.reps:
        plan.reps = args.reps
    workloads.override_sizes(plan, args.clients, args.messages, args.echo_seconds)
    if args.workloads:
        workloads.keep_workloads(plan, args.workloads)

    say(f"benchmark run {run_id}: preset {args.preset}, {plan.reps} reps, modes "
        f"{','.join(plan.modes)}; open files limit {nofile}; server on CPU {cores[0]}, "
        f"load generator on CPU {cores[1]}")
    if cores[0] is None:
        say("note: fewer than 2 usable CPUs; server and load generator share one")
    need_clients = max([s.clients for s in plan.sessions] or [0])
    if need_clients * 2 + 100 > nofile:
        say(f"note: open files limit {nofile} is low for {need_clients} clients")
    notes = []

    def note(msg):
        say(msg)
        notes.append(msg[len("note: "):] if msg.startswith("note: ") else msg)

    chosen = choose_contenders(args, note)
    if not args.no_e2e and contenders_mod.node_package_version(
            contenders_mod.LOADGEN_DIR, "ws") is None:
        raise SystemExit("the load generator's npm packages are missing: "
                         "run benchmarks/setup_node.sh (make bench does)")
    if args.dry_run:
        for spec in plan.sessions:
            for mode in plan.modes:
                sized = plan.session_for(spec, mode)
                say(f"  {spec.name:11s} {mode:9s} {spec.transport:9s} " + ", ".join(
                    p.kind + (f" {p.messages}" if p.messages else "")
                    + (f"@{p.rate:g}/s" if p.rate else "")
                    + (f" {p.clients}x{p.seconds:g}s" if p.kind == "echo" else "")
                    for p in sized.phases))
        say(f"  x {plan.reps} reps, keep-alive {plan.keep_alive}, in-process "
            f"{'off' if args.no_inprocess else plan.inprocess}, docs {args.docs}")
    say("contenders: " + ", ".join(
        f"{c.label} [{i.get('implementation') or i.get('version')}]" for c, i in chosen))

    if args.dry_run:
        return 0
    os.makedirs(log_dir, exist_ok=True)
    meta = {
        "type": "meta", "run_id": run_id, "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/run.py"] + [shlex.quote(a) for a in
                                                      (sys.argv[1:] if argv is None else argv)]),
        # the Makefile says which target ran us, e.g. BENCH_COMMAND="make bench"
        "invoked_as": os.environ.get("BENCH_COMMAND"),
        "preset": args.preset, "reps": plan.reps, "modes": list(plan.modes),
        "keep_alive": plan.keep_alive,
        "sessions": [{"name": s.name, "clients": s.clients, "transport": s.transport,
                      "phases": [vars(p) for p in s.phases]} for s in plan.sessions],
        "cores": {"server": cores[0], "loadgen": cores[1]}, "nofile": nofile,
        "deflate": args.deflate, "machine": machine.describe(),
        "contenders": [{"name": c.name, "label": c.label, "kind": c.kind, "module": c.module,
                        "env": c.env, "info": i} for c, i in chosen],
        "notes": notes,
    }
    records = []
    with open(results_path, "w") as out:
        def write(rec):
            records.append(rec)
            out.write(json.dumps(rec) + "\n")
            out.flush()

        out.write(json.dumps(meta) + "\n")
        if not args.no_inprocess:
            ip = plan.inprocess
            for rec in inprocess.run(chosen, max_time=ip.get("max_time", 1.0),
                                     min_rounds=ip.get("min_rounds", 5), sizes=ip.get("sizes"),
                                     log=os.path.join(log_dir, "inprocess.log"), say=say):
                write(rec)
        if not args.no_e2e:
            def on_record(rec, rep, spec, target):
                write(rec)
                say(f"[rep {rep + 1}/{plan.reps}] {spec.name:11s} {target[2]:9s} "
                    f"{target[0].label:19s} {_summary(rec)}")

            run_sessions(chosen, plan, cores, log_dir, args.deflate, on_record)
    latest = os.path.join(args.results_dir, "latest.jsonl")
    try:
        if os.path.lexists(latest):
            os.remove(latest)
        os.symlink(os.path.basename(results_path), latest)
    except OSError:
        pass
    say(f"\nraw results: {results_path} ({len(records)} records, "
        f"{time.monotonic() - t_start:.0f} s)")
    report.report(results_path, docs=args.docs)
    bad = [r for r in records if r.get("workload") == "error"
           or (r.get("workload") == "fanout" and (r["lost"] or r["out_of_order"]))]
    if bad:
        say(f"\n{len(bad)} sessions failed or lost messages; see the tables and {log_dir}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
