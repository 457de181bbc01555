"""Commands that operate the job on a Flink cluster and the tables it writes: submit, app, package,
replay, switch, jobs, maintain. Every job gets its whole configuration from Settings
(config.job_environment, through lakehouse/pipeline/flink_cluster.py and application.py).

``lakehouse.cli.commands`` registers them with ``add_commands(sub, common)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lakehouse import config
from lakehouse.cli import options
from lakehouse.lake import tables


def cmd_submit(args: argparse.Namespace) -> int:
    from lakehouse.lake import storage
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    if args.package and args.no_package:
        print("--package and --no-package exclude each other", file=sys.stderr)
        return 2
    if args.print_command:
        command = flink_cluster.run_command(settings, savepoint=args.from_savepoint, release=_release(args))
        print(" ".join(command))
        return 0
    refused = _preflight(settings, args)
    if refused:
        return refused
    storage.ensure_tables(settings)
    job_id = flink_cluster.submit(settings, savepoint=args.from_savepoint, release=_release(args))
    _log(
        f"submitted {settings.job_name}: job {job_id}; its Delta sinks commit at every checkpoint. "
        "Keep gold.orders_current following with `lakehouse follow --follow`"
    )
    return 0


def _preflight(settings: config.Settings, args: argparse.Namespace) -> int:
    """Before a job starts: 3 (and why, on stderr) when it must not, else 0. A restore's state
    must fit the new code; a start without state must not read input the tables already hold."""
    from lakehouse.lake import storage
    from lakehouse.pipeline import fingerprint

    if args.from_savepoint and not args.skip_state_check:
        _log(f"pre-flight: comparing the state layout of the new code with {args.from_savepoint} ...")
        check = fingerprint.check_restore(settings, args.from_savepoint)
        if not check.ok:
            print(fingerprint.refusal_message(check, args.from_savepoint, settings), file=sys.stderr)
            return 3
        _log(f"pre-flight: state fingerprint {check.new.digest} matches the savepoint's; restoring")
    if not args.from_savepoint and not args.fresh_start:
        spec = tables.BY_NAME["silver.order_events"]
        earlier = storage.committing_jobs(settings, spec)
        if earlier:
            print(
                f"refused: {spec.name} already holds commits of {settings.job_name} (Flink job "
                f"{', '.join(sorted(earlier))}). A submission without state reads the topics from their "
                "earliest offsets and would append that input again. Restore the job instead: "
                "`lakehouse submit --from-savepoint <path>` with a savepoint (`lakehouse jobs stop` takes one) "
                "or a retained checkpoint (<execution.checkpointing.dir>/<job id>/chk-<n>); reprocess into a "
                "new table version with `lakehouse replay`; or, if the topics hold only records the tables "
                "do not, pass --fresh-start.",
                file=sys.stderr,
            )
            return 3
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from lakehouse.lake import storage
    from lakehouse.pipeline import application

    settings = options.settings(args)
    if args.action == "status":
        code, report = application.status()
        print(report)
        return code
    if args.action == "stop":
        location = application.stop(settings, savepoint=not args.no_savepoint, target=args.savepoint_dir)
        _log(f"stopped the application cluster's job with savepoint {location}" if location else "stopped")
        return 0
    if args.no_package:
        print("an application cluster runs a release: --no-package does not apply", file=sys.stderr)
        return 2
    refused = _preflight(settings, args)
    if refused:
        return refused
    storage.ensure_tables(settings)
    application.start(settings, _release(args), savepoint=args.from_savepoint, log=_log)
    _log("stop it with a savepoint: `lakehouse app stop`; restore: `lakehouse app start --from-savepoint <path>`")
    return 0


def _release(args: argparse.Namespace):
    """The release `submit` ships: --package, else this checkout's (built once per content); None with --no-package."""
    from lakehouse.pipeline import release

    if args.no_package:
        return None
    if args.package:
        return release.unpack(Path(args.package))
    return release.current(log=_log)


