"""The benchmark's report: rendering a run's results and splicing them into BENCHMARKS.md."""

from __future__ import annotations

from bench import report
from bench.freshness import watermark_passed_at

RESULTS = {
    "mode": "short",
    "label": "",
    "started": "2026-11-27T11:00:00+00:00",
    "machine": {"cores": "2"},
    "load_average_at_start": "1.00 1.00 1.00",
    "durations": {"total_s": 170.0},
    "input": {"records": 40_000, "order_events": 39_900, "produce_seconds": 1.5},
    "throughput": [
        {
            "sink": "delta",
            "parallelism": 2,
            "events": 40_000,
            "flink_seconds": 10.0,
            "flink_events_per_second": 4000.0,
            "e2e_seconds": 12.0,
            "e2e_events_per_second": 3333.3,
            "submit_seconds": 20.0,
        },
        {
            "sink": "blackhole",
            "parallelism": 2,
            "events": 40_000,
            "flink_seconds": 8.0,
            "flink_events_per_second": 5000.0,
            "after_first_record_events_per_second": 6000.0,
            "submit_seconds": 20.0,
        },
        {
            "sink": "parse-only",
            "parallelism": 2,
            "events": 40_000,
            "flink_seconds": 5.0,
            "flink_events_per_second": 8000.0,
            "after_first_record_events_per_second": 9600.0,
            "submit_seconds": 20.0,
        },
    ],
    "queries": [],
    "memory_peak_bytes": {"stack": {"kafka": 400 * 1024 * 1024}},
}


def test_render_shows_the_ratio_and_the_missed_targets():
    text = report.render(RESULTS)
    assert "| p2 " in text
    assert "0.80" in text  # 4000 / 5000 on Flink's clocks
    # The parse-only reference (9,600 ev/s after the first record), and the ceiling's 6,000 against it.
    assert " 9,600 | " in text and " 0.62 | " in text
    assert "end to end >= 50,000 events/s: MISSED (best 3,333 at p2)" in text
    assert "end to end / ceiling >= 0.85 at p2: MISSED (0.67: rows readable in Delta" in text
    assert "| stack | kafka     |          400 |" in text


def test_render_tables_the_taskmanager_threads_of_the_runs_that_watched_them():
    assert "thread group" not in report.render(RESULTS)
    watched = {**RESULTS, "throughput": [dict(run) for run in RESULTS["throughput"]]}
    watched["throughput"][1] |= {
        "cpu_seconds": {"flink-taskmanager": 30.0},
        "taskmanager_threads": {"OverAggregate[": 12.5, "C2 CompilerThre": 7.0},
    }
    watched["throughput"][2] |= {
        "cpu_seconds": {"flink-taskmanager": 10.0},
        "taskmanager_threads": {"C2 CompilerThre": 4.0},
    }
    lines = report.render(watched).splitlines()
    header = next(line for line in lines if line.startswith("| thread group"))
    assert [c.strip() for c in header.split("|")[2:4]] == ["blackhole p2", "parse-only p2"]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]] for line in lines if "|" in line}
    assert rows["OverAggregate["] == ["12.5", "0.0"]  # a group a run did not have counts 0
    assert rows["C2 CompilerThre"] == ["7.0", "4.0"]
    assert rows["TaskManager, all threads"] == ["30.0", "10.0"]


