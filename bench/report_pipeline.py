"""Benchmark report sections on the streaming pipeline: throughput against its ceiling, CPU per 100k
events, freshness against the targets, the Spark peer beside it, and the tuning variants."""

from __future__ import annotations

from collections import Counter

from bench.stats import markdown_table, mib, ratio

TARGETS = {"e2e_events_per_second": 50_000, "ratio": 0.85, "silver_p99_s": 5.0, "gold_p99_s": 10.0}
# "delta": the pipeline into Delta through the job's own sink; "staging": results recorded before it
# (Flink's file sink plus a separate committer process).
PIPELINE_SINKS = ("delta", "staging")


def throughput_section(results: dict) -> list[str]:
    runs = results.get("throughput") or []
    if not runs:
        return []
    ceilings = {r["parallelism"]: r for r in runs if r["sink"] == "blackhole"}
    parse_only = {r["parallelism"]: r for r in runs if r["sink"] == "parse-only"}
    rows = []
    for run in runs:
        if run["sink"] not in PIPELINE_SINKS:
            continue
        ceiling = ceilings.get(run["parallelism"], {})
        parsing = parse_only.get(run["parallelism"], {})
        rows.append(
            [
                f"p{run['parallelism']}",
                run["events"],
                run["flink_seconds"],
                run["flink_events_per_second"],
                run.get("e2e_seconds"),
                run.get("e2e_events_per_second"),
                ceiling.get("flink_seconds"),
                ceiling.get("flink_events_per_second"),
                ratio(run["flink_events_per_second"], ceiling.get("flink_events_per_second")),
                ratio(run.get("e2e_events_per_second"), ceiling.get("flink_events_per_second")),
                run.get("silver_commits", run.get("silver_merges")),
                run.get("silver_rows_per_commit_mean"),
                run.get("first_record_s"),
                run.get("after_first_record_events_per_second"),
                ceiling.get("first_record_s"),
                ceiling.get("after_first_record_events_per_second"),
                parsing.get("after_first_record_events_per_second"),
                ratio(
                    ceiling.get("after_first_record_events_per_second"),
                    parsing.get("after_first_record_events_per_second"),
                ),
                run["submit_seconds"],
            ]
        )
    data = results.get("input", {})
    return [
        "### End-to-end throughput and the blackhole ceiling (local stack)",
        "",
        f"{data.get('records', 0):,} records ({data.get('order_events', 0):,} order events, the rest CDC changes; "
        f"{data.get('silver_rows', 0):,} silver rows) produced to Kafka before each run "
        f"({data.get('produce_seconds', 0):.1f}s flat out); each run is the job as deployed (unbounded Kafka "
        "sources) on its own consumer group. Every clock starts at the job's start-time (REST API), so task "
        "deployment and Python worker start count. *Flink s*: until the order-events source operator has "
        "emitted every record (summed numRecordsOut, polled every 0.5 s; backpressure keeps it within a few "
        "buffers of the slowest operator). *e2e s*: until the last "
        "silver.order_events row is readable in Delta on S3, committed by the job's own Delta sink. *first record s*: when the source had emitted its first record (deployment, Python "
        "worker start, first fetch), and the rate from then on to the Flink clock's end, for reference only "
        "(the headline figures subtract nothing). (*silver commits*: the job's commits into silver.order_events "
        "and the rows per commit, from the Delta history). *ceiling*: the same SQL with every sink replaced by Flink's `blackhole` connector. "
        "*parse-only*: the reference the ceiling is held against, the order-events source with its decoding, JSON "
        "parsing, contract and lateness alone into blackhole (`LAKEHOUSE_OUTPUTS=staging`); *ceiling / parse-only* "
        "compares their rates after the first record. "
        "`flink run`'s own submission "
        "time (planning in a Python client, upload) is in neither clock (last column).",
        "",
        markdown_table(
            [
                "parallelism",
                "events",
                "pipeline Flink s",
                "pipeline ev/s",
                "e2e s",
                "e2e ev/s",
                "ceiling Flink s",
                "ceiling ev/s",
                "ratio (Flink clocks)",
                "ratio (e2e / ceiling)",
                "silver commits",
                "rows per commit",
                "pipeline first record s",
                "pipeline ev/s after it",
                "ceiling first record s",
                "ceiling ev/s after it",
                "parse-only ev/s after first record",
                "ceiling / parse-only",
                "submit s",
            ],
            rows,
            digits=2,
        ),
        "",
    ]


