"""The serving side: hot metrics in Redis, a live dashboard over WebSocket, a REST API.

`lakehouse serve` runs one ASGI process (app.py) that consumes the job's speed topics
(jobs/orders_speed.py) into a store (store.py: Redis, or an in-process one), pushes every new
metric and anomaly to WebSocket clients (hub.py) and answers REST queries; history comes from the
gold Delta table at a pinned version (history.py).

Invariants: the topics are the source of truth for the hot store, which only upserts by key, so
a replay (at-least-once delivery, a restart that re-reads the last 24 h) changes nothing already
right; progress is never recorded anywhere but in the topics themselves (a restart re-reads them).
"""
