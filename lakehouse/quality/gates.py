"""Data-quality gates: validate a table version with its great-expectations suite and record the
verdict in ``meta.quality_results``, so readers can pin validated versions only.

How it fits together:
1. ``validate(settings, table, version=None)`` reads the table at that Delta version (default:
   the latest), builds the table's checks (``lakehouse.quality.suites``), runs each with great
   expectations 1.x on pandas, and returns a ``Report``: one ``Finding`` per expectation.
2. A version passes when no critical expectation failed; warnings are reported, not blocking.
3. ``record`` appends the verdict to ``meta.quality_results`` (table_name, table_version, suite,
   success, counts, the failed expectations as JSON, the versions of the other tables a
   cross-table check read, checked_at). Appends never conflict; re-checking a version adds a row
   and the newest check of a (table, version, suite) is the one that counts.
4. ``latest_validated_version(table)`` is the newest version whose newest check under the current
   suite passed: what a reader (a training set, a report) should pin.

Table versions are immutable, so a verdict about one stays true; a changed suite gets a new
``SUITE_VERSION`` and its own verdicts.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from lakehouse.config import Settings
from lakehouse.lake import catalog, storage, tables
from lakehouse.lake.tables import QUALITY_RESULTS, TableSpec

SUITE_VERSION = 1

_EXAMPLES = 5


@dataclass(kw_only=True)
class Finding:
    """The outcome of one expectation on one check's frame."""

    check: str
    name: str
    expectation: str
    description: str
    severity: str
    success: bool
    unexpected: int | None = None
    rows: int | None = None
    examples: list = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        mark = "ok  " if self.success else ("WARN" if self.severity == "warning" else "FAIL")
        text = f"{mark} [{self.check}] {self.name}"
        if not self.success:
            if self.error:
                text += f": error {self.error}"
            elif self.unexpected is not None:
                text += f": {self.unexpected:,} of {self.rows:,} rows"
            if self.examples:
                text += f", e.g. {json.dumps(self.examples[:3], default=str)}"
            text += f"\n       ({self.description})"
        return text

    def as_json(self) -> dict:
        return {
            "check": self.check,
            "name": self.name,
            "expectation": self.expectation,
            "severity": self.severity,
            "unexpected": self.unexpected,
            "rows": self.rows,
            "examples": self.examples,
            "error": self.error,
        }


@dataclass(kw_only=True)
class Report:
    table: str
    version: int
    suite: str
    checked_at: datetime
    findings: list[Finding]
    context: dict

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and f.severity != "warning"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and f.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.failures

    def render(self, *, verbose: bool = False) -> str:
        verdict = "VALIDATED" if self.success else "NOT VALIDATED"
        lines = [
            f"{self.table} version {self.version}: {verdict} "
            f"({len(self.findings)} expectations, {len(self.failures)} failed, {len(self.warnings)} warnings; "
            f"suite {self.suite})"
        ]
        lines += [f"  {f.line()}" for f in self.findings if verbose or not f.success]
        for name, value in sorted(self.context.items()):
            lines.append(f"  context {name}: {value}")
        return "\n".join(lines)


def suite_name(table: str) -> str:
    return f"{table}/v{SUITE_VERSION}"


def table_uri(settings: Settings, spec: TableSpec) -> str:
    return f"{settings.tables_uri()}/{spec.path}"


def spec_of(table: str) -> TableSpec:
    if table not in tables.BY_NAME:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(tables.BY_NAME)}")
    return tables.BY_NAME[table]


def checked_tables(settings: Settings | None = None) -> list[str]:
    """Tables with a suite; with ``settings``, only those that exist there."""
    from lakehouse.quality import suites

    names = list(suites.SUITES)
    if settings is None:
        return names
    options = settings.reader_storage_options()
    return [n for n in names if DeltaTable.is_deltatable(table_uri(settings, spec_of(n)), storage_options=options)]


def validate(settings: Settings, table: str, *, version: int | None = None) -> Report:
    """Run ``table``'s suite on one Delta version (default: the latest); nothing is recorded."""
    from lakehouse.quality import suites

    if table not in suites.SUITES:
        raise KeyError(f"no quality suite for {table!r}; suites exist for {', '.join(suites.SUITES)}")
    # One snapshot for the table and every neighbour its suite reads: the pointer is read once
    # and a neighbour read without a version is read at the version it had when the check began.
    snapshot = catalog.snapshot(settings, tuple(tables.BY_NAME.values()))
    delta = snapshot.open(spec_of(table), version=version)
    context: dict = {}
    read_versions: dict[str, int] = {}

    def load(other: str, version: int | None = None) -> pd.DataFrame:
        other_table = snapshot.open(spec_of(other), version=version)
        read_versions[other] = other_table.version()
        return other_table.to_pyarrow_table().to_pandas()

    commit = next((h for h in delta.history() if h.get("version") == delta.version()), {})
    inputs = suites.Inputs(
        settings=settings,
        table=table,
        version=delta.version(),
        frame=delta.to_pyarrow_table().to_pandas(),
        load=load,
        commit_metadata=commit,
        context=context,
    )
    checked_at = datetime.now(UTC)
    findings = []
    for check in suites.SUITES[table](inputs):
        findings += _run_check(check)
    if read_versions:
        context["read_versions"] = read_versions
    return Report(
        table=table,
        version=delta.version(),
        suite=suite_name(table),
        checked_at=checked_at,
        findings=findings,
        context=context,
    )


