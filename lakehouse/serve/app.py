"""The ASGI app of `lakehouse serve`: REST API, WebSocket push and the dashboard page.

Endpoints (OpenAPI at /docs and /openapi.json):
  GET /api/health                  store, consumer and client counts
  GET /api/metrics/latest          the newest 1-minute metric per region and category
  GET /api/metrics/windows         every metric of the last N minutes of data (what the page charts)
  GET /api/anomalies               anomalies whose window starts at or after `since`
  GET /api/history                 metrics over a time range from gold Delta, at a pinned version
  WS  /ws                          a snapshot, then every new metric and anomaly as it arrives
  GET /                            the dashboard
Bad parameters get a 4xx with a message; an unexpected error gets a 500 without internals.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from lakehouse.config import Settings
from lakehouse.serve import history
from lakehouse.serve import rows as R
from lakehouse.serve.consumer import SpeedConsumer
from lakehouse.serve.gold_feed import GoldFeed
from lakehouse.serve.hub import Hub
from lakehouse.serve.settings import ServeSettings
from lakehouse.serve.store import Store, open_store

STATIC = Path(__file__).resolve().parent / "static"
MAX_HISTORY = timedelta(days=7)
log = logging.getLogger("lakehouse.serve")


def create_app(
    settings: Settings, serve: ServeSettings, *, store: Store | None = None, consume: bool = True
) -> FastAPI:
    """The app; ``consume=False`` serves a store filled by someone else (no Kafka)."""
    hub = Hub(queue_size=serve.client_queue)
    state: dict = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state["store"] = store or open_store(serve)
        loop = asyncio.get_running_loop()
        if consume:
            feed = SpeedConsumer if serve.source == "topics" else GoldFeed
            consumer = feed(
                settings,
                state["store"],
                lambda message: loop.call_soon_threadsafe(hub.publish, message),
                **({"rebuild_hours": serve.rebuild_hours} if serve.source == "topics" else {}),
            )
            consumer.start()
            state["consumer"] = consumer
        yield
        if consume:
            state["consumer"].stop()

    app = FastAPI(
        title="lakehouse serve",
        description="Hot 1-minute order metrics and anomalies from the pipeline's speed topics, and history from gold Delta.",
        version="1",
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.values = state

    def the_store() -> Store:
        return state["store"]

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception):  # never a stack trace to the client
        log.exception("unexpected error", exc_info=error)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/api/health", summary="Store, consumer and WebSocket client state")
    def health() -> dict:
        consumer: SpeedConsumer | GoldFeed | None = state.get("consumer")
        return {
            "store": the_store().kind,
            "store_ok": the_store().ping(),
            "source": serve.source,
            "topics": [consumer.metrics_topic, consumer.anomalies_topic] if isinstance(consumer, SpeedConsumer) else [],
            "tables": consumer.sources if isinstance(consumer, GoldFeed) else [],
            "caught_up": consumer.caught_up.is_set() if consumer else None,
            "consumed": consumer.consumed if consumer else 0,
            "bad_messages": consumer.bad_messages if consumer else 0,
            "consumer_error": consumer.last_error if consumer else None,
            "clients": hub.client_count,
            "published": hub.published,
            "backlog": hub.backlog(),
            "dropped_clients": hub.dropped_clients,
            "newest_window_end": the_store().newest_window_end(),
        }

    @app.get("/api/metrics/latest", summary="The newest 1-minute metric per region and category")
    def latest(
        region: Annotated[str | None, Query(min_length=1, max_length=64, description="e.g. EU-WEST")] = None,
        category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> dict:
        rows = the_store().latest()
        _check_known(rows, "region", region)
        _check_known(rows, "category", category)
        rows = [
            r
            for r in rows
            if (region is None or r["region"] == region) and (category is None or r["category"] == category)
        ]
        rows.sort(key=lambda r: (r["region"], r["category"]))
        return {"newest_window_end": the_store().newest_window_end(), "metrics": rows}

    @app.get("/api/metrics/windows", summary="Every 1-minute metric of the last `minutes` of data")
    def windows(minutes: Annotated[int, Query(ge=1, le=24 * 60)] = 60) -> dict:
        return _windows(the_store(), minutes)

    @app.get("/api/anomalies", summary="Anomalies whose window starts at or after `since`")
    def anomalies(
        since: Annotated[
            datetime | None, Query(description="ISO-8601; default: one hour before the newest data")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict:
        store = the_store()
        if since is None:
            newest = store.newest_window_end()
            since = (R.to_utc(newest) if newest else datetime.now(UTC)) - timedelta(hours=1)
        since = R.to_utc(since)
        return {"since": R.iso(since), "anomalies": store.anomalies(R.epoch_ms(since), limit)}

    @app.get("/api/history", summary="1-minute metrics over [start, end) from gold Delta at a pinned version")
    def metrics_history(
        start: Annotated[datetime, Query(description="ISO-8601, inclusive")],
        end: Annotated[datetime, Query(description="ISO-8601, exclusive; at most 7 days after start")],
        region: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        version: Annotated[int | None, Query(ge=0, description="Delta table version; default: the newest")] = None,
    ) -> dict:
        start, end = R.to_utc(start), R.to_utc(end)
        if end <= start:
            raise HTTPException(400, "end must be after start")
        if end - start > MAX_HISTORY:
            raise HTTPException(400, f"the range is at most {MAX_HISTORY.days} days")
        try:
            answer = history.read(settings, start=start, end=end, region=region, category=category, version=version)
        except (history.NoSuchVersion, history.NoTable) as error:
            raise HTTPException(404, str(error)) from error
        return {"start": R.iso(start), "end": R.iso(end), **answer}

    @app.websocket("/ws")
    async def push(websocket: WebSocket) -> None:
        await websocket.accept()
        snapshot = await asyncio.to_thread(_snapshot, the_store())
        await hub.serve(websocket, snapshot)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _check_known(rows: list[dict], column: str, value: str | None) -> None:
    if value is None:
        return
    known = sorted({r[column] for r in rows})
    if value not in known:
        raise HTTPException(404, f"unknown {column} {value!r}; known: {', '.join(known) or 'none yet'}")


def _windows(store: Store, minutes: int) -> dict:
    newest = store.newest_window_end()
    if newest is None:
        return {"newest_window_end": None, "metrics": []}
    since = R.epoch_ms(R.to_utc(newest)) - minutes * 60_000
    rows = sorted(store.windows(since), key=lambda r: (r["window_ms"], r["region"], r["category"]))
    return {"newest_window_end": newest, "metrics": rows}


def _snapshot(store: Store) -> dict:
    """What a page starts from: the last hour of data and its anomalies."""
    answer = _windows(store, 60)
    newest = answer["newest_window_end"]
    since = R.epoch_ms(R.to_utc(newest)) - 3_600_000 if newest else 0
    return {"type": "snapshot", **answer, "anomalies": store.anomalies(since, 200)}
