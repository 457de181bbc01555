"""What the benchmark ran on: cores, memory, OS, Java, Python and the pinned versions."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def describe() -> dict[str, str]:
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{_mem_total_gib():.1f} GiB",
        "os": _os_release(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java (Flink, Kafka)": _java_version("java"),
    }
    for package in ("apache-flink", "deltalake", "pyarrow", "polars", "confluent-kafka", "trino"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info.update(_stack_versions())
    return info


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _java_version(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    first = out.splitlines()[0] if out else "unknown"
    return first.replace('"', "")


def _stack_versions() -> dict[str, str]:
    """Versions pinned in infra/stack.env (Kafka, SeaweedFS, Flink, Trino)."""
    env = REPO / "infra" / "stack.env"
    found = {}
    if env.exists():
        for match in re.finditer(r'^: "\$\{([A-Z_]*VERSION)[:=]+([^}]*)\}"', env.read_text(), re.MULTILINE):
            found[match.group(1).lower()] = match.group(2)
    # A pin given as another pin ("${CONNECT_VERSION:=$KAFKA_VERSION}") names that pin's value.
    for name, value in found.items():
        if value.startswith("$"):
            found[name] = found.get(value.strip("${}").lower(), value)
    return found
