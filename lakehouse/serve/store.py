"""Hot stores of the serving side: Redis (keys with a 24 h TTL) or an in-process store, one interface.

Redis layout (``p`` = the key prefix, "lh:" by default); every key is refreshed to the TTL on write:
  p m1:<window_ms>  hash  "<region>|<category>" -> the metric row (JSON), one hash per 1-minute window
  p windows         zset  window_ms scored by itself: which windows exist, for range reads
  p latest          hash  "<region>|<category>" -> the newest window's row
  p anomalies       zset  anomaly row (canonical JSON) scored by window_ms; equal firings are one member
  p meta            hash  newest_window_end
Windows and anomalies older than the TTL behind the newest window are trimmed too (event time, so a
replay of old data does not keep growing the sets). One writer (the consumer thread) at a time.
"""

from __future__ import annotations

import json
import threading
from typing import Protocol

from lakehouse.serve import rows as R


class Store(Protocol):
    kind: str

    def put_metrics(self, metrics: list[dict]) -> list[dict]: ...  # returns the rows that changed
    def put_anomalies(self, anomalies: list[dict]) -> list[dict]: ...  # returns the new ones
    def latest(self) -> list[dict]: ...
    def windows(self, since_ms: int) -> list[dict]: ...
    def anomalies(self, since_ms: int, limit: int) -> list[dict]: ...
    def newest_window_end(self) -> str | None: ...
    def ping(self) -> bool: ...


class MemoryStore:
    """The in-process store: the same answers as Redis, lost on restart (rebuilt from the topics)."""

    kind = "memory"

    def __init__(self, *, ttl_seconds: int = 24 * 3600) -> None:
        self._ttl_ms = ttl_seconds * 1000
        self._lock = threading.Lock()
        self._windows: dict[int, dict[str, dict]] = {}
        self._latest: dict[str, dict] = {}
        self._anomalies: dict[str, dict] = {}
        self._newest_end: str | None = None

    def put_metrics(self, metrics: list[dict]) -> list[dict]:
        changed = []
        with self._lock:
            for row in metrics:
                window = self._windows.setdefault(row["window_ms"], {})
                field = R.metric_field(row)
                if window.get(field) == row:
                    continue
                window[field] = row
                changed.append(row)
                current = self._latest.get(field)
                if current is None or current["window_ms"] <= row["window_ms"]:
                    self._latest[field] = row
                if self._newest_end is None or row["window_end"] > self._newest_end:
                    self._newest_end = row["window_end"]
            self._trim()
        return changed

    def put_anomalies(self, anomalies: list[dict]) -> list[dict]:
        new = []
        with self._lock:
            for row in anomalies:
                key = R.anomaly_id(row)
                if self._anomalies.get(key) != row:
                    self._anomalies[key] = row
                    new.append(row)
            self._trim()
        return new

    def _trim(self) -> None:
        if not self._windows:
            return
        horizon = max(self._windows) - self._ttl_ms
        for window_ms in [w for w in self._windows if w < horizon]:
            del self._windows[window_ms]
        for key in [k for k, a in self._anomalies.items() if a["window_ms"] < horizon]:
            del self._anomalies[key]

    def latest(self) -> list[dict]:
        with self._lock:
            return list(self._latest.values())

    def windows(self, since_ms: int) -> list[dict]:
        with self._lock:
            return [row for w, window in sorted(self._windows.items()) if w >= since_ms for row in window.values()]

    def anomalies(self, since_ms: int, limit: int) -> list[dict]:
        with self._lock:
            found = sorted((a for a in self._anomalies.values() if a["window_ms"] >= since_ms), key=_anomaly_order)
        return found[-limit:] if limit else found

    def newest_window_end(self) -> str | None:
        return self._newest_end

    def ping(self) -> bool:
        return True


def _anomaly_order(row: dict) -> tuple:
    return (row["window_ms"], row["region"], row["category"], row["rule_id"])


