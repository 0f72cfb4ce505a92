"""Prometheus metrics, in a registry owned by the application (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from beeldbel import __version__

__all__ = ["HttpMetrics"]


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "beeldbel_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "beeldbel_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.in_flight = Gauge(
            "beeldbel_http_requests_in_flight", "HTTP requests being answered.", registry=registry
        )
        self.rate_limited = Counter(
            "beeldbel_rate_limited",
            "Requests refused by a rate limit.",
            ["scope"],
            registry=registry,
        )
        build = Info("beeldbel_build", "The running version.", registry=registry)
        build.info({"version": __version__})
