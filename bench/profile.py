"""Profile the pipeline's plan: where the CPU goes, and what each branch of the plan costs.

    make bench-profile                      # the whole profile: one run per ablation, then a profiled run
    scripts/with-env.sh python -m bench.profile --ablations none --minutes 20    # a quick look

Runs the real plan (jobs/orders_pipeline.py) on the embedded mini-cluster over generated input
(the `lakehouse run` input, one hour of event time by default), every table into Flink's
blackhole connector, so nothing but the plan is measured:

1. Ablations: the job's net runtime and CPU seconds (the JVM and its Python workers, while the job
   runs) for the whole plan, the plan without each output table, the plan without one piece of
   work (PLAN_VARIANTS: the Python UDF, md5, the contract's checks, the occurrence count, the
   payload in the temporal joins, COUNT DISTINCT) and the parse-only reference
   ("staging": the order-events source, decoding, JSON parsing, the contract and lateness into
   blackhole, nothing else). Each is a fresh JVM, as `lakehouse run` is. CPU seconds say what the
   work costs; the job's wall time also says who else had the cores.
2. The whole plan once more with async-profiler (Maven Central, tools.profiler:async-profiler,
   cached in ~/.cache/lakehouse/profiler and checked against its SHA-1) loaded as a JVM agent,
   sampling CPU per thread: the share of each kind of work (JIT compilers, planning, generated-code
   compilation, the tasks, the Python bridge, GC) and the hottest frames of the tasks.
3. The Python UDF worker sampled by py-spy (PyPI; the `profile` extra, LAKEHOUSE_EXTRAS=profile):
   the hottest Python functions. Skipped with a note when py-spy is not installed.

Figures depend on the machine and its load: compare runs of one invocation, not across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.samples import categorize, profiler_library, python_hotspots

REPO = Path(__file__).resolve().parent.parent

# Plans with one piece of work taken out, for the ablation table: name -> (label, SQL file, text or
# a function that renders it, its stand-in). The text must stand exactly once in the rendered file
# (checked at run time and by a unit test), so a change to the SQL fails loudly instead of
# measuring the whole plan under another name.
PLAN_VARIANTS: dict[str, tuple[str, str, str | Callable[[], str], str]] = {
    "no-udf": (
        "without the Python UDF (amount_eur = amount)",
        "flink/stg_orders_placed",
        "to_eur(amount, currency)",
        "amount",
    ),
    "no-md5": (
        "without md5 (record_id = the payload itself)",
        "flink/stg_order_events",
        "md5(r.payload)",
        "r.payload",
    ),
    "no-contract-checks": (
        "without the contract's checks (only 'invalid JSON')",
        "flink/stg_order_events",
        lambda: _contract().sql_checks(),
        "when not is_json then 'invalid JSON'",
    ),
    "no-occurrence": (
        "without the occurrence count (no exchange by event_id)",
        "flink/int_order_events_occurrence",
        "count(*) over w as occurrence,\n    first_value(v.record_id) over w as first_record_id\n"
        "from stg_order_events as v\nwhere v.reason is null\nwindow w as",
        "cast(1 as bigint) as occurrence,\n    v.record_id as first_record_id\n"
        "from stg_order_events as v\nwhere v.reason is null\n-- window w as",
    ),
    "no-payload-in-joins": (
        "without the payload in the temporal joins (null)",
        "flink/stg_orders_placed",
        "    payload,\n",
        "    cast(null as string) as payload,\n",
    ),
    "no-count-distinct": (
        "without COUNT DISTINCT (5m and 1h count rows)",
        "flink/fct_order_metrics_rollup",
        "count(distinct customer_id)",
        "count(customer_id)",
    ),
}


def log(message: str) -> None:
    print(f"[profile {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_job(
    data_dir: Path,
    *,
    outputs: str,
    parallelism: int,
    sink: str = "blackhole",
    variant: str = "",
    jvm_extra: str = "",
    py_spy: Path | None = None,
) -> dict:
    """One run of the plan in a fresh process and JVM; returns the child's figures."""
    from dataclasses import replace

    from lakehouse import config

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYFLINK_", "_PYFLINK", "FLINK_")) and key != "JVM_ARGS"
    }
    settings = config.load("embedded", data_dir=data_dir, sink_mode=sink, outputs=outputs, parallelism=parallelism)
    settings = replace(settings, jvm_options=f"{settings.jvm_options} {jvm_extra}".strip())
    env = config.job_environment(settings, inherit=env)
    command = [sys.executable, "-m", "bench.profile", "--child", *(["--variant", variant] if variant else [])]
    if py_spy:
        sampler = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [
            sampler,
            "record",
            "--subprocesses",
            "--nonblocking",
            "-r",
            "50",
            "-f",
            "raw",
            "-o",
            str(py_spy),
            "--",
            *command,
        ]
    # A job that fails restarts without end on the mini-cluster: the timeout bounds it.
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=1200)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"the run with outputs {outputs or 'all'!r} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def _contract():
    from lakehouse import contract

    return contract


