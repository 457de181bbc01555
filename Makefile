# Every target bootstraps what it needs (Python venv in ~/.cache/lakehouse) on first use.
.DEFAULT_GOAL := help
ENV := scripts/with-env.sh

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## run the pipeline on the embedded mini-cluster (no services) and print a summary
	@$(ENV) python -m lakehouse run

test: ## run every test: unit, then the embedded pipeline against the reference model
	@$(ENV) python -m pytest

unit: ## run the fast unit tests only
	@$(ENV) python -m pytest -m "not integration"

lint: ## ruff lint and format check
	@$(ENV) ruff check . && $(ENV) ruff format --check .

.PHONY: help run test unit lint
