"""`GET /openapi.json` (the API's OpenAPI 3.1 description) and `GET /docs` (the same, for people).

The page is rendered here, on the worker, from the description itself: plain HTML and a little
CSS, no script and nothing fetched from elsewhere, so it works offline and cannot disagree with
`/openapi.json`. Both are built once per process: the description changes only with the code
(and the Telegram route with the bot's token, which is read at start).
"""

from __future__ import annotations

import functools
import html
import json
import re
import shlex
from typing import Any

from faust import web

from app.main import settings
from app.web.openapi import openapi_document

blueprint = web.Blueprint("docs")

#: The keys of an OpenAPI path item that are operations (the others are shared fields).
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: How a schema's limits read in the parameter tables.
LIMIT_WORDS = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("pattern", "matching <code>{}</code>"),
    ("format", "{}"),
)
_CODE = re.compile(r"`([^`]+)`")

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:0 1rem 4rem;
color:#222}
h1 small{font-weight:normal;color:#666;font-size:.6em}
h2{border-bottom:2px solid #ddd;margin-top:2.5rem}
article{border:1px solid #ddd;border-radius:6px;padding:.2rem 1rem .6rem;margin:1rem 0}
h3 code{font-size:1rem;word-break:break-all}
.m{display:inline-block;min-width:4.2em;padding:.1em .4em;border-radius:4px;color:#fff;
font:bold .8rem monospace;text-align:center;margin-right:.4em}
.m{background:#666}.get{background:#2a7ab0}.put{background:#b07a2a}.post{background:#2a9a4a}
.delete{background:#b03a2a}
table{border-collapse:collapse;width:100%;margin:.4rem 0;table-layout:fixed}
.params th:nth-child(1){width:10em}.params th:nth-child(2){width:3.5em}
.params th:nth-child(3){width:25%}.answers th:nth-child(1){width:3.5em}
.answers th:nth-child(2){width:30%}
td,th{border-top:1px solid #eee;padding:.25rem .4rem;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.5rem;font-size:.85rem;margin:.2rem 0;white-space:pre-wrap;
overflow-wrap:anywhere}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
nav ul{columns:2 18rem;padding-left:1.2rem}
td p{margin:0 0 .3rem}
@media (max-width:40rem){table,tbody,tr,td,th{display:block;width:auto!important}
tr:first-child{display:none}td{border:0;padding:.1rem 0}
tr{border-top:1px solid #eee;padding:.3rem 0}}
"""


def prose(text: str) -> str:
    """Description text as HTML: escaped, `code` marked, paragraphs kept."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + _CODE.sub(r"<code>\1</code>", html.escape(p)) + "</p>" for p in paragraphs
    )


def schema_html(schema: dict[str, Any]) -> str:
    """A schema in a few words, shared schemas linked to their definition below."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{name}">{html.escape(name)}</a>'
    if "anyOf" in schema:
        return " or ".join(schema_html(s) for s in schema["anyOf"])
    if "const" in schema:
        return f"<code>{html.escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{html.escape(str(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + schema_html(schema.get("items", {}))
    if kind == "object" and "properties" in schema:
        return fields_html(schema)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "object of " + schema_html(schema["additionalProperties"])
    limits = [
        template.format(html.escape(str(schema[key])))
        for key, template in LIMIT_WORDS
        if key in schema and not (key == "minLength" and schema[key] == 1)
    ]
    if schema.get("minLength") == 1:
        limits.insert(0, "not empty")
    return html.escape(str(kind)) + (f" ({', '.join(limits)})" if limits else "")


def fields_html(schema: dict[str, Any]) -> str:
    """An object's fields, one a line: name, whether it is always there, its value, its meaning."""
    required = set(schema.get("required", []))
    items = []
    for name, field in schema["properties"].items():
        always = "" if name in required else " (optional)"
        meaning = f" — {html.escape(field['description'])}" if "description" in field else ""
        items.append(
            f"<li><code>{html.escape(name)}</code>{always}: {schema_html(field)}{meaning}</li>"
        )
    only = " only" if schema.get("additionalProperties") is False else ""
    return f"an object with{only} these fields:<ul>{''.join(items)}</ul>"


def example_html(example: Any) -> str:
    if example is None:
        return ""
    text = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False)
    if len(text) > 80 and not isinstance(example, str):
        text = json.dumps(example, ensure_ascii=False, indent=1)
    return f"<pre>{html.escape(text)}</pre>"


def curl_line(base_url: str, method: str, path: str, operation: dict[str, Any]) -> str:
    """A command that calls the route with the description's examples."""
    query = []
    for param in operation.get("parameters", []):
        value = str(param.get("example", "…"))
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", value)
        elif param["in"] == "query" and param.get("required"):
            query.append(f"{param['name']}={value}")
    url = base_url.rstrip("/") + path + ("?" + "&".join(query) if query else "")
    words = ["curl", "-s"] + ([] if method == "get" else ["-X", method.upper()]) + [url]
    body = operation.get("requestBody", {}).get("content", {})
    for content in body.values():
        if content.get("example") is not None:
            words += ["-d", json.dumps(content["example"], ensure_ascii=False)]
    return " ".join(shlex.quote(w) for w in words)


def operation_html(base_url: str, method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [
        f'<article id="{operation["operationId"]}">',
        f'<h3><span class="m {method}">{method.upper()}</span><code>{html.escape(path)}</code>'
        f" — {html.escape(operation['summary'])}</h3>",
        prose(operation["description"]),
    ]
    params = operation.get("parameters", [])
    if params:
        parts.append(
            "<table class=params><tr><th>parameter</th><th>in</th><th>value</th><th></th></tr>"
        )
        for p in params:
            need = " (required)" if p.get("required") else ""
            parts.append(
                f"<tr><td><code>{html.escape(p['name'])}</code>{need}</td><td>{p['in']}</td>"
                f"<td>{schema_html(p['schema'])}</td><td>{prose(p['description'])}</td></tr>"
            )
        parts.append("</table>")
    body = operation.get("requestBody")
    if body:
        optional = "" if body.get("required") else " (optional)"
        parts.append(f"<h4>Body{optional}</h4>{prose(body['description'])}")
        for media, content in body["content"].items():
            parts.append(
                f"<p>{media}: {schema_html(content['schema'])}</p>"
                + example_html(content.get("example"))
            )
    parts.append("<table class=answers><tr><th>answer</th><th>meaning</th><th>body</th></tr>")
    for status, answer in operation["responses"].items():
        bodies = "".join(
            f"<div>{media}: {schema_html(c['schema'])}{example_html(c.get('example'))}</div>"
            for media, c in answer.get("content", {}).items()
        )
        parts.append(
            f"<tr><td><b>{status}</b></td><td>{prose(answer['description'])}</td>"
            f"<td>{bodies}</td></tr>"
        )
    parts.append("</table>")
    parts.append(f"<pre>{html.escape(curl_line(base_url, method, path, operation))}</pre>")
    parts.append("</article>")
    return "".join(parts)


def docs_page(doc: dict[str, Any], base_url: str) -> str:
    """The whole description as one HTML page: by tag, every route, then the shared schemas."""
    routes = [
        (method, path, op)
        for path, methods in doc["paths"].items()
        for method, op in methods.items()
        if method in METHODS
    ]
    info = doc["info"]
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(info['title'])} API</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(info['title'])} API <small>{html.escape(info['version'])}</small></h1>",
        prose(info["description"]),
        '<p>For programs: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p><nav><ul>',
    ]
    out += [
        f'<li><a href="#{op["operationId"]}">{method.upper()} {html.escape(path)}</a></li>'
        for method, path, op in routes
    ]
    out.append("</ul></nav>")
    for tag in doc["tags"]:
        tagged = [(m, p, op) for m, p, op in routes if tag["name"] in op["tags"]]
        if not tagged:
            continue
        out.append(f'<h2 id="tag-{tag["name"]}">{html.escape(tag["name"])}</h2>')
        out.append(prose(tag["description"]))
        out += [operation_html(base_url, m, p, op) for m, p, op in tagged]
    out.append("<h2>Schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        meaning = prose(schema["description"]) if "description" in schema else ""
        out.append(f'<h3 id="schema-{name}">{html.escape(name)}</h3>{meaning}{schema_html(schema)}')
    out.append("</body></html>")
    return "\n".join(out)


@functools.cache
def served_document() -> dict[str, Any]:
    """The description of this worker's routes (the webhook's only while the bot is on)."""
    return openapi_document(bot_on=settings.telegram_token is not None)


@functools.cache
def served_page() -> str:
    return docs_page(served_document(), settings.worker_url)


@blueprint.route("/openapi.json", name="openapi")
class OpenApiView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return self.json(served_document())


@blueprint.route("/docs", name="docs")
class DocsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return self.html(served_page())
