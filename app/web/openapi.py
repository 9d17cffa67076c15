"""The HTTP API's description: every route the worker serves, in one table (`OPERATIONS`).

`GET /openapi.json` serves `openapi_document()`; the docs page (`GET /docs`) renders it; a test
compares the table with the routes the server registers, both ways, and schemathesis fuzzes a
running worker from it. To describe a new route, add an `Operation` to `OPERATIONS` (and any
shared body shape to `SCHEMAS`): its method and path exactly as the view's blueprint registers
them (`{name}` for a path parameter, `/ssids/{ssid:<pattern>}` is `/ssids/{ssid}`), every parameter,
the request body, and every status the view (or the server around it) answers with.

The answers are closed objects (`obj`): a field added to a view without adding it here fails the
schema test, so the description cannot fall behind the code unnoticed.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import metadata
from typing import Any

from app.bot.config import WEBHOOK_PREFIX
from app.logic.activity import (
    COUNTERS_KEPT,
    DEFAULT_SPAN,
    DEVICE_KEPT,
    ActivityQuery,
    deployment_activity,
    device_activity,
    fold,
    tally,
)
from app.logic.grouping.members import add_probable_devices, fold_member, group_view
from app.logic.grouping.records import Link
from app.logic.grouping.wire import Join, MemberUpdate
from app.logic.lake.reports import REPORTS
from app.logic.limits import MAX_SSID_BYTES, RSSI_DBM
from app.logic.listing import DEFAULT_LIMIT, MAX_LIMIT, SORT_FIELDS
from app.logic.listing.ranking import DEFAULT_LIMIT as RANKING_DEFAULT
from app.logic.listing.ranking import MAX_LIMIT as RANKING_MAX
from app.logic.names import MAX_NAME
from app.logic.tokens import needed
from app.logic.watchlist import MAX_REASON
from app.web.openapi_terms import (
    Answer,
    Body,
    Header,
    Operation,
    Param,
    Schema,
    Tag,
    document,
    json_body,
    nullable,
    obj,
    ref,
    text_body,
)
from app.web.server import BODY_TIMEOUT_S, MAX_BODY_BYTES, RETRY_AFTER_S

EXAMPLE_MAC = "f0:18:98:3a:1b:07"
EXAMPLE_SSID = "eduroam"
EXAMPLE_NAME = "Alice phone"
EXAMPLE_CHAT = "987654321"
#: How long an edit waits to see itself applied before answering 202 (the views'
#: EDIT_VISIBLE_WITHIN_S, which a unit test holds equal to this).
EDIT_WAIT_S = 10.0

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
PARTITIONS: Schema = {"type": "object", "additionalProperties": {"type": "array", "items": INTEGER}}
#: What every series of buckets says about itself.
SERIES_FRAME: dict[str, Schema] = {
    "resolution": {"type": "string", "enum": ["minute", "hour", "day"]},
    "step_s": {"type": "integer", "description": "a bucket's length in seconds"},
    "from": {"type": "string", "format": "date-time"},
    "from_ts": INTEGER,
    "until": {"type": "string", "format": "date-time", "description": "the end, exclusive"},
    "until_ts": INTEGER,
}
#: A partition's raw counters: [key, probes, devices, new devices], keyed from `origin`.
COUNTS: Schema = {"type": "array", "items": {"type": "array", "items": INTEGER}}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Every JSON error: what went wrong, in words; some add the key concerned.",
        "properties": {"error": STRING},
        "required": ["error"],
    },
    "Device": obj(
        {
            "mac": {"type": "string", "description": "canonical: lower case, colons"},
            "probe_count": INTEGER,
            "first_seen": nullable({"type": "string", "format": "date-time"}),
            "last_seen": nullable({"type": "string", "format": "date-time"}),
            "first_seen_ts": {"type": "number", "description": "capture time, Unix seconds"},
            "last_seen_ts": NUMBER,
            "ssids": {"type": "array", "items": STRING},
            "unique_ssids": INTEGER,
            "ssids_truncated": {
                "type": "boolean",
                "description": "more SSIDs were probed than PROBEWATCH_MAX_SSIDS_PER_DEVICE keeps",
            },
            "wildcard_probes": {"type": "integer", "description": "probes for any network"},
            "rssi_last_dbm": nullable(INTEGER),
            "rssi_min_dbm": nullable(INTEGER),
            "rssi_max_dbm": nullable(INTEGER),
            "rssi_avg_dbm": nullable(NUMBER),
            "freq_mhz_last": nullable(INTEGER),
            "vendor": nullable({"type": "string", "description": "from the OUI registry"}),
            "randomized": {"type": "boolean", "description": "locally administered MAC"},
            "ie_fingerprint": nullable(STRING),
            "sensors": {"type": "array", "items": STRING},
            "name": nullable(STRING),
            "group": nullable(
                {
                    "type": "string",
                    "description": "its probable device (`GET /groups/{group}`): null until "
                    "grouping decided it, a second or two after its probes pause",
                }
            ),
            "group_in_doubt": {
                "type": "boolean",
                "description": "its group was begun by a scan that fitted several groups alike "
                "(probably one of them; not counted as a device)",
            },
        }
    ),
    "Evidence": obj(
        {
            "signal": {
                "type": "string",
                "enum": ["fingerprint", "timing", "sequence", "rssi", "ssids"],
            },
            "value": {
                "description": "the IE fingerprint; seconds between the two; sequence steps; "
                "dB apart; SSIDs both asked for",
                "anyOf": [STRING, NUMBER, {"type": "array", "items": STRING}],
            },
            "strength": {
                "type": "string",
                "enum": ["required", "strong", "medium", "weak", "none"],
            },
        }
    ),
    "GroupMember": obj(
        {
            "mac": STRING,
            "probe_count": INTEGER,
            "first_seen": nullable({"type": "string", "format": "date-time"}),
            "last_seen": nullable({"type": "string", "format": "date-time"}),
            "first_seen_ts": nullable(NUMBER),
            "last_seen_ts": nullable(NUMBER),
            "decided": nullable({"type": "string", "format": "date-time"}),
            "decided_ts": nullable(
                {"type": "number", "description": "capture time by which it was decided"}
            ),
            "joined_by": nullable(
                obj(
                    {
                        "kind": {
                            "type": "string",
                            "enum": ["sequence", "burst", "handover"],
                            "description": "sequence: its 802.11 counter continued the group's; "
                            "burst: it followed within a scan or soon after; handover: a new "
                            "scan after a pause, with a signal or SSIDs that agree",
                        },
                        "strength": {"type": "string", "enum": ["strong", "medium", "weak"]},
                        "follows": {"type": "string", "description": "the member it continued"},
                        "rivals": {
                            "type": "integer",
                            "description": "other candidates that fitted, less well",
                        },
                        "evidence": {"type": "array", "items": ref("Evidence")},
                    }
                )
            ),
        }
    ),
    "Group": obj(
        {
            "group": {"type": "string", "description": "its id: the MAC it began with"},
            "in_doubt": BOOLEAN,
            "doubt_with": {
                "type": "array",
                "items": STRING,
                "description": "the groups its first scan fitted alike",
            },
            "fingerprint": nullable(STRING),
            "randomized": {"type": "boolean", "description": "every member is randomized"},
            "macs": INTEGER,
            "probe_count": INTEGER,
            "first_seen": nullable({"type": "string", "format": "date-time"}),
            "last_seen": nullable({"type": "string", "format": "date-time"}),
            "first_seen_ts": nullable(NUMBER),
            "last_seen_ts": nullable(NUMBER),
            "ssids": {"type": "array", "items": STRING},
            "members": {
                "type": "array",
                "items": ref("GroupMember"),
                "description": "by first probe; the first is the MAC it began with (no link)",
            },
            "earlier_macs": {
                "type": "integer",
                "description": "members heard longest ago, counted in the totals but no longer "
                "listed (a group lists its last 1000)",
            },
        }
    ),
    "ListItem": obj(
        {"mac": STRING, "name": nullable(STRING), "probe_count": INTEGER},
        {
            "vendor": nullable(STRING),
            "randomized": BOOLEAN,
            "first_seen": nullable({"type": "string", "format": "date-time"}),
            "last_seen": nullable({"type": "string", "format": "date-time"}),
            "first_seen_ts": NUMBER,
            "last_seen_ts": NUMBER,
            "rssi_last_dbm": nullable(INTEGER),
            "unique_ssids": INTEGER,
            "ssids": {"type": "array", "items": STRING},
            "sensors": {"type": "array", "items": STRING},
        },
    ),
    "SignalBucket": obj(
        {
            "start": {"type": "string", "format": "date-time"},
            "start_ts": {"type": "integer", "description": "the bucket's start, Unix seconds"},
            "probes": INTEGER,
            "rssi_min_dbm": nullable(INTEGER),
            "rssi_max_dbm": nullable(INTEGER),
            "rssi_avg_dbm": nullable(NUMBER),
        }
    ),
    "SignalSeries": obj(
        {
            **SERIES_FRAME,
            "buckets": {
                "type": "array",
                "items": ref("SignalBucket"),
                "description": "every bucket of [from, until), in order, empty ones included",
            },
        }
    ),
    "DeviceActivity": obj(
        {
            "mac": STRING,
            "as_of": {
                "type": "string",
                "format": "date-time",
                "description": "where the windows end: the newest capture time of the device's "
                "partition, or the device's own if later",
            },
            "as_of_ts": NUMBER,
            "minutes": ref("SignalSeries"),
            "hours": ref("SignalSeries"),
            "days": ref("SignalSeries"),
        }
    ),
    "CountBucket": obj(
        {
            "start": {"type": "string", "format": "date-time"},
            "start_ts": INTEGER,
            "probes": INTEGER,
            "devices": {"type": "integer", "description": "distinct devices seen in the bucket"},
            "new_devices": {
                "type": "integer",
                "description": "devices whose first probe ever falls in the bucket",
            },
            "probable_devices": nullable(
                {
                    "type": "integer",
                    "description": "distinct probable devices heard in the bucket: groups of "
                    "MACs (`GET /groups/{group}`), those begun in doubt left out; null with "
                    "PROBEWATCH_GROUPING=false",
                }
            ),
        }
    ),
    "Activity": obj(
        {
            **{name: nullable(schema) for name, schema in SERIES_FRAME.items()},
            "resolution": SERIES_FRAME["resolution"],
            "step_s": SERIES_FRAME["step_s"],
            "newest": nullable({"type": "string", "format": "date-time"}),
            "newest_ts": nullable(INTEGER),
            "buckets": {"type": "array", "items": ref("CountBucket")},
        }
    ),
    "ActivityShare": obj(
        {
            "partitions": {
                "type": "object",
                "description": "Per partition this worker owns, its counters (null: no probe yet).",
                "additionalProperties": nullable(ref("PartitionCounters")),
            },
        },
        {
            "groups": {
                "type": "object",
                "description": "Per partition of groups this worker owns, the probable devices' "
                "counters (null: none yet).",
                "additionalProperties": nullable(ref("PartitionCounters")),
            },
        },
    ),
    "PartitionCounters": obj(
        {"origin": INTEGER, "minutes": COUNTS, "hours": COUNTS, "days": COUNTS}
    ),
    "NamedUnseen": obj(
        {"mac": STRING, "name": STRING, "probe_count": {"type": "integer", "const": 0}},
    ),
    "DevicePage": obj(
        {
            "devices": {"type": "array", "items": ref("ListItem")},
            "count": {"type": "integer", "description": "how many devices match, on all pages"},
            "next_cursor": nullable(
                {"type": "string", "description": "pass as `cursor` for the next page"}
            ),
        },
        {"name": {"type": "string", "description": "the name filter, when one was given"}},
    ),
    "BadParameter": obj({"error": STRING, "param": STRING, "reason": STRING}),
    "NameEdit": obj({"mac": STRING, "name": nullable(STRING), "seen": BOOLEAN}),
    "SsidDevices": obj(
        {
            "ssid": STRING,
            "probe_count": INTEGER,
            "device_count": INTEGER,
            "devices_truncated": {"type": "boolean", "description": "more than 5000 devices"},
            "devices": {
                "type": "array",
                "items": obj({"mac": STRING, "probe_count": INTEGER, "last_seen_ts": NUMBER}),
            },
        }
    ),
    "SsidRanking": obj(
        {
            "ssids": {
                "type": "array",
                "items": obj(
                    {
                        "ssid": STRING,
                        "devices": {"type": "integer", "description": "devices that probed for it"},
                    }
                ),
            }
        }
    ),
    "SsidShare": obj(
        {
            "top": {
                "type": "object",
                "description": "This worker's SSIDs with most devices, and their devices here.",
                "additionalProperties": INTEGER,
            },
            "bound": {
                "type": "integer",
                "description": "no SSID missing from `top` has more devices here (0: none missing)",
            },
        }
    ),
    "Sensors": obj(
        {
            "sensors": {
                "type": "array",
                "items": obj(
                    {
                        "sensor": {"type": "string", "description": "empty: probes with no sensor"},
                        "probes": nullable(INTEGER),
                        "devices": INTEGER,
                        "last_probe": nullable({"type": "string", "format": "date-time"}),
                        "last_probe_ts": nullable(NUMBER),
                    }
                ),
            }
        }
    ),
    "SensorsShare": obj(
        {
            "partitions": {
                "type": "object",
                "description": "Per partition this worker owns, per sensor [probes, last "
                "capture time] (null: no probe yet).",
                "additionalProperties": nullable(
                    {"type": "object", "additionalProperties": {"type": "array"}}
                ),
            },
            "devices": {"type": "object", "additionalProperties": INTEGER},
        }
    ),
    "Watchlist": obj(
        {"watchlist": {"type": "array", "items": obj({"ssid": STRING, "reason": STRING})}}
    ),
    "Watched": obj({"ssid": STRING, "reason": STRING, "watched": {"const": True}}),
    "Unwatched": obj({"ssid": STRING, "watched": {"const": False}}),
    "Subscriptions": obj(
        {
            "subscriptions": {
                "type": "array",
                "items": obj({"chat_id": INTEGER, "bot": nullable(INTEGER)}),
            }
        }
    ),
    "Subscribed": obj(
        {
            "chat_id": INTEGER,
            "subscribed": {"const": True},
            "bot": nullable(INTEGER),
            "changed": BOOLEAN,
        }
    ),
    "Unsubscribed": obj({"chat_id": INTEGER, "subscribed": {"const": False}, "changed": BOOLEAN}),
    "Health": obj(
        {
            "status": {"const": "ok"},
            "worker": STRING,
            "assigned": {"type": "array", "items": {"type": "string"}},
            "recovering": BOOLEAN,
            "counters": {"type": "object", "additionalProperties": INTEGER},
            "unflushed_rows": INTEGER,
            "flushes": INTEGER,
        }
    ),
    "WorkerStatus": obj(
        {
            "worker": STRING,
            "leader": BOOLEAN,
            "active": PARTITIONS,
            "standby": PARTITIONS,
            "probes_lag": {"type": "object", "additionalProperties": INTEGER},
            "recovering": BOOLEAN,
            "rebalancing": BOOLEAN,
        }
    ),
    "Cluster": obj(
        {"workers": {"type": "array", "items": ref("WorkerStatus")}, "partitions": INTEGER}
    ),
    "WorkerPartitions": {
        "type": "object",
        "description": "Per worker URL, per topic, the partitions it owns.",
        "additionalProperties": PARTITIONS,
    },
}

# ---- answers many routes share -------------------------------------------------------------

ERROR = ref("Error")
RETRY_AFTER = Header(
    "Retry-After", "seconds to wait before retrying", {"type": "string", "pattern": "^[0-9]+$"}
)


def error(status: int, description: str, example: str) -> Answer:
    return Answer(status, description, (json_body(ERROR, {"error": example}),))


UNAVAILABLE = Answer(
    503,
    "Not ready: the worker is starting or recovering its tables, the cluster is rebalancing, or "
    f"Kafka is unavailable. Retry after `Retry-After` ({RETRY_AFTER_S} s).",
    (json_body(ERROR, {"error": "the table is being rebalanced; retry shortly"}),),
    (RETRY_AFTER,),
)
OWNER_SILENT = error(
    502,
    "The worker owning the key did not answer the forwarded request.",
    "the worker owning this key (http://worker-b:6066) did not answer: …",
)
BODY_LATE = error(
    408,
    f"The body did not arrive within {BODY_TIMEOUT_S:g} s.",
    f"the body did not arrive within {BODY_TIMEOUT_S:g} s",
)
BODY_TOO_LARGE = error(
    413, f"The body is over {MAX_BODY_BYTES} bytes.", f"the body is over {MAX_BODY_BYTES} bytes"
)
BODY_ANSWERS = (BODY_LATE, BODY_TOO_LARGE)

# ---- parameters ----------------------------------------------------------------------------

MAC = Param(
    "mac",
    "path",
    "A MAC address in any common spelling: `F0-18-98-3A-1B-07`, `f0:18:98:3a:1b:07`, "
    "`f018.983a.1b07`, upper or lower case.",
    {"type": "string", "minLength": 1, "examples": ["F0-18-98-3A-1B-07", "f018.983a.1b07"]},
    example="F0-18-98-3A-1B-07",
)
SSID = Param(
    "ssid",
    "path",
    f"An SSID as probes carry it: 1 to {MAX_SSID_BYTES} octets as UTF-8 text, an octet that is not "
    "visible text written `\\xNN`; percent-encode it in the path (`Caf%C3%A9%20M%C3%BCller`).",
    {"type": "string", "minLength": 1},
    example=EXAMPLE_SSID,
)
CHAT_ID = Param(
    "chat_id",
    "path",
    "A Telegram chat id: positive for users, negative for groups and channels.",
    {"type": "string", "pattern": "^-?[1-9][0-9]{0,15}$"},
    example=EXAMPLE_CHAT,
)
SCOPE = Param(
    "scope",
    "query",
    "`local`: this worker's share alone (what workers ask each other when gathering); "
    "otherwise the answer is gathered from every worker.",
    {"type": "string", "enum": ["local"]},
)
EVENT_FILTERS = (
    Param("mac", "query", "Only events of this device (any MAC spelling).", STRING),
    Param("ssid", "query", "Only events of this SSID (exact text).", STRING),
)

# ---- the routes ----------------------------------------------------------------------------

DEVICE_EXAMPLE: dict[str, Any] = {
    "mac": EXAMPLE_MAC,
    "probe_count": 41,
    "first_seen": "2024-01-01T00:00:03.512Z",
    "last_seen": "2024-01-01T00:09:51.207Z",
    "first_seen_ts": 1704067203.512,
    "last_seen_ts": 1704067791.207,
    "ssids": ["Café Müller", EXAMPLE_SSID],
    "unique_ssids": 2,
    "ssids_truncated": False,
    "wildcard_probes": 30,
    "rssi_last_dbm": -63,
    "rssi_min_dbm": -79,
    "rssi_max_dbm": -55,
    "rssi_avg_dbm": -66.4,
    "freq_mhz_last": 2437,
    "vendor": "Apple, Inc.",
    "randomized": False,
    "ie_fingerprint": "5c0e7f2d9a41b3c6",
    "sensors": ["sensor-1"],
    "name": EXAMPLE_NAME,
    "group": EXAMPLE_MAC,
    "group_in_doubt": False,
}
NOT_A_MAC = "not a MAC address: 'nope'"
LIST_ITEM_FIELDS = (
    "mac", "name", "vendor", "randomized", "probe_count", "first_seen", "last_seen",
    "first_seen_ts", "last_seen_ts", "rssi_last_dbm", "unique_ssids", "ssids", "sensors",
)  # fmt: skip
TIME = "ISO-8601 (`2026-11-21T16:09:03Z`; UTC when no zone is given) or epoch seconds."
EDIT_PENDING = (
    f"The edit is stored in Kafka but this worker did not see it applied within {EDIT_WAIT_S:g} s; "
    "it will be."
)

DEVICES = [
    Operation(
        "GET",
        "/devices/{mac}",
        "devices",
        "One device's statistics",
        "Served by the worker owning the device's partition; any worker forwards to it. With "
        "`replica=any`, a worker holding a standby copy of the partition that has applied all "
        "its changelog holds answers itself, with the header `Probewatch-Replica: standby`: "
        "about one flush interval behind the owner, and without the forward.",
        params=(
            MAC,
            Param(
                "replica",
                "query",
                "`owner` (the default): the owner answers; `any`: a caught-up standby copy may.",
                {"type": "string", "enum": ["owner", "any"]},
            ),
        ),
        answers=(
            Answer(200, "The device.", (json_body(ref("Device"), DEVICE_EXAMPLE),)),
            error(400, "Not a MAC address, or a `replica` other than `owner` or `any`.", NOT_A_MAC),
            error(404, "No probe seen from this device.", f"no probes seen from {EXAMPLE_MAC}"),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "DELETE",
        "/devices/{mac}",
        "devices",
        "Erase a device",
        "Removes the device everywhere probewatch keeps it: its statistics, history, name, its "
        "place in the SSID index and the listing, and (after the archiver's next flush) its "
        "probes in the lake's files. The request travels through the device's own partition "
        "of `probes`, so probes before it are erased and probes after it start the device "
        "afresh. Answered by the device's owner once applied, saying where it was found.",
        params=(MAC,),
        answers=(
            Answer(
                200,
                "Erased; where it was found.",
                (
                    json_body(
                        {
                            "type": "object",
                            "properties": {
                                "mac": STRING,
                                "erased": {
                                    "type": "object",
                                    "properties": {
                                        "device": {"type": "boolean"},
                                        "history": {"type": "boolean"},
                                        "name": {"type": "boolean"},
                                        "ssids": {"type": "integer"},
                                        "lake": {"type": "boolean"},
                                    },
                                },
                            },
                            "required": ["mac", "erased"],
                        },
                        {
                            "mac": EXAMPLE_MAC,
                            "erased": {
                                "device": True,
                                "history": True,
                                "name": False,
                                "ssids": 2,
                                "lake": True,
                            },
                        },
                    ),
                ),
            ),
            error(
                202,
                "Stored in Kafka, not applied yet.",
                "the erasure was stored in Kafka but is not applied yet",
            ),
            error(400, "Not a MAC address.", NOT_A_MAC),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "GET",
        "/devices",
        "devices",
        "List and filter devices",
        "A page of the devices of every worker, gathered and merged: sorted (`last_seen` newest "
        "first by default), filtered, `limit` at a time, with the number of matching devices "
        "and an opaque `next_cursor` for the next page. Paging with the cursor lists every "
        "device whose sort value does not change meanwhile exactly once. With `name`, a device "
        "named before it was seen is listed too (`probe_count` 0, last).",
        params=(
            Param("sort", "query", "The order.", {"type": "string", "enum": list(SORT_FIELDS)}),
            Param(
                "order",
                "query",
                "`desc` (the default: newest, busiest, strongest first) or `asc`.",
                {"type": "string", "enum": ["asc", "desc"]},
            ),
            Param("since", "query", f"Last seen at or after this time. {TIME}", STRING),
            Param("until", "query", f"Last seen at or before this time. {TIME}", STRING),
            Param(
                "randomized",
                "query",
                "`true`: only randomized (locally administered) MACs; `false`: only the others.",
                {"type": "string", "enum": ["true", "false"]},
            ),
            Param("vendor", "query", "Vendor contains this text (case-insensitive).", STRING),
            Param("ssid", "query", "Probed for this SSID (exact text).", STRING),
            Param(
                "name",
                "query",
                "Name contains this text (case-insensitive, whitespace folded).",
                STRING,
                example="alice",
            ),
            Param("sensor", "query", "Seen by this sensor (exact).", STRING),
            Param(
                "min_rssi",
                "query",
                "Last signal at least this many dBm.",
                {"type": "integer", "minimum": RSSI_DBM[0], "maximum": RSSI_DBM[1]},
            ),
            Param(
                "limit",
                "query",
                f"Devices per page, 1 to {MAX_LIMIT} ({DEFAULT_LIMIT} unless given).",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            ),
            Param(
                "cursor",
                "query",
                "The `next_cursor` of the previous page, with the same sort and filters.",
                STRING,
            ),
            SCOPE,
        ),
        answers=(
            Answer(
                200,
                "A page (no device matching is an empty list).",
                (
                    json_body(
                        ref("DevicePage"),
                        {
                            "devices": [
                                {key: DEVICE_EXAMPLE[key] for key in LIST_ITEM_FIELDS},
                            ],
                            "count": 1,
                            "next_cursor": None,
                        },
                    ),
                ),
            ),
            Answer(
                400,
                "A parameter that cannot be used: `param` names it, `reason` says why.",
                (
                    json_body(
                        ref("BadParameter"),
                        {
                            "error": "limit: must be a whole number from 1 to 500",
                            "param": "limit",
                            "reason": "must be a whole number from 1 to 500",
                        },
                    ),
                ),
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        "PUT",
        "/devices/{mac}/name",
        "devices",
        "Name a device",
        "Produces the name to `device-names` and answers once the owning worker's table shows "
        "it, so a GET right after sees it. A device may be named before it is seen "
        "(`seen: false`).",
        params=(
            MAC,
            Param(
                "source",
                "query",
                "Who sets the name, stored with it (`http` unless given; the bot says `bot`); "
                "the first 16 characters are kept.",
                STRING,
            ),
        ),
        body=Body(
            "The name.",
            json_body(
                {
                    "type": "object",
                    "properties": {
                        "name": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_NAME,
                            "description": f"1 to {MAX_NAME} characters once whitespace is folded, "
                            "no control characters",
                        }
                    },
                    "required": ["name"],
                },
                {"name": EXAMPLE_NAME},
            ),
        ),
        answers=(
            Answer(
                200,
                "The name is set.",
                (
                    json_body(
                        ref("NameEdit"), {"mac": EXAMPLE_MAC, "name": EXAMPLE_NAME, "seen": True}
                    ),
                ),
            ),
            error(202, EDIT_PENDING, "the edit was stored in Kafka but is not applied yet"),
            error(
                400,
                'Not a MAC address, a body that is not `{"name": …}` or cannot be decoded, or '
                "a name that is empty, too long or holds control characters.",
                "a name has at most 64 characters",
            ),
            *BODY_ANSWERS,
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "DELETE",
        "/devices/{mac}/name",
        "devices",
        "Forget a device's name",
        "Produces a tombstone to `device-names` and answers once the owning worker's table "
        "shows it.",
        params=(MAC,),
        answers=(
            Answer(
                200,
                "The name is forgotten.",
                (json_body(ref("NameEdit"), {"mac": EXAMPLE_MAC, "name": None, "seen": True}),),
            ),
            error(202, EDIT_PENDING, "the edit was stored in Kafka but is not applied yet"),
            error(400, "Not a MAC address.", NOT_A_MAC),
            error(404, "The device has no name.", f"{EXAMPLE_MAC} has no name"),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
]


def _group_example() -> dict[str, Any]:
    """A group of two MACs, made by the code that makes the answer."""
    first, second = "da:a1:19:5e:00:01", "da:a1:19:5e:00:02"
    link = Link(
        kind="burst",
        strength="medium",
        fingerprint="46a71088949f8ba7",
        follows=first,
        gap_s=0.041,
        seq_step=None,
        rssi_diff_db=2.0,
        shared_ssids=(),
        rivals=0,
    )
    row = None
    for mac, ts, joined_by in ((first, 1704067203.512, None), (second, 1704067203.553, link)):
        row, _ = fold_member(
            row,
            MemberUpdate(
                group=first,
                mac=mac,
                probes=2,
                first_ts=ts,
                last_ts=ts + 0.02,
                offset=7,
                fingerprint="46a71088949f8ba7",
                minutes=[int(ts // 60)],
                join=Join(decided_ts=1704067205.1, link=joined_by),
            ),
        )
    assert row is not None
    return group_view(first, row)


GROUP_EXAMPLE = _group_example()
GROUPS = [
    Operation(
        "GET",
        "/groups/{group}",
        "groups",
        "One probable device",
        "A group of MACs probewatch found to be one device (randomized MACs of one phone): its "
        "MACs with their spans and probes, its totals and SSIDs, and for each MAC after the "
        "first the evidence that linked it (same IE fingerprint, then its sequence counter, "
        "timing, signal, SSIDs). Served by the worker owning the group's id (the MAC it began "
        "with); any worker forwards to it. Members appear within a flush of being decided.",
        params=(
            Param(
                "group",
                "path",
                "The group's id, a MAC in any common spelling (`GET /devices/{mac}` names it).",
                {"type": "string", "minLength": 1},
                example="da:a1:19:5e:00:01",
            ),
        ),
        answers=(
            Answer(200, "The group.", (json_body(ref("Group"), GROUP_EXAMPLE),)),
            error(400, "Not a MAC address.", f"a group id is a MAC: {NOT_A_MAC}"),
            error(404, "No such group.", "no group da:a1:19:5e:00:01"),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
]


def _activity_examples() -> tuple[dict[str, Any], dict[str, Any]]:
    """A device's answer and the deployment's, made by the code that makes them from three
    probes, each series cut to its last two buckets."""
    start = 1704067200.0
    row = None
    counters = None
    group = None
    devices = None
    for ts, rssi in ((start + 3.5, -63), (start + 41.2, -71), (start + 3600 + 9.8, None)):
        row, seen = fold(row, ts, rssi)
        counters = tally(counters, seen)
        update = MemberUpdate(group=EXAMPLE_MAC, mac=EXAMPLE_MAC, minutes=[int(ts // 60)])
        group, sightings = fold_member(group, update)
        for sighting in sightings:
            devices = tally(devices, sighting)
    assert row is not None
    device = device_activity(row)
    for series in ("minutes", "hours", "days"):
        device[series]["buckets"] = device[series]["buckets"][-2:]
    deployment = add_probable_devices(
        deployment_activity(counters, ActivityQuery()), devices, "minute", True
    )
    deployment["buckets"] = deployment["buckets"][-2:]
    return {"mac": EXAMPLE_MAC, **device}, deployment


DEVICE_ACTIVITY_EXAMPLE, ACTIVITY_EXAMPLE = _activity_examples()
BAD_ACTIVITY_QUERY = "since: must be epoch seconds or an ISO-8601 time, e.g. 2024-01-01T10:00:00Z"
MOMENT = {"type": "string", "examples": ["1704067200", "2024-01-01T10:00:00Z"]}

ACTIVITY = [
    Operation(
        "GET",
        "/devices/{mac}/activity",
        "activity",
        "One device's activity over time",
        f"Its probes and signal per minute for the last {DEVICE_KEPT['minute']} minutes, per "
        f"hour for the last {DEVICE_KEPT['hour']} hours and per day for the last "
        f"{DEVICE_KEPT['day']} days, by capture time; every bucket listed, empty ones with 0 "
        "probes and null signal. The windows end at the newest capture time of the device's "
        "partition (or the device's own, if later), so a replayed capture shows its own time. "
        "A probe captured more than a day ahead of the worker's clock is left out. Served by "
        "the worker owning the device's partition; any worker forwards to it.",
        params=(MAC,),
        answers=(
            Answer(
                200,
                "The device's activity.",
                (json_body(ref("DeviceActivity"), DEVICE_ACTIVITY_EXAMPLE),),
            ),
            error(400, "Not a MAC address.", NOT_A_MAC),
            error(
                404,
                "No probe seen from this device, or none history keeps (all captured more than "
                "a day ahead of the worker's clock).",
                f"no probes seen from {EXAMPLE_MAC}",
            ),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "GET",
        "/activity",
        "activity",
        "The deployment's activity over time",
        "Probes, distinct devices and devices seen for the first time, per minute, hour or day "
        "by capture time, added up over every partition (gathered from every worker). "
        f"Kept: {COUNTERS_KEPT['minute']} minutes, {COUNTERS_KEPT['hour']} hours, "
        f"{COUNTERS_KEPT['day']} days back from the newest capture time. Every bucket of "
        "[from, until) is listed. With no probe yet, the times are null and the list empty.",
        params=(
            Param(
                "resolution",
                "query",
                "The bucket size (default `minute`).",
                {"type": "string", "enum": ["minute", "hour", "day"]},
                example="hour",
            ),
            Param(
                "since",
                "query",
                "The first bucket: the one holding this time, epoch seconds or ISO-8601 (UTC "
                f"unless it says otherwise). Default: {DEFAULT_SPAN['minute']} minutes, "
                f"{DEFAULT_SPAN['hour']} hours or {DEFAULT_SPAN['day']} days before `until`, or "
                "the first bucket with data if later; never before what is kept.",
                MOMENT,
            ),
            Param(
                "until",
                "query",
                "The last bucket: the one holding this time (default: the newest capture time).",
                MOMENT,
            ),
            SCOPE,
        ),
        answers=(
            Answer(
                200,
                "The series, or with scope=local this worker's partitions' counters.",
                (json_body({"anyOf": [ref("Activity"), ref("ActivityShare")]}, ACTIVITY_EXAMPLE),),
            ),
            error(
                400,
                "A parameter that cannot be used; `parameter` names it.",
                BAD_ACTIVITY_QUERY,
            ),
            UNAVAILABLE,
        ),
    ),
]

SSIDS = [
    Operation(
        "GET",
        "/ssids",
        "ssids",
        "The SSIDs the most devices probed for",
        "Most devices first (equal counts by SSID), counted over every worker's devices; exact "
        "(each worker gives its highest counts, and all of them when those cannot settle it).",
        params=(
            Param(
                "limit",
                "query",
                f"How many SSIDs (1 to {RANKING_MAX}, default {RANKING_DEFAULT}).",
                {"type": "integer", "minimum": 1, "maximum": RANKING_MAX},
                example=5,
            ),
            Param(
                "top",
                "query",
                "With scope=local: how many of its SSIDs the worker lists (0: all).",
                {"type": "integer", "minimum": 0},
            ),
            SCOPE,
        ),
        answers=(
            Answer(
                200,
                "The SSIDs, or with scope=local this worker's share.",
                (
                    json_body(
                        {"anyOf": [ref("SsidRanking"), ref("SsidShare")]},
                        {"ssids": [{"ssid": EXAMPLE_SSID, "devices": 57}]},
                    ),
                ),
            ),
            Answer(
                400,
                "A parameter that cannot be used; `param` names it.",
                (
                    json_body(
                        ref("BadParameter"),
                        {
                            "error": f"limit: must be a whole number from 1 to {RANKING_MAX}",
                            "param": "limit",
                            "reason": f"must be a whole number from 1 to {RANKING_MAX}",
                        },
                    ),
                ),
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        "GET",
        "/ssids/{ssid}",
        "ssids",
        "The devices that probed for an SSID",
        "Busiest first, at most 5000; served by the worker owning the SSID's partition.",
        params=(SSID,),
        answers=(
            Answer(
                200,
                "The SSID's devices.",
                (
                    json_body(
                        ref("SsidDevices"),
                        {
                            "ssid": EXAMPLE_SSID,
                            "probe_count": 812,
                            "device_count": 57,
                            "devices_truncated": False,
                            "devices": [
                                {
                                    "mac": EXAMPLE_MAC,
                                    "probe_count": 40,
                                    "last_seen_ts": 1704067791.2,
                                }
                            ],
                        },
                    ),
                ),
            ),
            error(
                400,
                "Not an SSID: empty, over 32 octets, hidden characters, or %-escapes that are "
                "not UTF-8.",
                "the path's %-escapes are not UTF-8 text",
            ),
            error(404, "No device probed for it.", "no device probed for 'eduroam'"),
            OWNER_SILENT,
            UNAVAILABLE,
        ),
    ),
]

BAD_WATCH = "Not an SSID (see the path parameter), or %-escapes that are not UTF-8."
WATCHLIST = [
    Operation(
        "GET",
        "/watchlist",
        "watchlist",
        "The SSID watch list",
        "Every worker holds the whole list.",
        answers=(
            Answer(
                200,
                "The watched SSIDs.",
                (
                    json_body(
                        ref("Watchlist"),
                        {"watchlist": [{"ssid": "Free WiFi", "reason": "phishing bait"}]},
                    ),
                ),
            ),
        ),
    ),
    Operation(
        "PUT",
        "/watchlist/{ssid}",
        "watchlist",
        "Watch an SSID",
        "A probe for a watched SSID becomes an alert. The edit is produced to `ssid-watchlist` "
        "and answered once this worker's copy of the list shows it.",
        params=(SSID,),
        body=Body(
            "Why it is watched; an empty body means no reason.",
            json_body(
                {
                    "type": "object",
                    "properties": {
                        "reason": nullable(
                            {
                                "type": "string",
                                "maxLength": MAX_REASON,
                                "description": "whitespace folded, no control characters",
                            }
                        )
                    },
                },
                {"reason": "phishing bait"},
            ),
            required=False,
        ),
        answers=(
            Answer(
                200,
                "The SSID is watched.",
                (
                    json_body(
                        ref("Watched"),
                        {"ssid": "Free WiFi", "reason": "phishing bait", "watched": True},
                    ),
                ),
            ),
            error(202, EDIT_PENDING, "stored in Kafka, not applied yet"),
            error(
                400,
                f'{BAD_WATCH} Or a body that is not `{{"reason": …}}`, cannot be decoded, or '
                f"a reason over {MAX_REASON} characters or with control characters.",
                'body must be JSON like {"reason": "…"}',
            ),
            *BODY_ANSWERS,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "DELETE",
        "/watchlist/{ssid}",
        "watchlist",
        "Stop watching an SSID",
        "Answered once this worker's copy of the list shows the edit.",
        params=(SSID,),
        answers=(
            Answer(
                200,
                "The SSID is no longer watched.",
                (json_body(ref("Unwatched"), {"ssid": "Free WiFi", "watched": False}),),
            ),
            error(202, EDIT_PENDING, "stored in Kafka, not applied yet"),
            error(400, "%-escapes that are not UTF-8.", "the path's %-escapes are not UTF-8 text"),
            error(404, "The SSID is not watched.", "'Free WiFi' is not on the watch list"),
            UNAVAILABLE,
        ),
    ),
]

LIST_NOT_READ = " A 503 also while this worker is still reading the list at start."
SUBSCRIPTIONS = [
    Operation(
        "GET",
        "/subscriptions",
        "subscriptions",
        "The chats alerts are sent to",
        "Each chat with the bot it subscribed through (null: the first bot)." + LIST_NOT_READ,
        answers=(
            Answer(
                200,
                "The subscribed chats.",
                (
                    json_body(
                        ref("Subscriptions"),
                        {"subscriptions": [{"chat_id": 987654321, "bot": 123456789}]},
                    ),
                ),
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        "PUT",
        "/subscriptions/{chat_id}",
        "subscriptions",
        "Subscribe a chat to alerts",
        "What the bot's /subscribe does. A repeat answers `changed: false` and writes nothing."
        + LIST_NOT_READ,
        params=(CHAT_ID,),
        body=Body(
            "The bot to send alerts through; an empty body (or no `bot`) means the first bot.",
            json_body(
                {
                    "type": "object",
                    "properties": {
                        "bot": nullable({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
                    },
                },
                {"bot": 123456789},
            ),
            required=False,
        ),
        answers=(
            Answer(
                200,
                "The chat is subscribed.",
                (
                    json_body(
                        ref("Subscribed"),
                        {
                            "chat_id": 987654321,
                            "subscribed": True,
                            "bot": 123456789,
                            "changed": True,
                        },
                    ),
                ),
            ),
            error(202, EDIT_PENDING, "stored in Kafka, not applied yet"),
            error(
                400,
                'Not a chat id, or a body that is not `{"bot": <bot id>}` or cannot be decoded.',
                "bot must be a bot's numeric id",
            ),
            *BODY_ANSWERS,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "DELETE",
        "/subscriptions/{chat_id}",
        "subscriptions",
        "Unsubscribe a chat",
        "What the bot's /unsubscribe does. A repeat answers `changed: false`." + LIST_NOT_READ,
        params=(CHAT_ID,),
        answers=(
            Answer(
                200,
                "The chat is not subscribed.",
                (
                    json_body(
                        ref("Unsubscribed"),
                        {"chat_id": 987654321, "subscribed": False, "changed": True},
                    ),
                ),
            ),
            error(202, EDIT_PENDING, "stored in Kafka, not applied yet"),
            error(400, "Not a chat id.", "not a Telegram chat id: 'nope'"),
            UNAVAILABLE,
        ),
    ),
]

EVENT_STREAM = "text/event-stream"
STREAM_NOTE = (
    " One JSON object per `data:` line; `event: dropped` says how many events a slow client "
    "lost; a `: keep-alive` comment every 15 s. The answer never ends while the client listens."
)
PROBE_EVENT = (
    ': listening\n\ndata: {"ts":1704067203.512,"mac":"f0:18:98:3a:1b:07","ssid":"eduroam",'
    '"ssid_hex":null,"rssi_dbm":-63,"freq_mhz":2437,"seq":1,"randomized":false,'
    '"sensor":"sensor-1","ie_fingerprint":null}\n\n'
)
ALERT_EVENT = (
    ': listening\n\ndata: {"ts":1704067203.512,"time":"2024-01-01T00:00:03.512Z",'
    '"mac":"f0:18:98:3a:1b:07","name":null,"vendor":"Apple, Inc.","ssid":"Free WiFi",'
    '"reason":"phishing bait","rssi_dbm":-63,"sensor":"sensor-1"}\n\n'
)
STREAMS = [
    Operation(
        "GET",
        f"/stream/{kind}",
        "streams",
        f"Live {kind} (Server-Sent Events)",
        f"Every {what} from now on, from all partitions, as it is produced." + STREAM_NOTE,
        params=EVENT_FILTERS,
        answers=(
            Answer(200, "The event stream.", (text_body(example, EVENT_STREAM),)),
            error(400, "The `mac` filter is not a MAC address.", NOT_A_MAC),
            UNAVAILABLE,
        ),
    )
    for kind, what, example in (
        ("probes", "probe request", PROBE_EVENT),
        ("alerts", "alert (a probe for a watched SSID)", ALERT_EVENT),
    )
]

HEALTH_EXAMPLE = {
    "status": "ok",
    "worker": "http://localhost:6066",
    "assigned": ["probes:0", "probes:1"],
    "recovering": False,
    "counters": {"probes.accepted": 50000},
    "unflushed_rows": 0,
    "flushes": 12,
}
SENSORS = [
    Operation(
        "GET",
        "/sensors",
        "sensors",
        "The sensors and their last probe",
        "Every sensor that heard a probe, the one heard last first: the probes it heard, its "
        "devices and the capture time of its last probe, added up over every partition "
        "(gathered from every worker). Probes are tallied by history (`PROBEWATCH_HISTORY`); "
        "a sensor known only from its devices has null probes and last probe.",
        params=(SCOPE,),
        answers=(
            Answer(
                200,
                "The sensors, or with scope=local this worker's share.",
                (
                    json_body(
                        {"anyOf": [ref("Sensors"), ref("SensorsShare")]},
                        {
                            "sensors": [
                                {
                                    "sensor": "hall",
                                    "probes": 812,
                                    "devices": 57,
                                    "last_probe": "2024-01-01T00:09:51.207Z",
                                    "last_probe_ts": 1704067791.207,
                                }
                            ]
                        },
                    ),
                ),
            ),
            UNAVAILABLE,
        ),
    ),
]

ANALYTICS = [
    Operation(
        "GET",
        "/analytics",
        "analytics",
        "The ready reports over the lake",
        "Each report's name, what it answers and the parameters it takes.",
        answers=(
            Answer(
                200,
                "The reports.",
                (
                    json_body(
                        obj(
                            {
                                "reports": {
                                    "type": "array",
                                    "items": obj(
                                        {
                                            "name": STRING,
                                            "about": STRING,
                                            "parameters": {"type": "array", "items": STRING},
                                        }
                                    ),
                                }
                            }
                        ),
                        {
                            "reports": [
                                {
                                    "name": "probes-per-hour",
                                    "about": REPORTS["probes-per-hour"].about,
                                    "parameters": ["since", "until"],
                                }
                            ]
                        },
                    ),
                ),
            ),
        ),
    ),
    Operation(
        "GET",
        "/analytics/{report}",
        "analytics",
        "A ready report over the lake",
        "Runs the report with DuckDB over the lake's enriched zone (any worker: it reads the "
        "lake itself), over [since, until). Reports: "
        + "; ".join(f"`{name}`: {report.about}" for name, report in sorted(REPORTS.items())),
        params=(
            Param(
                "report", "path", "The report's name.", {"type": "string", "enum": sorted(REPORTS)}
            ),
            Param("since", "query", "From this UTC time (epoch seconds or ISO-8601).", MOMENT),
            Param("until", "query", "Until this time, not included.", MOMENT),
            Param("mac", "query", "The device (`presence` needs it).", STRING),
            Param(
                "gap_minutes",
                "query",
                "A silence this long ends a visit (`presence`, default 30).",
                {"type": "integer", "minimum": 1},
            ),
            Param(
                "top",
                "query",
                "SSIDs per day (`top-ssids-per-day`, default 10).",
                {"type": "integer", "minimum": 1, "maximum": 100},
            ),
            Param(
                "format",
                "query",
                "`json` (default) or `csv` (a download).",
                {"type": "string", "enum": ["json", "csv"]},
            ),
        ),
        answers=(
            Answer(
                200,
                "The report's rows (times as ISO-8601 UTC), or CSV with a header line.",
                (
                    json_body(
                        obj(
                            {
                                "report": STRING,
                                "columns": {"type": "array", "items": STRING},
                                "rows": {"type": "array", "items": {"type": "object"}},
                            }
                        ),
                        {
                            "report": "probes-per-hour",
                            "columns": ["hour", "probes", "devices", "probable_devices"],
                            "rows": [
                                {
                                    "hour": "2024-01-01T10:00:00",
                                    "probes": 812,
                                    "devices": 57,
                                    "probable_devices": 12,
                                }
                            ],
                        },
                    ),
                    text_body(
                        "hour,probes,devices,probable_devices\n2024-01-01 10:00:00,812,57,12\n",
                        "text/csv",
                    ),
                ),
            ),
            Answer(
                400,
                "An unknown report, or a parameter that cannot be used; `parameter` names it.",
                (
                    json_body(
                        obj({"error": STRING, "parameter": STRING}),
                        {
                            "error": "mac: give the device's MAC, aa:bb:cc:dd:ee:ff",
                            "parameter": "mac",
                        },
                    ),
                ),
            ),
            error(404, "There is no lake (`PROBEWATCH_LAKE` is empty).", "there is no lake"),
            Answer(
                503,
                "The lake cannot be read: its bucket does not exist, access is denied, or its "
                f"object store is unreachable. Retry after `Retry-After` ({RETRY_AFTER_S} s).",
                (
                    json_body(
                        ERROR,
                        {
                            "error": "the lake cannot be read: s3://lake/probewatch: bucket "
                            "'lake' does not exist (create it first: probewatch does not create "
                            "buckets)"
                        },
                    ),
                ),
                (RETRY_AFTER,),
            ),
        ),
    ),
]

OPERATIONS_STATUS = [
    Operation(
        "GET",
        "/health",
        "status",
        "This worker's status and counters",
        "The partitions it owns, rows folded in memory and not yet flushed, and its counters "
        "of accepted and rejected messages (per worker: ask each one).",
        answers=(
            Answer(200, "This worker's status.", (json_body(ref("Health"), HEALTH_EXAMPLE),)),
        ),
    ),
    Operation(
        "GET",
        "/cluster",
        "status",
        "Every worker's partitions, standbys and lag",
        "Gathered from every worker (`scope=local`: this one's share, a `WorkerStatus`).",
        params=(SCOPE,),
        answers=(
            Answer(
                200,
                "The cluster, or with scope=local this worker.",
                (json_body({"anyOf": [ref("Cluster"), ref("WorkerStatus")]}),),
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        "GET",
        "/metrics",
        "status",
        "Prometheus metrics of this worker",
        "Prometheus text format; scrape every worker.",
        answers=(
            Answer(
                200,
                "The metrics.",
                (
                    text_body(
                        "# TYPE probewatch_events counter\n"
                        'probewatch_events{stream="probes",outcome="accepted"} 50000.0\n'
                    ),
                ),
            ),
        ),
    ),
]

TELEGRAM = [
    Operation(
        "POST",
        WEBHOOK_PREFIX + "{path}",
        "telegram",
        "Telegram's webhook",
        "Served only while the bot is on (PROBEWATCH_TELEGRAM_TOKEN set). The update is "
        "published unchanged to `telegram-updates`; the 200 comes once Kafka has it. Refusals "
        "are plain text `<status>: <reason>`.",
        params=(
            Param("path", "path", "The bot's secret webhook path.", STRING),
            Param(
                "X-Telegram-Bot-Api-Secret-Token",
                "header",
                "The webhook secret given to Telegram's setWebhook.",
                STRING,
                required=True,
            ),
        ),
        body=Body(
            "A Telegram Update.",
            json_body(
                {
                    "type": "object",
                    "properties": {"update_id": INTEGER},
                    "required": ["update_id"],
                },
                {"update_id": 1, "message": {"chat": {"id": 987654321}, "text": EXAMPLE_MAC}},
            ),
        ),
        answers=(
            Answer(200, "Published.", (json_body(obj({"ok": {"const": True}})),)),
            Answer(400, "Not a JSON object with an integer `update_id`.", (text_body(),)),
            Answer(401, "Missing or wrong secret header.", (text_body("401: Unauthorized"),)),
            Answer(403, "The client's network is not allowed.", (text_body("403: Forbidden"),)),
            Answer(404, "No bot has this path.", (text_body("404: Not Found"),)),
            Answer(408, "The body came too slowly.", (text_body(),)),
            Answer(413, "The body is too large.", (text_body(),)),
            Answer(
                503,
                "Kafka did not take the update (Telegram retries).",
                (text_body("503: Service Unavailable"), UNAVAILABLE.content[0]),
                (RETRY_AFTER,),
            ),
        ),
        only_with_bot=True,
    ),
]

#: The app's tables (`app/tables/`), the names faust's router knows.
TABLES = (
    "devices",
    "device-names",
    "ssids",
    "processed-offsets",
    "device-activity",
    "activity-counters",
    "group-shards",
    "groups",
    "group-counters",
)
TABLE_NAME = Param(
    "name",
    "path",
    "A table of this app. faust's router has no answer for another name: `/router/{name}/{key}/`"
    " says 503 and `/router/{name}/` fails (500).",
    {"type": "string", "enum": list(TABLES)},
    example="devices",
)
FAUST = [
    Operation(
        "GET",
        "/router/",
        "faust",
        "Who owns which table partitions",
        "faust's router: per worker, the changelog partitions it owns.",
        answers=(Answer(200, "The owners.", (json_body(ref("WorkerPartitions")),)),),
    ),
    Operation(
        "GET",
        "/router/topics",
        "faust",
        "Who reads which input partitions",
        "faust's router: per worker, the partitions of the topics it reads.",
        answers=(Answer(200, "The readers.", (json_body(ref("WorkerPartitions")),)),),
    ),
    Operation(
        "GET",
        "/router/{name}/",
        "faust",
        "Who owns a table's partitions",
        "faust's router, for one table.",
        params=(TABLE_NAME,),
        answers=(Answer(200, "The owners.", (json_body(ref("WorkerPartitions")),)),),
    ),
    Operation(
        "GET",
        "/router/{name}/{key}/",
        "faust",
        "Which worker owns a key of a table",
        "faust's router: the URL of the owning worker.",
        params=(TABLE_NAME, Param("key", "path", "The key, as text.", STRING, example=EXAMPLE_MAC)),
        answers=(
            Answer(
                200,
                "The owner's URL.",
                (json_body({"type": "string"}, "http://localhost:6066"),),
            ),
            UNAVAILABLE,
        ),
    ),
]

DASHBOARD = [
    Operation(
        "GET",
        "/",
        "dashboard",
        "The dashboard",
        "The dashboard page: overview, devices, a device's history, SSIDs, live feed, watch list"
        " and cluster, drawn in the browser from this API.",
        answers=(Answer(200, "The page.", (text_body(media_type="text/html"),)),),
    ),
    Operation(
        "GET",
        "/ui/{asset}",
        "dashboard",
        "A file of the dashboard",
        "A script or style sheet the dashboard page loads; answers 304 to a matching"
        " `If-None-Match`.",
        params=(
            Param(
                "asset",
                "path",
                "The file's name.",
                {"type": "string"},
                example="app.js",
            ),
        ),
        answers=(
            Answer(200, "The file.", (text_body(media_type="text/javascript"),)),
            Answer(404, "No such file.", (json_body(ref("Error")),)),
        ),
    ),
]

DOCS = [
    Operation(
        "GET",
        "/openapi.json",
        "docs",
        "This description",
        "The OpenAPI 3.1 description of every route this worker serves.",
        answers=(Answer(200, "The description.", (json_body({"type": "object"}),)),),
    ),
    Operation(
        "GET",
        "/docs",
        "docs",
        "This description, for people",
        "A page rendering /openapi.json: every route, its parameters, bodies and answers.",
        answers=(Answer(200, "The page.", (text_body(media_type="text/html"),)),),
    ),
]

TELEGRAM_USERS = [
    Operation(
        "DELETE",
        "/telegram-users/{user_id}",
        "telegram",
        "Erase a Telegram user's messages",
        "Sends a user erasure to every partition of `telegram-updates`; each partition's "
        "archiver then takes the user's messages out of the lake, raw and enriched (within its "
        "next flush). The topic keeps the user's updates until its retention (30 days, or "
        "PROBEWATCH_RETENTION_DAYS).",
        params=(
            Param(
                "user_id",
                "path",
                "The Telegram user id (a positive integer).",
                {"type": "string", "pattern": "^[0-9]+$"},
                example="11",
            ),
        ),
        answers=(
            Answer(
                202,
                "Sent to every partition; the lake follows.",
                (
                    json_body(
                        {
                            "type": "object",
                            "properties": {
                                "user_id": {"type": "integer"},
                                "partitions": {"type": "integer"},
                                "lake": {"type": "boolean"},
                                "telegram_updates_retention_days": {"type": "number"},
                            },
                            "required": ["user_id", "partitions"],
                        },
                        {
                            "user_id": 11,
                            "partitions": 8,
                            "lake": True,
                            "telegram_updates_retention_days": 30,
                        },
                    ),
                ),
            ),
            error(400, "Not a user id.", "not a Telegram user id: 'ann' (a positive integer)"),
            UNAVAILABLE,
        ),
    ),
]

SESSION = [
    Operation(
        "POST",
        "/login",
        "session",
        "Log the dashboard in",
        "Checks the token in the body and keeps it in the `probewatch_token` cookie (HttpOnly, "
        "SameSite=Strict, 12 hours), which then authenticates this browser's requests.",
        body=Body(
            "The token.",
            json_body(
                {
                    "type": "object",
                    "properties": {"token": {"type": "string", "minLength": 1}},
                    "required": ["token"],
                },
                {"token": "pw_1a2b3c4d_…"},
            ),
        ),
        answers=(
            Answer(
                200,
                "Logged in: the cookie is set.",
                (
                    json_body(
                        {
                            "type": "object",
                            "properties": {
                                "capabilities": {"type": "array", "items": STRING},
                            },
                            "required": ["capabilities"],
                        },
                        {"capabilities": ["admin", "read"]},
                    ),
                ),
            ),
            error(400, 'A body that is not `{"token": …}`.', 'the body must be {"token": "pw_…"}'),
            error(401, "Not a valid token.", "this token is not valid"),
            *BODY_ANSWERS,
        ),
    ),
    Operation(
        "POST",
        "/logout",
        "session",
        "Log the dashboard out",
        "Removes the `probewatch_token` cookie (the token itself stays valid until revoked).",
        answers=(
            Answer(
                200,
                "Logged out.",
                (
                    json_body(
                        {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                        {"ok": True},
                    ),
                ),
            ),
        ),
    ),
]

#: The answers every route that needs a token may give, and the ways to present one.
NO_TOKEN = error(
    401,
    "No token, or one that is not valid (unknown, revoked): send `Authorization: Bearer <token>`"
    " (or log in with `POST /login`). Not while the API is open (no token exists yet and "
    "PROBEWATCH_API_AUTH is `auto`).",
    "a token is required: Authorization: Bearer <token>",
)
NOT_ALLOWED = error(
    403,
    "The token's role cannot change anything (a `read` token), or a change authenticated by "
    "the cookie came from another origin.",
    "this token's role cannot do this (needs 'admin')",
)
SECURITY_SCHEMES = {
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`probewatch tokens create`): `read` or `admin`.",
    },
    "session": {"type": "apiKey", "in": "cookie", "name": "probewatch_token"},
}

OPERATIONS: list[Operation] = [
    *DEVICES,
    *GROUPS,
    *ACTIVITY,
    *SSIDS,
    *SENSORS,
    *ANALYTICS,
    *WATCHLIST,
    *SUBSCRIPTIONS,
    *STREAMS,
    *OPERATIONS_STATUS,
    *TELEGRAM,
    *FAUST,
    *DASHBOARD,
    *DOCS,
    *SESSION,
    *TELEGRAM_USERS,
]

TAGS = [
    Tag("devices", "Devices seen, and their names."),
    Tag("groups", "Probable devices: randomized MACs grouped."),
    Tag("activity", "Probes, devices and signal over time, by capture time."),
    Tag("ssids", "Which devices probe for a network."),
    Tag("sensors", "The sensors that hear the probes."),
    Tag("analytics", "Reports over the history lake (SQL with DuckDB)."),
    Tag("watchlist", "SSIDs whose probes raise alerts."),
    Tag("subscriptions", "Telegram chats alerts are sent to."),
    Tag("streams", "Live probes and alerts, as Server-Sent Events."),
    Tag("status", "Health, cluster and metrics."),
    Tag("telegram", "The bot's webhook."),
    Tag("faust", "Routes faust itself serves on every worker."),
    Tag("dashboard", "The web page every worker serves at /."),
    Tag("docs", "This description."),
    Tag("session", "The dashboard's login."),
]

DESCRIPTION = f"""\
Wi-Fi probe requests folded into per-device state, served by every worker: a request for a key
another worker owns is forwarded to it, a list is gathered from all of them.

