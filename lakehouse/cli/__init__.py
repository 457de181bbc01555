"""The `lakehouse` command line: commands.py builds the parser and runs a command; run.py (the
embedded run and reading its tables), operate.py (the job on a cluster, table versions,
maintenance), data.py (quality, read model, training sets), trino.py, batch_report.py and cdc.py
add their groups of commands; options.py turns a command's options into Settings; errors.py makes
a failure one line."""

from lakehouse.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