def test_update_file_keeps_notes_around_the_markers(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    report.update_file(path, "first\n")
    path.write_text("# Benchmarks\n\nnotes before\n\n" + path.read_text().split("\n\n", 1)[1] + "\nnotes after\n")
    report.update_file(path, "second\n")
    text = path.read_text()
    assert "notes before" in text and "notes after" in text
    assert "second" in text and "first" not in text
    assert text.count(report.BEGIN) == 1


def test_watermark_passes_when_the_last_partition_reaches_the_threshold():
    # partition -> (produced at, event time ms); the watermark delay is 5 s
    produced = {0: [(1.0, 50_000), (2.0, 65_000)], 1: [(1.5, 64_000), (3.0, 66_000)]}
    assert watermark_passed_at(produced, 60_000) == 3.0  # partition 1 reaches 65,000 only at t=3
    assert watermark_passed_at(produced, 45_000) == 1.5
    assert watermark_passed_at(produced, 70_000) is None


def test_a_variant_parses_to_its_settings_and_rejects_unknown_keys():
    import pytest

    from bench.run import parse_variant

    assert parse_variant("checkpoint_interval_ms=2000,state_backend=rocksdb") == {
        "checkpoint_interval_ms": 2000.0,
        "state_backend": "rocksdb",
    }
    assert parse_variant("state_backend=hashmap") == {"state_backend": "hashmap"}
    # Source options keep their own '=' and ';' (the variant splits on ',' and the first '=').
    assert parse_variant("order_source_options=properties.max.partition.fetch.bytes=;scan.x=1 min") == {
        "order_source_options": "properties.max.partition.fetch.bytes=;scan.x=1 min"
    }
    assert parse_variant("flink_options=state.storage.fs.memory-threshold=1mb") == {
        "flink_options": "state.storage.fs.memory-threshold=1mb"
    }
    assert parse_variant("state_backend=hashmap,sink=blackhole") == {"state_backend": "hashmap", "sink": "blackhole"}
    with pytest.raises(ValueError):  # a sink the throughput run does not know
        parse_variant("sink=kafka")
    with pytest.raises(ValueError):
        parse_variant("parallelism=4")
    with pytest.raises(ValueError):  # the committer process is gone, and its interval with it
        parse_variant("commit_interval=0.5")


def test_render_lists_variants_beside_the_baseline():
    results = {
        **RESULTS,
        "settings": {"checkpoint_interval_ms": 5000},
        "freshness": None,
        "variants": [{"variant": "checkpoint_interval_ms=2000", "throughput": {"e2e_events_per_second": 3000.0}}],
    }
    text = report.render(results)
    assert "baseline (checkpoint 5000 ms)" in text
    assert "| checkpoint_interval_ms=2000" in text


def test_render_compares_the_sink_commit_on_a_large_table_with_an_empty_one():
    run = {"commits": 20, "rows_per_commit": 2000, "first_commit_ms": 40.0, "p90_commit_ms": 30.0}
    results = {
        **RESULTS,
        "commits": {
            "empty": {**run, "median_commit_ms": 20.0},
            "large": {**run, "median_commit_ms": 23.0},
            "large_rows": 10_000_000,
        },
    }
    text = report.render(results)
    assert "Median commit on the large table / on the empty one: 1.15." in text
    assert "- commit on 10,000,000 rows within 20 % of the empty table's: met (1.15)" in text


def test_a_version_pinned_as_another_pin_is_reported_with_that_pins_value():
    from bench import machine

    versions = machine._stack_versions()
    assert versions["connect_version"] == versions["kafka_version"]
    assert not any(value.startswith("$") for value in versions.values())


def test_render_puts_the_spark_peer_beside_the_pipeline_with_ratios():
    results = {
        **RESULTS,
        "throughput": [{**RESULTS["throughput"][0], "first_record_s": 2.0}, RESULTS["throughput"][1]],
        "freshness": {
            **{"produced_silver_events": 100, "silver_seen": 100, "rate": 1000.0, "poll_every_s": 0.5},
            **{"checkpoint_interval_ms": 2000, "gold_rows": 5, "silver_max_s": 5.0, "gold_max_s": 13.0},
            **{"silver_p50_s": 2.0, "silver_p99_s": 4.0, "gold_p50_s": 9.0, "gold_p99_s": 12.0},
        },
        "peers": [
            {
                "engine": "spark",
                "cores": 2,
                "throughput": {
                    "events": 40_000,
                    "e2e_seconds": 24.0,
                    "e2e_events_per_second": 40_000 / 24.0,
                    "first_record_s": 4.0,
                    "submit_seconds": 15.0,
                },
                "freshness": {"silver_p50_s": 4.0, "silver_p99_s": 16.0, "gold_p50_s": 9.0, "gold_p99_s": 24.0},
            }
        ],
        "memory_peak_bytes": {
            "stack": {"flink-jobmanager": 500 << 20, "flink-taskmanager": 1000 << 20},
            "stack-spark": {"spark peer (driver JVM + python)": 1200 << 20},
        },
    }
    text = report.render(results)
    assert "This project vs Spark Structured Streaming" in text
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "2.00" in lines["events/s end to end"]  # 3,333 / 1,667
    assert "2.00" in lines["events/s after the first record (to e2e)"]  # 40k/10 s vs 40k/20 s
    assert "0.25" in lines["silver freshness p99 s"]
    assert "1.25" in lines["peak RSS MiB"]  # 1,500 / 1,200


def test_memory_counts_only_the_services_of_its_own_stack():
    from bench.memory import is_own

    ours = "java -Dlog.file=/work/state-a/flink/log/tm.log org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
    theirs = ours.replace("/work/state-a/", "/root/.local/state/lakehouse/")
    assert is_own("flink-taskmanager", ours, "/work/state-a")
    assert not is_own("flink-taskmanager", theirs, "/work/state-a")
    assert not is_own("kafka", "java kafka.Kafka /work/state-ab/kafka/server.properties", "/work/state-a")
    assert is_own("flink run client (submission)", "java org.apache.flink.client.cli.CliFrontend run", "/work/state-a")


def test_freshness_figures_measure_silver_from_create_time_and_gold_from_the_watermark():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from bench.freshness import freshness_figures
    from lakehouse import contract

    window_end = datetime(2026, 11, 30, 12, 1, tzinfo=UTC)
    end_ms = int(window_end.timestamp() * 1000)
    produced = SimpleNamespace(
        silver_at={"e1": 100.0, "e2": 101.0, "e3": 102.0},
        # partition 0 passes window end + delay at 110 s, partition 1 at 112 s: the watermark at 112 s
        by_partition={
            0: [(105.0, end_ms), (110.0, end_ms + contract.WATERMARK_DELAY_MS)],
            1: [(112.0, end_ms + contract.WATERMARK_DELAY_MS + 1)],
        },
    )
    reader = SimpleNamespace(
        first_seen={
            "silver.order_events": {("e1",): 103.0, ("e2",): 105.0},  # e3 never seen
            "gold.order_metrics_1m": {(window_end, "EU", "books"): 120.0},
        }
    )
    figures = freshness_figures(produced, reader)
    assert figures["produced_silver_events"] == 3 and figures["silver_seen"] == 2
    assert figures["silver_max_s"] == 4.0
    assert figures["gold_rows"] == 1 and figures["gold_max_s"] == 8.0


def test_render_gives_cpu_seconds_per_100k_events_for_each_run():
    results = dict(RESULTS)
    results["throughput"] = [
        {**RESULTS["throughput"][0], "cpu_seconds": {"flink-taskmanager": 20.0, "seaweedfs": 4.0}},
        {**RESULTS["throughput"][1], "cpu_seconds": {"flink-taskmanager": 12.0}},
    ]
    text = report.render(results)
    assert "### CPU seconds per 100,000 events, per service" in text
    # 40,000 events: 20 s -> 50 per 100k; a service a run did not use counts 0.
    assert "| delta p2     |              50.0 |      10.0 | 60.0 |" in text
    assert "| blackhole p2 |              30.0 |       0.0 | 30.0 |" in text


def test_cpu_time_of_a_running_process_grows_and_differences_are_per_service():
    import os

    from bench import memory

    before = memory._cpu_ticks(os.getpid())
    sum(i * i for i in range(2_000_000))  # some CPU work of our own
    assert memory._cpu_ticks(os.getpid()) > before
    assert memory._cpu_ticks(2**22 + 7) == 0  # no such process
    used = memory.cpu_used({"kafka": 1.0}, {"kafka": 3.5, "seaweedfs": 2.0})
    assert used == {"kafka": 2.5, "seaweedfs": 2.0}


def test_commit_costs_take_turns_and_leave_out_each_processs_first_commit(monkeypatch):
    from bench import commits

    turns = []

    def fake_commit_times(settings, *, commits, rows_per_commit, log):
        turns.append(settings)
        # 100 ms for the first commit (it reads the log), then 10 ms (empty) or 11 ms (large).
        steady = 10.0 if settings == "empty-settings" else 11.0
        return {"times_ms": [100.0] + [steady] * (commits - 1)}

    monkeypatch.setattr(commits, "commit_times", fake_commit_times)
    found = commits.compare(
        {"empty": "empty-settings", "large": "large-settings"}, commits=12, rows_per_commit=5, rounds=4, log=print
    )
    assert turns == ["empty-settings", "large-settings", "large-settings", "empty-settings"] * 2
    assert found["empty"]["median_commit_ms"] == 10.0 and found["large"]["median_commit_ms"] == 11.0
    assert found["empty"]["first_commit_ms"] == 100.0 and found["large"]["commits"] == 12
    text = report.render({**RESULTS, "commits": {**found, "large_rows": 1_000}})
    assert "4 rounds in the order empty, large, large, empty" in text
    assert "Median commit on the large table / on the empty one: 1.10." in text


def test_throughput_runs_at_the_jobs_checkpoint_interval_and_freshness_at_two_seconds_unless_told():
    from bench import run

    assert run.checkpoint_intervals(None, run.MODES["full"]) == (5_000, 2_000)
    assert run.checkpoint_intervals(3_000, run.MODES["short"]) == (3_000, 3_000)
