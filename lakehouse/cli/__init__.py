"""The `lakehouse` command line (commands.py), with the commands on the tables (data.py), on change
data capture (cdc.py) and the one-line failure messages (errors.py)."""

from lakehouse.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
