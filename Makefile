# Every target bootstraps what it needs (Python venv in ~/.cache/lakehouse) on first use.
.DEFAULT_GOAL := help
ENV := scripts/with-env.sh

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## run the pipeline on the embedded mini-cluster (no services) and print a summary
	@$(ENV) python -m lakehouse run

test: ## run every test: unit, embedded pipeline, then the local stack (Kafka, S3, Flink cluster)
	@$(ENV) python -m pytest

unit: ## run the fast unit tests only
	@$(ENV) python -m pytest -m "not integration"

stack-up: ## start the local stack: Kafka, SeaweedFS S3, Flink session cluster (127.0.0.1)
	@$(ENV) infra/stack.sh up

stack-status: ## report each service of the local stack
	@$(ENV) infra/stack.sh status

stack-down: ## stop the local stack
	@$(ENV) infra/stack.sh down

lint: ## ruff lint and format check
	@$(ENV) ruff check . && $(ENV) ruff format --check .

.PHONY: help run test unit lint stack-up stack-status stack-down