def variant_text(variant: str) -> str:
    """The text a plan variant takes out."""
    text = PLAN_VARIANTS[variant][2]
    return text() if callable(text) else text


def apply_variant(variant: str) -> None:
    """Take one piece of work out of the plan (PLAN_VARIANTS) for the SQL loaded from now on."""
    from lakehouse import sql

    _label, name, _text, stand_in = PLAN_VARIANTS[variant]
    text = variant_text(variant)
    original = sql.load

    def load(file: str, **values: object) -> str:
        statement = original(file, **values)
        if file != name:
            return statement
        if statement.count(text) != 1:
            raise RuntimeError(f"variant {variant}: {text!r} stands {statement.count(text)} times in sql/{name}.sql")
        return statement.replace(text, stand_in)

    sql.load = load


def jvm_cpu_seconds() -> float:
    """CPU seconds used so far by this process's children (the mini-cluster JVM, its Python workers)."""
    from bench.memory import _cpu_ticks, descendants

    return sum(_cpu_ticks(pid) for pid in descendants(os.getpid())) / os.sysconf("SC_CLK_TCK")


def child(variant: str = "") -> int:
    """Build and run the plan with the settings in the environment; print its figures as JSON."""
    from jobs import orders_pipeline
    from lakehouse import config
    from lakehouse.pipeline.flink_env import create_table_env

    if variant:
        apply_variant(variant)
    settings = config.load()
    started = time.monotonic()
    if settings.sink_mode == "delta":
        # Fresh tables for every run: the Delta sink appends, and each run is compared alone.
        from lakehouse.lake import storage

        shutil.rmtree(Path(settings.tables_uri()), ignore_errors=True)
        storage.ensure_tables(settings)
    # Checkpoints to local files, as `lakehouse run` takes them (in the JobManager's memory they
    # would fail: the plan's state is larger than its 5 MiB limit).
    checkpoints = (settings.data_dir / "checkpoints" / str(os.getpid())).resolve()
    t_env = create_table_env(settings, extra_options={"execution.checkpointing.dir": checkpoints.as_uri()})
    statements = orders_pipeline.build(t_env, settings)
    planned, cpu_planned = time.monotonic(), jvm_cpu_seconds()
    result = statements.execute()
    result.wait()
    ended, cpu_ended = time.monotonic(), jvm_cpu_seconds()
    net_ms = result.get_job_client().get_job_execution_result().result().get_net_runtime()
    figures = {
        "setup_s": planned - started,
        "job_s": ended - planned,
        "net_runtime_s": net_ms / 1000,
        # from submission to the end: the tasks, their Python workers, code generation, checkpoints
        "job_cpu_s": round(cpu_ended - cpu_planned, 2),
        "setup_cpu_s": round(cpu_planned, 2),
        # the whole run: the JVM's start, planning, the job
        "total_s": ended - started,
        "total_cpu_s": round(cpu_ended, 2),
    }
    print(json.dumps(figures))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="See the module docstring for details."
    )
    parser.add_argument(
        "--minutes", type=int, default=60, help="minutes of event time to generate (default 60: 235k events)"
    )
    parser.add_argument("--parallelism", type=int, default=1, help="job parallelism (default 1)")
    parser.add_argument(
        "--ablations", default="all", help="'all' (default), 'none', or outputs to leave out, comma-separated"
    )
    parser.add_argument(
        "--sink",
        choices=("blackhole", "delta", "both"),
        default="blackhole",
        help="where the tables go: blackhole (default), the Delta sink on local disk, or both (a Delta run "
        "beside each blackhole run, and the profiled run into Delta)",
    )
    parser.add_argument("--top", type=int, default=15, help="frames to list (default 15)")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", type=Path, help="copy the raw samples here (jvm.collapsed, python.raw)")
    parser.add_argument(
        "--variants",
        default="all",
        help=f"plans with one piece of work taken out: 'all' (default), 'none', or some of {', '.join(PLAN_VARIANTS)}",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="", choices=("", *PLAN_VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.variant)
    chosen = (
        list(PLAN_VARIANTS) if args.variants == "all" else [] if args.variants == "none" else args.variants.split(",")
    )
    if unknown := [name for name in chosen if name not in PLAN_VARIANTS]:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; expected some of {', '.join(PLAN_VARIANTS)}")

    from lakehouse import config
    from lakehouse.lake import tables
    from lakehouse.pipeline import embedded
    from lakehouse.sources import generator

    work = Path(tempfile.mkdtemp(prefix="lakehouse-profile-"))
    try:
        settings = config.load("embedded", data_dir=work)
        events = embedded.prepare_input(settings, generator.GeneratorConfig(minutes=args.minutes), log=log)
        names = [spec.name for spec in tables.ALL]
        leave_out = names if args.ablations == "all" else [] if args.ablations == "none" else args.ablations.split(",")
        # (label, outputs, plan variant)
        variants = [("whole plan", "", "")]
        variants += [(f"without {name}", ",".join(n for n in names if n != name), "") for name in leave_out]
        variants += [(PLAN_VARIANTS[variant][0], "", variant) for variant in chosen]
        variants += [("parse-only reference (staging)", "staging", "")]
        sinks = ("blackhole", "delta") if args.sink == "both" else (args.sink,)
        rows = []
        for label, outputs, variant in variants:
            for sink in sinks:
                if sink == "delta" and outputs == "staging":
                    continue  # the parse-only reference writes no table
                name = f"{label}, into Delta" if sink == "delta" else label
                log(f"run: {name}")
                figures = run_job(work, outputs=outputs, parallelism=args.parallelism, sink=sink, variant=variant)
                rows.append({"variant": name, **figures, "events_per_s": events / figures["net_runtime_s"]})
                log(
                    f"  {figures['net_runtime_s']:.1f} s job, {events / figures['net_runtime_s']:,.0f} events/s, "
                    f"{figures['job_cpu_s']:.1f} CPU s"
                )

        profiled_sink = "blackhole" if args.sink == "blackhole" else "delta"
        log(f"run: whole plan into {profiled_sink} with async-profiler (and py-spy when installed)")
        collapsed = work / "jvm.collapsed"
        agent = f"-agentpath:{profiler_library()}=start,event=cpu,interval=10ms,threads,collapsed,file={collapsed}"
        has_py_spy = bool(shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists())
        raw = work / "python.raw" if has_py_spy else None
        profiled = run_job(
            work, outputs="", parallelism=args.parallelism, sink=profiled_sink, jvm_extra=agent, py_spy=raw
        )
        report = _print_report(events, rows, profiled, collapsed, raw, args.top, profiled_sink)
        if args.output:
            args.output.write_text(json.dumps(report, indent=2) + "\n")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in (collapsed, raw):
                if path and path.exists():
                    shutil.copy(path, args.keep / path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _print_report(
    events: int, rows: list[dict], profiled: dict, collapsed: Path, raw: Path | None, top: int, sink: str = "blackhole"
) -> dict:
    whole, whole_cpu = rows[0]["net_runtime_s"], rows[0].get("job_cpu_s") or float("nan")
    print(f"\nAblations: {events:,} events, embedded mini-cluster; tables into blackhole unless 'into Delta'")
    print("job: from submission to the end (net runtime, the JVM's and its Python workers' CPU);")
    print("run: the whole process (the JVM's start, planning, the job)")
    print(
        f"{'variant':<52} {'job s':>6} {'events/s':>9} {'vs whole':>8} {'job CPU s':>9} {'vs whole':>8}"
        f" {'run s':>6} {'run CPU s':>9}"
    )
    for row in rows:
        cpu = row.get("job_cpu_s", float("nan"))
        print(
            f"{row['variant']:<52} {row['net_runtime_s']:6.1f} {row['events_per_s']:9,.0f} "
            f"{row['net_runtime_s'] / whole:8.2f} {cpu:9.1f} {cpu / whole_cpu:8.2f}"
            f" {row.get('total_s', float('nan')):6.1f} {row.get('total_cpu_s', float('nan')):9.1f}"
        )
    report: dict = {"events": events, "ablations": rows, "profiled_run": profiled}
    if collapsed.exists():
        kinds, chains, frames, total = categorize(collapsed)
        print(
            f"\nJVM CPU samples of the whole plan into {sink} ({total:,} samples at 10 ms, "
            f"job {profiled['net_runtime_s']:.1f} s):"
        )
        for kind, samples in kinds.most_common():
            print(f"  {kind:<40} {100 * samples / total:5.1f} %")
        task_total = sum(frames.values()) or 1
        print("Operator chains (task threads; share of the tasks' samples):")
        for chain, samples in chains.most_common(8):
            print(f"  {100 * samples / task_total:5.1f} %  {chain[:150]}")
        print(f"Hottest frames of the task threads (self samples, share of the tasks' {task_total:,}):")
        for frame, samples in frames.most_common(top):
            print(f"  {100 * samples / task_total:5.1f} %  {frame[:110]}")
        report["jvm"] = {
            "samples": total,
            "kinds": dict(kinds),
            "chains": dict(chains),
            "task_frames": dict(frames.most_common(top)),
        }
    else:
        print("\n(async-profiler wrote no samples: the JVM did not exit cleanly)")
    if raw and raw.exists():
        functions, total = python_hotspots(raw, top)
        print(f"\nPython UDF worker ({total:,} samples at 50/s, py-spy); hottest functions (self):")
        for function, samples in functions.most_common():
            print(f"  {100 * samples / max(total, 1):5.1f} %  {function[:110]}")
        report["python"] = {"samples": total, "functions": dict(functions)}
    elif raw is None:
        print("\n(py-spy is not installed: LAKEHOUSE_EXTRAS=profile scripts/with-env.sh ... adds it)")
    return report


if __name__ == "__main__":
    raise SystemExit(main())
