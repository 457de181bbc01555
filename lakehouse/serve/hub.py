"""Fan-out of updates to WebSocket clients, where a slow client never holds back the others.

Each client has its own bounded queue and its own sender task. ``publish`` (on the event loop)
encodes a message once and puts it on every queue without waiting; a client whose queue is full is
disconnected (its page reconnects and starts again from a snapshot) instead of being waited for.
"""

from __future__ import annotations

import asyncio
import json
import time


class _Client:
    __slots__ = ("queue", "dropped", "sender")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=size)
        self.dropped = False
        self.sender: asyncio.Task | None = None


class Hub:
    def __init__(self, *, queue_size: int = 1024) -> None:
        self._size = queue_size
        self._clients: set[_Client] = set()
        self.dropped_clients = 0
        self.published = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def backlog(self) -> int:
        """Messages waiting for the slowest client."""
        return max((c.queue.qsize() for c in self._clients), default=0)

    def publish(self, message: dict) -> None:
        """Queue ``message`` for every client; call on the event loop's thread."""
        message.setdefault("sent_ms", int(time.time() * 1000))
        text = json.dumps(message, separators=(",", ":"))
        self.published += 1
        for client in list(self._clients):
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        self._clients.discard(client)
        client.dropped = True
        self.dropped_clients += 1
        while not client.queue.empty():  # its backlog is dropped with it
            client.queue.get_nowait()
        if client.sender is not None:  # it may be stuck in a send to a full socket: stop it there
            client.sender.cancel()

    async def serve(self, websocket, snapshot: dict) -> None:
        """Send ``snapshot`` and then every published message until the client leaves or lags."""
        client = _Client(self._size)
        self._clients.add(client)  # before the snapshot: nothing published meanwhile is lost
        try:
            await websocket.send_text(json.dumps(snapshot, separators=(",", ":")))
            if client.dropped:  # it fell behind while its snapshot was on the way
                await asyncio.wait_for(websocket.close(code=1013, reason="too slow: reconnect"), timeout=10)
                return
            client.sender = asyncio.create_task(self._send(websocket, client))
            receiver = asyncio.create_task(_drain(websocket))
            _done, pending = await asyncio.wait({client.sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if client.dropped:
                # Bounded: the close frame waits behind whatever the client has not read yet.
                await asyncio.wait_for(websocket.close(code=1013, reason="too slow: reconnect"), timeout=10)
        except Exception:  # noqa: BLE001 - a broken connection ends this client only
            pass
        finally:
            self._clients.discard(client)

    @staticmethod
    async def _send(websocket, client: _Client) -> None:
        while True:
            await websocket.send_text(await client.queue.get())


async def _drain(websocket) -> None:
    """Read (and ignore) what the client sends, to notice when it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
