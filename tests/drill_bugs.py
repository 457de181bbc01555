"""The bugs the bug-fix drills deploy before their fix, kept on the test side.

Production code holds one version of each function. A drill runs the code "before the fix" the way
an operator would have: a copy of this checkout with one edit (``checkout``), submitted from that
copy, so its release archive carries the bug to the cluster. The fix is then the repository itself.
Each bug is one or more exact text replacements in one file; ``apply`` fails when a fixed text is no
longer there exactly once, so a change of the production code cannot make a drill silently run the fix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What `lakehouse submit` reads from a checkout: the code it packages and runs, what the job reads
# (config/, sql/), the Java sources it compiles, and the scripts that find Flink (infra/).
CODE = ("lakehouse", "jobs", "udfs", "config", "sql", "connectors", "infra", "requirements.lock", "pyproject.toml")


@dataclass(frozen=True)
class Bug:
    """One wrong change of ``path``: in each edit, the fixed text becomes the buggy one."""

    path: str
    edits: tuple[tuple[str, str], ...]
    what: str


# Compatible with the fix's state: the conversion multiplies by the rate (units of currency per
# EUR) instead of dividing, in the plain function and in the batch the job calls. The plan, its
# operator uids and its state layout stay the same.
CURRENCY = Bug(
    path="udfs/currency.py",
    edits=(
        ("return contract.to_eur(amount, currency)", "return round(amount * contract.RATES_PER_EUR[currency], 2)"),
        ("na_value=np.nan) / rates", "na_value=np.nan) * rates"),
    ),
    what="the EUR conversion multiplies by the rate",
)
# Incompatible: distinct_customers of the 5m and 1h windows counts customer-minutes. The fix (a
# distinct count keeps a set per window in state) changes the aggregates' state layout.
METRICS = Bug(
    path="sql/flink/fct_order_metrics_rollup.sql",
    edits=(("count(distinct customer_id) as distinct_customers", "count(customer_id) as distinct_customers"),),
    what="5m and 1h distinct_customers count customer-minutes",
)


def apply(bug: Bug, root: Path) -> None:
    """Edit ``root``'s copy of the bug's file in place."""
    path = root / bug.path
    text = path.read_text()
    for fixed, buggy in bug.edits:
        found = text.count(fixed)
        if found != 1:
            raise AssertionError(f"{bug.path} holds {fixed!r} {found} times, expected once: update tests/drill_bugs.py")
        text = text.replace(fixed, buggy)
    path.write_text(text)


def checkout(bug: Bug, target: Path) -> Path:
    """A copy of this checkout's code at ``target`` with ``bug`` in it; returns ``target``."""
    ignore = shutil.ignore_patterns("__pycache__", "target", "*.pyc", ".env")
    for name in CODE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, symlinks=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    apply(bug, target)
    return target
