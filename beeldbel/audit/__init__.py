"""The NEN 7513 audit log: append-only, HMAC-chained, anchored outside the database."""
