"""From a real PostgreSQL through Debezium on Kafka Connect to silver.orders_enriched.

One run on the local stack with the CDC services: the generator's customers and products are
inserted into PostgreSQL before the connector exists (Debezium's initial snapshot, op r); then,
while order events flow in real time, the backoffice writer applies the generator's later changes
as INSERT / UPDATE / DELETE (those dated before now at once, the rest at their times), and deletes
a customer who keeps ordering. Mid-stream,
Kafka Connect is killed with SIGKILL and started again, and later PostgreSQL is restarted.

The reference model is computed from the database's change history as Debezium delivered it (the
change topics read back, duplicates and tombstones included), by tests/reference_cdc.py, never by
the job's SQL: every table must equal it; no applied change is missing from the topics; orders
after the delete are quarantined as unknown, orders before it are enriched.

The job runs at parallelism 1 with a long idle timeout on the dimension sources, so the temporal
join waits for the change streams instead of declaring them idle while Connect is down (at
parallelism 2, a one-partition topic leaves one reader without a partition, and only the idle
timeout lets the watermark advance). A closing change per table (a sentinel row) and a closing
order event, dated after the hour of the last order, move both sides' watermarks past every
window.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time

import pytest

from lakehouse import rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import backoffice, cdc, generator, order_events, producer
from tests.compare import diff
from tests.integration import cdc_support as support
from tests.integration.stack_support import unique_settings
from tests.reference import Model

pytestmark = [pytest.mark.integration, pytest.mark.cdc]

LAG_MS = 5_000  # order events reach Kafka this long after their arrival time
DEADLINE_SECONDS = 240  # after the last change, for the tables to reach the model


@pytest.fixture(scope="module")
def cdc_services(local_stack):
    """PostgreSQL and Kafka Connect up (started here unless they already run); stopped after."""
    support.ensure_passwords()
    started = []
    for name in ("postgres", "connect"):
        running = support.service(name, "status", timeout=60).returncode == 0
        # start also when running: on a running PostgreSQL it creates missing roles and applies
        # missing migrations (a server left by a start that failed half-way has neither).
        result = support.service(name, "start", timeout=600)
        assert result.returncode == 0, f"{name} start failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        if not running:
            started.append(name)
    yield
    for name in reversed(started):
        support.service(name, "stop", timeout=120)


@pytest.fixture(scope="module")
def run(cdc_services):
    settings = unique_settings("cdc", dimension_source_options="scan.watermark.idle-timeout=10 min")
    run_id = settings.job_name.removeprefix("cdc-")
    cdc_settings = cdc.load_settings(postgres_db=f"cdc_{run_id}", slot=f"lakehouse_{run_id}", connector=f"cdc-{run_id}")
    _sweep_earlier_runs(cdc_settings)
    migrated = support.service("postgres", "migrate", POSTGRES_DB=cdc_settings.postgres_db)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    try:
        yield _scenario(settings, cdc_settings)
    finally:
        _cleanup(cdc_settings)


def _scenario(settings, cdc_settings):
    # Two minutes of event time before now, three to four after: the delete and both drills fall
    # in the real-time part, with orders on both sides of each.
    start_ms = (support.now_ms() // 60_000 - 2) * 60_000
    # Few customers, so the one deleted mid-stream has orders on both sides of its delete.
    gen = generator.GeneratorConfig(
        start_ms=start_ms, minutes=6, orders_per_second=2.0, customers=60, products=30, malformed_ratio=0.005
    )
    end_ms = start_ms + gen.minutes * 60_000
    # Closing time: past the hour the last order falls in, so every 1m, 5m and 1h window closes.
    # Closing order events (deliveries of orders nobody placed) and a closing change per table
    # carry both sides' watermarks there.
    closing_ms = -(-end_ms // 3_600_000) * 3_600_000 + 60_000
    dataset = _with_closing_events(generator.generate(gen), closing_ms)
    office = backoffice.Backoffice(cdc_settings)
    items = backoffice.changes([*dataset.customers, *dataset.products])
    office.execute("\n".join(["begin;", *(c.sql for c in items if c.op == "r"), "commit;"]))

    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    cdc.register(settings, cdc_settings)
    _wait_for(lambda: cdc.is_running(cdc.status(cdc_settings)), 60, "the connector to run")
    storage.ensure_tables(settings)
    job_id = flink_cluster.submit(settings, env=_job_env(settings))
    try:
        live_from = support.now_ms() + 2_000
        orders = support.RealTimeProducer(
            dataset.orders, bootstrap=settings.kafka_bootstrap, topic=f"{settings.topic_prefix}order-events",
            lag_ms=LAG_MS,
        )  # fmt: skip
        orders.start()
        delete_at = min(live_from + 45_000, end_ms - 75_000)
        deleted = _customer_to_delete(dataset, delete_at)
        plan = _effective(
            [c for c in items if c.op == "r"],
            # Changes dated before now are applied at once (catching up), except deletes, whose
            # time is their commit: only those in the real-time part have orders after them.
            [c for c in items if c.op != "r" and c.at_ms <= end_ms and (c.op != "d" or c.at_ms >= live_from)]
            + [backoffice.Change(table="customers", op="d", key=deleted, at_ms=delete_at,
                                 sql=f"delete from backoffice.customers where customer_id = '{deleted}';")],
        )  # fmt: skip
        drilled: list[str] = []
        drills = [
            threading.Timer(20, lambda: drilled.append(_kill_and_restart_connect())),
            threading.Timer(60, lambda: drilled.append(_restart_postgres())),
        ]
        for drill in drills:
            drill.start()
        for change in plan:
            time.sleep(max(0.0, (change.at_ms - support.now_ms()) / 1000))
            office._apply_one(change, retry_seconds=120)
        for drill in drills:
            drill.join()
        assert sorted(drilled) == ["connect killed and started", "postgres restarted"], drilled
        office._apply_one(_sentinel("customers", closing_ms), retry_seconds=120)
        office._apply_one(_sentinel("products", closing_ms), retry_seconds=120)
        time.sleep(max(0.0, (end_ms + LAG_MS + 3_000 - support.now_ms()) / 1000))
        orders.release.set()
        orders.join(120)
        assert orders.error is None, orders.error
        history = _delivered_history(settings, cdc_settings)
        model = Model(dataclasses.replace(dataset, customers=history["customers"], products=history["products"]),
                      rules.load(settings.rules_file))  # fmt: skip
        expected = {spec.name: len(model.tables[spec.name]) for spec in tables.ALL}
        rows: dict[str, list[dict]] = {}
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            rows = support.read_tables(settings)
            if {name: len(r) for name, r in rows.items()} == expected:
                break
            state = flink_cluster.job_state(settings, job_id)
            assert state == "RUNNING", f"job {job_id} is {state}"
            time.sleep(5)
        _print_summary(plan, history, rows, deleted)
        return {"settings": settings, "model": model, "rows": rows, "plan": plan, "history": history,
                "deleted": deleted, "delete_at": delete_at}  # fmt: skip
    finally:
        flink_cluster.cancel(settings, job_id)


def _print_summary(plan, history, rows, deleted) -> None:
    ops = {op: sum(c.op == op for c in plan) for op in ("c", "u", "d")}
    records = {t: len(r) for t, r in history.items()}
    tombstones = sum(r.value is None for r in history["customers"])
    changes = [json.loads(r.value) for rs in history.values() for r in rs if r.value]
    keys = [
        (c["payload"]["source"]["table"], c["payload"]["source"]["lsn"], c["payload"]["op"])
        for c in changes
        if c["payload"]["op"] != "r"
    ]
    print(
        f"cdc run: applied {ops}, delete of {deleted}; topics {records} records "
        f"({tombstones} tombstones, {len(keys) - len(set(keys))} changes delivered twice); "
        f"table rows { {name: len(r) for name, r in rows.items()} }",
        flush=True,
    )


def _job_env(settings) -> dict[str, str]:
    return {
        "LAKEHOUSE_TOPIC_PREFIX": settings.topic_prefix,
        "LAKEHOUSE_TABLE_ROOT": settings.table_root,
        "LAKEHOUSE_JOB_NAME": settings.job_name,
        "LAKEHOUSE_DIMENSION_SOURCE_OPTIONS": settings.dimension_source_options,
        "LAKEHOUSE_PARALLELISM": "1",
    }


def _kill_and_restart_connect() -> str:
    killed = support.service("connect", "kill", timeout=30)
    time.sleep(2)
    started = support.service("connect", "start", timeout=300)
    if killed.returncode or started.returncode:
        return f"connect drill failed: {killed.stderr[-500:]} {started.stderr[-1500:]}"
    return "connect killed and started"


def _restart_postgres() -> str:
    restarted = support.service("postgres", "restart", timeout=180)
    return "postgres restarted" if restarted.returncode == 0 else f"postgres drill failed: {restarted.stderr[-1500:]}"


def _with_closing_events(dataset, closing_ms: int):
    """One closing event per order-events partition: the source's watermark is their minimum."""
    records = []
    for partition in range(producer.PARTITIONS["order-events"]):
        event = dict(
            order_events.order_event("DELIVERED", f"O-closing-{partition}", closing_ms, signature="sig-closing"),
            event_id=f"E9999999{partition}",
        )
        records.append(order_events.order_record(event, closing_ms, {"event": event, "partition": partition}))
    return dataclasses.replace(dataset, orders=[*dataset.orders, *records])


