"""Packs the project's code for Flink: the Python packages as one zip for the Python workers
(`-pyfs` / python.files), the Java functions in udfs/java and the Delta connector in
connectors/delta as jars (pipeline.jars).

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("lakehouse", "udfs", "jobs")
JAVA_SOURCES = REPO / "udfs" / "java"
CONNECTOR_SOURCES = REPO / "connectors" / "delta" / "src" / "main" / "java"
CONNECTOR_RESOURCES = REPO / "connectors" / "delta" / "src" / "main" / "resources"
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


@contextmanager
def built_once(target: Path, *, prefix: str) -> Iterator[tuple[Path, Path]]:
    """A scratch directory and a partial file beside ``target`` to build into; when the block ends
    without an error the partial replaces ``target`` in one rename, so no reader sees half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        partial = target.with_name(target.name + f".{os.getpid()}.part")
        yield Path(work), partial
        partial.replace(target)


def udf_jar(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the jar of the Java functions in udfs/java."""
    return _java_jar("lakehouse-udfs", JAVA_SOURCES, cache_dir=cache_dir)


def connector_jar(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the jar of the Delta connector in connectors/delta (``'connector' = 'delta'``).

    It compiles against Flink and the Parquet closure (``connector_dependencies``); the jar holds only
    the connector's own classes and its factory's service file."""
    return _java_jar(
        "lakehouse-delta-connector",
        CONNECTOR_SOURCES,
        resources=CONNECTOR_RESOURCES,
        classpath=connector_dependencies(),
        cache_dir=cache_dir,
    )


_DEPENDENCIES: list[Path] = []


def connector_dependencies() -> list[Path]:
    """The jars the connector needs beside Flink's (Parquet, the shaded Hadoop client), downloaded once
    from Maven Central, checksummed and cached by infra/flink/flink.sh. A session cluster has them in
    lib/; the embedded mini-cluster takes them as pipeline.jars."""
    if not _DEPENDENCIES:
        done = subprocess.run(
            [str(REPO / "infra" / "flink" / "flink.sh"), "connector-deps"], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"could not fetch the Delta connector's dependencies:\n{done.stderr.strip()[-2000:]}")
        _DEPENDENCIES.extend(Path(line) for line in done.stdout.split() if line.endswith(".jar"))
    return list(_DEPENDENCIES)


def _java_jar(
    name: str,
    source_root: Path,
    *,
    resources: Path | None = None,
    classpath: list[Path] = (),
    cache_dir: Path | None = None,
) -> Path:
    """Compile ``source_root`` with javac against the installed pyflink's Flink jars (plus
    ``classpath``) into a jar cached under a name that hashes the sources, the resources and the
    jars compiled against."""
    import pyflink

    flink_lib = Path(pyflink.__file__).resolve().parent / "lib"
    sources = sorted(source_root.rglob("*.java"))
    if not sources:
        raise FileNotFoundError(f"no Java sources under {source_root}")
    resource_files = sorted(p for p in resources.rglob("*") if p.is_file()) if resources else []
    digest = hashlib.sha256(JAVA_RELEASE.encode())
    digest.update(" ".join(sorted(jar.name for jar in flink_lib.glob("flink-*.jar"))).encode())
    digest.update(" ".join(jar.name for jar in classpath).encode())
    for path in sources + resource_files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    target = _cache_dir("jars", cache_dir) / f"{name}-{digest.hexdigest()[:16]}.jar"
    if target.exists():
        return target
    with built_once(target, prefix="lakehouse-javac-") as (work, partial):
        classes = work / "classes"
        cp = ":".join([f"{flink_lib}/*", *map(str, classpath)])
        command = [_javac(), "--release", JAVA_RELEASE, "-Xlint:-options", "-encoding", "UTF-8"]
        command += ["-cp", cp, "-d", str(classes), *map(str, sources)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"javac failed to compile {source_root}:\n{done.stderr.strip()}")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: lakehouse\n")
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes))
            for path in resource_files:
                archive.write(path, path.relative_to(resources))
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
