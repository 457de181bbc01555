"""Benchmarks of the lakehouse pipeline: `make bench` (full) and `make bench-short` (see bench/run.py)."""
