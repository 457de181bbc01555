"""`make unit`, `make test-minicluster` and `make test-stack` together select every test exactly once,
and a test without exactly one tier stops the collection (tests/conftest.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from tests.conftest import INTEGRATION, TESTS, UNIT, tier_of

REPO = TESTS.parent
TARGETS = ("unit", "test-minicluster", "test-stack")


def _marker_expression(target: str) -> str:
    """The ``-m`` expression the Makefile target hands to pytest."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(rf"^{re.escape(target)}:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe, f"make {target} is missing"
    expression = re.search(r"pytest -m (\"[^\"]+\"|\S+)", recipe.group(1))
    assert expression, f"make {target} does not select tests by marker: {recipe.group(1)}"
    return expression.group(1).strip('"')


# One collection of the whole tree in a child pytest, printing each test's markers as JSON lines.
_COLLECT = """
import json, sys, pytest

class Markers:
    def pytest_collection_finish(self, session):
        for item in session.items:
            print("MARKERS " + json.dumps([item.nodeid, sorted({m.name for m in item.iter_markers()})]))

sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[Markers()]))
"""


def _markers_per_test() -> dict[str, set[str]]:
    result = subprocess.run([sys.executable, "-c", _COLLECT], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line[8:]) for line in result.stdout.splitlines() if line.startswith("MARKERS ")]
    return {nodeid: set(names) for nodeid, names in rows}


def test_the_three_tier_targets_select_every_test_once():
    markers = _markers_per_test()
    assert len(markers) > 100
    expressions = {target: Expression.compile(_marker_expression(target)) for target in TARGETS}
    for nodeid, names in markers.items():
        chosen = [t for t, e in expressions.items() if e.evaluate(lambda name, /, **_: name in names)]  # noqa: B023
        assert len(chosen) == 1, f"{nodeid} (markers {sorted(names)}) is run by {chosen or 'no target'}"


@pytest.mark.parametrize(
    ("path", "fixtures", "integration_marked", "tier"),
    [
        (UNIT / "test_x.py", ["tmp_path"], False, "unit"),
        (UNIT / "test_x.py", ["local_stack"], False, None),
        (UNIT / "test_x.py", [], True, None),
        (INTEGRATION / "test_x.py", ["tmp_path"], True, "minicluster"),
        (INTEGRATION / "test_x.py", ["trino_server", "local_stack"], True, "stack"),
        (TESTS / "test_x.py", [], False, None),
        (Path("/elsewhere/test_x.py"), [], False, None),
    ],
)
def test_a_test_gets_its_tier_from_its_folder_and_fixtures(path, fixtures, integration_marked, tier):
    assert tier_of(path, fixtures=fixtures, integration_marked=integration_marked) == tier


def imported_test_modules(path: Path) -> list[str]:
    """The ``test_*`` modules a file imports (shared helpers belong in conftest.py or a helper module)."""
    import ast

    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return sorted({name for name in names if name.rpartition(".")[2].startswith("test_")})


def test_no_test_module_imports_another():
    offenders = {
        str(path.relative_to(REPO)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if (imported := imported_test_modules(path))
    }
    assert offenders == {}, "move what they share to a conftest.py fixture or a helper module"


def test_an_import_of_a_test_module_is_found(tmp_path):
    source = tmp_path / "test_b.py"
    source.write_text("from tests.integration.test_a import helper\nfrom tests import compare\n")
    assert imported_test_modules(source) == ["tests.integration.test_a"]
