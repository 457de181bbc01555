"""`lakehouse package`: one archive per release, everything a Flink cluster needs to run the job
beyond Flink itself, each part handed to Flink through its own option.

    lakehouse-<commit>-<digest>.tar.gz
      manifest.json          what is where, the versions, the sizes (``Release.manifest``)
      python-env.zip         a relocatable Python: `-pyarch python-env.zip#env`, `-pyexec env/python/bin/python3`
      code.zip               lakehouse/, udfs/, jobs/ for the Python workers: `-pyfs`
      app/                   the same code with config/ and sql/ for the client: `-py app/jobs/orders_pipeline.py`
      jars/*.jar             the Java functions and the Delta connector: pipeline.jars (LAKEHOUSE_JOB_JARS)
      cluster/lib/*.jar, cluster/plugins/<name>/*.jar
                             what a cluster's Flink needs in lib/ and plugins/ (Kafka connector,
                             Parquet, Hadoop client, S3 filesystem): infra/flink/flink.sh artifacts

The Python environment is the project venv's base interpreter (its executable, shared library and
standard library) with the site-packages the job needs copied next to it, so it runs from any
directory: CPython finds its prefix from the executable's own location, and ``bin/python3`` is a
small launcher that puts the packaged libpython first on the library path (for a shared build). Only the distributions the job and the workers import, with their requirements, go
in; the Flink jars that ship inside the apache-flink-libraries wheel (pyflink/lib, opt, plugins:
a cluster has its own) stay out. It needs the same operating system family as the machine that
built it (the C libraries the standard library's extension modules link against: libc, libssl,
libffi, zlib).

Invariants: the archive's name carries a digest of its inputs (the code, the jars, the Python
distributions and interpreter, the cluster's jars), so the same inputs give the same name and
`lakehouse submit` reuses an archive (and its unpacked copy) by that name; the environment is
checked by running its interpreter with an empty environment before the archive is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from lakehouse.pipeline import packaging

REPO = Path(__file__).resolve().parents[2]
JOB = Path("app") / "jobs" / "orders_pipeline.py"
APP_DIRS = ("lakehouse", "udfs", "jobs")  # their *.py, as in code.zip
APP_DATA = ("config", "sql")  # what the job reads on the client: anomaly rules, its SQL statements
ENV_NAME = "env"  # the directory Flink extracts python-env.zip into on each worker (-pyarch ...#env)
PYTHON_IN_ENV = "python/bin/python3"
# What the job imports when it is compiled (client) and what the workers import (UDFs, pickled
# functions): their distributions and requirements make the environment.
ROOTS = ("apache-flink", "deltalake", "pyarrow", "pandas", "boto3", "PyYAML")
# Inside the apache-flink-libraries wheel: Flink's own jars, for a local mini-cluster only.
_LEFT_OUT = ("pyflink/lib/", "pyflink/opt/", "pyflink/plugins/", "pyflink/examples/")
# Parts of the standard library no job imports.
_STDLIB_LEFT_OUT = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "site-packages",
    "config-3.11-x86_64-linux-gnu",
}
# bin/python3: the interpreter with its own lib/ first on the library path. A shared build's
# executable names libpython by an absolute RUNPATH (where it was built); LD_LIBRARY_PATH comes
# before RUNPATH, so the packaged libpython is the one loaded wherever the directory is unpacked.
_LAUNCHER = """#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/../lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "$here/{version}" "$@"
"""
_SMOKE = "import pyflink.fn_execution.beam.beam_boot, pyflink.table, deltalake, pyarrow, pandas, yaml, ssl, sqlite3"


def releases_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / "releases"


# --- the Python environment ------------------------------------------------------------------------
def distributions(roots: tuple[str, ...] = ROOTS) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need, with their requirements (markers evaluated, extras off)."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            todo.append(requirement.name)
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def _copy_distribution(dist: metadata.Distribution, site: Path) -> int:
    """Copy one distribution's files (its RECORD) into ``site``; returns the bytes copied."""
    copied = 0
    for entry in dist.files or []:
        relative = entry.as_posix()
        if relative.startswith("..") or relative.startswith(_LEFT_OUT) or "__pycache__" in relative:
            continue
        source = Path(dist.locate_file(entry))
        if not source.is_file():
            continue
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied += source.stat().st_size
    return copied


