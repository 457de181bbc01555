"""Peak resident memory and CPU time per component of the stack, read from /proc while the benchmark runs.

A component's RSS at one sample is the sum over its processes (a TaskManager's Python workers are
its descendants); shared pages are counted once per process, so sums over-state a little. CPU time
(`cpu_seconds`) is user + system time of the same processes: unlike wall time, it hardly moves with
other work on the machine, so it says where a run's work went even on a shared machine.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

# Substrings of a process's command line that name the component it belongs to.
_MARKERS = (
    ("kafka", "kafka.Kafka"),
    ("seaweedfs", "/weed"),
    ("flink-jobmanager", "StandaloneSessionClusterEntrypoint"),
    ("flink-taskmanager", "TaskManagerRunner"),
    ("trino", "io.trino.server"),
    ("flink run client (submission)", "org.apache.flink.client.cli.CliFrontend"),
)
# Counted only in the stack phase (under the lock, they are this run's): outside it, processes with
# these names (another person's `flink run` too) belong to someone else.
_SERVICES = {"kafka", "seaweedfs", "flink-jobmanager", "flink-taskmanager", "trino", "flink run client (submission)"}


# Long-running services of this stack name its state directory on their command line (logs, data,
# temp dirs); another person's stack on the same machine names theirs, and is not counted.
_STATEFUL = _SERVICES - {"flink run client (submission)"}


def own_state_dir() -> str:
    """The state directory of the stack this benchmark runs (infra/stack.env's default)."""
    return os.environ.get("LAKEHOUSE_STATE_DIR") or str(Path.home() / ".local" / "state" / "lakehouse")


def is_own(component: str, cmdline: str, state_dir: str) -> bool:
    """Whether a process of ``component`` belongs to the stack whose state is ``state_dir``."""
    return component not in _STATEFUL or state_dir.rstrip("/") + "/" in cmdline


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _rss_and_ppid(pid: int) -> tuple[int, int] | None:
    """Resident bytes and parent pid from /proc/<pid>/status, or None if it is gone."""
    try:
        text = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    rss = ppid = 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("PPid:"):
            ppid = int(line.split()[1])
    return rss, ppid


def _cpu_ticks(pid: int) -> int:
    """User + system clock ticks of a process from /proc/<pid>/stat (0 if it is gone)."""
    try:
        text = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return stat_ticks(text)


def stat_ticks(text: str) -> int:
    """User + system clock ticks of a /proc stat line (a process's, or a thread's under task/)."""
    # The command name (field 2) may hold spaces: fields after its closing parenthesis.
    rest = text[text.rfind(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14 and 15)


def cpu_seconds(state_dir: str | None = None) -> dict[str, float]:
    """CPU seconds used so far by each of this stack's services (Python workers apart), from /proc.

    Processes that already exited are not counted: take both readings of a difference while the
    processes of interest run (a job's Python workers end with the job)."""
    state_dir = state_dir or own_state_dir()
    procs, children = _process_table()
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for pid in procs:
        component = classify(cmdline := _cmdline(pid))
        if component not in _STATEFUL or not is_own(component, cmdline, state_dir):
            continue
        totals[component] = totals.get(component, 0.0) + _cpu_ticks(pid) / tick
        if component == "flink-taskmanager":
            workers = sum(_cpu_ticks(child) for child in descendants(pid, children)) / tick
            totals["flink-taskmanager python workers"] = totals.get("flink-taskmanager python workers", 0.0) + workers
    return totals


def machine_ticks(stat: str | None = None) -> tuple[int, int]:
    """(busy, all) clock ticks of every core so far, from /proc/stat's first line: busy is user,
    nice, system, irq and softirq; idle, iowait and steal (taken by the host) are not (guest time
    is inside user already). The difference of two readings gives the busy share between them."""
    fields = [int(v) for v in (stat or Path("/proc/stat").read_text()).splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields + [0] * (8 - len(fields))
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of all cores' time that was busy between two ``machine_ticks`` readings."""
    elapsed = after[1] - before[1]
    return round((after[0] - before[0]) / elapsed, 3) if elapsed else 0.0


def own_pids(component: str, state_dir: str | None = None) -> list[int]:
    """The pids of this stack's processes of ``component`` (e.g. "flink-taskmanager")."""
    state_dir = state_dir or own_state_dir()
    procs, _children = _process_table()
    return [pid for pid in procs if classify(line := _cmdline(pid)) == component and is_own(component, line, state_dir)]


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per component between two `cpu_seconds` readings (a process new since counts whole)."""
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in sorted(after)}


def _process_table() -> tuple[dict[int, tuple[int, int]], dict[int, list[int]]]:
    """Every process's (RSS bytes, parent pid), and each pid's children."""
    procs: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _rss_and_ppid(int(entry.name))) is not None:
            procs[int(entry.name)] = found
    children: dict[int, list[int]] = {}
    for pid, (_rss, ppid) in procs.items():
        children.setdefault(ppid, []).append(pid)
    return procs, children


def classify(cmdline: str) -> str | None:
    """The component a command line belongs to, or None."""
    for component, marker in _MARKERS:
        if marker in cmdline:
            return component
    return None


class Sampler:
    """Samples every `interval` seconds in a daemon thread; `peaks` maps phase -> component -> peak bytes.

    ``extra`` names other process trees to follow (e.g. the committer subprocess): name -> pid.
    The TaskManager's descendants (its Python workers) count apart. Services (Kafka, S3, Flink,
    Trino) are counted only while ``services`` is true: outside the stack phase, processes with
    those names belong to someone else on a shared machine.
    """

    def __init__(self, *, interval: float = 1.0) -> None:
        self.interval = interval
        self.phase = "setup"
        self.services = False
        self.extra: dict[str, int] = {"bench (producer, Delta poller)": os.getpid()}
        self.peaks: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def sample(self) -> dict[str, int]:
        procs, children = _process_table()
        totals: dict[str, int] = {}
        roots: dict[int, str] = {pid: name for name, pid in self.extra.items()}
        state_dir = own_state_dir()
        for pid in procs:
            if pid not in roots and (component := classify(cmdline := _cmdline(pid))) is not None:
                if component in _SERVICES and not (self.services and is_own(component, cmdline, state_dir)):
                    continue
                roots[pid] = component
        for root, component in roots.items():
            if root not in procs:
                continue
            if component == "flink-taskmanager":
                totals[component] = totals.get(component, 0) + procs[root][0]
                tree = descendants(root, children)
                totals["flink-taskmanager python workers"] = totals.get("flink-taskmanager python workers", 0) + sum(
                    procs[p][0] for p in tree if p in procs
                )
                continue
            # The bench process itself: without its children (committer, flink run), counted apart.
            own = [root] if component in _SERVICES or root == os.getpid() else [root, *descendants(root, children)]
            totals[component] = totals.get(component, 0) + sum(procs[p][0] for p in own if p in procs)
        return totals

    def _run(self) -> None:
        while not self._stop.is_set():
            peaks = self.peaks.setdefault(self.phase, {})
            for component, rss in self.sample().items():
                peaks[component] = max(peaks.get(component, 0), rss)
            self._stop.wait(self.interval)


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """Every process below ``pid`` (its children, theirs, ...); ``children``: pid -> child pids, read
    from /proc when not given."""
    if children is None:
        children = _process_table()[1]
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
