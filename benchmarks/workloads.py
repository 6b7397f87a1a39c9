"""The end-to-end workloads: what each session does and what it measures.

A *session* is one server process (one contender, one async mode) with a
pool of connected clients; it runs a list of *phases* in order:

* ``idle``: after the pool connected and settled, server RSS per client;
* ``burst``: the server emits M events to the room back to back;
* ``paced``: the same at a fixed number of broadcasts per second;
* ``echo``: K clients send events the server acks, for a fixed time.

Around every measured phase the server's and the load generator's CPU time
are read from /proc, so "server CPU per delivered message" covers all of
the server's threads and nothing else.  Presets (``full``, ``quick``,
``smoke``) size the sessions; run.py can override the sizes.
"""

import time
from dataclasses import dataclass, field, replace

import procstat

PAYLOAD_BYTES = 64
SATURATED_PCT = 90.0   # load generator busier than this: flag the run
NOISY_PCT = 10.0       # other work on the server's core above this: flag the run


@dataclass(frozen=True)
class Phase:
    kind: str              # idle | burst | paced | echo
    messages: int = 0      # burst/paced: broadcasts
    rate: float = 0.0      # paced: broadcasts per second
    clients: int = 0       # echo: how many of the pool send
    seconds: float = 0.0   # echo: duration


@dataclass(frozen=True)
class Session:
    name: str
    clients: int
    phases: tuple
    transport: str = "websocket"


@dataclass
class Plan:
    preset: str
    modes: tuple
    reps: int
    sessions: list
    settle_s: float = 1.0            # before the idle RSS reading
    quiet_timeout_s: float = 15.0    # fan-out ends after this long without progress
    # Keep each session's server alive across repetitions (connect and warm
    # up once; contenders of one mode live side by side).  Saves most of the
    # quick run's time; the full run starts a fresh server per repetition.
    keep_alive: bool = False
    # Broadcasts multiplier per async mode, for modes that cost ten times
    # more per message (threading): every contender in a mode gets the same.
    mode_scale: dict = field(default_factory=dict)

    def session_for(self, spec, mode):
        """``spec`` with its broadcast counts scaled for ``mode``."""
        scale = self.mode_scale.get(mode, 1.0)
        if scale == 1.0:
            return spec
        return replace(spec, phases=tuple(
            replace(p, messages=max(10, round(p.messages * scale)))
            if p.kind in ("burst", "paced") else p for p in spec.phases))
    inprocess: dict = field(default_factory=dict)


