"""`lakehouse cdc ...`: register the Debezium connector, report its state, write backoffice changes."""

from __future__ import annotations

import argparse
import json

from lakehouse.cli import options
from lakehouse.sources import backoffice, cdc, generator


def cmd_register(args: argparse.Namespace) -> int:
    settings = options.settings(args)
    cdc_settings = cdc.load_settings()
    if args.print_config:
        print(json.dumps(cdc.connector_config(settings, cdc_settings), indent=2))
        return 0
    cdc.register(settings, cdc_settings)
    print(f"registered connector {cdc_settings.connector} at {cdc_settings.connect_rest}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    report = cdc.status(cdc.load_settings())
    tasks = ", ".join(f"task {t['id']} {t['state']}" for t in report.get("tasks", [])) or "no tasks"
    print(f"{report['name']}: connector {report['connector']['state']}; {tasks}")
    for task in report.get("tasks", []):
        if task.get("trace"):
            print(task["trace"].splitlines()[0])
    return 0 if cdc.is_running(report) else 1


def cmd_write(args: argparse.Namespace) -> int:
    dataset = generator.generate(
        generator.GeneratorConfig(seed=args.seed, minutes=args.minutes, orders_per_second=args.rate)
    )
    items = backoffice.changes([*dataset.customers, *dataset.products])
    snapshot = [c for c in items if c.op == "r"]
    later = sorted((c for c in items if c.op != "r"), key=lambda c: c.at_ms)
    office = backoffice.Backoffice(cdc.load_settings())
    if args.phase in ("snapshot", "all"):
        office.execute("\n".join(["begin;", *(c.sql for c in snapshot), "commit;"]))
        print(f"backoffice: {len(snapshot)} rows inserted in one transaction")
    if args.phase in ("changes", "all"):
        office.apply(later, changes_per_second=args.changes_per_second)
        print(f"backoffice: {len(later)} changes applied")
    return 0


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cdc", help="change data capture: the Debezium connector and the backoffice writer")
    cdc_sub = p.add_subparsers(dest="cdc_command", required=True, metavar="action")
    r = cdc_sub.add_parser("register", parents=[common], help="create or update the Debezium connector (Connect REST)")
    r.add_argument("--print-config", action="store_true", help="only print the connector configuration")
    r.set_defaults(func=cmd_register)
    s = cdc_sub.add_parser(
        "status", parents=[common], help="the connector's and its task's state (exit 1 unless running)"
    )
    s.set_defaults(func=cmd_status)
    w = cdc_sub.add_parser(
        "write", parents=[common], help="apply the generator's customer and product changes to PostgreSQL"
    )
    w.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    w.add_argument("--minutes", type=int, default=60, help="minutes of event time (default 60)")
    w.add_argument("--rate", type=float, default=14.0, help="the generator's orders per second (default 14)")
    w.add_argument("--phase", choices=("snapshot", "changes", "all"), default="all",
                   help="snapshot: the initial rows in one transaction; changes: the rest in time order")  # fmt: skip
    w.add_argument("--changes-per-second", type=float, help="throttle the changes (default: as fast as possible)")
    w.set_defaults(func=cmd_write)
