"""The pipeline on the real local stack: Kafka -> `flink run` on the session cluster -> Delta on S3,
committed by the job's own Delta sinks.

Each test uses its own topics, table root and job name, so runs never see each
other's data. The tables must reach the reference model's content exactly once per key.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from lakehouse import rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer
from tests.integration import stack_support as stack
from tests.reference import Model

pytestmark = pytest.mark.integration

# About 68,000 events over one hour of event time, all produced before the job starts.
GEN = generator.GeneratorConfig(orders_per_second=4.0)
DEADLINE_SECONDS = 420


@pytest.fixture(scope="module")
def run_settings(local_stack):
    return stack.unique_settings("it")


@pytest.fixture(scope="module")
def pipeline_on_stack(run_settings):
    settings = run_settings
    dataset = generator.generate(GEN)
    model = Model(dataset, rules.load(settings.rules_file))
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    storage.ensure_tables(settings)
    # The whole input is in Kafka before the job starts, so the job reads it as a backlog, as fast
    # as it can and with its partitions drifting apart in event time: lateness must still be
    # decided exactly as the generator's truth says (docs/DESIGN.md, "Lateness").
    produced = producer.produce(
        dataset, bootstrap=settings.kafka_bootstrap, prefix=settings.topic_prefix, log=lambda _m: None
    )
    job_id = flink_cluster.submit(settings)  # hands the job every setting (config.job_environment)
    expected = stack.expected_counts(model)
    try:
        counts = stack.wait_for_counts(settings, job_id, expected, timeout=DEADLINE_SECONDS)
    finally:
        flink_cluster.cancel(settings, job_id)
    return settings, model, produced, counts, expected


def test_flink_run_job_writes_the_reference_tables_to_s3_exactly_once(pipeline_on_stack):
    settings, model, produced, counts, expected = pipeline_on_stack
    print(f"produced {produced:,} events; table rows {counts}")
    assert expected[tables.LATE_EVENTS.name] > 0, "the input must hold late events for lateness to be checked"
    stack.assert_tables_equal_model(settings, model)
    assert counts == expected


def test_the_reader_identity_can_list_and_read_but_not_write(pipeline_on_stack):
    settings = pipeline_on_stack[0]
    reader = stack.s3_client(
        settings, access_key=os.environ["S3_READER_ACCESS_KEY"], secret_key=os.environ["S3_READER_SECRET_KEY"]
    )
    prefix = settings.table_root.split("/", 3)[3]
    listed = reader.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix + "/gold/order_metrics_1h/_delta_log/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert keys, "the reader lists the Delta log"
    assert reader.get_object(Bucket=settings.s3_bucket, Key=keys[0])["Body"].read()
    for call in (
        lambda: reader.put_object(Bucket=settings.s3_bucket, Key=prefix + "/reader-was-here", Body=b"x"),
        lambda: reader.delete_object(Bucket=settings.s3_bucket, Key=keys[0]),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert reader.get_object(Bucket=settings.s3_bucket, Key=keys[0])["Body"].read(), "nothing was deleted"
