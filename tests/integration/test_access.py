"""Tokens and roles on the real Kafka, two workers: every described route asks for a token once
one exists, a `read` token cannot change anything, the routed and gathered paths let the
workers in with their own credential, a revoked token stops working on every worker, and the
dashboard's cookie works only from its own origin."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from app.logic.tokens import needed
from tests.harness import Deployment, Worker, http_json, wait_for
from tests.kafka_io import partition_for, probe, produce_probes


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(deployment: Deployment, role: str) -> str:
    result = deployment.probewatch("tokens", "create", "--role", role, "--label", f"test {role}")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert re.fullmatch(r"pw_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", token)
    return token


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Worker, Worker]]:
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("access"), partitions=4)
    with Worker(deployment) as first, Worker(deployment) as second:
        wait_for(
            lambda: len(http_json(f"{first.url}/cluster")[1].get("workers", [])) == 2,
            90,
            "two workers",
        )
        yield deployment, first, second
    deployment.delete_topics()


@pytest.fixture(scope="module")
def tokens(cluster: tuple[Deployment, Worker, Worker]) -> dict[str, str]:
    """An admin and a read token, made once the API was seen open."""
    deployment, first, second = cluster
    # Open until a token exists (PROBEWATCH_API_AUTH=auto); a 503 while the listing is built.
    wait_for(lambda: first.get("/devices")[0] == 200, 60, "the API open, the listing ready")
    made = {"admin": create(deployment, "admin"), "read": create(deployment, "read")}
    for worker in (first, second):
        wait_for(lambda w=worker: w.get("/devices")[0] == 401, 15, f"{worker.url} closed")
    return made


def _operations(worker: Worker) -> list[tuple[str, str, str]]:
    """Every (method, route, path) the worker describes, path parameters from the examples."""
    document = worker.get("/openapi.json")[1]
    found = []
    for template, methods in document["paths"].items():
        for method, operation in methods.items():
            examples = {
                p["name"]: str(p.get("example", "x"))
                for p in operation.get("parameters", [])
                if p["in"] == "path"
            }
            path = template
            for name, example in examples.items():
                path = path.replace(f"{{{name}}}", urllib.parse.quote(example, safe=":"))
            found.append((method.upper(), template, path))
    return found


def _status(url: str, method: str, headers: dict[str, str]) -> int:
    """The status only: an event stream's 200 is read as soon as its headers arrive."""
    body = b'{"name": "x", "reason": "x"}' if method in ("PUT", "POST") else None
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_every_route_but_the_public_ones_asks_for_a_token_and_a_role(
    cluster: tuple[Deployment, Worker, Worker], tokens: dict[str, str]
) -> None:
    _, first, _ = cluster
    operations = _operations(first)
    assert len(operations) > 20
    checked = 0
    for method, route, path in operations:
        url = f"{first.url}{path}"
        want = needed(method, route)
        if want is None:
            assert _status(url, method, {}) not in (401, 403), f"{method} {path} is public"
            continue
        assert _status(url, method, {}) == 401, f"{method} {path} without a token"
        assert _status(url, method, bearer("pw_00000000_" + "A" * 43)) == 401, path
        with_read = _status(url, method, bearer(tokens["read"]))
        if want == "admin":
            assert with_read == 403, f"{method} {path} with a read token"
        else:
            assert with_read not in (401, 403), f"{method} {path} with a read token"
        assert _status(url, method, bearer(tokens["admin"])) not in (401, 403), path
        checked += 1
    assert checked > 15


def test_a_key_another_worker_owns_and_a_gathered_list_answer_with_a_read_token(
    cluster: tuple[Deployment, Worker, Worker], tokens: dict[str, str]
) -> None:
    deployment, first, second = cluster
    macs = [f"f0:18:98:00:00:{i:02x}" for i in range(16)]
    produce_probes(
        deployment.prefix, [probe(mac, 1_704_067_200.0 + i) for i, mac in enumerate(macs)]
    )
    read = bearer(tokens["read"])
    partitions = {partition_for(mac.encode(), deployment.partitions) for mac in macs}
    assert len(partitions) > 1, "keys of several partitions, so of both workers"
    for worker in (first, second):
        for mac in macs:
            status = wait_for(
                lambda w=worker, m=mac: http_json(f"{w.url}/devices/{m}", headers=read)[0] == 200,
                30,
                f"{mac} from {worker.url}",
            )
            assert status

        def listed(w: Worker = worker) -> bool:
            status, body = http_json(f"{w.url}/devices?limit=100", headers=read)
            assert status == 200, body
            return {d["mac"] for d in body["devices"]} >= set(macs)

        wait_for(listed, 30, f"the gathered list of {worker.url}")
    name = {"name": "Alice phone"}
    assert http_json(f"{first.url}/devices/{macs[0]}/name", "PUT", name, headers=read)[0] == 403
    admin = bearer(tokens["admin"])
    for mac in macs[:4]:  # some owned by the other worker: the forwarded PUT is let in too
        status, _ = http_json(f"{first.url}/devices/{mac}/name", "PUT", name, headers=admin)
        assert status in (200, 202), status


