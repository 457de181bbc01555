"""Settings of `lakehouse serve`; every field can be set from the environment (names below)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

# Field -> environment variable. The ports share infra/stack.env's names, so one export moves both
# the infra scripts and the app.
_ENV = {
    "host": "LAKEHOUSE_BIND_HOST",
    "port": "SERVE_PORT",
    "store": "SERVE_STORE",
    "source": "SERVE_SOURCE",
    "redis_host": "REDIS_HOST",
    "redis_port": "REDIS_PORT",
    "redis_password": "REDIS_PASSWORD",
    "key_prefix": "SERVE_KEY_PREFIX",
    "ttl_seconds": "SERVE_TTL_SECONDS",
    "rebuild_hours": "SERVE_REBUILD_HOURS",
    "client_queue": "SERVE_CLIENT_QUEUE",
}


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    store: str = "redis"  # "redis" or "memory" (in-process: no Redis needed, nothing survives a restart)
    # "topics": the job's speed topics (fresh as each window fires); "gold": the gold Delta tables
    # (fresh as each commit; no Kafka needed: the embedded default's live view).
    source: str = "topics"
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = field(default="", repr=False)
    key_prefix: str = "lh:"  # every Redis key starts with it (tests use a unique one)
    ttl_seconds: int = 24 * 3600  # the seed's 24 h TTL on hot keys
    # On start, the consumer re-reads the topics from this far back (by Kafka timestamp): the
    # restart rebuild. The same span as the TTL, so a rebuilt store holds what the old one held.
    rebuild_hours: float = 24.0
    # Messages a WebSocket client may have waiting; a client further behind is disconnected so
    # that it never holds back the others (its page reconnects and gets a fresh snapshot).
    client_queue: int = 1024

    def redis_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/0"


def load(**overrides) -> ServeSettings:
    """Defaults, then the environment, then ``overrides`` (None values ignored)."""
    base = ServeSettings()
    values: dict[str, object] = {}
    for f in fields(ServeSettings):
        raw = os.environ.get(_ENV[f.name])
        if raw not in (None, ""):
            values[f.name] = type(getattr(base, f.name))(raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = replace(base, **values)
    if settings.store not in ("redis", "memory"):
        raise ValueError(f"SERVE_STORE must be redis or memory, not {settings.store!r}")
    if settings.source not in ("topics", "gold"):
        raise ValueError(f"SERVE_SOURCE must be topics or gold, not {settings.source!r}")
    return settings
