"""The dashboard with API tokens on, in a real browser: it asks for a token, keeps it where no
script and no URL can show it, shows the data once logged in, and forgets it on logging out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import Deployment, Worker, http_json, wait_for
from tests.kafka_io import probe, produce_probes

WAIT_MS = 15_000
MAC = "f0:18:98:00:11:22"


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, str]]:
    deployment = Deployment(data_dir=tmp_path_factory.mktemp("login"), partitions=2)
    made = deployment.probewatch("tokens", "create", "--role", "read", "--label", "browser")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    with Worker(deployment) as worker:
        produce_probes(deployment.prefix, [probe(MAC, 1_704_067_200.0, "Home")])
        bearer = {"Authorization": f"Bearer {token}"}
        wait_for(
            lambda: http_json(f"{worker.url}/devices/{MAC}", headers=bearer)[0] == 200,
            60,
            "the probe folded",
        )
        yield worker, token
    deployment.delete_topics()


def test_the_page_asks_for_a_token_then_shows_the_data_and_never_exposes_it(
    closed: tuple[Worker, str], page: Any
) -> None:
    worker, token = closed
    page.goto(f"{worker.url}/#/device/{MAC}")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login-token", "pw_00000000_" + "A" * 43)
    page.click("#login button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#login-error')?.textContent.includes('not valid')",
        timeout=WAIT_MS,
    )
    page.fill("#login-token", token)
    page.click("#login button[type=submit]")
    page.wait_for_function(
        "mac => document.querySelector('main')?.textContent.includes(mac) && "
        "!document.getElementById('login')",
        arg=MAC,
        timeout=WAIT_MS,
    )
    assert token not in page.url
    stored = page.evaluate(
        "() => document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"
    )
    assert token not in stored, "the token is in the HttpOnly cookie only"
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] == token

    page.goto(f"{worker.url}/#/live")
    page.wait_for_function(
        "() => document.querySelector('#live-state')?.textContent.startsWith('Following')",
        timeout=WAIT_MS,
    )  # the event stream is let in by the cookie too

    page.click("#logout")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    assert page.context.cookies() == []
