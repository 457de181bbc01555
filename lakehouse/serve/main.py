"""`lakehouse serve`: run the app on uvicorn, bound to loopback unless configured otherwise."""

from __future__ import annotations

import argparse
import logging

from lakehouse import config
from lakehouse.serve import settings as serve_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="HTTP port (default $SERVE_PORT or 8000)")
    parser.add_argument(
        "--store", choices=("redis", "memory"), help="hot store (default $SERVE_STORE or redis; memory needs no Redis)"
    )
    parser.add_argument(
        "--source",
        choices=("topics", "gold"),
        help="feed: the job's speed topics (default, $SERVE_SOURCE) or the gold Delta tables (no Kafka)",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from lakehouse.serve.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = config.load(args.profile)
    serve = serve_settings.load(port=args.port, store=args.store, source=args.source)
    app = create_app(settings, serve)
    print(
        f"dashboard on http://{serve.host}:{serve.port}/ (API docs: /docs), store {serve.store}, source {serve.source}",
        flush=True,
    )
    # uvicorn pings every WebSocket (20 s): a vanished browser is noticed; the hub never waits for one.
    uvicorn.run(app, host=serve.host, port=serve.port, log_level="warning", ws="websockets-sansio")
    return 0
