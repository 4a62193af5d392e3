"""Prometheus metrics, request ids and access logs.

Metrics live in a per-app CollectorRegistry (tests build many apps in one process). The
training worker runs in another process; instead of prometheus' multiprocess mode, its phase
durations reach us inside the progress events it already sends, and the server records them.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from bisect import bisect_left
from typing import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.utils import floatToGoString

from server import keys
from server.logs import request_id_var

access_log = logging.getLogger("server.access")
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A request id only has to be unique, not secret: a random per-process prefix and a counter are
# 16 hex characters like uuid4().hex[:16] was, without a getrandom() call per request (~6% of a
# predict's CPU under load).
_REQUEST_ID_PREFIX = os.urandom(4).hex()
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    """A process-unique request id: 8 random hex characters, then a hex counter."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers) & 0xFFFFFFFF:08x}"
LAG_INTERVAL_S = 1.0


LATENCY_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10)
# The method label takes these; any other token a client sends counts as OTHER (bounded series).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _ServingCounts:
    """Request, latency and decision counts of the serving loop, exported at scrape time.

    prometheus_client's children take a lock per increment and a histogram walks its buckets:
    three locks and a loop per request. Every writer here is the event loop's thread, so plain
    ints and one bisect do; a scrape reads them (on the loop too, or racing a single increment,
    which a counter may).
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], list] = {}  # (method, route) -> [bucket counts..., sum]
        self.decisions = {"congested": 0, "clear": 0}

    def observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        if method not in HTTP_METHODS:
            method = "OTHER"
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get((method, route))
        if histogram is None:
            histogram = self.latency[(method, route)] = [0] * (len(LATENCY_BUCKETS) + 2)
        histogram[bisect_left(LATENCY_BUCKETS, elapsed)] += 1  # le is inclusive, as Prometheus'
        histogram[-1] += elapsed

    def collect(self):
        requests = CounterMetricFamily("congestion_http_requests", "HTTP requests by route and status",
                                       labels=["method", "route", "status"])
        for labels, count in list(self.requests.items()):
            requests.add_metric(list(labels), count)
        yield requests
        latency = HistogramMetricFamily("congestion_http_request_duration_seconds", "HTTP request latency",
                                        labels=["method", "route"])
        for labels, histogram in list(self.latency.items()):
            counts, total = histogram[:-1], histogram[-1]
            cumulative = list(itertools.accumulate(counts))
            buckets = [(floatToGoString(le), n) for le, n in zip(LATENCY_BUCKETS, cumulative)]
            latency.add_metric(list(labels), buckets + [("+Inf", cumulative[-1])], total)
        yield latency
        predictions = CounterMetricFamily("congestion_predictions", "Predictions served by decision",
                                          labels=["decision"])
        for decision, count in self.decisions.items():
            predictions.add_metric([decision], count)
        yield predictions


class Metrics:
    """Every metric the server exports, registered on one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.serving = _ServingCounts()
        r.register(self.serving)
        self.training_runs = Counter("congestion_training_runs_total", "Finished training runs by outcome",
                                     ["outcome"], registry=r)
        self.phase_seconds = Histogram("congestion_training_phase_duration_seconds",
                                       "Training phase durations", ["phase"], registry=r,
                                       buckets=(.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900))
        self.loop_lag = Gauge("congestion_event_loop_lag_seconds",
                              "How late the event loop woke a 1 s timer, last sample", registry=r)

    def observe_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count and time one request (on the event loop's thread)."""
        self.serving.observe(method, route, status, elapsed)

    def count_decisions(self, positives: int, total: int) -> None:
        """Count one request's answers by decision."""
        decisions = self.serving.decisions
        decisions["congested"] += positives
        decisions["clear"] += total - positives

    def observe_event(self, event: dict) -> None:
        """Fold a training event into the counters (called by the relay for every event)."""
        kind = event.get("type")
        if kind == "phase_finished" and event.get("duration_s") is not None:
            self.phase_seconds.labels(event["phase"]).observe(event["duration_s"])
        elif kind == "run_finished":
            self.training_runs.labels("succeeded").inc()
        elif kind == "run_failed":
            self.training_runs.labels(event.get("status", "failed")).inc()


class _LiveState:
    """Collector for values read at scrape time: active model, WebSocket clients."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def collect(self):
        bundle = self._app[keys.INFERENCE].bundle if keys.INFERENCE in self._app else None
        info = InfoMetricFamily("congestion_active_model", "The model version being served")
        if bundle is not None:
            info.add_metric([], {"version": bundle.version, "model_type": bundle.model_type})
        yield info
        clients = GaugeMetricFamily("congestion_websocket_clients", "Connected WebSocket clients")
        clients.add_metric([], len(self._app[keys.WEBSOCKETS]))
        yield clients


def route_label(request: web.Request) -> str:
    """The route's template (bounded cardinality), never the raw path."""
    route = request.match_info.route
    resource = getattr(route, "resource", None)
    if resource is None:
        return "unmatched"
    return resource.canonical


def install(app: web.Application) -> Metrics:
    """Create the app's metrics and the collector of live state."""
    metrics = Metrics()
    metrics.registry.register(_LiveState(app))
    app[keys.METRICS] = metrics
    return metrics


@web.middleware
async def observe_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Request id in, header out; count and time every request; one access-log line."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_request_id()
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        elapsed = time.perf_counter() - started
        metrics = request.app[keys.METRICS]
        route = route_label(request)
        metrics.observe_request(request.method, route, status, elapsed)
        # Successful requests log at DEBUG: at INFO every predict wrote a line to the console and
        # the rotating file (5 MB rotated every minute under load: no history, and ~10% of a
        # predict's CPU). Refusals and errors still log at INFO; counts live in the metrics.
        level = logging.DEBUG if status < 400 else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(level, "%s %s %d %.1fms", request.method, route, status, elapsed * 1000)
        request_id_var.reset(token)


async def loop_lag_monitor(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: sample event-loop lag once a second."""
    gauge = app[keys.METRICS].loop_lag

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while True:
            planned = loop.time() + LAG_INTERVAL_S
            await asyncio.sleep(LAG_INTERVAL_S)
            gauge.set(max(0.0, loop.time() - planned))

    task = asyncio.create_task(sample(), name="loop-lag")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
