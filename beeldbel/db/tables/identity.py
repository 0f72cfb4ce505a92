"""Tables of the identity capability."""

__all__: list[str] = []
