"""What both feeds of the store share: one daemon thread, started and stopped by the app, and the
counters the health endpoint reports (caught up, rows consumed, bad messages, last error)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lakehouse.config import Settings
from lakehouse.serve.store import Store


class Feed:
    """A background feed: subclasses fill the store in ``_run`` until ``_stop`` is set."""

    def __init__(self, settings: Settings, store: Store, publish: Callable[[dict], None], *, thread_name: str) -> None:
        self._settings = settings
        self._store = store
        self._publish = publish  # thread-safe: called from this feed's thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self.caught_up = threading.Event()  # set once the feed has read everything there was at its start
        self.consumed = 0
        self.bad_messages = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
