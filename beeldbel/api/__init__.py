"""The HTTP edge: JSON under /api/v1, one error shape, OpenAPI generated from the operations."""