def burst_messages(clients, deliveries, lo=20, hi=2000):
    """Broadcasts for a burst of about ``deliveries`` messages in total."""
    return max(lo, min(hi, deliveries // clients))


def paced_phase(clients, seconds, rate=100.0, max_msgs_per_s=100_000):
    # 100 broadcasts/s, but never offer more than max_msgs_per_s deliveries:
    # at 5,000 clients the rate drops to 20/s.
    rate = min(rate, max_msgs_per_s / clients)
    return Phase("paced", messages=max(10, int(rate * seconds)), rate=rate)


def fanout_session(clients, deliveries, paced_s, idle, transport="websocket",
                   paced=True):
    phases = [Phase("idle")] if idle else []
    phases.append(Phase("burst", messages=burst_messages(clients, deliveries)))
    if paced:
        phases.append(paced_phase(clients, paced_s))
    prefix = "polling" if transport == "polling" else "ws"
    return Session(f"{prefix}-{clients}", clients, tuple(phases), transport)


def echo_session(clients, seconds):
    return Session(f"echo-{clients}", clients,
                   (Phase("echo", clients=clients, seconds=seconds),))


ALL_MODES = ("threading", "eventlet", "gevent", "gevent-sw")


def make_plan(preset):
    if preset == "full":
        return Plan("full", ALL_MODES, 3, [
            fanout_session(100, 100_000, 1.0, idle=False),
            fanout_session(1000, 100_000, 1.0, idle=True),
            fanout_session(5000, 100_000, 1.0, idle=True),
            echo_session(50, 5.0),
            fanout_session(100, 20_000, 0, idle=False, transport="polling",
                           paced=False),
        ], settle_s=2.0, inprocess={"max_time": 1.0, "min_rounds": 5})
    if preset == "quick":
        # Sized to finish in under 3 minutes with four contenders on two
        # cores: one session per contender and mode, kept alive across the
        # repetitions; echo runs on 50 of its 1,000 clients; the in-process
        # part only builds the 1,000-client room (10,000 takes ~5 s per
        # contender just to set up).
        # The eventlet burst is 400 broadcasts: shorter bursts read high
        # (per-message cost falls with burst length), and the reference
        # figures for Flask-SocketIO were taken with long bursts; threading
        # costs ~20x more per message, so it gets a fifth of that.
        return Plan("quick", ("eventlet", "threading"), 3, [
            Session("ws-1000", 1000, (
                Phase("idle"), Phase("burst", messages=400),
                Phase("paced", messages=50, rate=100.0))),
            # echo on its own 50 clients, as the reference figures were
            # taken: 950 idle connections (4,000 threads for Flask-SocketIO
            # in threading mode) halve its round trips
            echo_session(50, 1.0),
        ], settle_s=1.0, quiet_timeout_s=10.0, keep_alive=True,
            mode_scale={"threading": 0.2},
            inprocess={"max_time": 0.2, "min_rounds": 3, "sizes": "1000"})
    if preset == "smoke":
        return Plan("smoke", ("eventlet",), 1, [
            Session("ws-20", 20, (
                Phase("idle"), Phase("burst", messages=100),
                Phase("paced", messages=50, rate=100.0))),
            echo_session(20, 1.0),
            Session("polling-10", 10, (Phase("burst", messages=50),),
                    "polling"),
        ], settle_s=0.3, quiet_timeout_s=5.0,
            inprocess={"max_time": 0.05, "min_rounds": 1, "sizes": "100"})
    raise ValueError(f"unknown preset {preset!r}")


def override_sizes(plan, clients=None, messages=None, echo_seconds=None):
    """Replace fan-out client counts / broadcasts / echo time from the CLI."""
    sessions = []
    for s in plan.sessions:
        is_echo = all(p.kind == "echo" for p in s.phases)
        if clients and not is_echo:
            for n in clients:
                sessions.append(replace(s, name=s.name.rsplit("-", 1)[0] + f"-{n}",
                                        clients=n))
        else:
            sessions.append(s)
    out = []
    for s in sessions:
        phases = []
        for p in s.phases:
            if messages and p.kind in ("burst", "paced"):
                p = replace(p, messages=messages)
            if echo_seconds and p.kind == "echo":
                p = replace(p, seconds=echo_seconds)
            phases.append(p)
        out.append(replace(s, phases=tuple(phases)))
    plan.sessions = out
    return plan


def keep_workloads(plan, kinds):
    """Keep the sessions with a phase of one of ``kinds``, and in them only
    those phases (``--workloads echo`` measures echo alone)."""
    known = {"idle", "burst", "paced", "echo"}
    bad = sorted(set(kinds) - known)
    if bad:
        raise SystemExit(f"unknown workloads {bad}; known: {sorted(known)}")
    kept = []
    for s in plan.sessions:
        phases = tuple(p for p in s.phases if p.kind in kinds)
        if phases:
            kept.append(replace(s, phases=phases))
    plan.sessions = kept
    return plan


# ------------------------------------------------------------ measuring

def _cpu_pct(cpu_s, wall_s):
    return 100.0 * cpu_s / wall_s if wall_s > 0 else 0.0


class Measured:
    """CPU of server and load generator across one phase.

    Also how busy the server's core was with *other* work (other processes,
    interrupts, hypervisor steal): on a shared machine that is what makes a
    run noisy, so it is recorded and flagged rather than guessed at.
    """

    def __init__(self, server_pid, loadgen_pid, server_core=None):
        self.server_pid = server_pid
        self.loadgen_pid = loadgen_pid
        self.server_core = server_core

    def __enter__(self):
        clock = time.monotonic
        self.core0 = procstat.core_busy_seconds(self.server_core)
        self.s0 = procstat.Sample(self.server_pid, clock)
        self.l0 = procstat.Sample(self.loadgen_pid, clock)
        return self

    def __exit__(self, *exc):
        clock = time.monotonic
        s1 = procstat.Sample(self.server_pid, clock)
        l1 = procstat.Sample(self.loadgen_pid, clock)
        core1 = procstat.core_busy_seconds(self.server_core)
        self.server_cpu_s, self.wall_s = s1.since(self.s0)
        self.loadgen_cpu_s, _ = l1.since(self.l0)
        self.foreign_s = None
        if self.core0 is not None and core1 is not None:
            self.foreign_s = max(0.0, core1 - self.core0 - self.server_cpu_s)
        return False

    def fields(self):
        out = {
            "wall_s": self.wall_s,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_pct": _cpu_pct(self.server_cpu_s, self.wall_s),
            "loadgen_cpu_pct": _cpu_pct(self.loadgen_cpu_s, self.wall_s),
        }
        if self.foreign_s is not None:
            out["server_core_other_pct"] = _cpu_pct(self.foreign_s, self.wall_s)
            out["noisy"] = self.wall_s >= 0.2 and out["server_core_other_pct"] > NOISY_PCT
        return out


def _saturation(rec, busy):
    """Flag the phase when the load generator ran near one full core."""
    # A percentage of clock ticks only means something over many ticks.
    pcts = [rec["loadgen_cpu_pct"]] if rec["wall_s"] >= 0.2 else []
    # The busy window (first to last message) is measured by the load
    # generator itself, in microseconds.
    if busy and busy.get("wall_s", 0) >= 0.05:
        pcts.append(busy["pct"])
        rec["loadgen_busy_pct"] = busy["pct"]
    rec["loadgen_saturated"] = bool(pcts) and max(pcts) > SATURATED_PCT


WARMUP_DELIVERIES = 50_000
WARMUP_ECHO_S = 0.3


def warm_up(session, loadgen, plan):
    """Unmeasured rounds before the measured phases.

    The first broadcasts after connecting pay for allocator growth and
    first-touch page faults (measured: eventlet at 1,000 clients costs twice
    as much per message in the first 40 broadcasts as afterwards), buffer
    creation and lazy initialisation; the first echoes pay for handler
    thread start-up.  Steady state is what a server lives in.
    """
    kinds = {p.kind for p in session.phases}
    if kinds & {"burst", "paced"}:
        biggest = max(p.messages for p in session.phases if p.kind in ("burst", "paced"))
        count = min(biggest, max(10, WARMUP_DELIVERIES // session.clients))
        loadgen.call("fanout", timeout=300, count=count, rate=0,
                     size=PAYLOAD_BYTES, quiet=plan.quiet_timeout_s)
    if "echo" in kinds:
        clients = max(p.clients for p in session.phases if p.kind == "echo")
        loadgen.call("echo", timeout=60, clients=clients, duration=WARMUP_ECHO_S,
                     size=PAYLOAD_BYTES)


def _resolution(rec):
    """CPU time comes in clock ticks: mark phases too short to measure well."""
    rec["server_cpu_ticks"] = round(rec["server_cpu_s"] * procstat.CLK_TCK)
    rec["low_resolution"] = rec["server_cpu_ticks"] < 20


def run_phase(phase, session, server, loadgen, plan, rss0_kb):
    """Run one phase; return its result fields."""
    rec = {"phase": phase.kind}
    if phase.kind == "idle":
        time.sleep(plan.settle_s)
        mem = procstat.memory_kb(server.pid)
        rec.update(workload="idle", rss_kb=mem["rss_kb"], rss0_kb=rss0_kb,
                   threads=mem.get("threads"),
                   kb_per_client=(mem["rss_kb"] - rss0_kb) / session.clients)
        return rec
    if phase.kind in ("burst", "paced"):
        with Measured(server.pid, loadgen.pid, server.cpus) as m:
            res = loadgen.call("fanout", timeout=600, count=phase.messages,
                               rate=phase.rate, size=PAYLOAD_BYTES,
                               quiet=plan.quiet_timeout_s)
        mem = procstat.memory_kb(server.pid)
        rec.update(m.fields())
        delivered = res["delivered"]
        rec.update(
            workload="fanout", variant=phase.kind, messages=phase.messages,
            rate=phase.rate, expected=res["expected"], delivered=delivered,
            lost=res["lost"], out_of_order=res["out_of_order"],
            unparsed=res["unparsed"], timed_out=res["timed_out"],
            disconnects=res["disconnects"], msgs_per_s=res["msgs_per_s"],
            delivery_s=res["elapsed_s"], first_s=res["first_s"],
            emit_s=(res.get("server") or {}).get("emit_s"),
            server_cpu_us_per_msg=(1e6 * rec["server_cpu_s"] / delivered
                                   if delivered else None),
            rss_kb=mem["rss_kb"], hwm_kb=mem["hwm_kb"])
        # broadcast span (first to last client receiving one message): the
        # C load generator measures it, the Node one does not
        for key in ("span_p50_ms", "span_p99_ms", "span_max_ms"):
            if key in res:
                rec[key] = res[key]
        _saturation(rec, res.get("busy"))
        _resolution(rec)
        return rec
    if phase.kind == "echo":
        with Measured(server.pid, loadgen.pid, server.cpus) as m:
            res = loadgen.call("echo", timeout=phase.seconds + 60,
                               clients=phase.clients, duration=phase.seconds,
                               size=PAYLOAD_BYTES)
        rec.update(m.fields())
        n = res["round_trips"]
        rec.update(
            workload="echo", echo_clients=res["clients"], round_trips=n,
            rt_per_s=res["rt_per_s"], p50_ms=res["p50_ms"], p90_ms=res["p90_ms"],
            p99_ms=res["p99_ms"], max_ms=res["max_ms"],
            mismatched=res["mismatched"], unanswered=res["unanswered"],
            disconnects=res["disconnects"],
            server_cpu_us_per_rt=1e6 * rec["server_cpu_s"] / n if n else None,
            rss_kb=procstat.memory_kb(server.pid)["rss_kb"])
        _saturation(rec, None)
        _resolution(rec)
        return rec
    raise ValueError(phase.kind)