class RedisStore:
    kind = "redis"

    def __init__(self, client, *, prefix: str = "lh:", ttl_seconds: int = 24 * 3600) -> None:
        self._r = client
        self._p = prefix
        self._ttl = ttl_seconds

    @classmethod
    def connect(cls, settings) -> RedisStore:
        import redis

        client = redis.Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password or None,
            socket_timeout=10,
            health_check_interval=30,
        )
        client.ping()  # fail at start, with the reason, rather than on the first message
        return cls(client, prefix=settings.key_prefix, ttl_seconds=settings.ttl_seconds)

    def _k(self, name: str) -> str:
        return self._p + name

    def put_metrics(self, metrics: list[dict]) -> list[dict]:
        if not metrics:
            return []
        metrics = list({(r["window_ms"], R.metric_field(r)): r for r in metrics}.values())  # last one per key wins
        read = self._r.pipeline(transaction=False)
        for row in metrics:
            read.hget(self._k(f"m1:{row['window_ms']}"), R.metric_field(row))
        existing = read.execute()
        fields = list({R.metric_field(r) for r in metrics})
        latest_by_field = dict(zip(fields, self._r.hmget(self._k("latest"), fields), strict=True))
        changed = [row for row, old in zip(metrics, existing, strict=True) if old is None or json.loads(old) != row]
        if not changed:
            return []
        write = self._r.pipeline(transaction=True)
        newest_end = self._r.hget(self._k("meta"), "newest_window_end")
        newest_end = newest_end.decode() if newest_end else None
        for row in changed:
            key = self._k(f"m1:{row['window_ms']}")
            field = R.metric_field(row)
            text = R.dumps(row)
            write.hset(key, field, text)
            write.expire(key, self._ttl)
            write.zadd(self._k("windows"), {str(row["window_ms"]): row["window_ms"]})
            old_latest = latest_by_field.get(field)
            if old_latest is None or json.loads(old_latest)["window_ms"] <= row["window_ms"]:
                write.hset(self._k("latest"), field, text)
                latest_by_field[field] = text.encode()
            if newest_end is None or row["window_end"] > newest_end:
                newest_end = row["window_end"]
        write.hset(self._k("meta"), "newest_window_end", newest_end)
        newest_ms = max(
            int(m) for m in [*self._r.zrange(self._k("windows"), -1, -1), *[r["window_ms"] for r in changed]]
        )
        write.zremrangebyscore(self._k("windows"), "-inf", f"({newest_ms - self._ttl * 1000}")
        for name in ("windows", "latest", "meta"):
            write.expire(self._k(name), self._ttl)
        write.execute()
        return changed

    def put_anomalies(self, anomalies: list[dict]) -> list[dict]:
        if not anomalies:
            return []
        write = self._r.pipeline(transaction=True)
        for row in anomalies:
            write.zadd(self._k("anomalies"), {R.dumps(row): row["window_ms"]})
        added = write.execute()
        newest = self._r.zrange(self._k("anomalies"), -1, -1, withscores=True)
        trim = self._r.pipeline(transaction=False)
        if newest:
            trim.zremrangebyscore(self._k("anomalies"), "-inf", f"({int(newest[0][1]) - self._ttl * 1000}")
        trim.expire(self._k("anomalies"), self._ttl)
        trim.execute()
        return [row for row, count in zip(anomalies, added, strict=True) if count]

    def latest(self) -> list[dict]:
        return [json.loads(v) for v in self._r.hvals(self._k("latest"))]

    def windows(self, since_ms: int) -> list[dict]:
        present = self._r.zrangebyscore(self._k("windows"), since_ms, "+inf")
        read = self._r.pipeline(transaction=False)
        for window_ms in present:
            read.hvals(self._k(f"m1:{window_ms.decode()}"))
        return [json.loads(v) for values in read.execute() for v in values]

    def anomalies(self, since_ms: int, limit: int) -> list[dict]:
        found = [json.loads(m) for m in self._r.zrangebyscore(self._k("anomalies"), since_ms, "+inf")]
        found.sort(key=_anomaly_order)
        return found[-limit:] if limit else found

    def newest_window_end(self) -> str | None:
        value = self._r.hget(self._k("meta"), "newest_window_end")
        return value.decode() if value else None

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except Exception:  # noqa: BLE001 - health reports it, never raises
            return False


def open_store(settings) -> Store:
    if settings.store == "memory":
        return MemoryStore(ttl_seconds=settings.ttl_seconds)
    return RedisStore.connect(settings)
