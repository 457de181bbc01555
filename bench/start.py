"""Where `lakehouse run`'s start goes: each step before the job runs, timed in one process.

    scripts/with-env.sh python -m bench.start                    # input, JVM, DDL, planning, submission
    scripts/with-env.sh python -m bench.start --compiled-plan    # the same job from a compiled plan

The steps are `lakehouse run`'s own (lakehouse/pipeline/embedded.py) on a fresh data directory:
generate the input, create the tables, start PyFlink's gateway JVM with the table environment,
declare the sources, views and inserts, plan them (`explain()`, twice: cold, then with the
planner's classes compiled), and submit the job to the mini-cluster (`execute()`, which plans
again). The job is cancelled once submitted: its own time is `lakehouse run`'s progress lines.

``--compiled-plan`` compiles the statement set to JSON (`compile_plan()`), then, in a second
process as a rerun would, declares the same tables and functions, loads the plan and submits it;
``--wait S`` then waits up to S seconds for the job to finish instead of cancelling it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class Steps:
    """Seconds since the start at the end of each named step, printed as they pass."""

    def __init__(self, out=print) -> None:
        self._started = time.monotonic()
        self._out = out
        self.marks: list[tuple[str, float]] = []

    def mark(self, what: str) -> None:
        at = round(time.monotonic() - self._started, 1)
        previous = self.marks[-1][1] if self.marks else 0.0
        self.marks.append((what, at))
        self._out(f"{at:6.1f} s  (+{at - previous:4.1f})  {what}")


def _environment(data_dir: Path, steps: Steps):
    """The run's settings, input and tables, and a table environment with the job's statements."""
    from lakehouse import config
    from lakehouse.lake import storage
    from lakehouse.pipeline import embedded
    from lakehouse.sources import generator

    settings = config.load("embedded", data_dir=data_dir)
    embedded.prepare_input(settings, generator.GeneratorConfig(), log=lambda _message: None)
    steps.mark("input generated")
    storage.ensure_tables(settings)
    steps.mark("tables created")
    from jobs import orders_pipeline
    from lakehouse.pipeline.flink_env import create_table_env

    t_env = create_table_env(settings)
    steps.mark("gateway JVM and table environment")
    statements = orders_pipeline.build(t_env, settings)
    steps.mark("sources, views and inserts declared")
    return t_env, statements


def _finish(result, steps: Steps, wait: float | None) -> None:
    client = result.get_job_client()
    if wait is None:
        client.cancel().result()
        steps.mark("job cancelled")
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = str(client.get_job_status().result())
        if status in ("FINISHED", "FAILED", "CANCELED"):
            steps.mark(f"job {status.lower()}")
            return
        time.sleep(1)
    client.cancel().result()
    steps.mark(f"job not finished after {wait:.0f} s: cancelled")


def plan_steps(data_dir: Path) -> None:
    steps = Steps()
    _, statements = _environment(data_dir, steps)
    statements.explain()
    steps.mark("planned (explain, cold)")
    statements.explain()
    steps.mark("planned (explain, again)")
    result = statements.execute()
    steps.mark("submitted (execute: planning, translation, mini-cluster start)")
    _finish(result, steps, None)


def compile_plan(data_dir: Path, plan_file: Path) -> None:
    steps = Steps()
    _, statements = _environment(data_dir, steps)
    plan_file.write_text(statements.compile_plan().as_json_string())
    steps.mark(f"plan compiled ({plan_file.stat().st_size:,} bytes of JSON)")


def load_plan(data_dir: Path, plan_file: Path, wait: float | None) -> None:
    from pyflink.table import CompiledPlan, PlanReference

    steps = Steps()
    t_env, _ = _environment(data_dir, steps)
    # PyFlink 2.2's TableEnvironment.load_plan hands CompiledPlan the Java environment, whose
    # execute() then fails on a missing method: wrap the loaded plan with the Python one.
    reference = PlanReference.from_file(str(plan_file))
    plan = CompiledPlan(t_env._j_tenv.loadPlan(reference._j_plan_reference), t_env)
    steps.mark("plan loaded")
    result = plan.execute()
    steps.mark("submitted (execute of the loaded plan)")
    _finish(result, steps, wait)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled-plan", action="store_true", help="compile the plan, then run it loaded")
    parser.add_argument("--wait", type=float, help="with --compiled-plan: seconds to wait for the job to finish")
    parser.add_argument("--step", choices=("plan", "compile", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:  # one step in this process (a child of the invocation below)
        {
            "plan": lambda: plan_steps(args.data_dir),
            "compile": lambda: compile_plan(args.data_dir, args.plan_file),
            "load": lambda: load_plan(args.data_dir, args.plan_file, args.wait),
        }[args.step]()
        return 0
    data_dir = Path(tempfile.mkdtemp(prefix="lakehouse-start-"))
    try:
        runs = ["compile", "load"] if args.compiled_plan else ["plan"]
        for step in runs:
            print(f"--- {step} (a new process)", flush=True)
            command = [sys.executable, "-m", "bench.start", "--step", step, "--data-dir", str(data_dir)]
            command += ["--plan-file", str(data_dir / "plan.json")]
            if args.wait is not None:
                command += ["--wait", json.dumps(args.wait)]
            subprocess.run(command, check=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