def cpu_section(results: dict) -> list[str]:
    runs = [r for r in results.get("throughput") or [] if r.get("cpu_seconds")]
    if not runs:
        return []
    components = sorted({name for run in runs for name in run["cpu_seconds"]})
    rows = []
    for run in runs:
        per_100k = 100_000 / run["events"]
        used = run["cpu_seconds"]
        rows.append(
            [
                f"{run['sink']} p{run['parallelism']}",
                *[used.get(name, 0.0) * per_100k for name in components],
                sum(used.values()) * per_100k,
            ]
        )
    return [
        "### CPU seconds per 100,000 events, per service",
        "",
        "User + system CPU time of each service's processes (from /proc) between the run's submission "
        "and its last clock, per 100,000 input events. Unlike the rates above, CPU time hardly moves "
        "with other work on the machine: the difference between a pipeline run and its ceiling is what "
        "writing the tables costs, and where (the job's own tasks, S3, Kafka).",
        "",
        markdown_table(["run", *components, "all"], rows, digits=1),
        "",
    ]


def threads_section(results: dict, top: int = 12) -> list[str]:
    """The TaskManager's CPU per thread group, per run (``bench.run --threads``)."""
    runs = [r for r in results.get("throughput") or [] if r.get("taskmanager_threads")]
    if not runs:
        return []
    totals = sum((Counter(run["taskmanager_threads"]) for run in runs), Counter())
    groups = [name for name, _seconds in totals.most_common(top)]
    rows = [[name, *[run["taskmanager_threads"].get(name, 0.0) for run in runs]] for name in groups]
    rows.append(["TaskManager, all threads", *[run["cpu_seconds"].get("flink-taskmanager", 0.0) for run in runs]])
    rows.append(["Flink s (job start to last record)", *[run["flink_seconds"] for run in runs]])
    if any("machine_busy_share" in run for run in runs):
        rows.append(["machine busy, % of all cores", *[100 * run.get("machine_busy_share", 0.0) for run in runs]])
    return [
        "### TaskManager CPU seconds per thread group",
        "",
        "Each run's TaskManager threads, polled from /proc every 0.5 s from its start to the run's last "
        "clock and grouped by name as /proc shows it (15 characters: a task thread carries the start of "
        "its operator chain's name, both subtasks in one group; C1 and C2 are the JIT compilers). "
        f"The {top} largest groups over all runs. The machine's busy % counts every process's "
        "work (/proc/stat) from the submission to the last clock.",
        "",
        markdown_table(["thread group", *[f"{r['sink']} p{r['parallelism']}" for r in runs]], rows, digits=1),
        "",
    ]


# The Flink job's own processes, summed for its peak (Kafka and S3 serve both engines alike).
FLINK_COMPONENTS = ("flink-jobmanager", "flink-taskmanager", "flink-taskmanager python workers")
SPARK_COMPONENT = "spark peer (driver JVM + python)"


def engines_section(results: dict) -> list[str]:
    """This project and its peer side by side: same input, same session, one after the other."""
    peers = results.get("peers") or []
    if not peers:
        return []
    peer = peers[0]
    runs = [r for r in results.get("throughput") or [] if r["sink"] in PIPELINE_SINKS and r.get("e2e_seconds")]
    flink = next((r for r in runs if r["parallelism"] == peer["cores"]), runs[-1] if runs else {})
    spark = peer.get("throughput") or {}
    fresh_flink, fresh_spark = results.get("freshness") or {}, peer.get("freshness") or {}
    peaks = results.get("memory_peak_bytes") or {}
    flink_peak = sum(peaks.get("stack", {}).get(c, 0) for c in FLINK_COMPONENTS) or None
    spark_peak = peaks.get("stack-spark", {}).get(SPARK_COMPONENT)

    def after_first(run: dict) -> float | None:
        if not run.get("e2e_seconds") or run.get("first_record_s") is None:
            return None
        return run["events"] / (run["e2e_seconds"] - run["first_record_s"])

    figures = [
        ("events", flink.get("events"), spark.get("events"), None),
        ("e2e s", flink.get("e2e_seconds"), spark.get("e2e_seconds"), "lower"),
        ("events/s end to end", flink.get("e2e_events_per_second"), spark.get("e2e_events_per_second"), "higher"),
        ("first record s", flink.get("first_record_s"), spark.get("first_record_s"), None),
        ("events/s after the first record (to e2e)", after_first(flink), after_first(spark), "higher"),
        ("silver commits", flink.get("silver_commits"), spark.get("silver_commits"), None),
        ("start s (submission / JVM, jars, tables)", flink.get("submit_seconds"), spark.get("submit_seconds"), None),
        ("silver freshness p50 s", fresh_flink.get("silver_p50_s"), fresh_spark.get("silver_p50_s"), "lower"),
        ("silver freshness p99 s", fresh_flink.get("silver_p99_s"), fresh_spark.get("silver_p99_s"), "lower"),
        ("gold 1m freshness p50 s", fresh_flink.get("gold_p50_s"), fresh_spark.get("gold_p50_s"), "lower"),
        ("gold 1m freshness p99 s", fresh_flink.get("gold_p99_s"), fresh_spark.get("gold_p99_s"), "lower"),
        ("peak RSS MiB", mib(flink_peak), mib(spark_peak), "lower"),
    ]
    rows = [[name, a, b, ratio(a, b) if better else None] for name, a, b, better in figures]
    return [
        f"### This project vs Spark Structured Streaming (same input, same session, {peer['cores']} cores each)",
        "",
        f"This project: the Flink job at parallelism {flink.get('parallelism', '-')} (the throughput table above). "
        f"Spark: [bench/peers/spark_streaming.py](bench/peers/spark_streaming.py), pyspark with delta-spark, "
        f"`local[{peer['cores']}]`, driver heap 1g, micro-batches every 1 s of at most 50,000 Kafka records, "
        "RocksDB state, on its own topics' consumer position and its own tables; it ran after the Flink "
        "runs on the same produced input, then at the same freshness rate. Clocks: from the job's "
        "start-time (Flink) or from the silver streaming query's start (Spark) to the last silver row "
        "readable in Delta on S3, polled alike; *first record*: the source's first emitted record "
        "(Flink) or the start of the first micro-batch that read events (Spark); *start s* is outside "
        "the clocks (Flink: `flink run`; Spark: JVM start, jar resolution from the local cache, table "
        "creation). Peak RSS: the JobManager, TaskManager and its Python workers over the Flink runs "
        "(sum of their peaks) vs the peer's driver JVM and Python process over its runs; Kafka and "
        "S3 serve both. *ratio*: this project / Spark (above 1 is better for rates; below 1 for "
        "seconds and memory).",
        "",
        markdown_table(["figure", "this project (Flink)", "Spark", "ratio"], rows, digits=2),
        "",
    ]


