"""The terms the API description is written in, and how they become an OpenAPI 3.1 document.

`app.web.openapi` describes every route as an `Operation` (its parameters, body and answers);
`document` turns those into the JSON that `GET /openapi.json` serves. Keeping the description
in these few plain values, instead of hand-written OpenAPI, lets the test that compares it with
the routes the server registers, the docs page and the fuzzer all read one table, and lets
`document` refuse what OpenAPI would let slip: a route described twice, a status answered
twice, a path parameter the path does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Schema = dict[str, Any]

JSON = "application/json"
TEXT = "text/plain"

#: `{name}` in a path template (OpenAPI's form, and aiohttp's canonical one).
_PLACEHOLDER = re.compile(r"\{([^}/]+)\}")


def ref(name: str) -> Schema:
    """A reference to the shared schema `name` (`components.schemas`)."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema`, or null (JSON Schema 2020-12, as OpenAPI 3.1 uses it)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: Mapping[str, Schema], optional: Mapping[str, Schema] | None = None) -> Schema:
    """A closed JSON object: these properties and no others, so an answer that grows a field
    the description does not know fails the schema test instead of going undocumented."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter."""

    name: str
    where: Literal["path", "query", "header"]
    description: str
    schema: Schema
    required: bool = False
    example: Any = None

    def openapi(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }
        if self.example is not None:
            described["example"] = self.example
        return described


@dataclass(frozen=True)
class Content:
    """A body of one media type: its schema and an example."""

    media_type: str
    schema: Schema
    example: Any = None

    def openapi(self) -> dict[str, Any]:
        described: dict[str, Any] = {"schema": self.schema}
        if self.example is not None:
            described["example"] = self.example
        return described


def json_body(schema: Schema, example: Any = None) -> Content:
    return Content(JSON, schema, example)


def text_body(example: str | None = None, media_type: str = TEXT) -> Content:
    return Content(media_type, {"type": "string"}, example)


@dataclass(frozen=True)
class Body:
    """What a request may carry."""

    description: str
    content: Content
    required: bool = True

    def openapi(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "required": self.required,
            "content": {self.content.media_type: self.content.openapi()},
        }


@dataclass(frozen=True)
class Header:
    """A header an answer carries."""

    name: str
    description: str
    schema: Schema
    required: bool = True


@dataclass(frozen=True)
class Answer:
    """One status a route answers with, what it means and what its body is."""

    status: int
    description: str
    content: tuple[Content, ...] = ()
    headers: tuple[Header, ...] = ()

    def openapi(self) -> dict[str, Any]:
        described: dict[str, Any] = {"description": self.description}
        if self.headers:
            described["headers"] = {
                h.name: {"description": h.description, "required": h.required, "schema": h.schema}
                for h in self.headers
            }
        if self.content:
            described["content"] = {c.media_type: c.openapi() for c in self.content}
        return described


@dataclass(frozen=True)
class Operation:
    """One method on one path: the unit the route-coverage test counts."""

    method: str
    path: str
    tag: str
    summary: str
    description: str
    answers: tuple[Answer, ...]
    params: tuple[Param, ...] = ()
    body: Body | None = None
    #: Served only while the Telegram bot is on (`PROBEWATCH_TELEGRAM_TOKEN` set).
    only_with_bot: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """(METHOD, path), as the route table spells a route."""
        return self.method.upper(), self.path

    @property
    def operation_id(self) -> str:
        words = re.findall(r"[A-Za-z0-9]+", self.path) or ["index"]
        return "_".join([self.method.lower(), *words])

    def check(self) -> None:
        """ValueError for a description OpenAPI would accept but that cannot be true."""
        placeholders = set(_PLACEHOLDER.findall(self.path))
        in_path = {p.name for p in self.params if p.where == "path"}
        if placeholders != in_path:
            raise ValueError(
                f"{self.method} {self.path}: path parameters {sorted(in_path)} "
                f"do not match the path's {sorted(placeholders)}"
            )
        statuses = [a.status for a in self.answers]
        if len(statuses) != len(set(statuses)):
            raise ValueError(f"{self.method} {self.path}: a status is described twice")

    def openapi(self) -> dict[str, Any]:
        self.check()
        described: dict[str, Any] = {
            "operationId": self.operation_id,
            "tags": [self.tag],
            "summary": self.summary,
            "description": self.description,
        }
        if self.params:
            described["parameters"] = [p.openapi() for p in self.params]
        if self.body is not None:
            described["requestBody"] = self.body.openapi()
        described["responses"] = {
            str(a.status): a.openapi() for a in sorted(self.answers, key=lambda a: a.status)
        }
        return described


@dataclass(frozen=True)
class Tag:
    name: str
    description: str


def document(
    operations: Iterable[Operation],
    *,
    title: str,
    version: str,
    description: str,
    tags: Iterable[Tag],
    schemas: Mapping[str, Schema],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`; ValueError for a route described twice."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        methods = paths.setdefault(operation.path, {})
        method = operation.method.lower()
        if method in methods:
            raise ValueError(f"{operation.method} {operation.path} is described twice")
        methods[method] = operation.openapi()
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "tags": [{"name": t.name, "description": t.description} for t in tags],
        "paths": paths,
        "components": {"schemas": dict(schemas)},
    }
