"""Turns a results file (JSON lines) into tables, a chart and docs/performance.md.

run.py calls this at the end of every run; it can also be run on an older
results file to redraw or to regenerate the docs page from it:

    .venv/bin/python benchmarks/report.py benchmarks/results/latest.jsonl [--docs]

Every figure is the median over repetitions, with the spread (min-max) next
to it.  The ``vs F-SIO`` columns compare each contender with Flask-SocketIO
in the same async mode and always read "higher is better": throughput is
divided by Flask-SocketIO's, costs (CPU, memory) are Flask-SocketIO's divided
by the contender's.  The Node contender has no async mode and is compared
with Flask-SocketIO under eventlet.
"""

import argparse
import json
import os
import statistics
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCS_PAGE = os.path.join(REPO, "docs", "performance.md")
DOCS_CHART = os.path.join(REPO, "docs", "performance.png")

MODE_ORDER = ("threading", "eventlet", "gevent", "gevent-sw", "node")
BASELINE = "flask-socketio"
NODE_BASELINE_MODE = "eventlet"


# ----------------------------------------------------------- loading

def load(path):
    meta, records = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("type") == "meta":
                meta = rec
            else:
                records.append(rec)
    return meta, records


def _contender_order(meta, records):
    order = [c["name"] for c in meta.get("contenders", [])]
    for r in records:
        if r.get("contender") and r["contender"] not in order:
            order.append(r["contender"])
    return order


def _labels(meta, records):
    labels = {c["name"]: c["label"] for c in meta.get("contenders", [])}
    for r in records:
        labels.setdefault(r.get("contender"), r.get("label") or r.get("contender"))
    return labels


# ------------------------------------------------------------ numbers

def _vals(recs, key):
    return [r[key] for r in recs if r.get(key) is not None]


def med(values):
    return statistics.median(values) if values else None


def fmt(value, digits=None):
    if value is None:
        return "-"
    if digits is None:
        a = abs(value)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3
    return f"{value:,.{digits}f}"


def spread(values, digits=None):
    """``median (min-max)``, or just the value when there is one."""
    if not values:
        return "-"
    m = med(values)
    if len(values) == 1 or min(values) == max(values):
        return fmt(m, digits)
    return f"{fmt(m, digits)} ({fmt(min(values), digits)}–{fmt(max(values), digits)})"


def ratio(value, base, higher_is_better):
    if value is None or base is None or value == 0 or base == 0:
        return "-"
    r = value / base if higher_is_better else base / value
    return f"{r:.2f}×"


def _group(records, key):
    out = OrderedDict()
    for r in records:
        out.setdefault(key(r), []).append(r)
    return out


def _target_rows(recs, contenders):
    """Records of one table grouped per (mode, contender), in display order."""
    by = _group(recs, lambda r: (r.get("mode"), r["contender"]))

    def order(key):
        mode, name = key
        m = MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)
        c = contenders.index(name) if name in contenders else len(contenders)
        return (m, c)

    return [(k, by[k]) for k in sorted(by, key=order)]


def _baseline(rows, mode, key):
    """Median of ``key`` for Flask-SocketIO in ``mode`` (node: eventlet)."""
    want = NODE_BASELINE_MODE if mode == "node" else mode
    for (m, name), recs in rows:
        if m == want and name == BASELINE:
            return med(_vals(recs, key))
    return None


def _flags(recs):
    notes = []
    sat = sum(1 for r in recs if r.get("loadgen_saturated"))
    if sat:
        notes.append(f"loadgen saturated {sat}/{len(recs)}")
    if any(r.get("timed_out") for r in recs):
        notes.append("timed out")
    disc = sum(r.get("disconnects") or 0 for r in recs)
    if disc:
        notes.append(f"{disc} disconnects")
    noisy = sum(1 for r in recs if r.get("noisy"))
    if noisy:
        notes.append(f"noisy {noisy}/{len(recs)} (other work on the server core)")
    short = sum(1 for r in recs if r.get("low_resolution"))
    if short:
        notes.append(f"short phase {short}/{len(recs)} (under 20 CPU ticks)")
    failed = sum(r.get("connect_failed") or 0 for r in recs)
    if failed:
        notes.append(f"{failed} failed connects")
    return ", ".join(notes)


# ------------------------------------------------------------- tables

def _table(title, columns, rows, note=""):
    return {"title": title, "columns": columns, "rows": rows, "note": note}


