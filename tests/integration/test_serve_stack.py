"""The speed path end to end on the local stack: Kafka -> the Flink job (serving_topics on) -> the
speed topics -> `lakehouse serve` (Redis) -> the dashboard in headless Chromium.

The independent reference is the gold Delta tables the same job commits (and the reference model
they must equal): the speed topics must hold exactly gold.order_metrics_1m and gold.anomalies, and
the page must show, per region and window, the sums of gold.order_metrics_1m's rows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections import defaultdict

import pytest

from jobs import orders_speed
from lakehouse import rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.serve import rows as R
from lakehouse.sources import generator, producer
from tests.compare import diff, read_rows
from tests.integration.serve_support import (
    ARTIFACTS,
    REPO,
    free_port,
    get,
    serve_process,
    wait_for,
)
from tests.integration.stack_support import unique_settings
from tests.reference import Model

pytestmark = pytest.mark.integration

# About 23,000 events over 20 minutes of event time, with the generator's spike and drop moved inside.
GEN = generator.GeneratorConfig(
    minutes=20, orders_per_second=4.0, spike=("EU-WEST", "electronics", 10, 11, 25.0), drop=("NA-EAST", 5, 9, 0.1)
)
DEADLINE_SECONDS = 360
PRODUCE_RATE = 1_500  # events per second, as the other stack tests produce
SPEED_TABLES = (tables.METRICS_1M, tables.ANOMALIES)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through chromium-driver (installed by infra/chromium/chromium.sh)."""
    installed = subprocess.run(
        [str(REPO / "infra/chromium/chromium.sh"), "install"], capture_output=True, text=True, timeout=900
    )
    if installed.returncode != 0:
        pytest.fail(f"chromium install failed: {installed.stderr[-2000:]}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def speed_run(local_stack, redis_server, browser):  # noqa: F811
    settings = unique_settings("ss", serving_topics=True)
    run = settings.job_name.removeprefix("ss-")
    dataset = generator.generate(GEN)
    model = Model(dataset, rules.load(settings.rules_file))
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    orders_speed.ensure_topics(settings)
    storage.ensure_tables(settings)
    serve_env = {
        "LAKEHOUSE_PROFILE": "local",
        "LAKEHOUSE_TOPIC_PREFIX": settings.topic_prefix,
        "LAKEHOUSE_TABLE_ROOT": settings.table_root,
        "SERVE_KEY_PREFIX": f"ss{run}:",
    }
    with serve_process(serve_env, port=free_port(), log_path=ARTIFACTS / f"serve-stack-{run}.log") as base:
        browser.get(base + "/")  # the page is open before any event flows: what it shows arrives live
        wait_for(lambda: browser.find_element("id", "status").text == "live", timeout=30, what="the page's WebSocket")
        job_env = {
            "LAKEHOUSE_TOPIC_PREFIX": settings.topic_prefix,
            "LAKEHOUSE_TABLE_ROOT": settings.table_root,
            "LAKEHOUSE_JOB_NAME": settings.job_name,
            "LAKEHOUSE_SERVING_TOPICS": "true",
        }
        job_id = flink_cluster.submit(settings, env=job_env)
        producer.produce(  # while the job runs, at a steady rate: lateness is then deterministic
            dataset,
            bootstrap=settings.kafka_bootstrap,
            prefix=settings.topic_prefix,
            events_per_second=PRODUCE_RATE,
            log=print,
        )
        expected = {spec.name: len(model.tables[spec.name]) for spec in SPEED_TABLES}
        deadline = time.monotonic() + DEADLINE_SECONDS
        counts: dict[str, int] = {}
        try:
            while time.monotonic() < deadline:
                counts = {spec.name: len(_gold(settings, spec)) for spec in SPEED_TABLES}
                if counts == expected:
                    break
                # RESTARTING is tolerated: on a shared cluster the slots of a job cancelled just
                # before can take a few seconds to come back.
                state = flink_cluster.job_state(settings, job_id)
                assert state not in ("FAILED", "CANCELED", "FINISHED"), f"job {job_id} is {state}"
                time.sleep(3)
        finally:
            flink_cluster.cancel(settings, job_id)
        assert counts == expected, f"gold rows {counts}, expected {expected}"
        yield {"settings": settings, "model": model, "base": base, "browser": browser}


def _gold(settings, spec) -> list[dict]:
    return read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options())


