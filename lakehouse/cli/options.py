"""From a command's parsed arguments to Settings: the one place the CLI turns --profile,
--data-dir and --parallelism into the configuration every command runs with."""

from __future__ import annotations

import argparse
from pathlib import Path

from lakehouse import config


def settings(args: argparse.Namespace) -> config.Settings:
    """The profile's settings (environment variables included) with the options the command was given."""
    overrides = {"parallelism": getattr(args, "parallelism", None)}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return config.load(getattr(args, "profile", None), **overrides)
