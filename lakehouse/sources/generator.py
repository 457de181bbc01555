"""Deterministic, seeded generator of the e-commerce event streams.

Three streams, in the order a consumer would receive them (arrival order):
- ``order-events``: ORDER_PLACED .. DELIVERED / CANCELLED as flat JSON, plus about 1 % malformed
  records (bad JSON, missing keys, wrong types, non-positive amounts, far-future timestamps,
  unknown event types, unknown customers) and a few events that arrive far behind the watermark.
- ``customers`` and ``products``: Debezium change envelopes (op r/c/u/d, before, after,
  source.lsn, ts_ms) with region and category changes in the middle of the stream.

Every record keeps its ground truth (``expect``): the quarantine reason a defect must produce, or
that an event is late. The reference model reads that truth, never the pipeline's SQL.

This module builds the three streams from one seed and writes them to files; the streams themselves
come from dimension_changes, order_events and hostile_records, their types from event_model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from lakehouse.sources.dimension_changes import dimensions
from lakehouse.sources.event_model import (
    CANCEL_REASONS,
    CARRIERS,
    CATEGORIES,
    DAY_MS,
    DEFAULT_START_MS,
    REGIONS,
    WAREHOUSES,
    Dataset,
    GeneratorConfig,
    Record,
)
from lakehouse.sources.order_events import order_events

__all__ = [
    "CANCEL_REASONS",
    "CARRIERS",
    "CATEGORIES",
    "DAY_MS",
    "DEFAULT_START_MS",
    "REGIONS",
    "WAREHOUSES",
    "Dataset",
    "GeneratorConfig",
    "Record",
    "generate",
    "write",
]


def generate(config: GeneratorConfig = GeneratorConfig()) -> Dataset:  # noqa: B008 (frozen, so shared safely)
    """Build all three streams from the seed; the same config always gives the same bytes."""
    rng = random.Random(config.seed)
    customers, products, versions = dimensions(rng, config)
    orders = order_events(rng, config, versions)
    return Dataset(config=config, orders=orders, customers=customers, products=products)


def write(dataset: Dataset, directory: Path) -> dict[str, Path]:
    """Write one JSON-lines file per stream (the embedded default's sources) and a manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stream, records in dataset.streams().items():
        path = directory / stream / f"{stream}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(record.value)
                out.write("\n")
        tmp.replace(path)
        paths[stream] = path
    manifest = {
        "config": {k: v for k, v in vars(dataset.config).items()},
        "counts": {s: len(r) for s, r in dataset.streams().items()},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return paths
