"""Packs the project's code for Flink: the Python packages as one zip for the Python workers
(`-pyfs` / python.files), the Java functions in udfs/java as one jar (pipeline.jars).

Flink extracts a .zip and puts the extraction directory on the workers' PYTHONPATH, so
`import udfs.currency` works on a TaskManager exactly as it does in the client. A plain
directory would be added as-is, which makes `udfs` itself unimportable.

The jar is compiled here with the JDK's javac against the Flink jars of the installed pyflink,
the same Flink version the cluster runs, and cached under a name that carries a hash of the
sources, so a fresh clone compiles once (about 3 s) and later runs reuse it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("lakehouse", "udfs", "jobs")
JAVA_SOURCES = REPO / "udfs" / "java"
# The oldest Java that Flink 2.x runs on; the class files then load on the cluster's JVM too.
JAVA_RELEASE = "11"


def _cache_dir(kind: str, cache_dir: Path | None) -> Path:
    return cache_dir or Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / kind


def code_zip(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the zip of the packages; its name carries a hash of their content."""
    files = sorted(
        path for package in PACKAGES for path in (REPO / package).rglob("*.py") if "__pycache__" not in path.parts
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    cache = _cache_dir("code", cache_dir)
    target = cache / f"lakehouse-code-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(REPO))
        tmp.replace(target)
    return target


def udf_jar(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the jar of the Java functions in udfs/java; its name carries a hash of
    the sources and of the Flink version they are compiled against."""
    import pyflink

    flink_lib = Path(pyflink.__file__).resolve().parent / "lib"
    sources = sorted(JAVA_SOURCES.rglob("*.java"))
    if not sources:
        raise FileNotFoundError(f"no Java sources under {JAVA_SOURCES}")
    digest = hashlib.sha256(JAVA_RELEASE.encode())
    digest.update(" ".join(sorted(jar.name for jar in flink_lib.glob("flink-*.jar"))).encode())
    for path in sources:
        digest.update(str(path.relative_to(JAVA_SOURCES)).encode())
        digest.update(path.read_bytes())
    cache = _cache_dir("jars", cache_dir)
    target = cache / f"lakehouse-udfs-{digest.hexdigest()[:16]}.jar"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lakehouse-javac-") as work:
        classes = Path(work) / "classes"
        command = [_javac(), "--release", JAVA_RELEASE, "-Xlint:-options", "-encoding", "UTF-8"]
        command += ["-cp", f"{flink_lib}/*", "-d", str(classes), *map(str, sources)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"javac failed to compile {JAVA_SOURCES}:\n{done.stderr.strip()}")
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: lakehouse\n")
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes))
        tmp.replace(target)
    return target


def _javac() -> str:
    """The JDK compiler: $JAVA_HOME/bin/javac, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    candidates = [Path(home) / "bin" / "javac"] if home else []
    found = shutil.which("javac")
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(
        "javac not found: the Java functions in udfs/java need a JDK 11 or newer "
        "(Debian: apt-get install openjdk-17-jdk-headless; or set JAVA_HOME)"
    )