def check(settings: Settings, table: str, *, version: int | None = None) -> Report:
    """Validate a table version and record the verdict in meta.quality_results."""
    report = validate(settings, table, version=version)
    record(settings, report)
    return report


def ensure_results_table(settings: Settings) -> str:
    uri = table_uri(settings, QUALITY_RESULTS)
    storage.create_table_if_absent(settings, QUALITY_RESULTS, uri)
    return uri


def record(settings: Settings, report: Report) -> None:
    """Append one verdict row to meta.quality_results."""
    import great_expectations as gx

    uri = ensure_results_table(settings)
    row = {
        "table_name": report.table,
        "table_version": report.version,
        "suite": report.suite,
        "success": report.success,
        "evaluated": len(report.findings),
        "failed": len(report.failures),
        "warnings": len(report.warnings),
        "failed_expectations": json.dumps(
            [f.as_json() for f in report.findings if not f.success], default=str, sort_keys=True
        ),
        "context": json.dumps(report.context, default=str, sort_keys=True),
        "checked_at": report.checked_at,
        "ge_version": gx.__version__,
    }
    write_deltalake(
        uri,
        pa.Table.from_pylist([row], schema=QUALITY_RESULTS.arrow_schema()),
        mode="append",
        storage_options=settings.storage_options(),
    )


def results(settings: Settings, tables_: Iterable[str] | None = None) -> pd.DataFrame:
    """Every recorded check, newest first (empty when nothing was checked yet)."""
    uri = table_uri(settings, QUALITY_RESULTS)
    options = settings.reader_storage_options()
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return QUALITY_RESULTS.arrow_schema().empty_table().to_pandas()
    df = DeltaTable(uri, storage_options=options).to_pyarrow_table().to_pandas()
    if tables_ is not None:
        df = df[df["table_name"].isin(list(tables_))]
    return df.sort_values(["checked_at", "table_name", "table_version"], ascending=False).reset_index(drop=True)


def verdicts(settings: Settings, table: str, *, suite: str | None = None) -> dict[int, bool]:
    """table version -> whether its newest check under ``suite`` (default: the current one) passed."""
    df = results(settings, [table])
    df = df[df["suite"] == (suite or suite_name(table))]
    newest = df.sort_values("checked_at").groupby("table_version").tail(1)
    return {int(v): bool(s) for v, s in zip(newest["table_version"], newest["success"], strict=True)}


def validated_versions(table: str, *, settings: Settings | None = None) -> list[int]:
    from lakehouse import config

    settings = settings or config.load()
    return sorted(v for v, ok in verdicts(settings, table).items() if ok)


def latest_validated_version(table: str, *, settings: Settings | None = None) -> int | None:
    """The newest version of ``table`` that passed its current suite, or None."""
    versions = validated_versions(table, settings=settings)
    return versions[-1] if versions else None


def _run_check(check) -> list[Finding]:
    import great_expectations as gx

    context = _gx_context()
    source = context.data_sources.get("lakehouse")
    asset_name = f"check-{next(_ASSET_NUMBERS)}"
    asset = source.add_dataframe_asset(asset_name)
    try:
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": check.frame}
        )
        suite = gx.ExpectationSuite(name=asset_name)
        for expectation in check.expectations:
            suite.add_expectation(expectation)
        result = batch.validate(
            suite,
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": check.index,
                "partial_unexpected_count": _EXAMPLES,
            },
        )
    finally:
        source.delete_asset(asset_name)
    by_name = {r.expectation_config.meta["name"]: r for r in result.results}
    return [_finding(check.name, e, by_name[e.meta["name"]]) for e in check.expectations]


def _finding(check_name: str, expectation, result) -> Finding:
    info = result.exception_info or {}
    errors = [v for v in info.values() if isinstance(v, dict)] or [info]
    error = next((e.get("exception_message") for e in errors if e.get("raised_exception")), None)
    details = result.result or {}
    examples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return Finding(
        check=check_name,
        name=expectation.meta["name"],
        expectation=result.expectation_config.type,
        description=expectation.description or "",
        severity=str(getattr(expectation.severity, "value", expectation.severity)).lower(),
        success=bool(result.success),
        unexpected=details.get("unexpected_count"),
        rows=details.get("element_count"),
        examples=[_plain(e) for e in examples[:_EXAMPLES]],
        error=error,
    )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return value


_CONTEXT = None
_ASSET_NUMBERS = itertools.count(1)


def _gx_context():
    """One in-memory great-expectations context per process: no files, no analytics, no progress bars."""
    global _CONTEXT
    if _CONTEXT is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        context.data_sources.add_pandas("lakehouse")
        _CONTEXT = context
    return _CONTEXT
