"""`lakehouse trino ...`: register the tables in Trino, run a query or the reports, open Trino's
own shell (the Trino side itself is lakehouse/query/trino.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lakehouse.cli import options
from lakehouse.lake import tables
from lakehouse.query import trino as lakehouse_trino


def add_commands(subparsers, common) -> None:
    """Register `lakehouse trino ...` on the CLI's subparsers (common: --profile, --data-dir)."""
    p = subparsers.add_parser(
        "trino",
        help="SQL on the Delta tables with Trino: register tables, run a query or report, Trino's own shell",
        description="Trino must be running (infra/trino/trino.sh start); tables must be on S3 (--profile local).",
    )
    actions = p.add_subparsers(dest="trino_action", required=True, metavar="action")
    a = actions.add_parser("register", parents=[common], help="register every lakehouse table (idempotent)")
    a.set_defaults(func=_cmd_register)
    a = actions.add_parser(
        "query", parents=[common], help="run one SQL statement, a file or a sql/trino report; no argument: the shell"
    )
    source = a.add_mutually_exclusive_group()
    source.add_argument("statement", nargs="?", help='SQL text, e.g. "select count(*) from silver.order_events"')
    source.add_argument("-f", "--file", help="read the statement from this file")
    source.add_argument("-r", "--report", help=f"a report of sql/trino/ ({', '.join(lakehouse_trino.report_names())})")
    a.add_argument(
        "--as-of",
        action="append",
        default=[],
        metavar="TABLE=VERSION",
        help="read TABLE at a Delta version (repeatable), e.g. --as-of silver.orders_enriched=3",
    )
    a.set_defaults(func=_cmd_query)
    a = actions.add_parser("reports", parents=[common], help="run every report of sql/trino/ and print each")
    a.set_defaults(func=_cmd_reports)
    a = actions.add_parser(
        "shell",
        help="Trino's own CLI on the local server (history, completion, paging, output formats)",
        description="Runs io.trino:trino-cli (the server's version, from Maven Central, sha1-checked and "
        "cached) through infra/trino/trino.sh shell, against the local server and its Delta catalog.",
        # Every argument, options included (--execute, --help), belongs to Trino's CLI.
        prefix_chars="+",
        add_help=False,
    )
    a.add_argument(
        "cli_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="passed to Trino's CLI, e.g. --execute 'show tables from gold' or --output-format CSV",
    )
    a.set_defaults(func=_cmd_shell)


def _cmd_register(args) -> int:
    from deltalake import DeltaTable

    settings = options.settings(args)
    specs = tables.ALL
    # Tables derived outside the job (the order read model, quality verdicts, the batch report),
    # once they have been written: Trino registers a Delta log, not a name.
    not_yet = []
    for spec in (*tables.DERIVED, tables.DAILY_REPORT):
        if DeltaTable.is_deltatable(
            lakehouse_trino.table_location(settings, spec), storage_options=settings.reader_storage_options()
        ):
            specs += (spec,)
        else:
            not_yet.append(spec.name)
    with lakehouse_trino.connect() as conn:
        outcome = lakehouse_trino.register_tables(conn, settings, specs)
    unchanged = sum(1 for v in outcome.values() if v == "unchanged")
    print(f"{len(outcome)} tables registered in Trino ({unchanged} already were) from {settings.tables_uri()}")
    for name in not_yet:
        print(f"{name}: not written yet, not registered; run this again once {_WRITERS[name]} has written it")
    return 0


# Who writes each table registered only once it exists.
_WRITERS = {
    tables.ORDERS_CURRENT.name: "`lakehouse follow` (or `orders-current`)",
    tables.QUALITY_RESULTS.name: "`lakehouse quality check`",
    tables.DAILY_REPORT.name: "`lakehouse batch-report`",
}


def _parse_as_of(items: list[str]) -> dict[str, int]:
    versions = {}
    for item in items:
        name, _, version = item.partition("=")
        if not version.isdigit():
            raise SystemExit(f"--as-of wants TABLE=VERSION, got {item!r}")
        versions[name] = int(version)
    return versions


def _cmd_query(args) -> int:
    import trino

    if args.file:
        statement = Path(args.file).read_text(encoding="utf-8")
    elif args.report:
        statement = lakehouse_trino.load_report(args.report)
    else:
        statement = args.statement
    if statement is None:
        return lakehouse_trino.shell()
    versions = _parse_as_of(args.as_of)
    with lakehouse_trino.connect() as conn:
        try:
            print(
                lakehouse_trino.format_table(
                    lakehouse_trino.query(conn, lakehouse_trino.pin_versions(statement, versions))
                )
            )
        except trino.exceptions.TrinoQueryError as error:
            print(f"query failed: {error.message}", file=sys.stderr)
            return 1
    return 0


def _cmd_reports(args) -> int:
    with lakehouse_trino.connect() as conn:
        for name in lakehouse_trino.report_names():
            print(f"\n== {name}")
            print(lakehouse_trino.format_table(lakehouse_trino.query(conn, lakehouse_trino.load_report(name))))
    return 0


def _cmd_shell(args) -> int:
    return lakehouse_trino.shell(args.cli_args)