def _effective(snapshot: list, changes: list) -> list:
    """The changes in time order, without those that would touch no row (an update or delete of a
    key that is not there, an insert of one that is), so each one is a record in the WAL."""
    present = {(c.table, c.key) for c in snapshot}
    out = []
    for change in sorted(changes, key=lambda c: c.at_ms):
        exists = (change.table, change.key) in present
        if (change.op == "c") == exists:
            continue
        (present.add if change.op == "c" else present.discard if change.op == "d" else lambda _k: None)(
            (change.table, change.key)
        )
        out.append(change)
    return out


def _customer_to_delete(dataset, at_ms: int) -> str:
    """The customer with the most orders on both sides of ``at_ms`` (a few seconds apart from it)."""
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    for record in dataset.orders:
        event = record.expect.get("event")
        if not event or event["event_type"] != "ORDER_PLACED":
            continue
        customer, ts = event["customer_id"], event["ts_ms"]
        if at_ms - 180_000 <= ts < at_ms - 5_000:
            before[customer] = before.get(customer, 0) + 1
        elif at_ms + 5_000 <= ts <= at_ms + 90_000:
            after[customer] = after.get(customer, 0) + 1
    both = [c for c in before if c in after]
    assert both, "no customer orders on both sides of the delete"
    return max(both, key=lambda c: (min(before[c], after[c]), c))


