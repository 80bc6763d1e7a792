"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests.

Every façade endpoint is declared once as an :class:`Operation`; the router serves it and this
module describes it, so the document cannot drift from what the server accepts.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP endpoint as documented: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: dict[int, str] = field(default_factory=dict)
    error_model: type[BaseModel] | None = None
    # statuses in ``errors`` whose body is another model than ``error_model``
    error_models: dict[int, type[BaseModel]] = field(default_factory=dict)
    security: str | None = None
    description: str = ""

    @property
    def operation_id(self) -> str:
        words = self.path.strip("/").replace("{", "").replace("}", "").replace("-", "_")
        return f"{self.method.lower()}_{words.replace('/', '_')}"


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    name: str
    scheme: dict[str, Any]


def build_document(
    operations: Sequence[Operation],
    *,
    title: str,
    version: str,
    description: str,
    security: Iterable[SecurityScheme] = (),
) -> dict[str, Any]:
    refs, defs = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {s.name: s.scheme for s in security},
        },
    }


def _schemas(
    operations: Sequence[Operation],
) -> tuple[dict[tuple[type[BaseModel], Mode], dict[str, Any]], dict[str, Any]]:
    wanted: dict[tuple[type[BaseModel], Mode], None] = {}
    for op in operations:
        if op.body is not None:
            wanted[(op.body, "validation")] = None
        if op.query is not None:
            wanted[(op.query, "validation")] = None
        for model in (op.response, op.error_model, *op.error_models.values()):
            if model is not None:
                wanted[(model, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF)
    return dict(refs), top.get("$defs", {})  # type: ignore[arg-type]


def _operation(op: Operation, refs: dict[tuple[type[BaseModel], Mode], Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op, refs),
        "responses": {str(op.status): _response("Success", op.response, refs)},
    }
    if op.description:
        doc["description"] = op.description
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    for status, text in op.errors.items():
        model = op.error_models.get(status, op.error_model)
        doc["responses"][str(status)] = _response(text, model, refs)
    if op.security:
        doc["security"] = [{op.security: []}]
    return doc


def _response(
    text: str, model: type[BaseModel] | None, refs: dict[tuple[type[BaseModel], Mode], Any]
) -> dict[str, Any]:
    if model is None:
        return {"description": text}
    schema = refs[(model, "serialization")]
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _parameters(
    op: Operation, refs: dict[tuple[type[BaseModel], Mode], Any]
) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for part in op.path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            params.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def docs_html(document: dict[str, Any]) -> str:
    """A self-contained reference page: every operation, its parameters and body schema.

    Rendered on the server (no CDN scripts), so it works on an offline operator network.
    """
    info = document["info"]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(info['title'])}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{padding:.6rem;"
        "overflow:auto}h3{margin-bottom:.2rem}.m{font-weight:bold;text-transform:uppercase}"
        "</style></head><body>",
        f"<h1>{html.escape(info['title'])} <small>{html.escape(info['version'])}</small></h1>",
        f"<p>{html.escape(info['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op["tags"][0], []).append((method, path, op))
    for tag, ops in by_tag.items():
        out.append(f"<h2>{html.escape(tag)}</h2>")
        for method, path, op in ops:
            out.append(
                f"<h3 id='{op['operationId']}'><span class='m'>{method}</span> "
                f"<code>{html.escape(path)}</code></h3><p>{html.escape(op['summary'])}</p>"
            )
            if op.get("description"):
                out.append(f"<p>{html.escape(op['description'])}</p>")
            for param in op["parameters"]:
                req = " (required)" if param["required"] else ""
                out.append(
                    f"<div><code>{html.escape(param['name'])}</code> in {param['in']}{req}</div>"
                )
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]
                out.append(f"<div>Body: <code>{html.escape(json.dumps(ref))}</code></div>")
            codes = ", ".join(sorted(op["responses"]))
            out.append(f"<div>Responses: {codes}</div>")
    out.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        body = html.escape(json.dumps(schema, indent=2))
        out.append(f"<h3 id='schema-{html.escape(name)}'>{html.escape(name)}</h3><pre>{body}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
