"""Fan-out of training and registry events to WebSocket/SSE subscribers, memory bounded."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 256
EVENT_TYPES = (
    "run_started", "phase_started", "phase_finished", "progress", "run_finished",
    "run_failed", "version_activated", "rolled_back", "snapshot", "monitoring_window",
)


@dataclass(eq=False)  # identity-hashed: kept in a set
class Subscriber:
    """One client's bounded queue; `dropped` is set when it fell too far behind."""

    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_SIZE))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class RunSnapshot:
    """What a client joining mid-run needs to draw the current run."""

    run_id: int
    started: float
    phases: list[dict[str, Any]] = field(default_factory=list)
    progress: dict[str, Any] | None = None

    def as_event(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "run_id": self.run_id,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "phases": list(self.phases),
            "progress": self.progress,
        }


class EventHub:
    """Publishes events to every subscriber; a slow subscriber is dropped, never buffered."""

    def __init__(self, observers: tuple[Callable[[dict[str, Any]], None], ...] = ()) -> None:
        self._subscribers: set[Subscriber] = set()
        self._observers = observers  # e.g. metrics: see every event, synchronously
        self.current_run: RunSnapshot | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """Register a client; it first gets a snapshot of the run in progress, if any."""
        subscriber = Subscriber()
        if self.current_run is not None:
            subscriber.queue.put_nowait(self.current_run.as_event())
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, event: dict[str, Any]) -> None:
        """Record the event in the run snapshot and hand it to every subscriber without waiting."""
        self._track(event)
        for observer in self._observers:
            observer(event)
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a subscriber that is %d events behind", SUBSCRIBER_QUEUE_SIZE)
                subscriber.dropped.set()
                self._subscribers.discard(subscriber)

    def close_all(self) -> None:
        """Wake every subscriber so its handler can close its connection (shutdown)."""
        for subscriber in list(self._subscribers):
            subscriber.dropped.set()
        self._subscribers.clear()

    def _track(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run_started":
            self.current_run = RunSnapshot(run_id=event["run_id"], started=time.monotonic())
        elif self.current_run is None or event.get("run_id") != self.current_run.run_id:
            return
        elif kind in ("phase_started", "phase_finished"):
            self._track_phase(event)
        elif kind == "progress":
            self.current_run.progress = {k: event[k] for k in ("phase", "done", "total") if k in event}
        elif kind in ("run_finished", "run_failed"):
            self.current_run = None

    def _track_phase(self, event: dict[str, Any]) -> None:
        assert self.current_run is not None
        phases = self.current_run.phases
        entry = next((p for p in phases if p["phase"] == event["phase"]), None)
        if entry is None:
            entry = {"phase": event["phase"], "status": "running", "duration_s": None}
            phases.append(entry)
        if event["type"] == "phase_finished":
            entry["status"] = "finished"
            entry["duration_s"] = event.get("duration_s")
