"""Commands for what is built on the tables: quality gates, the order read model, training sets.

``lakehouse.cli.commands`` registers them with one call: ``cli_data.add_commands(sub, common)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lakehouse.cli import options


def cmd_quality_check(args: argparse.Namespace) -> int:
    from lakehouse.quality import gates

    settings = options.settings(args)
    names = args.tables or gates.checked_tables(settings)
    if args.version is not None and len(names) != 1:
        print("--version needs exactly one table", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        run = gates.validate if args.no_record else gates.check
        report = run(settings, name, version=args.version)
        print(report.render(verbose=args.verbose), flush=True)
        failed += not report.success
    if not args.no_record:
        print(f"\nverdicts recorded in {gates.QUALITY_RESULTS.name}")
    return 1 if failed else 0


def cmd_quality_status(args: argparse.Namespace) -> int:
    from deltalake import DeltaTable

    from lakehouse.quality import gates

    settings = options.settings(args)
    print(f"{'table':26s} {'latest':>6s} {'validated':>9s}  last check")
    for name in args.tables or gates.checked_tables(settings):
        latest = DeltaTable(
            gates.table_uri(settings, gates.spec_of(name)), storage_options=settings.reader_storage_options()
        ).version()
        validated = gates.latest_validated_version(name, settings=settings)
        checks = gates.results(settings, [name])
        last = "never checked"
        if not checks.empty:
            row = checks.iloc[0]
            verdict = "passed" if row["success"] else f"FAILED ({row['failed']} expectations)"
            last = f"v{row['table_version']} {verdict} at {row['checked_at']:%Y-%m-%d %H:%M:%S}"
        print(f"{name:26s} {latest:>6d} {'-' if validated is None else validated:>9}  {last}")
    return 0


def cmd_orders_current(args: argparse.Namespace) -> int:
    from collections import Counter

    from lakehouse.lake import read_model

    settings = options.settings(args)
    result = read_model.update_orders_current(settings, order_ids=args.order_id or None)
    print(
        f"{read_model.ORDERS_CURRENT.name}: {result.orders:,} orders recomputed from silver.order_events "
        f"v{result.source_version}: {result.inserted:,} inserted, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, {result.deleted:,} deleted (table version {result.version})"
    )
    statuses = Counter(read_model.read_orders_current(settings).column("status").to_pylist())
    print("  " + ", ".join(f"{status}={n:,}" for status, n in sorted(statuses.items())))
    return 0


def cmd_training_build(args: argparse.Namespace) -> int:
    from lakehouse.ml import training

    settings = options.settings(args)
    versions = {}
    for pin in args.pin or []:
        table, _, version = pin.partition("=")
        versions[table] = int(version)
    out = Path(args.out) if args.out else settings.data_dir / "training" / training.NAME
    manifest = training.build_training_set(
        settings, out, versions=versions, validated_only=args.validated_only, label_rules=args.label_rule
    )
    _print_manifest(out, manifest)
    return 0


def cmd_training_rebuild(args: argparse.Namespace) -> int:
    from lakehouse.ml import training

    settings = options.settings(args)
    manifest_path = Path(args.manifest)
    out = Path(args.out) if args.out else manifest_path.parent.with_name(manifest_path.parent.name + "_rebuilt")
    try:
        manifest = training.rebuild_from_manifest(manifest_path, out, storage_options=settings.reader_storage_options())
    except training.ManifestMismatch as error:
        print(f"cannot rebuild exactly: {error}", file=sys.stderr)
        return 1
    _print_manifest(out, manifest)
    print("identical to the manifest's training set (same sources, parameters and content hash)")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """What was set aside: counts per stream and reason, the records themselves, or their bytes."""
    from collections import Counter

    from deltalake import DeltaTable

    from lakehouse import contract
    from lakehouse.lake import catalog, tables

    settings = options.settings(args)
    uri = catalog.resolve(settings, tables.QUARANTINE)
    rows = DeltaTable(uri, storage_options=settings.reader_storage_options()).to_pyarrow_table().to_pylist()
    rows = [
        r
        for r in rows
        if (not args.stream or r["source_stream"] == args.stream)
        and (not args.reason or r["reason"].startswith(args.reason))
    ]
    rows.sort(
        key=lambda r: (r["source_stream"], r["reason"], r["event_time"] is None, r["event_time"] or 0, r["record_id"])
    )
    if args.export:
        written = skipped = 0
        with open(args.export, "wb") as out:
            for row in rows:
                value = contract.original_bytes(row["payload"])
                if value is None or b"\n" in value:
                    skipped += 1  # no bytes to replay (a record without a value), or not one line
                    continue
                out.write(value + b"\n")
                written += 1
        print(
            f"wrote the original bytes of {written} records to {args.export}, one per line"
            + (f"; {skipped} without a value or holding a newline were left out" if skipped else "")
        )
        return 0
    if not args.list:
        counts = Counter((r["source_stream"], r["reason"]) for r in rows)
        print(f"{len(rows):,} records set aside in {tables.QUARANTINE.name} ({uri})")
        for (stream, reason), n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {n:>8,}  {stream:13s} {reason}")
        return 0
    for row in rows[: args.limit]:
        payload = row["payload"]
        shown = "<no value>" if payload is None else (payload if len(payload) <= 120 else payload[:117] + "...")
        when = "-" if row["event_time"] is None else f"{row['event_time']:%Y-%m-%d %H:%M:%S}"
        print(f"{row['record_id']}  {row['source_stream']:13s} {when:19s}  {row['reason']}\n    {shown}")
    if len(rows) > args.limit:
        print(f"... {len(rows) - args.limit:,} more (--limit)")
    return 0


def _print_manifest(out: Path, manifest: dict) -> None:
    output = manifest["output"]
    print(f"{out}: {output['rows']:,} rows, {output['positives']:,} positive labels, sha256 {output['content_sha256']}")
    for name, pin in manifest["sources"].items():
        print(f"  {name:24s} v{pin['version']:<4d} {pin['rows']:>9,} rows  {pin['content_sha256'][:16]}")


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `quality`, `quarantine`, `orders-current` and `training-set` on the `lakehouse` parser."""
    p = sub.add_parser(
        "quarantine",
        parents=[common],
        help="what was set aside (bronze.quarantine): counts per reason, the records, or their original bytes",
    )
    p.add_argument("--stream", choices=("order-events", "customers", "products"), help="only this source stream")
    p.add_argument("--reason", help="only reasons starting with this text, e.g. 'wrong type'")
    p.add_argument("--list", action="store_true", help="list the records (id, stream, event time, reason, payload)")
    p.add_argument("--limit", type=int, default=50, help="records to list (default 50)")
    p.add_argument(
        "--export", metavar="FILE", help="write the records' original bytes to FILE, one per line, to replay"
    )
    p.set_defaults(func=cmd_quarantine)
    quality_parser = sub.add_parser("quality", help="data-quality gates: validate table versions, show verdicts")
    quality_sub = quality_parser.add_subparsers(dest="quality_command", required=True, metavar="action")
    p = quality_sub.add_parser(
        "check", parents=[common], help="validate table versions and record the verdicts (exit 1 on a failure)"
    )
    p.add_argument("tables", nargs="*", help="tables to check (default: every table with a suite)")
    p.add_argument("--version", type=int, help="the Delta version to check (default: latest; one table only)")
    p.add_argument("--no-record", action="store_true", help="report only; do not write meta.quality_results")
    p.add_argument("--verbose", action="store_true", help="list the expectations that passed too")
    p.set_defaults(func=cmd_quality_check)
    p = quality_sub.add_parser("status", parents=[common], help="latest and latest validated version per table")
    p.add_argument("tables", nargs="*", help="tables to show (default: every table with a suite)")
    p.set_defaults(func=cmd_quality_status)

    p = sub.add_parser(
        "orders-current",
        parents=[common],
        help="recompute gold.orders_current (the order read model) from silver.order_events",
    )
    p.add_argument("--order-id", action="append", help="only this order (repeatable; default: every order)")
    p.set_defaults(func=cmd_orders_current)

    training_parser = sub.add_parser("training-set", help="build or rebuild the labelled anomaly training set")
    training_sub = training_parser.add_subparsers(dest="training_command", required=True, metavar="action")
    p = training_sub.add_parser(
        "build", parents=[common], help="build from pinned table versions: Parquet plus manifest.json"
    )
    p.add_argument("--out", help="output directory (default: <data dir>/training/orders_anomaly_next_5m)")
    p.add_argument("--validated-only", action="store_true", help="read each source at its latest validated version")
    p.add_argument("--pin", action="append", metavar="TABLE=VERSION", help="read TABLE at VERSION (repeatable)")
    p.add_argument("--label-rule", action="append", help="only these rules make a positive label (repeatable)")
    p.set_defaults(func=cmd_training_build)
    p = training_sub.add_parser("rebuild", parents=[common], help="rebuild exactly from a manifest.json and verify it")
    p.add_argument("manifest", help="path to a training set's manifest.json")
    p.add_argument("--out", help="output directory (default: <set>_rebuilt next to the original)")
    p.set_defaults(func=cmd_training_rebuild)
