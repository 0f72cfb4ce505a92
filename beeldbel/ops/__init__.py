"""Running the service: health, metrics, logging, background tasks."""
