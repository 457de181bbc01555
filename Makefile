# Every target bootstraps what it needs (Python venv in ~/.cache/lakehouse) on first use.
.DEFAULT_GOAL := help
ENV := scripts/with-env.sh

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## run the pipeline on the embedded mini-cluster (no services) and print a summary
	@$(ENV) python -m lakehouse run

test: ## run every test: unit, embedded pipeline, then the local stack (Kafka, S3, Flink cluster)
	@$(ENV) python -m pytest

unit: ## run the fast unit tests only (no services, no mini-cluster)
	@$(ENV) python -m pytest -m unit

test-minicluster: ## run the integration tests on the embedded Flink mini-cluster (no services)
	@$(ENV) python -m pytest -m minicluster

test-stack: ## run the integration tests on the local stack (Kafka, S3, Flink cluster, Trino)
	@$(ENV) python -m pytest -m stack

stack-up: ## start the local stack: Kafka, SeaweedFS S3, Flink session cluster, Trino (127.0.0.1)
	@$(ENV) infra/stack.sh up

stack-status: ## report each service of the local stack
	@$(ENV) infra/stack.sh status

stack-down: ## stop the local stack
	@$(ENV) infra/stack.sh down

cdc-up: ## the local stack plus PostgreSQL and Kafka Connect with Debezium (docs/CDC.md)
	@$(ENV) infra/stack.sh up --with-cdc

cdc-down: ## stop the local stack with PostgreSQL and Kafka Connect
	@$(ENV) infra/stack.sh down --with-cdc

trino-up: ## start Trino on the local stack's S3 and register the tables (s3://lakehouse/tables)
	@$(ENV) infra/trino/trino.sh start && $(ENV) python -m lakehouse trino register --profile local

trino-down: ## stop Trino
	@$(ENV) infra/trino/trino.sh stop

reports: ## run the batch daily report, then every Trino report of sql/trino/ (local profile)
	@$(ENV) python -m lakehouse batch-report --profile local && $(ENV) python -m lakehouse trino reports

bench: ## benchmark everything (embedded, stack throughput/ceiling/freshness, the Spark peer, Trino vs polars); writes BENCHMARKS.md
	@$(ENV) python -m bench.run

bench-queries: ## only Trino vs polars on 1M and 10M synthetic silver rows (the full run skips 10M past its time budget)
	@$(ENV) python -m bench.run --phases queries --output "" --label queries

bench-spark: ## only this project vs its Spark Structured Streaming peer: throughput (p2) and freshness, same input
	@$(ENV) python -m bench.run --phases throughput,freshness,spark --parallelisms 2 --sinks delta --output "" --label spark

bench-profile: ## where the plan's CPU goes (async-profiler, py-spy) and what each output costs, into blackhole
	@LAKEHOUSE_EXTRAS=profile $(ENV) python -m bench.profile

bench-short: ## the benchmark's short mode: smaller inputs, parallelism 2 only
	@$(ENV) python -m bench.run --short

lint: ## ruff lint and format check
	@$(ENV) ruff check . && $(ENV) ruff format --check .

.PHONY: help run test unit test-minicluster test-stack bench bench-queries bench-spark bench-profile bench-short lint stack-up stack-status stack-down trino-up trino-down reports