Errors are JSON `{{"error": "…"}}` with a 4xx or 5xx status, except where a route says
otherwise. A 503 (starting, recovering, rebalancing, Kafka unavailable) always carries
`Retry-After` ({RETRY_AFTER_S} s); a 502 means another worker did not answer. A body the server
cannot decode is a 400, one over {MAX_BODY_BYTES} bytes a 413, one slower than
{BODY_TIMEOUT_S:g} s a 408, an `Expect` header other than `100-continue` a 417. A path no route
has is `404: Not Found` and a method a route lacks `405: Method Not Allowed`, both plain text.
Every path also answers HEAD: as its GET without the body, or 405 where it has no GET.

Tokens: every route but the public ones (health, the dashboard's page and files, this
description, the webhook, login and logout) needs an API token once any exists — `read` to
read, `admin` to change anything — as `Authorization: Bearer <token>` or the dashboard's cookie.
"""


def openapi_document(*, bot_on: bool = False) -> dict[str, Any]:
    """The description of the routes this worker serves: the webhook's only while the bot is on."""
    described = document(
        (_secured(op) for op in OPERATIONS if bot_on or not op.only_with_bot),
        title="probewatch",
        version=_version(),
        description=DESCRIPTION,
        tags=TAGS,
        schemas=SCHEMAS,
    )
    described["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, methods in described["paths"].items():
        for method, operation in methods.items():
            if needed(method, path) is not None:
                operation["security"] = [{"token": []}, {"session": []}]
    return described


def _secured(operation: Operation) -> Operation:
    """The operation with the answers its token check adds (`app.web.access`)."""
    want = needed(operation.method, operation.path)
    if want is None:
        return operation
    added = [NO_TOKEN, *([NOT_ALLOWED] if want == "admin" else [])]
    if all(answer.status != 503 for answer in operation.answers):
        added.append(UNAVAILABLE)
    have = {answer.status for answer in operation.answers}
    return replace(
        operation, answers=(*operation.answers, *(a for a in added if a.status not in have))
    )


def _version() -> str:
    try:
        return metadata.version("probewatch")
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "0.0.0"