def test_a_revoked_token_stops_working_on_every_worker_within_seconds(
    cluster: tuple[Deployment, Worker, Worker], tokens: dict[str, str]
) -> None:
    deployment, first, second = cluster
    token = create(deployment, "read")
    for worker in (first, second):
        wait_for(
            lambda w=worker: http_json(f"{w.url}/devices", headers=bearer(token))[0] == 200,
            10,
            "the new token works",
        )
    listed = deployment.probewatch("tokens", "list")
    token_id = token.split("_", 2)[1]
    assert listed.returncode == 0 and token_id in listed.stdout
    assert all(t.split("_", 2)[2] not in listed.stdout for t in [token, *tokens.values()])
    revoked = deployment.probewatch("tokens", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    started = time.monotonic()
    for worker in (first, second):
        wait_for(
            lambda w=worker: http_json(f"{w.url}/devices", headers=bearer(token))[0] == 401,
            5,
            f"revoked on {worker.url}",
        )
    assert time.monotonic() - started < 5
    assert deployment.probewatch("tokens", "revoke", token_id).returncode == 2
    assert deployment.probewatch("tokens", "create", "--role", "root").returncode == 2


def test_the_dashboard_cookie_reads_and_changes_only_from_its_own_origin(
    cluster: tuple[Deployment, Worker, Worker], tokens: dict[str, str]
) -> None:
    _, first, _ = cluster
    assert http_json(f"{first.url}/login", "POST", {"token": "pw_nope"})[0] == 401
    request = urllib.request.Request(
        f"{first.url}/login",
        data=b'{"token": "%s"}' % tokens["admin"].encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        cookie_header = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Strict" in cookie_header
    cookie = {"Cookie": cookie_header.split(";", 1)[0]}
    assert http_json(f"{first.url}/devices", headers=cookie)[0] == 200
    watch = f"{first.url}/watchlist/CookieNet"
    reason = {"reason": "test"}
    assert http_json(watch, "PUT", reason, headers=cookie)[0] == 403, "no Origin: refused"
    evil = {**cookie, "Origin": "http://evil.example"}
    assert http_json(watch, "PUT", reason, headers=evil)[0] == 403
    own = {**cookie, "Origin": first.url}
    assert http_json(watch, "PUT", reason, headers=own)[0] in (200, 202)
    assert http_json(f"{first.url}/logout", "POST")[0] == 200


def test_public_routes_stay_public(cluster: tuple[Deployment, Worker, Worker], tokens: Any) -> None:
    _, first, _ = cluster
    for path in ("/health", "/", "/ui/app.js", "/openapi.json", "/docs"):
        request = urllib.request.Request(f"{first.url}{path}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, path


def test_a_device_is_erased_through_a_worker_that_does_not_own_it(
    cluster: tuple[Deployment, Worker, Worker], tokens: dict[str, str]
) -> None:
    deployment, first, second = cluster
    macs = [f"f0:18:98:00:01:{i:02x}" for i in range(8)]
    produce_probes(deployment.prefix, [probe(mac, 1_704_067_300.0) for mac in macs])
    read, admin = bearer(tokens["read"]), bearer(tokens["admin"])
    for mac in macs:
        wait_for(
            lambda m=mac: http_json(f"{first.url}/devices/{m}", headers=read)[0] == 200,
            30,
            f"{mac} folded",
        )
    owners = {mac: http_json(f"{first.url}/router/devices/{mac}/", headers=read)[1] for mac in macs}
    remote = [mac for mac, owner in owners.items() if str(owner).rstrip("/") != first.url]
    assert remote, f"no key of the other worker among {owners}"
    mac = remote[0]
    assert http_json(f"{first.url}/devices/{mac}", "DELETE", headers=read)[0] == 403
    status, answer = http_json(f"{first.url}/devices/{mac}", "DELETE", headers=admin)
    assert status == 200, answer
    assert answer["erased"]["device"] is True
    for worker in (first, second):
        assert http_json(f"{worker.url}/devices/{mac}", headers=read)[0] == 404
