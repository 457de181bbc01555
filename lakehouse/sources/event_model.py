"""The generator's data model: what to generate (``GeneratorConfig``), one message as a consumer
receives it (``Record``), everything generated (``Dataset``), and the reference values events draw on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REGIONS = ("EU-WEST", "EU-NORTH", "NA-EAST", "NA-WEST", "APAC")
CATEGORIES = ("electronics", "books", "home", "fashion", "sports")
WAREHOUSES = ("Lyon", "Rotterdam", "Newark", "Reno", "Singapore")
CARRIERS = ("DHL", "UPS", "FedEx", "La Poste")
CANCEL_REASONS = ("customer_request", "payment_failed", "out_of_stock")

DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so runs are reproducible
DAY_MS = 86_400_000


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    """What to generate. Defaults give about 235,000 order events over one hour."""

    seed: int = 42
    start_ms: int = DEFAULT_START_MS
    minutes: int = 60
    orders_per_second: float = 14.0
    customers: int = 200
    products: int = 50
    malformed_ratio: float = 0.01
    late_ratio: float = 0.002
    jitter_ms: int = 2_000  # ordinary out-of-order delay; must stay below the watermark delay
    late_delay_min_ms: int = 10 * 60_000
    late_delay_max_ms: int = 20 * 60_000
    # Injected anomalies, as (region, category, first minute, last minute, factor).
    spike: tuple[str, str, int, int, float] = ("EU-WEST", "electronics", 40, 41, 25.0)
    drop: tuple[str, int, int, float] = ("NA-EAST", 20, 29, 0.1)


@dataclass(kw_only=True)
class Record:
    """One message as a consumer receives it."""

    stream: str  # order-events | customers | products
    key: str
    value: str  # the raw payload, exactly as written
    arrival_ms: int
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Dataset:
    """Everything generated, in arrival order per stream, with ground truth."""

    config: GeneratorConfig
    orders: list[Record]
    customers: list[Record]
    products: list[Record]

    def streams(self) -> dict[str, list[Record]]:
        return {
            "order-events": self.orders,
            "customers": self.customers,
            "products": self.products,
        }
