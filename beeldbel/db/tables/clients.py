"""Tables of the clients capability."""

__all__: list[str] = []
