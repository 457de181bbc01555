"""CPU seconds of one process's threads, grouped by thread name, while it runs.

A JVM's threads tell apart what its CPU went to: Flink's task threads carry their operator
chain's name, the JIT compilers, the garbage collector and RocksDB's background threads their
own. A thread's CPU is gone from /proc once the thread ends (a job's tasks end with the job), so
this polls every half second and keeps each thread's first and last reading.

    python -m bench.threads PID [--output FILE]

Stops when the process ends or on SIGINT/SIGTERM, then prints (or writes) one line per group:
seconds, share, name. Example: the TaskManager's threads over one benchmark run (BENCHMARKS.md,
"Where the TaskManager's CPU goes"); `python -m bench.run --threads` does the same for each of its
throughput runs (`Watch`) and keeps the table in the results file.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

from bench.memory import stat_ticks

POLL_SECONDS = 0.5


def group_name(comm: str) -> str:
    """The group of a thread name as /proc shows it (15 characters): the subtask suffix and trailing
    numbers dropped, so "C2 CompilerThre", "GC Thread#1" and "OverAggregate[ (2/2)" group."""
    name = re.sub(r"\(\d+/\d+\)", "", comm)
    return re.sub(r"[#\-]?\d+$", "", name.strip()).strip()


def read_threads(pid: int, ticks_per_second: int) -> dict[str, tuple[str, float]]:
    """tid -> (thread name, CPU seconds so far) for the threads alive now."""
    threads = {}
    task_dir = Path(f"/proc/{pid}/task")
    for tid in os.listdir(task_dir):
        try:
            comm = (task_dir / tid / "comm").read_text().strip()
            threads[tid] = (comm, stat_ticks((task_dir / tid / "stat").read_text()) / ticks_per_second)
        except (OSError, ValueError, IndexError):  # the thread ended between listing and reading
            continue
    return threads


def by_group(first: dict[str, tuple[str, float]], last: dict[str, tuple[str, float]]) -> Counter:
    """CPU seconds per thread group between each thread's first and last reading."""
    groups: Counter = Counter()
    for tid, (comm, seconds) in last.items():
        groups[group_name(comm)] += seconds - first.get(tid, (comm, seconds))[1]
    return groups


def report(groups: Counter, top: int = 30) -> str:
    total = sum(groups.values())
    lines = [f"total {total:.1f} CPU s"]
    for name, seconds in groups.most_common(top):
        lines.append(f"{seconds:8.1f} {100 * seconds / total if total else 0:5.1f} %  {name}")
    return "\n".join(lines) + "\n"


def watch(pid: int, stop: threading.Event | None = None) -> Counter:
    """Poll ``pid``'s threads until it ends or ``stop`` is set; CPU seconds per thread group."""
    ticks = os.sysconf("SC_CLK_TCK")
    stop = stop or threading.Event()
    first: dict[str, tuple[str, float]] = {}
    last: dict[str, tuple[str, float]] = {}
    while not stop.is_set() and Path(f"/proc/{pid}").exists():
        try:
            now = read_threads(pid, ticks)
        except FileNotFoundError:  # the process ended
            break
        for tid, reading in now.items():
            first.setdefault(tid, reading)
        last.update(now)
        stop.wait(POLL_SECONDS)
    return by_group(first, last)


class Watch:
    """``watch`` in a daemon thread, from ``start`` to ``stop`` (or a ``with`` block); ``groups`` after it."""

    def __init__(self, pid: int) -> None:
        self.groups: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True, name="thread-cpu-watch")

    def _run(self, pid: int) -> None:
        self.groups = watch(pid, self._stop)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling (again: no effect) and wait for the last reading."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def top(self, count: int = 15) -> dict[str, float]:
        """The ``count`` largest groups, CPU seconds rounded to 0.1 (a results file's form)."""
        return {name: round(seconds, 1) for name, seconds in self.groups.most_common(count)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pid", type=int, help="the process to watch (e.g. a TaskManager's)")
    parser.add_argument("--output", type=Path, help="write the table here instead of standard output")
    args = parser.parse_args(argv)
    if not Path(f"/proc/{args.pid}").exists():
        parser.error(f"no process {args.pid}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    text = report(watch(args.pid, stop))
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
