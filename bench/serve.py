"""Benchmarks of the serving side, on loopback, bounded in time; prints its figures.

    scripts/with-env.sh python -m bench.serve fanout [--clients 1000 --updates 20]
    scripts/with-env.sh python -m bench.serve e2e [--minutes 4 --idle-timeout "3 s"]

fanout: `lakehouse serve` with N WebSocket clients connected; updates are produced to the metrics
  topic one at a time; each client must receive every update; reports produce -> receive latency
  (p50/p99/max over every client and update) and how many deliveries were missing.
e2e: the Flink job with the speed path on the local stack, order events produced in real time
  (event time = wall clock); a WebSocket client records when each 1-minute metric arrives;
  reports arrival - window end and arrival - (window end + watermark delay), when the window can
  first close.
Both need Kafka (`make stack-up`; e2e also Flink and S3) and, with the default store, Redis
(infra/redis/redis.sh start); both start their own `lakehouse serve` on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs import orders_speed
from lakehouse import config, contract
from lakehouse.lake import storage
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, *, grace: float = 15) -> None:
    """SIGTERM a child process, and SIGKILL it if it has not exited after ``grace`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def _serve(settings: config.Settings, env: dict[str, str], store: str):
    """`lakehouse serve` in a subprocess with ``settings`` (config.job_environment) and ``env`` on top."""
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"lakehouse-bench-serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "serve", "--store", store, "--port", str(port)],
        cwd=REPO,
        env=config.job_environment(settings, inherit=flink_cluster.clean_environment()) | env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
                    if json.loads(answer.read())["caught_up"]:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lakehouse serve did not start; see {log.name}")
            time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        stop(process)
        log.close()


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


def _metric_row(minute: int) -> dict:
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    stamp = "%Y-%m-%dT%H:%M:%S"
    return {
        "window_start": start.strftime(stamp),
        "window_end": (start + timedelta(minutes=1)).strftime(stamp),
        "region": "BENCH",
        "category": "fanout",
        "order_count": minute + 1,
        "revenue_eur": 10.0 * (minute + 1),
        "avg_order_value_eur": 10.0,
        "distinct_customers": 1,
        "min_amount_eur": 10.0,
        "max_amount_eur": 10.0,
    }


async def _fanout(url: str, *, clients: int, updates: int, interval: float, settings, timeout: float) -> dict:
    from confluent_kafka import Producer
    from websockets.asyncio.client import connect

    received: list[dict[int, float]] = [{} for _ in range(clients)]
    ready = asyncio.Semaphore(0)

    async def client(index: int) -> None:
        async with connect(url, open_timeout=60, max_size=None) as ws:
            await ws.recv()  # the snapshot
            ready.release()
            async for text in ws:
                now = time.time()
                message = json.loads(text)
                if message["type"] == "metrics":
                    for row in message["rows"]:
                        if row["region"] == "BENCH":
                            received[index].setdefault(row["window_ms"], now)

    started = time.monotonic()
    tasks = []
    for index in range(clients):  # connect in waves, as pages would, without a thundering herd
        tasks.append(asyncio.create_task(client(index)))
        if index % 50 == 49:
            await asyncio.sleep(0.05)
    for _ in range(clients):
        await asyncio.wait_for(ready.acquire(), timeout=max(1, timeout - (time.monotonic() - started)))
    connect_seconds = time.monotonic() - started
    kafka = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 0})
    produced: dict[int, float] = {}
    for minute in range(updates):
        row = _metric_row(minute)
        window_ms = int(datetime.fromisoformat(row["window_start"]).replace(tzinfo=UTC).timestamp() * 1000)
        produced[window_ms] = time.time()
        kafka.produce(orders_speed.METRICS_1M.topic(settings), key=b"bench", value=json.dumps(row).encode())
        kafka.poll(0)
        await asyncio.sleep(interval)
    kafka.flush(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(r) < updates for r in received):
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [times[w] - produced[w] for times in received for w in times if w in produced]
    return {
        "clients": clients,
        "updates": updates,
        "connect_seconds": connect_seconds,
        "delivered": len(latencies),
        "missing": clients * updates - len(latencies),
        "latency": _percentiles(latencies),
    }


def cmd_fanout(args) -> int:
    run = uuid.uuid4().hex[:8]
    settings = config.load("local", topic_prefix=f"bench{run}-")
    orders_speed.ensure_topics(settings)
    with _serve(settings, {"SERVE_KEY_PREFIX": f"bench{run}:"}, args.store) as url:
        result = asyncio.run(
            asyncio.wait_for(
                _fanout(
                    url,
                    clients=args.clients,
                    updates=args.updates,
                    interval=args.interval,
                    settings=settings,
                    timeout=args.timeout,
                ),
                timeout=args.timeout + 60,
            )
        )
    print(
        f"fanout: {result['clients']} WebSocket clients connected in {result['connect_seconds']:.1f} s; "
        f"{result['updates']} updates; delivered {result['delivered']:,}, missing {result['missing']}; "
        f"produce -> client latency {result['latency']}"
    )
    return 0 if result["missing"] == 0 else 1


async def _watch(url: str, arrivals: dict[tuple, float], stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now = time.time()
            message = json.loads(text)
            if message["type"] == "metrics":
                for row in message["rows"]:
                    arrivals.setdefault((row["window_ms"], row["region"], row["category"]), now)


def cmd_e2e(args) -> int:
    run = uuid.uuid4().hex[:8]
    overrides = (
        {"dimension_source_options": f"scan.watermark.idle-timeout={args.idle_timeout}"} if args.idle_timeout else {}
    )
    settings = config.load(
        "local",
        topic_prefix=f"e2e{run}-",
        table_root=f"s3://lakehouse/bench-e2e-{run}/tables",
        job_name=f"bench-e2e-{run}",
        serving_topics=True,
        **overrides,
    )
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    orders_speed.ensure_topics(settings)
    storage.ensure_tables(settings)
    # Event time = wall clock: the dataset starts at the next minute and each record is sent at its arrival time.
    start_ms = (int(time.time() * 1000) // 60_000 + 2) * 60_000  # after the ~30 s submit
    dataset = generator.generate(
        generator.GeneratorConfig(
            start_ms=start_ms,
            minutes=args.minutes,
            orders_per_second=args.rate,
            late_ratio=0.0,
            malformed_ratio=0.0,
            spike=("EU-WEST", "electronics", 1, 1, 5.0),
            drop=("NA-EAST", 2, 2, 0.5),
        )
    )
    job_id = flink_cluster.submit(settings)
    print(f"e2e: job {job_id} submitted; producing {args.minutes} minutes of events in real time", flush=True)
    arrivals: dict[tuple, float] = {}
    try:
        with _serve(settings, {"SERVE_KEY_PREFIX": f"e2e{run}:"}, args.store) as url:
            asyncio.run(_e2e(url, settings, dataset, arrivals))
    finally:
        flink_cluster.cancel(settings, job_id)
    delay_s = contract.WATERMARK_DELAY_MS / 1000
    after_end = [t - (w / 1000 + 60) for (w, _r, _c), t in arrivals.items()]
    after_close = [x - delay_s for x in after_end]
    windows = sorted({w for w, _r, _c in arrivals})
    print(f"e2e: {len(arrivals)} metrics of {len(windows)} windows arrived over the WebSocket")
    print(f"e2e: arrival - window end: {_percentiles(after_end)}")
    print(f"e2e: arrival - (window end + {delay_s:.0f} s watermark delay): {_percentiles(after_close)}")
    return 0


async def _e2e(url: str, settings, dataset, arrivals: dict[tuple, float]) -> None:
    from confluent_kafka import Producer

    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(url, arrivals, stop))
    kafka = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    end_ms = dataset.config.start_ms + dataset.config.minutes * 60_000
    for record in producer.in_arrival_order(dataset):
        if record.arrival_ms >= end_ms:  # an order's later lifecycle events (shipping, delivery) come hours later
            break
        wait = record.arrival_ms / 1000 - time.time()
        if wait > 0:
            kafka.poll(0)
            await asyncio.sleep(wait)
        kafka.produce(
            producer.topic_name(settings.topic_prefix, record.stream),
            key=record.key.encode(),
            value=record.value.encode(),
        )
    kafka.flush(30)
    # The last full window closes once the watermark passes it: wait for the stragglers.
    await asyncio.sleep(90)
    stop.set()
    await watcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fanout", help="N WebSocket clients, each must receive every update")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.5, help="seconds between updates")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--store", choices=("redis", "memory"), default="redis")
    p.set_defaults(func=cmd_fanout)
    p = sub.add_parser("e2e", help="event produced -> its 1-minute metric in a WebSocket client (needs Flink)")
    p.add_argument("--minutes", type=int, default=6, help="minutes of real-time events (at least 6)")
    p.add_argument("--rate", type=float, default=4.0, help="orders per second")
    p.add_argument(
        "--idle-timeout", default="", help="dimension sources' idle timeout, e.g. \"3 s\" (default: the job's 30 s)"
    )
    p.add_argument("--store", choices=("redis", "memory"), default="redis")
    p.set_defaults(func=cmd_e2e)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