def freshness_section(results: dict) -> list[str]:
    fresh = results.get("freshness")
    if not fresh:
        return []
    return [
        "### Freshness (local stack, unbounded job, parallelism 2)",
        "",
        f"{fresh['produced_silver_events']:,} valid order events produced at {fresh['rate']:,.0f} records/s; "
        f"a reader polls the Delta tables every {fresh['poll_every_s']} s (so figures are up to that much late). "
        "Silver: Kafka CreateTime of an event -> its row readable in silver.order_events. Gold: the moment "
        "the source watermark passed a window's end (every partition had produced an event at or past "
        "window end + the 5 s watermark delay) -> the window's gold.order_metrics_1m row readable. "
        f"Checkpoint interval {fresh['checkpoint_interval_ms']} ms (the job's sinks commit when a checkpoint completes).",
        "",
        markdown_table(
            ["table", "rows measured", "p50 s", "p99 s", "max s", "target p99 s"],
            [
                [
                    "silver.order_events",
                    fresh["silver_seen"],
                    fresh["silver_p50_s"],
                    fresh["silver_p99_s"],
                    fresh["silver_max_s"],
                    TARGETS["silver_p99_s"],
                ],
                [
                    "gold.order_metrics_1m",
                    fresh["gold_rows"],
                    fresh["gold_p50_s"],
                    fresh["gold_p99_s"],
                    fresh["gold_max_s"],
                    TARGETS["gold_p99_s"],
                ],
            ],
        ),
        "",
        *(
            [
                f"Silver events never seen before the deadline: {fresh['produced_silver_events'] - fresh['silver_seen']:,}.",
                "",
            ]
            if fresh["silver_seen"] < fresh["produced_silver_events"]
            else []
        ),
    ]


def variants_section(results: dict) -> list[str]:
    variants = results.get("variants") or []
    if not variants:
        return []
    base_runs = [r for r in results.get("throughput") or [] if r["sink"] in PIPELINE_SINKS and r["parallelism"] == 2]
    settings = results.get("settings", {})
    rows = [
        _variant_row(
            f"baseline (checkpoint {settings.get('checkpoint_interval_ms')} ms)",
            base_runs[0] if base_runs else {},
            results.get("freshness") or {},
        )
    ]
    rows += [_variant_row(v["variant"], v.get("throughput") or {}, v.get("freshness") or {}) for v in variants]
    return [
        "### Tuning variants (same session, parallelism 2)",
        "",
        markdown_table(
            [
                "settings",
                "sink",
                "pipeline ev/s",
                "ev/s after first record",
                "TaskManager CPU s per 100k events",
                "e2e ev/s",
                "silver commits",
                "rows per commit",
                "silver p50 s",
                "silver p99 s",
                "gold p50 s",
                "gold p99 s",
            ],
            rows,
        ),
        "",
    ]


def _variant_row(name: str, run: dict, fresh: dict) -> list:
    tm_cpu = (run.get("cpu_seconds") or {}).get("flink-taskmanager")
    return [
        name,
        run.get("sink"),
        run.get("flink_events_per_second"),
        run.get("after_first_record_events_per_second"),
        round(tm_cpu * 100_000 / run["events"], 1) if tm_cpu is not None and run.get("events") else None,
        run.get("e2e_events_per_second"),
        run.get("silver_commits", run.get("silver_merges")),
        run.get("silver_rows_per_commit_mean"),
        fresh.get("silver_p50_s"),
        fresh.get("silver_p99_s"),
        fresh.get("gold_p50_s"),
        fresh.get("gold_p99_s"),
    ]
