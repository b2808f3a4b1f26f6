"""Prometheus metrics, one registry per app (several apps can live in one test process).

Everything here is an in-memory counter, gauge or histogram of this process: a scrape never
touches the database (a table scan per scrape let scrapers slow everyone's posts down).
Database-wide figures (what is stored) belong to the database's own monitoring."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUSH_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "hongbao_relay_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "hongbao_relay_request_seconds", "HTTP request duration", ["route"], registry=r
        )
        self.accepted = Counter("hongbao_relay_envelopes_accepted", "Envelopes stored", registry=r)
        self.duplicates = Counter(
            "hongbao_relay_envelopes_duplicate", "Envelopes posted again (already stored)", registry=r
        )
        self.swept = Counter("hongbao_relay_envelopes_swept", "Expired envelopes deleted", registry=r)
        self.acked = Counter("hongbao_relay_envelopes_acked", "Envelopes deleted by their recipient", registry=r)
        self.fetches = Counter("hongbao_relay_mailbox_fetches", "Mailbox reads (GET /v1/mailbox)", registry=r)
        self.prekey_claims = Counter(
            "hongbao_relay_prekey_claims",
            "Prekey bundles claimed; outcome exhausted: no one-time prekey was left",
            ["outcome"],
            registry=r,
        )
        self.rate_limited = Counter("hongbao_relay_rate_limited", "Requests refused with 429", registry=r)
        self.ws_connections = Gauge("hongbao_relay_ws_connections", "Open WebSocket streams", registry=r)
        self.pushed = Counter("hongbao_relay_envelopes_pushed", "Envelopes sent over WebSocket streams", registry=r)
        self.listening = Gauge(
            "hongbao_relay_push_listening", "1 while the PostgreSQL LISTEN connection is up (0 on SQLite)", registry=r
        )
        self.push_latency = Histogram(
            "hongbao_relay_push_latency_seconds",
            "From a batch's commit (or its NOTIFY) to its push on a stream",
            buckets=PUSH_BUCKETS,
            registry=r,
        )
        lanes = Counter(
            "hongbao_relay_envelopes_lane",
            "Envelopes stored, by lane: contact (a valid delivery pass) or request",
            ["lane"],
            registry=r,
        )
        self.contact_lane, self.request_lane = lanes.labels("contact"), lanes.labels("request")

    def render(self) -> bytes:
        return generate_latest(self.registry)
