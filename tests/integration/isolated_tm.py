"""A TaskManager that cannot reach the project's venv: its own user (nobody), its own copy of the
Flink distribution, an empty environment (PATH=/usr/bin:/bin, HOME in its own directory), joined
to the local stack's session cluster in place of the stack's TaskManagers.

The project's venv and caches live under the submitting user's home (~/.cache/lakehouse), which
user nobody cannot read; the stack's Flink distribution is an overlay of links into that venv, so
the TaskManager gets a dereferenced copy. Whatever Python it runs must come with the job.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from lakehouse.pipeline import flink_cluster

REPO = Path(__file__).resolve().parents[2]
FLINK = REPO / "infra" / "flink" / "flink.sh"
USER = "nobody"


def _flink_sh(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FLINK), *args], capture_output=True, text=True, timeout=timeout, env=flink_cluster.clean_environment()
    )


def taskmanagers(rest: str) -> list[dict]:
    with urllib.request.urlopen(f"{rest}/taskmanagers", timeout=10) as response:
        return json.load(response)["taskmanagers"]


class IsolatedTaskManager:
    """Start with ``start()``; ``stop()`` ends it and gives the stack its own TaskManager back."""

    def __init__(self, rest: str):
        self.rest = rest
        self.resource_id = f"isolated-tm-{os.getpid()}"
        self.root = Path(tempfile.mkdtemp(prefix="lakehouse-isolated-tm-"))
        self.process: subprocess.Popen | None = None
        self.stopped_stack_taskmanagers = 0
        account = pwd.getpwnam(USER)
        self.uid, self.gid = account.pw_uid, account.pw_gid

    def as_user(self, *command: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
        prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "env", "-i"]
        variables = [f"{k}={v}" for k, v in (env or self._env()).items()]
        return subprocess.run([*prefix, *variables, *command], capture_output=True, text=True, **kwargs)

    def _env(self) -> dict[str, str]:
        java_home = Path(os.path.realpath(shutil.which("java"))).parent.parent
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.root / "home"),
            "JAVA_HOME": str(java_home),
            "FLINK_CONF_DIR": str(self.root / "conf"),
            "FLINK_LOG_DIR": str(self.root / "log"),
            "FLINK_PID_DIR": str(self.root / "run"),
            "FLINK_IDENT_STRING": "isolated",
        }

    def _prepare(self) -> None:
        home = flink_cluster.flink_home()
        flink = self.root / "flink"
        for part in ("bin", "lib", "opt", "plugins"):
            shutil.copytree(home / part, flink / part, symlinks=False)
        (self.root / "conf").mkdir()
        for item in (home / "conf").iterdir():
            if item.is_file():
                shutil.copy2(item, self.root / "conf" / item.name)
        conf_file = self.root / "conf" / "config.yaml"
        # The stack's configuration as it is, python.executable included: it names the venv's
        # interpreter, which this user cannot run, so a job that does not bring its Python fails.
        conf = yaml.safe_load(conf_file.read_text())
        tmp = str(self.root / "tmp")
        conf.update(
            {
                "io.tmp.dirs": tmp,
                "web.tmpdir": tmp,
                "blob.storage.directory": tmp,
                "env.log.dir": str(self.root / "log"),
                "env.pid.dir": str(self.root / "run"),
            }
        )
        java_opts = [o for o in str(conf.get("env.java.opts.all", "")).split() if not o.startswith("-Djava.io.tmpdir=")]
        conf["env.java.opts.all"] = " ".join([*java_opts, f"-Djava.io.tmpdir={tmp}"])
        conf_file.write_text(yaml.safe_dump(conf, default_flow_style=False, sort_keys=True, width=10**6))
        for name in ("home", "tmp", "log", "run"):
            (self.root / name).mkdir()
        for path in [self.root, *self.root.rglob("*")]:
            os.lchown(path, self.uid, self.gid)
        self.root.chmod(0o755)

    def start(self, *, timeout: float = 180) -> None:
        self._prepare()
        unreadable = self.as_user("test", "-r", str(Path.home() / ".cache" / "lakehouse"))
        assert unreadable.returncode != 0, f"user {USER} can read the project's caches: no isolation"
        # The stack's TaskManagers leave, so every task runs here.
        before = taskmanagers(self.rest)
        for _ in before:
            done = _flink_sh("stop-taskmanager")
            assert done.returncode == 0, done.stderr[-2000:]
            self.stopped_stack_taskmanagers += 1
        prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "env", "-i"]
        command = [
            *prefix,
            *[f"{k}={v}" for k, v in self._env().items()],
            str(self.root / "flink" / "bin" / "taskmanager.sh"),
            "start-foreground",
            "-D",
            f"taskmanager.resource-id={self.resource_id}",
        ]
        self.log = open(self.root / "console.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = {tm["id"] for tm in taskmanagers(self.rest)}
            if self.resource_id in ids:
                return
            if self.process.poll() is not None:
                break
            time.sleep(1)
        raise RuntimeError(f"the isolated TaskManager did not register:\n{self.console()[-3000:]}")

    def console(self) -> str:
        logs = [self.root / "console.log", *sorted((self.root / "log").glob("*.log"))]
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in logs if path.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if self.process is not None:
            self.log.close()
        for _ in range(self.stopped_stack_taskmanagers):
            done = _flink_sh("start-taskmanager")
            assert done.returncode == 0, done.stderr[-2000:]
        shutil.rmtree(self.root, ignore_errors=True)
