"""Benchmark report sections on the lake beneath the pipeline: the report queries on Trino and polars,
and the Delta sink's commit cost on an empty and on a large table."""

from __future__ import annotations

from bench.stats import markdown_table, ratio


def queries_section(results: dict) -> list[str]:
    runs = results.get("queries") or []
    if not runs:
        return []
    by_key: dict[tuple, dict] = {}
    for run in runs:
        by_key.setdefault((run["report"], run["rows"]), {})[run["engine"]] = run
    rows = []
    for (report, n), engines in by_key.items():
        trino, polars = engines.get("trino", {}), engines.get("polars", {})
        rows.append(
            [
                report,
                n,
                trino.get("first_s"),
                trino.get("best_s"),
                polars.get("first_s"),
                polars.get("best_s"),
                "; ".join(f"{e}: {r['error']}" for e, r in engines.items() if r.get("error")) or "",
            ]
        )
    return [
        "### Report queries: Trino and polars on the same Delta tables on S3",
        "",
        "Synthetic rows written with deltalake into silver.orders_enriched and silver.order_events "
        "(N rows each, 30 days, partitioned by dt). *first*: the first run; *best*: the best of the "
        "following runs. polars: `scan_delta` plus the same report in polars (the daily report is "
        "lakehouse/query/batch_report.py's transform).",
        "",
        markdown_table(
            ["report", "silver rows", "Trino first s", "Trino best s", "polars first s", "polars best s", "errors"],
            rows,
            digits=2,
        ),
        "",
    ]


def commits_section(results: dict) -> list[str]:
    found = results.get("commits")
    if not found:
        return []
    empty, large = found["empty"], found["large"]
    rows = [
        [
            name,
            table_rows,
            run["commits"],
            run["rows_per_commit"],
            run["first_commit_ms"],
            run["median_commit_ms"],
            run["p90_commit_ms"],
        ]
        for name, table_rows, run in (("empty", 0, empty), ("large", found["large_rows"], large))
    ]
    return [
        "### Commit cost of the Delta sink: empty table vs large table (local stack, S3)",
        "",
        "The job's own writer and committer (connectors/delta, driven by its AppendTool outside a job) "
        "append the same batches to silver.order_events of an empty table and of the queries' largest "
        "table. *first*: the first commit, which also lists and reads the log; *median* and *p90*: "
        "every later commit (read the versions written since, one conditional PUT). "
        + (
            f"The tables took turns, {empty['rounds']} rounds in the order empty, large, large, empty, ... "
            "(a fresh committer process per turn, whose first commit is left out), so drift in the machine's "
            "speed weighs on both alike."
            if empty.get("rounds")
            else ""
        ),
        "",
        markdown_table(
            ["table", "rows in table", "commits", "rows per commit", "first ms", "median ms", "p90 ms"], rows, digits=1
        ),
        "",
        f"Median commit on the large table / on the empty one: "
        f"{ratio(large['median_commit_ms'], empty['median_commit_ms']):.2f}.",
        "",
    ]
