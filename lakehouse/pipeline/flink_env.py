"""Creates the PyFlink table environment every job uses, configured from Settings."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from lakehouse.config import Settings
from lakehouse.pipeline import packaging

# SQL name -> class in udfs/java. Registered in every table environment, before any DDL, since the
# order-events source's rowtime calls one of them.
JAVA_FUNCTIONS = {
    "json_object_fields": "lakehouse.udfs.JsonObjectFields",
    "epoch_millis_or_zero": "lakehouse.udfs.EpochMillisOrZero",
    "json_long_field": "lakehouse.udfs.JsonLongField",
    "raw_record": "lakehouse.udfs.RawRecord",
    "is_json_object": "lakehouse.udfs.IsJsonObject",
}


def create_table_env(settings: Settings, *, extra_options: dict[str, str] | None = None, batch: bool = False):
    """A streaming TableEnvironment: UTC session time, checkpointing on, Python tuned for batches.

    ``extra_options`` are set on top (the embedded runner's checkpoint directory and restore path).
    ``batch``: a batch TableEnvironment instead, with the same functions and options, for the
    transforms' tests on in-memory rows (tests/integration/test_transforms.py)."""
    # The embedded mini-cluster runs in the JVM that pyflink starts; without an explicit heap it
    # takes a quarter of RAM. Only the pyflink gateway reads JVM_ARGS.
    os.environ.setdefault("JVM_ARGS", f"-Xms256m -Xmx{settings.jvm_heap} {settings.jvm_options}".strip())
    # Keep the mini-cluster's logs with the data instead of inside site-packages.
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FLINK_LOG_DIR", str(log_dir))
    quiet_beam_hangup()
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    conf = Configuration()
    options = _options(settings) | (extra_options or {})
    # The Python interpreters: `flink run -pyexec/-pyclientexec` (or the cluster's configuration)
    # name them for a cluster, e.g. the release's environment shipped with -pyarch; this process's
    # own interpreter only where nothing did (the mini-cluster, a plain `python job.py`).
    # (An explicit choice in flink_options is set like any other option.)
    interpreters = {key: sys.executable for key in _INTERPRETERS if key not in options}
    for key, value in options.items():
        conf.set_string(key, value)
    mode = EnvironmentSettings.new_instance()
    env_settings = (mode.in_batch_mode() if batch else mode.in_streaming_mode()).with_configuration(conf).build()
    t_env = TableEnvironment.create(env_settings)
    for key, value in interpreters.items():
        if not t_env.get_config().get(key, ""):
            t_env.get_config().set(key, value)
    t_env.add_python_file(str(packaging.code_zip()))
    # The Java functions (udfs/java) and the Delta connector (connectors/delta): loaded by the
    # planner here, shipped with the job to a cluster. The connector's Parquet and Hadoop jars are
    # in a session cluster's lib/ (infra/flink/flink.sh); the embedded mini-cluster takes them here.
    jars = job_jars(settings)
    if settings.profile == "embedded":
        jars += packaging.connector_dependencies()
    add_jars(t_env, jars)
    for name, class_name in JAVA_FUNCTIONS.items():
        t_env.create_java_temporary_system_function(name, class_name)
    return t_env


def job_jars(settings: Settings) -> list[Path]:
    """The project's jars for pipeline.jars: prebuilt ones named by ``settings.job_jars``, or
    compiled here (cached) from udfs/java and connectors/delta."""
    if settings.job_jars:
        jars = [Path(item.strip()) for item in settings.job_jars.split(";") if item.strip()]
        missing = [str(jar) for jar in jars if not jar.is_file()]
        if missing:
            raise FileNotFoundError(f"job_jars names jars that do not exist: {', '.join(missing)}")
        return jars
    return [packaging.udf_jar(), packaging.connector_jar()]


def quiet_beam_hangup() -> None:
    """Stop one known, harmless traceback: when a job ends, the Python worker's gRPC input stream
    (Beam's thread ``read_grpc_client_inputs``, in this process in loopback mode) is cancelled
    by the JVM ("Multiplexer hanging up") and the thread dies with an unhandled exception that
    Python prints in the middle of the run's progress. Every other thread exception is printed
    as before."""
    previous = threading.excepthook
    if getattr(previous, "lakehouse_quiet_beam_hangup", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not _is_beam_hangup(args):
            previous(args)

    hook.lakehouse_quiet_beam_hangup = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _is_beam_hangup(args: threading.ExceptHookArgs) -> bool:
    name = args.thread.name if args.thread is not None else ""
    code = getattr(args.exc_value, "code", None)
    status = code() if callable(code) else None
    return name.startswith("read_grpc_client_inputs") and getattr(status, "name", "") == "CANCELLED"


def add_jars(t_env, jars) -> None:
    """Append jars to the job's pipeline.jars (setting it again would drop the ones already there)."""
    from pyflink.common import Configuration

    config = t_env.get_config()
    # `flink run` has set it already, as a YAML list (['file:/.../flink-python.jar']); by hand it
    # is usually "uri;uri". PyFlink's own parser reads both.
    current = [str(uri) for uri in Configuration.parse_list_value(config.get("pipeline.jars", "") or "") if uri]
    wanted = current + [uri for uri in (Path(jar).resolve().as_uri() for jar in jars) if uri not in current]
    config.set("pipeline.jars", ";".join(wanted))


_INTERPRETERS = ("python.executable", "python.client.executable")


def _options(settings: Settings) -> dict[str, str]:
    chosen = {"state.backend.type": settings.state_backend} if settings.state_backend else {}
    ours = {
        "pipeline.name": settings.job_name,
        "parallelism.default": str(settings.parallelism),
        "table.local-time-zone": "UTC",
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        # Defaults are far smaller; larger Arrow batches make the vectorized UDF path several times faster.
        "python.fn-execution.bundle.size": "100000",
        "python.fn-execution.arrow.batch.size": "10000",
        # Chained operators hand rows on without copying them. Off, every row was deep-copied once per
        # branch it fans out to (RowDataSerializer.copy was 40 % of the chain behind the staging
        # view); on, the JVM's CPU for the whole plan fell 17-19 % and the tasks' 30-37 %
        # (BENCHMARKS.md, "The plan's profile"). The planner's operators, the Python operators and
        # the Delta sink (connectors/delta copies what it keeps) do not hold a row across calls.
        "pipeline.object-reuse": "true",
        # Operator uids derive from the plan, stable across submissions of the same job.
        "table.exec.uid.generation": "PLAN_ONLY",
        # Views shared by several sinks (parsed events, the enriched orders) become one sub-plan
        # computed once, instead of one copy per sink with its own JSON parsing and Python UDF.
        "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
    }
    return chosen | ours | parse_options(settings.flink_options, "flink_options")


def parse_options(text: str, name: str) -> dict[str, str]:
    """``"key=value;key=value"`` as a dict; a clear error for an entry without '='."""
    options = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{name}: {entry!r} is not key=value (entries are separated by ';')")
        options[key.strip()] = value.strip()
    return options
