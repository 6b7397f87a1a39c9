"""One live benchmark session: a server, its load generator and their clients.

``open()`` starts the server (pinned to the server core), starts the load
generator (pinned to the other core), connects the pool of clients, takes
the idle-memory reading and warms up; ``measure(rep)`` then runs the measured
phases and can be called once per repetition; ``close()`` stops both
processes.  Failures become ``workload: "error"`` records instead of
exceptions, so one broken contender cannot end a run.
"""

import os
import time

import procstat
import processes
import workloads


class LiveSession:
    def __init__(self, contender, info, mode, spec, plan, cores, log_dir, deflate=False):
        self.contender = contender
        self.mode = mode
        self.spec = plan.session_for(spec, mode)
        self.plan = plan
        self.cores = cores
        self.deflate = deflate
        tag = f"{contender.name}-{mode}"
        self.server_log = os.path.join(log_dir, f"server-{tag}.log")
        self.loadgen_log = os.path.join(log_dir, f"loadgen-{tag}.log")
        self.server = None
        self.loadgen = None
        self.rss0 = None
        self.failed = False
        self.base = {
            "type": "result", "contender": contender.name, "label": contender.label,
            "kind": contender.kind, "mode": mode, "session": spec.name,
            "clients": spec.clients, "transport": spec.transport,
            "implementation": info.get("implementation"),
        }

    def _error(self, rep, exc, where):
        self.failed = True
        return dict(self.base, rep=rep, workload="error", phase=where,
                    error=f"{type(exc).__name__}: {exc}")

    def open(self, rep=0):
        """Start everything, connect, read idle memory, warm up; return records."""
        out = []
        try:
            self.server = processes.ServerProcess(self.contender, self.mode, self.cores[0],
                                                  self.server_log).start()
            self.loadgen = processes.LoadGen(self.server.port, self.cores[1],
                                             self.loadgen_log, self.deflate,
                                             transport=self.spec.transport)
            self.base["loadgen"] = self.loadgen.kind  # "c" or "node"
            hello = self.loadgen.call("hello", timeout=30)["info"]
            # what the server itself says it runs, in case it differs from the probe
            self.base.update(server_module=hello.get("module"),
                             server_implementation=hello.get("implementation"),
                             websocket=hello.get("websocket"))
            time.sleep(0.2)
            self.rss0 = procstat.memory_kb(self.server.pid)["rss_kb"]
            conn = self.loadgen.call("connect", timeout=900, n=self.spec.clients,
                                     transport=self.spec.transport, concurrency=50,
                                     connect_timeout=60)
            self.base.update(connected=conn["total"], connect_failed=conn["failed"],
                             connect_s=conn["elapsed_s"])
            if conn["failed"]:
                self.base["connect_errors"] = conn["errors"]
            if conn["total"] == 0:
                raise RuntimeError(f"no client could connect: {conn['errors']}")
            # The idle reading must see clients that never received anything,
            # so it comes before the warm-up.
            for phase in self.spec.phases:
                if phase.kind == "idle":
                    out.append(dict(self.base, rep=rep, **workloads.run_phase(
                        phase, self.spec, self.server, self.loadgen, self.plan, self.rss0)))
            if any(p.kind != "idle" for p in self.spec.phases):
                workloads.warm_up(self.spec, self.loadgen, self.plan)
        except Exception as exc:  # noqa: BLE001 -- reported, then the run goes on
            out.append(self._error(rep, exc, "open"))
            self.close()
        return out

    def measure(self, rep):
        """Run the measured phases once; yield one record per phase."""
        if self.failed:
            return
        for phase in self.spec.phases:
            if phase.kind == "idle":
                continue
            try:
                rec = workloads.run_phase(phase, self.spec, self.server, self.loadgen,
                                          self.plan, self.rss0)
                if not self.server.alive():
                    raise RuntimeError(f"server died during the {phase.kind} phase")
            except Exception as exc:  # noqa: BLE001
                yield self._error(rep, exc, phase.kind)
                self.close()
                return
            yield dict(self.base, rep=rep, **rec)

    def close(self):
        if self.loadgen is not None:
            self.loadgen.close()
            self.loadgen = None
        if self.server is not None:
            self.server.stop()
