"""The API description (`app.web.openapi`): valid OpenAPI 3.1, true to the routes, readable.

The route check builds the worker's web server as `probewatch worker` does (faust's
autodiscovery, then faust's own blueprints) and compares the aiohttp route table with the
description both ways: a route served but not described, or described but not served, fails
the test by name. HEAD is left out: faust adds it to every view (as its GET).
"""

from __future__ import annotations

import collections
import re
from typing import Any

import faust
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.web import devices, docs, openapi, subscriptions, telegram, watchlist
from app.web.openapi import OPERATIONS, openapi_document
from app.web.openapi_terms import (
    Answer,
    Operation,
    Param,
    Tag,
    document,
    json_body,
)
from app.web.server import WEB_DRIVER

Route = tuple[str, str]


def router_routes(web_app: Any) -> list[Route]:
    """(METHOD, path) of every route an aiohttp application serves, HEAD left out."""
    return [
        (route.method, route.resource.canonical)
        for route in web_app.router.routes()
        if route.method != "HEAD"
    ]


def described(doc: dict[str, Any]) -> set[Route]:
    return {(method.upper(), path) for path, methods in doc["paths"].items() for method in methods}


def assert_same_routes(served: list[Route], doc: dict[str, Any]) -> None:
    shadowed = sorted(r for r, n in collections.Counter(served).items() if n > 1)
    assert not shadowed, f"served by two views (only the first is ever reached): {shadowed}"
    undescribed = sorted(set(served) - described(doc))
    assert not undescribed, (
        f"served but not described: {undescribed}; add an Operation to app/web/openapi.py"
    )
    unserved = sorted(described(doc) - set(served))
    assert not unserved, f"described in app/web/openapi.py but not served: {unserved}"


@pytest.mark.parametrize("bot_on", [False, True], ids=["bot off", "bot on"])
def test_the_description_is_valid_openapi_3_1(bot_on: bool) -> None:
    doc = openapi_document(bot_on=bot_on)
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_the_worker_serves_is_described_and_every_described_route_is_served(
    app: faust.App,
) -> None:
    """Without a bot token, as in these tests: the webhook is neither served nor described."""
    app.web.init_server()  # faust's own blueprints (`/`, `/router/…`), as a worker's start adds
    served = router_routes(app.web.web_app)  # type: ignore[attr-defined]
    assert ("GET", "/devices/{mac}") in served  # the route table was read, not an empty one
    assert_same_routes(served, openapi_document(bot_on=False))
    assert docs.served_document() == openapi_document(bot_on=False)
    assert set(app.tables) == set(openapi.TABLES)  # the names faust's router is described with


def test_the_webhook_route_is_described_only_with_the_bot() -> None:
    """`app.web.routes` registers the webhook only with a token; its description agrees."""
    bot_app = faust.App("openapi-webhook", web=WEB_DRIVER, store="memory://", broker="kafka://x:1")
    telegram.blueprint.register(bot_app)
    webhook = router_routes(bot_app.web.web_app)  # type: ignore[attr-defined]
    with_bot = described(openapi_document(bot_on=True)) - described(openapi_document())
    assert with_bot == set(webhook) == {op.key for op in OPERATIONS if op.only_with_bot}


def test_a_missing_route_is_named() -> None:
    doc = openapi_document()
    served = [*described(doc), ("GET", "/nowhere")]
    with pytest.raises(AssertionError, match=r"not described: \[\('GET', '/nowhere'\)\]"):
        assert_same_routes(served, doc)
    with pytest.raises(AssertionError, match=r"not served: \[\('GET', '/health'\)\]"):
        assert_same_routes(sorted(described(doc) - {("GET", "/health")}), doc)
    with pytest.raises(AssertionError, match="served by two views"):
        assert_same_routes([*described(doc), ("GET", "/")], doc)


def examples(doc: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) of every example in the description."""
    found = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                if "example" in param:
                    found.append((f"{where} {param['name']}", param["example"], param["schema"]))
            bodies = [("body", op.get("requestBody", {}))]
            bodies += [(status, answer) for status, answer in op["responses"].items()]
            for label, body in bodies:
                for media, content in body.get("content", {}).items():
                    if "example" in content:
                        found.append(
                            (f"{where} {label} {media}", content["example"], content["schema"])
                        )
    return found


def test_every_example_matches_its_own_schema() -> None:
    doc = openapi_document(bot_on=True)
    found = examples(doc)
    assert len(found) > 30
    for where, example, schema in found:
        rooted = {**schema, "components": doc["components"]}  # so `#/components/…` resolves
        errors = [e.message for e in Draft202012Validator(rooted).iter_errors(example)]
        assert not errors, f"{where}: {errors}"


def test_the_docs_page_shows_every_route_with_an_example_call() -> None:
    doc = openapi_document(bot_on=True)
    page = docs.docs_page(doc, "http://localhost:6066")
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert f'id="{op["operationId"]}"' in page
            assert f"{method.upper()}</span><code>{path}</code>" in page
    assert "curl -s http://localhost:6066/devices/F0-18-98-3A-1B-07" in page
    assert "curl -s -X PUT http://localhost:6066/devices/F0-18-98-3A-1B-07/name -d" in page
    # Nothing fetched from elsewhere: no script, no stylesheet or image, links inside the worker.
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert all(href[0] in "#/" for href in re.findall(r'href="([^"]*)"', page))


def test_the_docs_page_escapes_what_it_shows() -> None:
    doc = document(
        [
            Operation(
                "GET",
                "/x",
                "t",
                "<blink>",
                "`<marquee>`",
                (Answer(200, "ok", (json_body({"type": "string"}, "<xmp>"),)),),
            )
        ],
        title="t",
        version="1",
        description="d",
        tags=[Tag("t", "t")],
        schemas={},
    )
    page = docs.docs_page(doc, "http://h")
    assert "<blink>" not in page and "<marquee>" not in page and "<xmp>" not in page
    assert "<code>&lt;marquee&gt;</code>" in page


def test_a_description_that_cannot_be_true_is_refused() -> None:
    ok = (Answer(200, "ok"),)
    with pytest.raises(ValueError, match="path parameters"):
        Operation("GET", "/a/{b}", "t", "s", "d", ok).openapi()
    with pytest.raises(ValueError, match="path parameters"):
        Operation("GET", "/a", "t", "s", "d", ok, (Param("b", "path", "d", {}),)).openapi()
    with pytest.raises(ValueError, match="status is described twice"):
        Operation("GET", "/a", "t", "s", "d", (*ok, *ok)).openapi()
    twice = [Operation("GET", "/a", "t", "s", "d", ok)] * 2
    with pytest.raises(ValueError, match="GET /a is described twice"):
        document(twice, title="t", version="1", description="d", tags=[], schemas={})


def test_the_edit_wait_described_is_the_views_own() -> None:
    for view in (devices, subscriptions, watchlist):
        assert view.EDIT_VISIBLE_WITHIN_S == openapi.EDIT_WAIT_S, view.__name__


def test_every_operation_answers_something_and_is_tagged() -> None:
    tags = {t.name for t in openapi.TAGS}
    for op in OPERATIONS:
        assert op.tag in tags, op.key
        assert any(200 <= a.status < 300 for a in op.answers), op.key
