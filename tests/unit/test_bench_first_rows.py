"""The embedded benchmark's first-rows clock (when a reader could first see rows of `lakehouse run`,
against the run's wall time) and the timer of the steps before its job runs (bench/start.py)."""

from __future__ import annotations

import time

from bench import phases, report, start
from lakehouse import config
from lakehouse.lake import storage, tables

# The least a results file holds for report.render (test modules do not import each other).
RESULTS = {
    "mode": "short",
    "label": "",
    "started": "2026-12-01T07:00:00+00:00",
    "machine": {"cores": "2"},
    "durations": {"total_s": 60.0},
}
EMBEDDED = {
    "minutes_of_event_time": 60,
    "events": 235_731,
    "pipeline_seconds": 31.3,
    "events_per_second": 7_542,
    "wall_seconds": 36.0,
}


def test_a_created_table_is_not_a_commit_with_rows_but_its_version_1_is(tmp_path):
    log_dir = tmp_path / "silver" / "_delta_log"
    log_dir.mkdir(parents=True)
    (log_dir / f"{0:020d}.json").write_text("{}")
    assert phases.first_commit([tmp_path / "missing" / "_delta_log", log_dir]) is None
    (log_dir / f"{1:020d}.json").write_text("{}")
    assert phases.first_commit([tmp_path / "missing" / "_delta_log", log_dir]) == log_dir / f"{1:020d}.json"


def test_the_watch_notes_the_seconds_to_the_first_commit_of_any_table(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    started = time.monotonic()
    watch = phases.FirstRows(settings, started, poll=0.02)
    time.sleep(0.2)
    assert watch.seconds is None
    log_dir = tmp_path / "tables" / tables.ANOMALIES.path / "_delta_log"
    assert str(log_dir.parent) == storage.table_uri(settings, tables.ANOMALIES)
    log_dir.mkdir(parents=True)
    (log_dir / f"{1:020d}.json").write_text("{}")
    deadline = time.monotonic() + 5
    while watch.seconds is None and time.monotonic() < deadline:
        time.sleep(0.02)
    seconds = watch.stop()
    assert seconds is not None and 0.2 <= seconds < 5.5


def test_a_watch_that_saw_nothing_reports_none(tmp_path):
    watch = phases.FirstRows(config.load("embedded", data_dir=tmp_path), time.monotonic(), poll=0.02)
    assert watch.stop() is None


def test_the_report_gives_the_first_rows_share_and_judges_it_against_a_third():
    early = dict(EMBEDDED, first_rows_seconds=10.8, first_rows_share=0.3)
    text = report.render({**RESULTS, "embedded": early})
    row = next(line for line in text.splitlines() if line.startswith("| 60 min"))
    assert row.split("|")[-2].strip() == "10.8 (30%)"
    assert "first rows committed within a third of its wall time: met (30%)" in text
    late = dict(EMBEDDED, first_rows_seconds=24.0, first_rows_share=0.667)
    assert "within a third of its wall time: MISSED (67%)" in report.render({**RESULTS, "embedded": late})


def test_results_from_before_the_clock_render_a_dash_and_no_verdict():
    text = report.render({**RESULTS, "embedded": EMBEDDED})
    assert "within a third" not in text
    row = next(line for line in text.splitlines() if line.startswith("| 60 min"))
    assert row.split("|")[-2].strip() == "-"


def test_the_start_steps_are_timed_from_the_start_each_with_its_own_share():
    printed: list[str] = []
    steps = start.Steps(out=printed.append)
    time.sleep(0.1)
    steps.mark("one")
    time.sleep(0.2)
    steps.mark("two")
    (first, at_first), (second, at_second) = steps.marks
    assert (first, second) == ("one", "two")
    assert 0.1 <= at_first < at_second and at_second >= 0.3
    assert printed[1].endswith("two") and f"+{at_second - at_first:4.1f}" in printed[1]
