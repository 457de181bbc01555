"""Infra smoke job for the Flink session cluster (run by infra/smoke.sh --with-job).

Proves the jar set of FLINK_HOME end to end: Kafka source (flink-sql-connector-kafka),
a Python UDF (Python workers on the TaskManager), the Parquet filesystem sink and
checkpoints on S3 (flink-s3-fs-hadoop plugin). Bounded: it reads the topic up to its
latest offset, then finishes.

Usage: flink.sh cli run -py infra/flink/smoke_job.py TOPIC BOOTSTRAP OUTPUT_URI
"""

import sys

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import udf


def main(topic: str, bootstrap: str, output: str) -> None:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    # The streaming file sink commits part files on checkpoints.
    conf.set("execution.checkpointing.interval", "2 s")
    conf.set("pipeline.name", "infra-smoke")

    @udf(result_type=DataTypes.STRING())
    def shout(s):
        return s.upper()

    t_env.create_temporary_function("shout", shout)
    t_env.execute_sql(f"""
        CREATE TABLE src (msg STRING) WITH (
          'connector' = 'kafka', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{bootstrap}',
          'properties.group.id' = 'infra-smoke',
          'scan.startup.mode' = 'earliest-offset',
          'scan.bounded.mode' = 'latest-offset',
          'format' = 'raw')""")
    t_env.execute_sql(f"""
        CREATE TABLE sink (msg STRING, loud STRING) WITH (
          'connector' = 'filesystem', 'path' = '{output}', 'format' = 'parquet')""")
    t_env.execute_sql("INSERT INTO sink SELECT msg, shout(msg) FROM src").wait()


if __name__ == "__main__":
    main(*sys.argv[1:4])
