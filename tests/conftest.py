"""Test tiers: every test belongs to exactly one of ``unit``, ``minicluster`` and ``stack``.

The tier follows from where a test lives and what it uses: tests/unit/ is ``unit`` (no services, no
mini-cluster); a test in tests/integration/ is ``stack`` when it uses the ``local_stack`` fixture
(directly or through another fixture) and ``minicluster`` otherwise, and is also marked
``integration``. `make unit`, `make test-minicluster` and `make test-stack` select one tier each, so
together they run every test once. A test outside those folders, or one in tests/unit/ that asks
for the stack or carries the ``integration`` marker, fails the collection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
UNIT, INTEGRATION = TESTS / "unit", TESTS / "integration"
TIERS = ("unit", "minicluster", "stack")


def tier_of(path: Path, *, fixtures: list[str], integration_marked: bool) -> str | None:
    """The tier of a test from its file and fixtures; None when it has no single tier."""
    if path.is_relative_to(UNIT):
        return None if integration_marked or "local_stack" in fixtures else "unit"
    if path.is_relative_to(INTEGRATION):
        return "stack" if "local_stack" in fixtures else "minicluster"
    return None


def pytest_collection_modifyitems(items):
    untiered = []
    for item in items:
        markers = {marker.name for marker in item.iter_markers()}
        tier = tier_of(Path(str(item.path)), fixtures=item.fixturenames, integration_marked="integration" in markers)
        if tier is None or markers & (set(TIERS) - {tier}):
            untiered.append(item.nodeid)
            continue
        item.add_marker(getattr(pytest.mark, tier))
        if tier != "unit":
            item.add_marker(pytest.mark.integration)
    if untiered:
        raise pytest.UsageError(
            "tests without exactly one tier (unit, minicluster, stack; see tests/conftest.py):\n  "
            + "\n  ".join(untiered)
        )
