"""What the lake holds, read the way a test checks it: SQL through the `probewatch` command, and
the raw zone's records, from a folder or an object store."""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from bench.eval_pipeline import read_groups
from tests.harness import Deployment, wait_for


def lake_sql(deployment: Deployment, query: str) -> list[list[Any]]:
    """`probewatch sql QUERY`'s rows, each a list of its values (the command must succeed)."""
    return json_rows(deployment, "sql", "--format", "json", query)


def lake_report(deployment: Deployment, name: str, *args: str) -> list[list[Any]]:
    """`probewatch report NAME ARGS`'s rows, each a list of its values."""
    return json_rows(deployment, "report", name, "--format", "json", *args)


def served_probable_devices(
    deployment: Deployment, url: str, macs: list[str], timeout: float = 120
) -> dict[str, str]:
    """Once the lake holds every MAC's join to its probable device: each MAC's group as
    `GET /devices/{mac}` serves it, groups begun in doubt left out (as the counts leave them)."""
    wait_for(
        lambda: (
            lake_sql(deployment, "select count(distinct mac) from group_joins") == [[len(macs)]]
        ),
        timeout,
        "every MAC's join to its probable device in the lake",
    )
    groups, doubtful = read_groups(url, macs)
    assert groups.keys() == set(macs), "a MAC with a join in the lake has a group"
    return {mac: group for mac, group in groups.items() if group not in doubtful}


def json_rows(deployment: Deployment, *args: str) -> list[list[Any]]:
    """The rows of a `probewatch sql`/`report` command run with `--format json`."""
    done = deployment.probewatch(*args)
    assert done.returncode == 0, done.stderr
    return [list(orjson.loads(line).values()) for line in done.stdout.splitlines()]


def raw_records(pieces: Iterable[tuple[str, bytes]]) -> dict[int, list[dict[str, Any]]]:
    """Per partition, the raw zone's lines of the pieces given as (name, gzipped bytes)."""
    records: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for name, data in pieces:
        partition = int(name.rsplit("/", 1)[-1].split("+")[1])
        records[partition] += [orjson.loads(line) for line in gzip.decompress(data).splitlines()]
    return records
