"""Building blocks shared by request and response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from beeldbel.pagination import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["ErrorBody", "ErrorResponse", "PageQuery", "Request", "Response"]


class Request(BaseModel):
    """Base of every request model: unknown fields are refused, types are strict."""

    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageQuery(Request):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(max_length=500)] = None


class ErrorBody(Response):
    code: str = Field(description="Stable, machine-readable; the front end's text is keyed on it.")
    message: str = Field(description="For developers; not shown to users.")
    details: dict[str, object] = Field(default_factory=dict)


class ErrorResponse(Response):
    error: ErrorBody