def build_python_env(target: Path) -> dict:
    """A relocatable Python under ``target/python``; returns what went in."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    root = target / "python"
    (root / "bin").mkdir(parents=True)
    executable = root / "bin" / version
    shutil.copy2(Path(sys._base_executable).resolve(), executable)  # noqa: SLF001 - the venv's base interpreter
    library = sysconfig.get_config_var("LDLIBRARY") if sysconfig.get_config_var("Py_ENABLE_SHARED") else None
    if library:  # a shared build: libpython travels too, found through the launcher below
        (root / "lib").mkdir(parents=True, exist_ok=True)
        for path in Path(sysconfig.get_config_var("LIBDIR")).glob(f"{library}*"):
            shutil.copy2(path.resolve(), root / "lib" / path.name)
    launcher = root / "bin" / "python3"
    launcher.write_text(_LAUNCHER.format(version=version))
    launcher.chmod(0o755)
    stdlib = base / "lib" / version
    shutil.copytree(
        stdlib,
        root / "lib" / version,
        ignore=lambda directory, names: [
            n for n in names if (Path(directory) == stdlib and n in _STDLIB_LEFT_OUT) or n == "__pycache__"
        ],
    )
    site = root / "lib" / version / "site-packages"
    site.mkdir()
    dists = distributions()
    sizes = {dist.metadata["Name"]: _copy_distribution(dist, site) for dist in dists}
    _check(launcher, prefix=root)
    return {
        "python": sys.version.split()[0],
        "interpreter": f"{ENV_NAME}/{PYTHON_IN_ENV}",
        "distributions": {dist.metadata["Name"]: dist.version for dist in dists},
        "site_packages_bytes": sum(sizes.values()),
    }


def _check(executable: Path, *, prefix: Path) -> None:
    """The environment imports what the job needs with nothing from this machine's environment."""
    done = subprocess.run(
        [str(executable), "-I", "-c", f"{_SMOKE}; import sys; print(sys.prefix)"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd="/",
    )
    if done.returncode != 0:
        raise RuntimeError(f"the packaged Python does not run on its own:\n{done.stderr[-2000:]}")
    if Path(done.stdout.strip()) != prefix:
        raise RuntimeError(f"the packaged Python took its prefix from {done.stdout.strip()}, not its own directory")


def _zip_tree(source: Path, target: Path) -> None:
    """Zip a directory keeping file modes (Flink extracts -pyarch archives with their permissions);
    symbolic links are stored as the files they point to."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())


# --- the release ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Release:
    """An unpacked release: where each part is, read from its manifest."""

    root: Path

    @property
    def manifest(self) -> dict:
        return json.loads((self.root / "manifest.json").read_text())

    @property
    def python_env(self) -> Path:
        return self.root / self.manifest["files"]["python_env"]

    @property
    def code(self) -> Path:
        return self.root / self.manifest["files"]["code"]

    @property
    def job(self) -> Path:
        return self.root / self.manifest["files"]["job"]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def jars(self) -> list[Path]:
        return [self.root / jar for jar in self.manifest["files"]["jars"]]

    @property
    def client_python(self) -> Path:
        """The environment unpacked for the `flink run` client (-pyclientexec), shared by releases
        with the same environment."""
        return self.root.parent / f"python-env-{self.manifest['python']['key']}" / PYTHON_IN_ENV


def _git_commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "nogit"


def _cluster_artifacts() -> list[tuple[str, Path]]:
    """(where in the archive, file) for infra/flink/flink.sh artifacts."""
    done = subprocess.run(
        [str(REPO / "infra" / "flink" / "flink.sh"), "artifacts"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not fetch the cluster's jars:\n{done.stderr.strip()[-2000:]}")
    out = []
    for line in done.stdout.split():
        if line.startswith("plugin:"):
            jar = Path(line[len("plugin:") :])
            out.append((f"cluster/plugins/{jar.name.rsplit('-', 1)[0].removeprefix('flink-')}/{jar.name}", jar))
        elif line.endswith(".jar"):
            out.append((f"cluster/lib/{Path(line).name}", Path(line)))
    return out


def env_key() -> str:
    """A digest of what the Python environment is made from: the interpreter and the distributions."""
    parts = [sys.version, str(Path(sys._base_executable).resolve())]  # noqa: SLF001
    parts += [f"{d.metadata['Name']}=={d.version}" for d in distributions()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def python_env_zip(*, log=print) -> tuple[Path, dict]:
    """The zipped environment and its description, built once per ``env_key`` (a code change reuses it)."""
    key = env_key()
    target = releases_dir() / f"python-env-{key}.zip"
    described = target.with_suffix(".json")
    if target.exists() and described.exists():
        return target, json.loads(described.read_text())
    log("packing the Python environment (the venv's interpreter and the job's distributions)")
    with packaging.built_once(target, prefix="lakehouse-pyenv-") as (work, partial):
        python = build_python_env(work) | {"key": key}
        _zip_tree(work, partial)
    described.write_text(json.dumps(python, indent=2, sort_keys=True) + "\n")
    return target, python


def _app_files() -> list[Path]:
    files = [path for package in APP_DIRS for path in (REPO / package).rglob("*.py") if "__pycache__" not in path.parts]
    files += [path for data in APP_DATA for path in (REPO / data).rglob("*") if path.is_file()]
    return sorted(files)


def input_key() -> str:
    """A digest of everything the archive is made from; cheap (the jars and code zip are cached by hash)."""
    digest = hashlib.sha256()
    parts = [packaging.code_zip().name, packaging.udf_jar().name, packaging.connector_jar().name]
    parts += [env_key()] + [name for name, _ in _cluster_artifacts()]
    for part in parts:
        digest.update(part.encode() + b"\0")
    for path in _app_files():
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(output_dir: Path, *, log=print) -> Path:
    """Build the release archive into ``output_dir`` (reused when one of the same inputs is there)."""
    import pyflink.version

    key = input_key()
    target = output_dir / f"lakehouse-{key}.tar.gz"
    if target.exists():
        return target
    with packaging.built_once(target, prefix="lakehouse-package-") as (work, partial):
        stage = work / "release"
        stage.mkdir()
        env_zip, python = python_env_zip(log=log)
        if _same_device(env_zip, stage):
            os.link(env_zip, stage / "python-env.zip")  # 200+ MiB: no copy when a hard link will do
        else:
            shutil.copy2(env_zip, stage / "python-env.zip")
        shutil.copy2(packaging.code_zip(), stage / "code.zip")
        for path in _app_files():
            (stage / "app" / path.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, stage / "app" / path.relative_to(REPO))
        (stage / "jars").mkdir()
        jars = {
            "jars/lakehouse-udfs.jar": packaging.udf_jar(),
            "jars/lakehouse-delta-connector.jar": packaging.connector_jar(),
        }
        for name, jar in jars.items():
            shutil.copy2(jar, stage / name)
        cluster = _cluster_artifacts()
        for name, jar in cluster:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(jar, stage / name)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        manifest = {
            "name": target.name.removesuffix(".tar.gz"),
            "commit": _git_commit(),
            "flink_version": pyflink.version.__version__,
            "python": python,
            "files": {
                "python_env": "python-env.zip",
                "code": "code.zip",
                "job": str(JOB),
                "jars": sorted(jars),
                "cluster_lib": sorted(name for name, _ in cluster if name.startswith("cluster/lib/")),
                "cluster_plugins": sorted(name for name, _ in cluster if name.startswith("cluster/plugins/")),
            },
            "sizes": {
                str(p.relative_to(stage)): p.stat().st_size for p in files if not p.is_relative_to(stage / "app")
            },
        }
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # Level 1: most of the bytes are the environment's zip, already compressed.
        with tarfile.open(partial, "w:gz", compresslevel=1) as archive:
            for path in sorted(stage.iterdir()):
                archive.add(path, arcname=path.name)
    return target


def current(*, log=print) -> Release:
    """The release of this checkout (built on first use), unpacked: what `lakehouse submit` runs."""
    return unpack(build(releases_dir(), log=log))


def unpack(archive: Path, *, into: Path | None = None) -> Release:
    """Unpack a release archive (once per name), and its Python environment for the client (once per environment)."""
    name = archive.name.removesuffix(".tar.gz")
    root = (into or releases_dir()) / name
    if not (root / ".complete").exists():
        partial = root.with_name(root.name + f".{os.getpid()}.part")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        (partial / ".complete").touch()
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    unpacked = Release(root)
    client = unpacked.client_python.parents[2]
    if not (client / ".complete").exists():
        partial = client.with_name(client.name + f".{os.getpid()}.part")
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(unpacked.python_env) as env:
            for info in env.infolist():
                path = Path(env.extract(info, partial))
                path.chmod((info.external_attr >> 16) & 0o777 or 0o644)
        (partial / ".complete").touch()
        shutil.rmtree(client, ignore_errors=True)
        partial.rename(client)
    return unpacked


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev
