"""Reads a process's CPU time and memory from /proc (Linux only).

CPU is user+sys of the whole process (every thread, including threads that
already exited) from /proc/PID/stat; memory is VmRSS / VmHWM from
/proc/PID/status.  The resolution of the CPU figures is one clock tick
(usually 10 ms), so measured phases must last well over that.
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds consumed so far by process ``pid``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    # The command name (field 2) may contain spaces and parentheses: split
    # after its closing parenthesis.  utime and stime are fields 14 and 15.
    fields = raw[raw.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid):
    """``{"rss_kb": ..., "hwm_kb": ..., "threads": ...}`` of process ``pid``."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "VmRSS":
                out["rss_kb"] = int(value.split()[0])
            elif key == "VmHWM":
                out["hwm_kb"] = int(value.split()[0])
            elif key == "Threads":
                out["threads"] = int(value)
    return out


def core_busy_seconds(core):
    """Non-idle time of one CPU (user, nice, system, irq, softirq, steal)
    from /proc/stat, or None when ``core`` is None or not listed."""
    if core is None:
        return None
    tag = f"cpu{core} ".encode()
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(tag):
                v = [int(x) for x in line.split()[1:9]]
                # fields: user nice system idle iowait irq softirq steal
                return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK
    return None


class Sample:
    """CPU and wall clock of one process at one instant; subtract two."""

    __slots__ = ("pid", "cpu", "wall")

    def __init__(self, pid, clock):
        self.pid = pid
        self.cpu = cpu_seconds(pid)
        self.wall = clock()

    def since(self, earlier):
        """``(cpu_seconds, wall_seconds)`` elapsed since ``earlier``."""
        return self.cpu - earlier.cpu, self.wall - earlier.wall