def fanout_tables(records, contenders, labels):
    recs = [r for r in records if r.get("workload") == "fanout"]
    tables = []
    groups = _group(recs, lambda r: (r["transport"], r["clients"], r["variant"]))
    for (transport, clients, variant), grp in sorted(
            groups.items(), key=lambda kv: (kv[0][0] != "websocket", kv[0][1], kv[0][2])):
        rows = _target_rows(grp, contenders)
        first = grp[0]
        what = ("broadcasts back to back" if variant == "burst" else
                f"broadcasts at {first['rate']:g}/s")
        body = []
        for (mode, name), rs in rows:
            cpu = _vals(rs, "server_cpu_us_per_msg")
            base = _baseline(rows, mode, "server_cpu_us_per_msg")
            lost = sum(r.get("lost") or 0 for r in rs)
            ooo = sum(r.get("out_of_order") or 0 for r in rs)
            lg = max([max(r.get("loadgen_cpu_pct") or 0, r.get("loadgen_busy_pct") or 0)
                      for r in rs] or [0])
            body.append([
                mode, labels.get(name, name),
                "/".join(str(m) for m in sorted({r["messages"] for r in rs})),
                spread(_vals(rs, "msgs_per_s"), 0),
                spread(cpu), ratio(med(cpu), base, higher_is_better=False),
                f"{lost}/{ooo}",
                spread(_vals(rs, "span_p99_ms")),
                fmt(med(_vals(rs, "rss_kb")) / 1024 if _vals(rs, "rss_kb") else None, 0),
                f"{lg:.0f}", _flags(rs),
            ])
        tables.append(_table(
            f"Fan-out, {transport}, {clients} clients, {variant}: {what} "
            f"(n={len(grp) // max(1, len(rows))} reps)",
            ["mode", "contender", "broadcasts", "delivered msg/s", "server CPU µs/msg",
             "vs F-SIO", "lost/ooo", "span p99 ms", "RSS MB", "loadgen CPU %", "flags"],
            body))
    return tables


def echo_tables(records, contenders, labels):
    recs = [r for r in records if r.get("workload") == "echo"]
    tables = []
    for (clients, pool), grp in sorted(
            _group(recs, lambda r: (r["echo_clients"], r["clients"])).items()):
        rows = _target_rows(grp, contenders)
        idle = f", {pool - clients} more connected and idle" if pool > clients else ""
        body = []
        for (mode, name), rs in rows:
            rt = _vals(rs, "rt_per_s")
            body.append([
                mode, labels.get(name, name), spread(rt, 0),
                ratio(med(rt), _baseline(rows, mode, "rt_per_s"), higher_is_better=True),
                spread(_vals(rs, "p50_ms")), spread(_vals(rs, "p99_ms")),
                spread(_vals(rs, "server_cpu_us_per_rt")),
                f"{max(_vals(rs, 'loadgen_cpu_pct') or [0]):.0f}", _flags(rs),
            ])
        tables.append(_table(
            f"Echo/RPC: {clients} clients, one acked event in flight each{idle}",
            ["mode", "contender", "round trips/s", "vs F-SIO", "p50 ms", "p99 ms",
             "server CPU µs/rt", "loadgen CPU %", "flags"], body))
    return tables


def idle_tables(records, contenders, labels):
    recs = [r for r in records if r.get("workload") == "idle"]
    tables = []
    for clients, grp in sorted(_group(recs, lambda r: r["clients"]).items()):
        rows = _target_rows(grp, contenders)
        body = []
        for (mode, name), rs in rows:
            kb = _vals(rs, "kb_per_client")
            body.append([
                mode, labels.get(name, name), spread(kb, 1),
                ratio(med(kb), _baseline(rows, mode, "kb_per_client"), higher_is_better=False),
                fmt(med(_vals(rs, "rss0_kb")) / 1024, 0),
                fmt(med(_vals(rs, "rss_kb")) / 1024, 0),
                fmt(med(_vals(rs, "threads")), 0), _flags(rs),
            ])
        tables.append(_table(
            f"Idle memory: {clients} connected clients",
            ["mode", "contender", "KB per client", "vs F-SIO", "RSS before MB",
             "RSS connected MB", "threads", "flags"], body))
    return tables


