"""Reading the profilers: async-profiler's agent library (Maven Central, cached and verified) and
what its collapsed JVM stacks and py-spy's Python stacks say, by kind of work, operator chain and frame."""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path

CACHE = Path(os.environ.get("LAKEHOUSE_CACHE", Path.home() / ".cache" / "lakehouse")) / "profiler"
PROFILER_VERSION = "4.1"
PROFILER_JAR = f"async-profiler-{PROFILER_VERSION}-linux-x64.jar"
PROFILER_URL = f"https://repo1.maven.org/maven2/tools/profiler/async-profiler/{PROFILER_VERSION}/{PROFILER_JAR}"
PROFILER_SHA1 = "3a1c87ae027634983954e3b4d97057ef41bca858"

# Kinds of JVM work, first match wins: (label, thread-name pattern or None, frame pattern or None).
CATEGORIES = (
    ("JIT compilers", re.compile(r"Compiler ?Thread|^C[12] "), None),
    ("GC and VM", re.compile(r"^(GC |G1 |VM |Gang)"), None),
    ("generated-code compilation (Janino)", None, re.compile(r"org[./]codehaus[./](janino|commons[./]compiler)")),
    ("planning (Calcite, Flink planner)", None, re.compile(r"org[./]apache[./]calcite|flink[./]table[./]planner")),
    ("Python bridge (Beam, gRPC, Arrow)", None, re.compile(r"org[./]apache[./]beam|io[./]grpc|flink[./]python|arrow")),
    ("tasks (operators, state, network)", re.compile(r"\(\d+/\d+\)"), None),
)


def profiler_library() -> Path:
    """libasyncProfiler.so for linux-x64, downloaded once and verified."""
    library = CACHE / PROFILER_VERSION / "libasyncProfiler.so"
    if library.exists():
        return library
    CACHE.mkdir(parents=True, exist_ok=True)
    jar = CACHE / PROFILER_JAR
    if not jar.exists() or hashlib.sha1(jar.read_bytes()).hexdigest() != PROFILER_SHA1:
        print(f"[profile {time.strftime('%H:%M:%S')}] downloading {PROFILER_URL}", flush=True)
        partial = jar.with_suffix(".part")
        urllib.request.urlretrieve(PROFILER_URL, partial)
        digest = hashlib.sha1(partial.read_bytes()).hexdigest()
        if digest != PROFILER_SHA1:
            partial.unlink()
            raise SystemExit(f"bench.profile: {PROFILER_JAR} has SHA-1 {digest}, expected {PROFILER_SHA1}")
        partial.rename(jar)
    library.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar) as archive:
        library.write_bytes(archive.read("linux-x64/libasyncProfiler.so"))
    return library


def categorize(collapsed: Path) -> tuple[Counter, Counter, Counter, int]:
    """Samples per kind of work, per operator chain (task thread), and per frame of the task threads."""
    kinds: Counter = Counter()
    chains: Counter = Counter()
    task_frames: Counter = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        thread = frames[0].strip("[]").split(" tid=")[0]
        kind = "other"
        for label, thread_pattern, frame_pattern in CATEGORIES:
            if (thread_pattern and thread_pattern.search(thread)) or (frame_pattern and frame_pattern.search(stack)):
                kind = label
                break
        kinds[kind] += samples
        if kind.startswith("tasks"):
            task_frames[frames[-1]] += samples
            # "OverAggregate[13] -> Calc[14] -> ... (1/1)#0": one name per chain, whatever its ids
            chains[re.sub(r"\[\d+\]|#\d+", "", thread)] += samples
    return kinds, chains, task_frames, total


def python_hotspots(raw: Path, top: int) -> tuple[Counter, int]:
    """Self samples per Python function of the UDF worker (stacks through pyflink's fn_execution)."""
    functions: Counter = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "fn_execution" not in stack:
            continue
        total += int(count)
        leaf = stack.split(";")[-1]
        functions[re.sub(r":\d+\)?$", ")", leaf)] += int(count)
    return Counter(dict(functions.most_common(top))), total