def _topic(settings, topic: orders_speed.SpeedTopic) -> list[tuple[dict, dict]]:
    """Every (key, value) of a speed topic, read from the beginning to its end."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic.topic(settings), 0, 0)])
    messages = []
    try:
        while True:
            message = consumer.poll(10)
            assert message is not None, "no end of partition within 10 s"
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                return messages
            messages.append((json.loads(message.key()), json.loads(message.value())))
    finally:
        consumer.close()


@pytest.mark.parametrize("topic", orders_speed.TOPICS, ids=lambda t: t.suffix)
def test_the_speed_topics_hold_exactly_the_gold_rows(speed_run, topic):
    settings, model = speed_run["settings"], speed_run["model"]
    messages = _topic(settings, topic)
    for key, value in messages:
        assert key == {k: value[k] for k in topic.key}, "keyed by window, region and category (and rule)"
    # At least once: a replayed row repeats its key with the same values; one row per key remains.
    by_key = {tuple(value[k] for k in topic.spec.key): value for _key, value in messages}
    rows = [
        {**v, "window_start": R.to_utc(v["window_start"]), "window_end": R.to_utc(v["window_end"])}
        for v in by_key.values()
    ]
    assert not diff(topic.spec, rows, model.tables[topic.spec.name])
    gold = {tuple(r[k] for k in topic.spec.key): r for r in _gold(settings, topic.spec)}
    assert {tuple(r[k] for k in topic.spec.key): r for r in rows} == gold


def test_the_latest_api_answers_the_newest_gold_window_of_every_region_and_category(speed_run):
    newest: dict[tuple, dict] = {}
    for row in _gold(speed_run["settings"], tables.METRICS_1M):
        key = (row["region"], row["category"])
        if key not in newest or row["window_start"] > newest[key]["window_start"]:
            newest[key] = row

    def answer():
        body = get(speed_run["base"] + "/api/metrics/latest")[1]
        return {
            (m["region"], m["category"]): (m["window_start"], m["order_count"], m["revenue_eur"])
            for m in body["metrics"]
        }

    expected = {k: (R.iso(r["window_start"]), r["order_count"], r["revenue_eur"]) for k, r in newest.items()}
    wait_for(lambda: answer() == expected, timeout=30, what="the API to answer gold's newest windows")


@pytest.mark.browser
def test_the_dashboard_shows_gold_per_region_and_the_anomalies_as_they_arrived(speed_run):
    settings, browser = speed_run["settings"], speed_run["browser"]
    gold = _gold(settings, tables.METRICS_1M)
    revenue: dict[tuple, float] = defaultdict(float)
    orders: dict[tuple, int] = defaultdict(int)
    for row in gold:
        key = (R.epoch_ms(row["window_start"]), row["region"])
        revenue[key] += row["revenue_eur"]
        orders[key] += row["order_count"]
    windows = sorted({w for w, _ in revenue})[-60:]

    def shown_equals_gold():
        series = browser.execute_script("return window.dashboardSeries();")
        if series["window_ms"] != windows:
            return False
        for region, values in series["orders"].items():
            if values != [orders.get((w, region), 0) for w in windows]:
                return False
            if any(
                abs(v - round(revenue.get((w, region), 0.0), 2)) > 0.011
                for v, w in zip(series["revenue"][region], windows, strict=True)
            ):
                return False
        return set(series["orders"]) == {region for _, region in revenue}

    wait_for(shown_equals_gold, timeout=30, what="the charts to show gold.order_metrics_1m per region")
    assert browser.execute_script("return Chart.getChart('revenue-chart').data.datasets.length;") == len(
        {r for _, r in revenue}
    )
    gold_anomalies = {
        f"{a['rule_id']}|{R.epoch_ms(a['window_start'])}|{a['region']}|{a['category']}"
        for a in _gold(settings, tables.ANOMALIES)
    }
    feed = browser.execute_script(
        "return [...document.querySelectorAll('#anomalies li')].map(li => [li.dataset.id, li.classList.contains('new')]);"
    )
    assert gold_anomalies, "the generator's spike and drop fire rules"
    assert {item for item, _ in feed} <= gold_anomalies and len(feed) == min(200, len(gold_anomalies))
    assert all(fresh for _, fresh in feed), "every anomaly arrived while the page was open (highlighted)"
    newest = max(r["window_end"] for r in gold)
    assert browser.find_element("id", "newest").text == R.iso(newest).replace("T", " ").replace(".000Z", " UTC")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