def inprocess_tables(records, contenders=None, labels=None):
    recs = [r for r in records if r.get("workload") == "inprocess"]
    contenders = contenders or _contender_order({}, recs)
    labels = labels or _labels({}, recs)
    tables = []
    for bench, grp in _group(recs, lambda r: r["bench"]).items():
        base = med([r["median_s"] for r in grp if r["contender"] == BASELINE])
        grp = sorted(grp, key=lambda r: contenders.index(r["contender"])
                     if r["contender"] in contenders else 99)
        body = [[labels.get(r["contender"], r["contender"]), str(r.get("implementation") or "-"),
                 f"{fmt(r['median_s'] * 1e6)} ({fmt(r['min_s'] * 1e6)}–{fmt(r['max_s'] * 1e6)})",
                 fmt(r.get("ns_per_recipient"), 0),
                 ratio(r["median_s"], base, higher_is_better=False), str(r["rounds"])]
                for r in grp]
        tables.append(_table(f"In-process: {bench} (transport stubbed)",
                             ["contender", "implementation", "µs per emit", "ns per recipient",
                              "vs F-SIO", "rounds"], body))
    return tables


def error_table(records, labels):
    errs = [r for r in records if r.get("workload") == "error"]
    if not errs:
        return []
    body = [[r.get("mode") or "-", labels.get(r.get("contender"), r.get("contender")),
             r.get("session") or r.get("phase") or "-", str(r.get("rep", "-")),
             (r.get("error") or "").strip().splitlines()[0][:100]] for r in errs]
    return [_table("Failed sessions", ["mode", "contender", "session", "rep", "error"], body)]


def all_tables(meta, records):
    contenders = _contender_order(meta, records)
    labels = _labels(meta, records)
    return (fanout_tables(records, contenders, labels) + echo_tables(records, contenders, labels)
            + idle_tables(records, contenders, labels)
            + inprocess_tables(records, contenders, labels) + error_table(records, labels))


# ---------------------------------------------------------- rendering

def render_text(table):
    cols = table["columns"]
    rows = table["rows"]
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    out = [table["title"], line, "-" * len(line)]
    out += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    if table.get("note"):
        out.append(table["note"])
    return "\n".join(out) + "\n"


def render_markdown(table):
    out = [f"### {table['title']}", "",
           "| " + " | ".join(table["columns"]) + " |",
           "|" + "|".join("---" for _ in table["columns"]) + "|"]
    out += ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |"
            for r in table["rows"]]
    if table.get("note"):
        out += ["", table["note"]]
    return "\n".join(out) + "\n"


# -------------------------------------------------------------- chart

def _headline_fanout(records):
    """The burst table the chart shows: 1,000 clients if measured, else the biggest."""
    burst = [r for r in records if r.get("workload") == "fanout"
             and r.get("variant") == "burst" and r.get("transport") == "websocket"]
    sizes = sorted({r["clients"] for r in burst})
    if not sizes:
        return None, []
    n = 1000 if 1000 in sizes else sizes[-1]
    return n, [r for r in burst if r["clients"] == n]


