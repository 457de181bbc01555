"""`lakehouse batch-report`: the daily report from pinned Delta versions (the report itself is
lakehouse/query/batch_report.py)."""

from __future__ import annotations

import sys

from lakehouse.cli import options
from lakehouse.query import batch_report
from lakehouse.query import trino as lakehouse_trino


def add_commands(subparsers, common) -> None:
    """Register `lakehouse batch-report` on the CLI's subparsers (common: --profile, --data-dir)."""
    p = subparsers.add_parser(
        "batch-report",
        parents=[common],
        help="compute the daily report (polars, or Spark) from pinned Delta versions into gold.daily_report",
    )
    p.add_argument(
        "--engine",
        choices=batch_report.ENGINES,
        default="polars",
        help="polars (default: one machine) or spark (pyspark + delta-spark, the `spark` extra: "
        "LAKEHOUSE_EXTRAS=spark scripts/with-env.sh); same rows either way",
    )
    p.add_argument(
        "--spark-master",
        default=None,
        metavar="URL",
        help="with --engine spark: the Spark master (spark://..., k8s://..., yarn); default local[<parallelism>]",
    )
    p.add_argument(
        "--as-of",
        action="append",
        default=[],
        metavar="TABLE=VERSION",
        help=f"read a source at this Delta version (sources: {', '.join(s.name for s in batch_report.SOURCES)}); default latest",
    )
    p.add_argument("--dry-run", action="store_true", help="print the report, write nothing")
    p.set_defaults(func=_cmd_batch_report)


def _cmd_batch_report(args) -> int:
    settings = options.settings(args)
    versions = {}
    for item in args.as_of:
        name, _, version = item.partition("=")
        if name not in {spec.name for spec in batch_report.SOURCES} or not version.isdigit():
            print(
                f"--as-of wants SOURCE=VERSION with a source of {[s.name for s in batch_report.SOURCES]}, got {item!r}",
                file=sys.stderr,
            )
            return 2
        versions[name] = int(version)
    if args.spark_master and args.engine != "spark":
        print("--spark-master needs --engine spark", file=sys.stderr)
        return 2
    result = batch_report.run(
        settings, versions, write=not args.dry_run, engine=args.engine, spark_master=args.spark_master
    )
    print(lakehouse_trino.format_table(lakehouse_trino.Result(result.report.columns, result.report.rows())))
    pinned = ", ".join(f"{name}@v{v}" for name, v in result.source_versions.items()) + f" with {args.engine}"
    if args.dry_run:
        print(f"read {pinned}; nothing written (--dry-run)")
    elif result.version is None:
        print(
            f"read {pinned}; {batch_report.DAILY_REPORT.name} already holds the report of these versions: nothing written"
        )
    else:
        print(f"read {pinned}; wrote {batch_report.DAILY_REPORT.name} version {result.version}")
    return 0
