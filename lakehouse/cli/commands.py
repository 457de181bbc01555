"""The `lakehouse` command line: one entry point, `--help` on every command. The commands live by
concern in run.py, operate.py, data.py, trino.py, batch_report.py and cdc.py; this module builds
the parser from them and runs one command."""

from __future__ import annotations

import argparse
import os
import sys

from lakehouse import config
from lakehouse.cli import batch_report as batch_report_cli
from lakehouse.cli import cdc as cdc_cli
from lakehouse.cli import data as cli_data
from lakehouse.cli import errors, operate, run
from lakehouse.cli import trino as trino_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description="PyFlink jobs writing Delta Lake tables.")
    debug_help = "on a failure, print the traceback too (default: one line; also $LAKEHOUSE_DEBUG=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `lakehouse --debug <command>`.
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    common.add_argument(
        "--profile", choices=config.PROFILES, help="configuration profile (default: $LAKEHOUSE_PROFILE or embedded)"
    )
    common.add_argument(
        "--data-dir", help="embedded data directory (default: $LAKEHOUSE_DATA_DIR or ~/.local/share/lakehouse/embedded)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    run.add_commands(sub, common)  # run, generate, produce, follow, summary, history
    p = sub.add_parser(
        "serve", parents=[common], help="the dashboard, WebSocket push and REST API over the job's speed topics"
    )
    from lakehouse.serve import main as serve_main

    serve_main.add_arguments(p)
    p.set_defaults(func=serve_main.run)
    operate.add_commands(sub, common)  # submit, app, package, replay, switch, jobs, maintain
    trino_cli.add_commands(sub, common)
    batch_report_cli.add_commands(sub, common)
    cli_data.add_commands(sub, common)  # quality, orders-current, training-set
    cdc_cli.add_commands(sub, common)  # cdc register, status, write
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A failure is one line on stderr and a non-zero exit; the traceback only
    with --debug (or $LAKEHOUSE_DEBUG=1)."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("LAKEHOUSE_DEBUG", "") not in ("", "0")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        print(f"lakehouse {args.command}: {errors.describe(error)} (--debug shows the traceback)", file=sys.stderr)
        return 1
