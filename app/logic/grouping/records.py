"""What the grouper says: which group a MAC joined, and the evidence of the link.

`GET /groups/{id}` shows these, so each link names every signal it rested on and how strong
it was, not just a score.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: How a MAC was found to continue a group, strongest first.
LinkKind = Literal["sequence", "burst", "handover"]
Strength = Literal["strong", "medium", "weak"]

#: The strength of each kind of link.
STRENGTH: dict[LinkKind, Strength] = {"sequence": "strong", "burst": "medium", "handover": "weak"}


class Link(msgspec.Struct, frozen=True):
    """Why a MAC was put in a group that already existed.

    - `sequence`: its first 802.11 sequence number continues the group's counter (`seq_step`
      after it, mod 4096), within `max_gap_s`.
    - `burst`: it followed the previous MAC of its scan within `scan_gap_s`, or its scan began
      within `burst_gap_s` of the group's last probe.
    - `handover`: its scan began after the group fell silent (`gap_s` ≤ `max_gap_s`), with a
      signal (`rssi_diff_db`) or SSIDs that agree.
    All need the same IE fingerprint (the shard key), a signal that does not contradict, and
    no other candidate that fits as well (`rivals` counts those that fitted less well).
    """

    kind: LinkKind
    strength: Strength
    #: The shard key both share: the IE fingerprint.
    fingerprint: str
    #: The member of the group it follows (heard last before it).
    follows: str
    #: Seconds from the group's last probe to this MAC's first (negative: slight overlap).
    gap_s: float
    #: Sequence steps from the group's last frame to this MAC's first, when both are known.
    seq_step: int | None
    #: Signal distance (dB) between its scan (or itself) and the group's recent MACs
    #: (`evidence.rssi_distance`); None when no sensor heard both.
    rssi_diff_db: float | None
    #: Named SSIDs both asked for.
    shared_ssids: tuple[str, ...]
    #: Other candidates (open scans or groups) that fitted too, less well (0: none).
    rivals: int

    def evidence(self) -> list[dict[str, Any]]:
        """The signals as a list for people: which signal, what it measured, how strong."""
        items: list[dict[str, Any]] = [
            {"signal": "fingerprint", "value": self.fingerprint, "strength": "required"},
            {
                "signal": "timing",
                "value": round(self.gap_s, 3),
                "strength": "medium" if self.kind == "burst" else "weak",
            },
        ]
        if self.seq_step is not None:
            items.append(
                {
                    "signal": "sequence",
                    "value": self.seq_step,
                    "strength": "strong" if self.kind == "sequence" else "none",
                }
            )
        if self.rssi_diff_db is not None:
            items.append(
                {"signal": "rssi", "value": round(self.rssi_diff_db, 1), "strength": "weak"}
            )
        if self.shared_ssids:
            items.append(
                {"signal": "ssids", "value": list(self.shared_ssids), "strength": "medium"}
            )
        return items


class Assignment(msgspec.Struct, frozen=True):
    """A MAC decided: its group (the first MAC of the group) and, if it joined one, the link.

    A MAC is assigned once; a group never changes its id. `link` is None when the MAC starts a
    group of its own (then `group == mac`).
    """

    mac: str
    group: str
    #: The shard's clock when it was decided (capture time).
    decided_ts: float
    first_ts: float
    last_ts: float
    link: Link | None = None
    #: Not empty when its group was begun in doubt: its scan fitted these groups alike, so it
    #: is probably one of them, not a device of its own (`score.Scores.estimated_devices`).
    doubt: tuple[str, ...] = ()
