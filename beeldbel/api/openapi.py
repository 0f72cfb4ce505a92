"""The OpenAPI 3.1 document, built from the same operations the router serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from beeldbel import __version__
from beeldbel.api.errors import JSON
from beeldbel.api.routing import Operation
from beeldbel.api.schemas import ErrorResponse

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"

_REASONS = {
    400: "The body is not valid JSON, or a header is malformed.",
    401: "No valid access token.",
    403: "The principal may not do this.",
    404: "Not found.",
    409: "Conflicts with the current state (duplicate, stale version, request in progress).",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "The input does not match the schema or the rules.",
    429: "Too many requests; see Retry-After.",
    503: "Not ready.",
}


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "x-data-class": op.data.value,
    }
    if op.description:
        doc["description"] = op.description
    parameters: list[dict[str, Any]] = []
    if op.path_params is not None:
        parameters += _parameters(op.path_params, "path")
    if op.query is not None:
        parameters += _parameters(op.query, "query")
    if op.takes_idempotency_key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Send the same key when retrying; the first answer is replayed.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": REF.format(model=op.body.__name__)}}},
        }
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {
            op.media_type: {"schema": {"$ref": REF.format(model=op.response.__name__)}}
        }
    elif op.media_type != JSON:
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in op.error_statuses():
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    doc["responses"] = responses
    doc["security"] = [] if op.public else [{"bearer": []}]
    return doc


def build_openapi(operations: Sequence[Operation]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorResponse, "serialization")
    ]
    for op in operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    _, defs = models_json_schema(models, ref_template=REF)
    statuses = sorted({s for op in operations for s in op.error_statuses()})
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.template, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Beeldbel API",
            "version": __version__,
            "description": "Every error has the shape "
            '{"error": {"code": ..., "message": ..., "details": {...}}}.',
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "responses": {
                f"Error{status}": {
                    "description": _REASONS.get(status, "Error."),
                    "content": {JSON: {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
                }
                for status in statuses
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