def cmd_package(args: argparse.Namespace) -> int:
    import shutil

    from lakehouse.pipeline import release

    archive = release.build(release.releases_dir(), log=_log)
    if args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
        archive = Path(shutil.copy2(archive, Path(args.output) / archive.name))
    manifest = release.unpack(archive).manifest
    print(f"{archive}  ({archive.stat().st_size / 2**20:,.0f} MiB)")
    for name, size in sorted(manifest["sizes"].items()):
        print(f"  {size / 2**20:9.1f} MiB  {name}")
    python = manifest["python"]
    print(
        f"  Python {python['python']}, {len(python['distributions'])} distributions "
        f"({python['site_packages_bytes'] / 2**20:,.0f} MiB unpacked); Flink {manifest['flink_version']}; "
        f"commit {manifest['commit']}"
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lakehouse.lake import storage
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    job_name = args.job_name or f"{settings.job_name}-{args.table_version}"
    replay = replace(settings, table_version=args.table_version, job_name=job_name)
    storage.ensure_tables(replay)
    job_id = flink_cluster.submit(replay)
    _log(
        f"replaying from Kafka's earliest offsets as {job_name} (job {job_id}, consumer group {job_name}) "
        f"into {replay.tables_uri()}; readers still see {_current(settings)}.\n"
        f"Its Delta sinks commit at every checkpoint; its order read model follows with:  "
        f"LAKEHOUSE_TABLE_VERSION={replay.table_version} python -m lakehouse follow --follow\n"
        f"When it has caught up:  python -m lakehouse switch {replay.table_version}"
    )
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from lakehouse.lake import catalog

    settings = options.settings(args)
    if args.version is None:
        pointer = catalog.read_pointer(settings)
        print(json.dumps(pointer, indent=2, sort_keys=True) if pointer else f"{catalog.BASE} (no pointer)")
        return 0
    try:
        pointer = catalog.switch(settings, args.version)
    except ValueError as error:
        print(f"not switched: {error}", file=sys.stderr)
        return 2
    _log(f"readers of {settings.logical_tables_uri()} now see version {pointer['version']} (was {pointer['previous']})")
    return 0


def _current(settings: config.Settings) -> str:
    from lakehouse.lake import catalog

    return f"version {catalog.current_version(settings)}"


def cmd_jobs(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    if args.action == "list":
        for job in flink_cluster.list_jobs(settings):
            print(f"{job['id']}  {job['state']:10s} {job['name']}")
        return 0
    if not args.job_id:
        print(f"`lakehouse jobs {args.action}` needs a job id (see `lakehouse jobs list`)", file=sys.stderr)
        return 2
    if args.action == "cancel":
        outcome = flink_cluster.cancel(settings, args.job_id)
        _log(
            f"cancelled {args.job_id}"
            if outcome == "CANCELLING"
            else f"{args.job_id} had already ended ({outcome}); nothing to cancel"
        )
    else:
        from lakehouse.pipeline import fingerprint

        location, recorded = fingerprint.stop_with_savepoint(settings, args.job_id, target=args.savepoint_dir)
        _log(f"stopped {args.job_id} with savepoint {location}")
        if not recorded:
            _log(
                "warning: the job recorded no state fingerprint; `submit --from-savepoint` will ask for --skip-state-check"
            )
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from lakehouse.lake import maintenance

    settings = options.settings(args)
    for result in maintenance.maintain(settings, retention_hours=args.retention_hours, dry_run=args.dry_run):
        _log(
            f"{result.table}: compacted {result.files_removed} files into {result.files_added}, "
            f"{'would vacuum' if args.dry_run else 'vacuumed'} {result.vacuumed} files (version {result.version}), "
            f"log checkpoint at version {result.checkpoint_version}"
        )
    return 0


def _log(message: str) -> None:
    print(message, flush=True)


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register submit, app, package, replay, switch, jobs and maintain."""
    p = sub.add_parser(
        "submit", parents=[common], help="submit jobs/orders_pipeline.py to the session cluster (flink run)"
    )
    p.add_argument("--from-savepoint", help="restore from this savepoint path")
    p.add_argument("--print-command", action="store_true", help="only print the `flink run` command line")
    p.add_argument(
        "--fresh-start",
        action="store_true",
        help="submit without state even though the tables hold commits of an earlier run of this job "
        "(only when the topics hold no record those commits came from)",
    )
    p.add_argument(
        "--skip-state-check",
        action="store_true",
        help="restore without comparing state fingerprints (the pre-flight check refuses incompatible state)",
    )
    p.add_argument(
        "--package",
        metavar="ARCHIVE",
        help="submit this `lakehouse package` archive (default: this checkout's, built on first use)",
    )
    p.add_argument(
        "--no-package",
        action="store_true",
        help="submit with this machine's venv as the workers' Python (only TaskManagers on this machine can run it)",
    )
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser(
        "app",
        parents=[common],
        help="run the job as a Flink application cluster (standalone application mode, as on Kubernetes)",
    )
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--parallelism", type=int, help="the job's parallelism, and the TaskManager's slots (start)")
    p.add_argument("--from-savepoint", help="start restored from this savepoint (start)")
    p.add_argument(
        "--fresh-start", action="store_true", help="as for submit: start without state over tables that hold commits"
    )
    p.add_argument(
        "--skip-state-check", action="store_true", help="as for submit: restore without the fingerprint check"
    )
    p.add_argument("--package", metavar="ARCHIVE", help="the release archive to run (default: this checkout's)")
    p.add_argument("--no-package", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--savepoint-dir", help="savepoint target directory for stop (default: the cluster's)")
    p.add_argument("--no-savepoint", action="store_true", help="stop: end the cluster without a savepoint")
    p.set_defaults(func=cmd_app)
    p = sub.add_parser(
        "package",
        parents=[common],
        help="build the release archive: relocatable Python, code, jars (what `submit` ships to a cluster)",
    )
    p.add_argument("--output", metavar="DIR", help="also copy the archive into DIR")
    p.set_defaults(func=cmd_package)
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="reprocess from Kafka's earliest offsets into a new version of the tables (after an incompatible fix)",
    )
    p.add_argument("--table-version", required=True, help="the new version's name, e.g. v2 (tables go to <root>/_v/v2)")
    p.add_argument("--job-name", help="the replay job's name and consumer group (default: <job name>-<version>)")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser(
        "switch", parents=[common], help="point every reader at a version of the tables (one atomic write)"
    )
    p.add_argument("version", nargs="?", help="e.g. v2, or base for the root's own tables; omit to show the pointer")
    p.set_defaults(func=cmd_switch)
    p = sub.add_parser("jobs", parents=[common], help="list, cancel or stop (with a savepoint) session-cluster jobs")
    p.add_argument("action", choices=("list", "cancel", "stop"))
    p.add_argument("job_id", nargs="?", help="the job id (cancel, stop)")
    p.add_argument("--savepoint-dir", help="savepoint target directory for stop (default: the cluster's)")
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("maintain", parents=[common], help="compact and vacuum every table (safe while jobs write)")
    p.add_argument(
        "--retention-hours",
        type=int,
        default=168,
        help=(
            "keep table files any version of the last N hours needs; longer than your oldest savepoint and than"
            " the longest a running job takes from writing a data file to committing it (default 168)"
        ),
    )
    p.add_argument("--dry-run", action="store_true", help="only list what vacuum would delete; no compaction")
    p.set_defaults(func=cmd_maintain)