def _sentinel(table: str, at_ms: int) -> backoffice.Change:
    if table == "customers":
        sql = ("insert into backoffice.customers values ('C7999', 'Closing', 'EU-WEST', 'consumer', "
               f"timestamp '1970-01-01' + {at_ms} * interval '1 millisecond');")  # fmt: skip
    else:
        sql = ("insert into backoffice.products values ('P999', 'Closing', 'books', 1.0, "
               f"timestamp '1970-01-01' + {at_ms} * interval '1 millisecond');")  # fmt: skip
    return backoffice.Change(table=table, op="c", key="sentinel", at_ms=at_ms, sql=sql)


def _delivered_history(settings, cdc_settings) -> dict[str, list]:
    """The change topics as Debezium delivered them, once both sentinels have arrived."""
    out = {}
    for table, key in (("customers", '"C7999"'), ("products", '"P999"')):
        topic = f"{settings.topic_prefix}{table}"
        _wait_for(
            lambda key=key, topic=topic: any(
                r.value and key in r.value for r in support.change_records(settings.kafka_bootstrap, topic)
            ),
            180,
            f"the closing change on {topic}",
        )
        out[table] = support.change_records(settings.kafka_bootstrap, topic)
    return out


def _wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(2)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")


def _sweep_earlier_runs(cdc_settings) -> None:
    """Remove what a run stopped in the middle of this test left behind: Kafka Connect keeps its
    connectors in a Kafka topic of the stack's state directory, which every checkout shares, and
    resumes them; an earlier run's connector then streams beside this run's under the same
    Debezium server name, and this run's changes went missing from the change topics."""
    for name in cdc.connectors(cdc_settings):
        if re.fullmatch(r"cdc-[0-9a-f]{8}", name) and name != cdc_settings.connector:
            run_id = name.removeprefix("cdc-")
            print(f"removing connector {name}, its slot and database, left by an earlier run")
            _cleanup(
                dataclasses.replace(
                    cdc_settings, connector=name, slot=f"lakehouse_{run_id}", postgres_db=f"cdc_{run_id}"
                )
            )


def _cleanup(cdc_settings) -> None:
    """Remove the run's connector, replication slot and database (a slot left behind pins WAL)."""
    try:
        cdc.delete(cdc_settings)
    except Exception as error:  # noqa: BLE001 - report, keep cleaning
        print(f"cleanup: connector: {error}")
    time.sleep(3)
    dropped = support.service(
        "postgres", "psql", "-c",
        f"select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '{cdc_settings.slot}'",
        "-c", f'drop database if exists "{cdc_settings.postgres_db}" with (force)',
        POSTGRES_DB="postgres",
    )  # fmt: skip
    if dropped.returncode != 0:
        print(f"cleanup: {dropped.stderr[-1000:]}")


def test_the_enriched_orders_equal_the_model_of_the_database_history(run):
    problems = []
    for spec in tables.ALL:
        problems += diff(spec, run["rows"][spec.name], run["model"].tables[spec.name])
    assert not problems, "\n".join(problems[:40])
    assert len(run["rows"]["silver.orders_enriched"]) > 300


def test_no_applied_change_is_missing_from_the_change_topics(run):
    seen = set()
    for table, records in run["history"].items():
        for record in records:
            if record.value is None:  # a tombstone
                continue
            payload = json.loads(record.value).get("payload") or {}
            row = payload.get("after") or payload.get("before") or {}
            seen.add((table, payload.get("op"), row.get("customer_id") or row.get("product_id")))
    missing = [(c.table, c.op, c.key) for c in run["plan"] if (c.table, c.op, c.key) not in seen]
    assert not missing, missing
    # Each delete is followed by its tombstone (twice if resent after the kill), which the job skipped.
    tombstones = sum(r.value is None for r in run["history"]["customers"])
    assert tombstones >= sum(c.op == "d" and c.table == "customers" for c in run["plan"]) > 0


def test_orders_after_the_delete_are_quarantined_and_orders_before_it_enriched(run):
    deleted = run["deleted"]
    enriched = [r for r in run["rows"]["silver.orders_enriched"] if r["customer_id"] == deleted]
    unknown = [
        r
        for r in run["rows"]["bronze.quarantine"]
        if r["reason"] == "unknown customer_id at event time" and f'"customer_id":"{deleted}"' in r["payload"]
    ]
    assert enriched and unknown