def draw_chart(meta, records, path):
    """Bar chart: CPU per delivered message and echo round trips/s."""
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib not installed; no chart drawn")
        return None
    contenders = _contender_order(meta, records)
    labels = _labels(meta, records)
    n, burst = _headline_fanout(records)
    echo = [r for r in records if r.get("workload") == "echo"]
    echo_n = max((r["echo_clients"] for r in echo), default=0)
    echo = [r for r in echo if r["echo_clients"] == echo_n]
    panels = [(burst, "server_cpu_us_per_msg",
               f"Fan-out burst, {n} clients: server CPU µs per delivered message\n(lower is better)",
               True),
              (echo, "rt_per_s",
               f"Echo/RPC, {echo_n} clients: round trips per second\n(higher is better)",
               False)]
    panels = [p for p in panels if p[0]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), dpi=90)
    if len(panels) == 1:
        axes = [axes]
    names = [c for c in contenders if any(r["contender"] == c for r in records)]
    colors = dict(zip(names, plt.cm.tab10.colors))
    for ax, (recs, key, title, logy) in zip(axes, panels):
        modes = [m for m in MODE_ORDER if any(r.get("mode") == m for r in recs)]
        width = 0.8 / max(1, len([c for c in names if c != "node"]) or 1)
        for mi, mode in enumerate(modes):
            present = [c for c in names if any(r["contender"] == c and r["mode"] == mode
                                               for r in recs)]
            for ci, name in enumerate(present):
                vals = [r[key] for r in recs if r["contender"] == name and r["mode"] == mode
                        and r.get(key) is not None]
                if not vals:
                    continue
                m = statistics.median(vals)
                x = mi + (ci - (len(present) - 1) / 2) * width
                ax.bar(x, m, width * 0.95, color=colors[name],
                       yerr=[[m - min(vals)], [max(vals) - m]], capsize=2,
                       label=labels.get(name, name))
                ax.annotate(fmt(m), (x, m), textcoords="offset points", xytext=(0, 2),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes)
        ax.set_title(title, fontsize=10)
        if logy:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(axis="y", alpha=0.3)
    handles, lbls = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in lbls:
                handles.append(h)
                lbls.append(lab)
    fig.legend(handles, lbls, loc="lower center", ncol=len(lbls), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# --------------------------------------------------------------- docs

LOADGEN_NAMES = {"c": "C (`benchmarks/loadgen_c`)", "node": "Node + ws (`benchmarks/loadgen`)"}


def _loadgen_used(records):
    """Which load generator drove which transport in this run."""
    kinds = {}
    for r in records:
        if r.get("loadgen"):
            kinds.setdefault(r.get("transport") or "websocket", set()).add(r["loadgen"])
    if not kinds:  # results from before the C load generator existed
        return LOADGEN_NAMES["node"] + " for every transport"
    parts = []
    for transport, label in (("websocket", "WebSocket"), ("polling", "polling")):
        if transport in kinds:
            parts.append(" and ".join(LOADGEN_NAMES.get(k, k) for k in sorted(kinds[transport]))
                         + f" for {label}")
    return ", ".join(parts)


def _versions(meta, records=()):
    mach = meta.get("machine", {})
    pk = mach.get("packages", {})
    lines = [f"- Python {mach.get('python')}"]
    for name in ("Flask", "Werkzeug", "Flask-SocketIO", "python-socketio", "python-engineio",
                 "eventlet", "gevent", "gevent-websocket", "simple-websocket", "orjson"):
        if pk.get(name):
            lines.append(f"- {name} {pk[name]}")
    for c in meta.get("contenders", []):
        info = c.get("info") or {}
        if c["name"] != BASELINE and c.get("kind") == "python":
            lines.append(f"- {c['label']}: {c.get('module') or c['kind']} "
                         f"{info.get('version')} (implementation: {info.get('implementation')})")
    if mach.get("node"):
        npm = mach.get("npm", {})
        lines.append(f"- Node {mach['node']}; socket.io {npm.get('socket.io')}; "
                     f"Node load generator on ws {npm.get('ws (loadgen)')}")
    lines.append(f"- load generator: {_loadgen_used(records)}")
    return "\n".join(lines)


def write_docs(meta, records, tables, chart_path, results_path, page=DOCS_PAGE):
    mach = meta.get("machine", {})
    rel_chart = os.path.relpath(chart_path, os.path.dirname(page)) if chart_path else None
    rel_results = os.path.relpath(results_path, REPO)
    cores = meta.get("cores") or {}
    notes = list(meta.get("notes", []))
    measured = [r for r in records if r.get("workload") in ("fanout", "echo")]
    noisy = [r for r in measured if r.get("noisy")]
    if noisy:
        notes.append(f"{len(noisy)} of {len(measured)} measured phases ran while other work "
                     f"took more than {10}% of the server's core (a shared machine): read "
                     "those figures as indicative, and compare ratios rather than absolutes.")
    saturated = [r for r in measured if r.get("loadgen_saturated")]
    if saturated:
        notes.append(f"{len(saturated)} measured phases had the load generator above 90% of "
                     "its core; the server may have been faster than shown there.")
    parts = [
        "# Performance",
        "",
        "<!-- Generated by benchmarks/report.py from a benchmark run. Do not edit by hand:",
        "     run `make bench` (or `make bench-quick`) to regenerate it. -->",
        "",
        f"Latest run: {meta.get('started', '?')}, preset **{meta.get('preset', '?')}**, "
        f"{meta.get('reps', '?')} repetitions per measurement, contenders alternated.",
        "",
        f"Command: `{meta.get('invoked_as') or meta.get('command', '?')}`"
        + (f" (`{meta['command']}`)" if meta.get("invoked_as") else "")
        + f"; raw results: `{rel_results}` (not committed).",
        "",
        "## Machine",
        "",
        f"- CPU: {mach.get('cpu_model')}, {mach.get('cpus')} logical CPUs "
        f"({mach.get('cpus_usable')} usable); server pinned to CPU {cores.get('server')}, "
        f"load generator to CPU {cores.get('loadgen')}",
        f"- Memory: {mach.get('mem_gb')} GB; {mach.get('os')}, Linux {mach.get('kernel')}",
        "",
        "## Versions",
        "",
        _versions(meta, records),
        "",
        "## Method",
        "",
        "- End to end: the server (`benchmarks/e2e_app.py`, or the Node socket.io server) and "
        "the load generator run as separate processes on separate cores over loopback. The "
        "load generator speaks Engine.IO v4 / Socket.IO v5 itself and never decodes a "
        "payload: for WebSocket clients it is C (`benchmarks/loadgen_c`, one epoll thread), "
        "because the Node one saturates its core at a few hundred thousand messages per "
        "second; long-polling (and `--deflate`) runs use the Node one (`benchmarks/loadgen`, "
        "Node + `ws`).",
        "- Server CPU is user+sys of the whole server process from `/proc/PID/stat` across the "
        "measured phase, divided by the messages delivered; RSS is from `/proc/PID/status`.",
        "- Fan-out: every client joins one room; the server emits `{\"i\": i, \"payload\": "
        "<64 bytes>}` to it; the load generator checks every client receives every `i` in "
        "order (lost/ooo must be 0/0). The C load generator also records the broadcast "
        "span, per message the time from the first to the last client receiving it "
        "(`span_p50_ms`/`span_p99_ms`/`span_max_ms` in the raw results; `span p99 ms` in the "
        "tables is the 99th percentile over one phase's broadcasts).",
        "- Echo/RPC: each client keeps one acked event in flight; latency is per round trip.",
        "- Idle memory: (RSS with N clients connected − RSS before) / N.",
        "- Each figure is the median over repetitions, (min–max) in parentheses. "
        "`vs F-SIO` compares with Flask-SocketIO in the same async mode (Node: with eventlet); "
        "above 1.00× is better.",
        "- A run is flagged when the load generator used more than 90% of its core (it may "
        "then be the bottleneck), and as noisy when other work (other processes, interrupts, "
        "hypervisor steal, from `/proc/stat`) took more than 10% of the server's core.",
        "",
    ]
    if rel_chart:
        parts += ["## Chart", "", f"![benchmark chart]({rel_chart})", ""]
    parts += ["## Results", ""]
    for t in tables:
        parts.append(render_markdown(t))
    if notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    parts += [
        "## Other measurements",
        "",
        "Each generated by its own command, with machine, versions and command on its page:",
        "",
        "- Packet codec, upstream vs pure-Python twin vs compiled twin: [codec.md](codec.md) "
        "(`benchmarks/bench_codec.py`).",
        "- Per inbound event, in-process, and where its microseconds go by layer: "
        "[event-profile.md](event-profile.md) (`benchmarks/profile_event.py`; the plain timing "
        "table comes from `benchmarks/bench_event.py`).",
        "",
    ]
    os.makedirs(os.path.dirname(page), exist_ok=True)
    with open(page, "w") as f:
        f.write("\n".join(parts).rstrip() + "\n")
    return page


def report(results_path, docs=False, chart_path=None, out=sys.stdout):
    meta, records = load(results_path)
    tables = all_tables(meta, records)
    for t in tables:
        out.write("\n" + render_text(t))
    chart_path = chart_path or os.path.splitext(results_path)[0] + ".png"
    chart = draw_chart(meta, records, chart_path)
    if chart:
        out.write(f"\nchart: {chart}\n")
    if docs:
        docs_chart = None
        if chart:
            import shutil
            shutil.copyfile(chart, DOCS_CHART)
            docs_chart = DOCS_CHART
        page = write_docs(meta, records, tables, docs_chart, results_path)
        out.write(f"docs: {page}\n")
    return tables


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a benchmarks/results/*.jsonl file")
    parser.add_argument("--docs", action="store_true",
                        help="also regenerate docs/performance.md and its chart")
    args = parser.parse_args(argv)
    report(args.results, docs=args.docs)


if __name__ == "__main__":
    main()
