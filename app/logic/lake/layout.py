"""Where the lake's files go, and their names: what makes the lake exact.

    raw/<zone>/context_date=YYYY-MM-DD/<zone>+<partition>+<first offset>+<last offset>.jsonl.gz
    enriched/<table>/day=YYYY-MM-DD/<the raw piece's name>.parquet
    enriched/<table>/day=YYYY-MM-DD/compacted-<first piece>-<count>.parquet

A raw *piece* holds a run of consecutive records of one partition, all received on one UTC day
(by their Kafka timestamp); its name says which. Pieces that follow each other on one finished
day are merged into one piece (`merges`), named the same way: first offset of the first, last
of the last. The highest last offset among a partition's
pieces is where archiving resumes after a crash or a rebalance: a piece is written whole or not
at all, so every record is in exactly one piece. The enriched files made from a piece carry its
name, one per day of the events in it (a probe's capture time, a message's date), so making
them again overwrites them. Offsets are zero-padded, so names sort in offset order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

#: The raw zones, by topic (without the deployment's prefix).
ZONES = {"probes": "probes", "telegram-updates": "telegram", "group-members": "groups"}
#: The enriched tables, and the zone each is flattened from.
TABLES = {"probes": "probes", "messages": "telegram", "group_joins": "groups"}
#: The day of an event whose time no calendar can show.
UNKNOWN_DAY = "0000-00-00"

_STEM = re.compile(r"([a-z]+)\+([0-9]{4,})\+([0-9]{20})\+([0-9]{20})")


@dataclass(frozen=True, slots=True, order=True)
class Piece:
    """A run of consecutive records of one partition: offsets `first` to `last`, both in."""

    zone: str
    partition: int
    first: int
    last: int

    @property
    def stem(self) -> str:
        return f"{self.zone}+{self.partition:04d}+{self.first:020d}+{self.last:020d}"

    @classmethod
    def parse(cls, name: str) -> Piece | None:
        """The piece a file is named after (its path or name), None for another file."""
        base = name.rsplit("/", 1)[-1].split(".", 1)[0]
        match = _STEM.fullmatch(base)
        if match is None:
            return None
        zone, partition, first, last = match.groups()
        return cls(zone, int(partition), int(first), int(last))


#: Days already named, by their number since 1970: the archiver names one per probe, and
#: formatting a date costs ten times a look-up.
_DAY_NAMES: dict[int, str] = {}
_SECONDS_A_DAY = 86_400


def day_of(ts: float) -> str:
    """A Unix time's UTC day, `YYYY-MM-DD`."""
    try:
        number = int(ts // _SECONDS_A_DAY)
    except (OverflowError, ValueError):
        return UNKNOWN_DAY
    start = number * _SECONDS_A_DAY
    # A second away from midnight, datetime's rounding to microseconds cannot change the day.
    if start + 1 <= ts < start + _SECONDS_A_DAY - 1:
        name = _DAY_NAMES.get(number)
        if name is None:
            if len(_DAY_NAMES) >= 100_000:  # probes from every era: forget them, stay small
                _DAY_NAMES.clear()
            name = _DAY_NAMES[number] = _formatted(ts)
        return name
    return _formatted(ts)


def _formatted(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return UNKNOWN_DAY


def raw_path(piece: Piece, day: str) -> str:
    return f"raw/{piece.zone}/context_date={day}/{piece.stem}.jsonl.gz"


def raw_glob(zone: str, partition: int) -> str:
    """Every raw piece of a partition, whatever its day."""
    return f"raw/{zone}/context_date=*/{zone}+{partition:04d}+*.jsonl.gz"


def enriched_path(table: str, day: str, stem: str) -> str:
    return f"enriched/{table}/day={day}/{stem}.parquet"


def enriched_glob(table: str, stem: str) -> str:
    """The enriched files made from one piece, whatever their days."""
    return f"enriched/{table}/day=*/{stem}.parquet"


def table_glob(table: str) -> str:
    """Every file of an enriched table (what its view reads)."""
    return f"enriched/{table}/day=*/*.parquet"


def raw_day(path: str) -> str | None:
    """The day folder a raw piece's path is in (None when it is in none)."""
    folder = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
    return folder.removeprefix("context_date=") if folder.startswith("context_date=") else None


@dataclass(frozen=True, slots=True)
class Merge:
    """Raw pieces of one partition and day to write as one, `into`, then delete."""

    day: str
    into: Piece
    sources: tuple[Piece, ...]


def merges(held: list[tuple[Piece, str]], today: str) -> list[Merge]:
    """How to merge a partition's raw pieces (each with its day): every run of two or more
    pieces of one day before `today`, with no other piece between them in offset order. A piece
    of another day in between splits the run, so a merged piece still holds every record its
    name covers and nothing of another day."""
    runs: list[tuple[str, list[Piece]]] = []
    for piece, day in sorted(held, key=lambda item: (item[0].first, item[0].last)):
        if day >= today:
            runs.append(("", []))
        elif runs and runs[-1][1] and runs[-1][0] == day:
            runs[-1][1].append(piece)
        else:
            runs.append((day, [piece]))
    return [
        Merge(day, Piece(run[0].zone, run[0].partition, run[0].first, run[-1].last), tuple(run))
        for day, run in runs
        if len(run) >= 2
    ]


def superseded(held: list[Piece]) -> list[Piece]:
    """Pieces another piece of the partition holds whole: the sources of a merge that a crash
    cut short between writing the merged piece and deleting them."""
    found = []
    reach = -1
    for piece in sorted(set(held), key=lambda piece: (piece.first, -piece.last)):
        if piece.last <= reach:
            found.append(piece)
        reach = max(reach, piece.last)
    return found


def resume_after(pieces: list[Piece]) -> int:
    """The last offset archived among a partition's pieces (-1: none)."""
    return max((piece.last for piece in pieces), default=-1)
