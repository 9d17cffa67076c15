"""The capture loop shared by replay and live: records in, parsed events out to a sink.

Kept apart from Kafka and the CLI so it can be driven with a fake sink in tests, and lean
because it runs once per frame.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sniffer.capture import CaptureReader, Record, read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import TS_LIMIT, TS_MIN, MalformedFrame, parse_frame
from sniffer.producer import Sink

_HOUSEKEEPING_EVERY = 512
_LONGEST_WAIT = 60.0  # a long pause is slept in steps: Event.wait overflows on huge timeouts


@dataclass(slots=True)
class Counts:
    """Running totals; frames == probes + not_probe + malformed.

    Besides the frames: frames of pcapng interfaces that are not 802.11 (not read, reported),
    and the bytes of capture files that could not be read (`skipped_bytes` in `skip_places`
    places of `damaged_files` files; any of it means data was lost).
    """

    frames: int = 0
    probes: int = 0
    not_probe: int = 0
    malformed: int = 0
    other_linktype: int = 0
    skipped_bytes: int = 0
    skip_places: int = 0
    damaged_files: int = 0


class Pacer:
    """Holds records back so they leave with their capture spacing divided by `speed`."""

    def __init__(
        self,
        speed: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be greater than 0")
        self.speed = speed
        self._stop = stop
        self._clock = clock
        self._origin: tuple[float, float] | None = None

    def reset(self) -> None:
        """Start a new timeline (each file is paced from its own first record)."""
        self._origin = None

    def wait(self, ts: float) -> None:
        """Sleep until the record stamped `ts` is due; returns early when stop is set.

        A record without a valid capture time (the parser counts it malformed) is not waited
        for and does not start the timeline.
        """
        if not TS_MIN <= ts < TS_LIMIT:
            return
        now = self._clock()
        if self._origin is None:
            self._origin = (ts, now)
            return
        first_ts, started = self._origin
        due = started + (ts - first_ts) / self.speed
        while (delay := due - self._clock()) > 0.001:
            step = min(delay, _LONGEST_WAIT)
            if self._stop is not None:
                if self._stop.wait(step):
                    return
            else:
                time.sleep(step)


ProgressCallback = Callable[[Counts], None]
#: What a probe goes through between the parser and the sink (sniffer.pseudonym.Pseudonymizer).
Transform = Callable[[ProbeEvent], ProbeEvent]


def pump(
    records: Iterable[Record],
    sink: Sink,
    sensor: str,
    counts: Counts,
    *,
    pacer: Pacer | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    every: int = _HOUSEKEEPING_EVERY,
    transform: Transform | None = None,
) -> bool:
    """Parse every record and send the probe requests; False if `stop` ended it early.

    `transform` (the pseudonyms) is applied to every probe before the sink sees it. Every
    `every` records (and on every paced record) the sink is polled so delivery callbacks run,
    and progress is reported.
    """
    parse = parse_frame
    send = sink.send
    since = 0
    stopped = False
    for linktype, data, ts in records:
        if pacer is not None:
            pacer.wait(ts)
        if stop is not None and stop.is_set():
            stopped = True
            break
        counts.frames += 1
        try:
            event = parse(linktype, data, ts, sensor)
        except MalformedFrame:
            counts.malformed += 1
        else:
            if event is None:
                counts.not_probe += 1
            else:
                send(event if transform is None else transform(event))
                counts.probes += 1
        since += 1
        if since >= every or pacer is not None:
            since = 0
            sink.poll()
            if progress is not None:
                progress(counts)
    sink.poll()
    if progress is not None:
        progress(counts)
    return not stopped


def replay(
    paths: Sequence[str | os.PathLike[str]],
    sink: Sink,
    sensor: str,
    *,
    speed: float | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    on_file: Callable[[CaptureReader], None] | None = None,
    transform: Transform | None = None,
) -> tuple[Counts, bool]:
    """Replay capture files in order; `speed` None means as fast as possible.

    Bytes that could not be read (a damaged or cut record or block) and frames of non-802.11
    pcapng interfaces are added to the counts, and `on_file` sees each reader once its file is
    done, to report them per file. `transform` is applied to every probe (see `pump`). Returns
    the counts and whether every file was read to its end (False when `stop` interrupted).
    """
    counts = Counts()
    pacer = Pacer(speed, stop) if speed is not None else None
    for path in paths:
        with read_capture(path) as reader:
            if pacer is not None:
                pacer.reset()
            finished = pump(
                reader,
                sink,
                sensor,
                counts,
                pacer=pacer,
                progress=progress,
                stop=stop,
                transform=transform,
            )
        counts.other_linktype += reader.other_linktype_frames
        counts.skipped_bytes += reader.skipped_bytes
        counts.skip_places += reader.skip_places
        counts.damaged_files += 1 if reader.skip_places else 0
        if on_file is not None:
            on_file(reader)
        if progress is not None:
            progress(counts)
        if not finished:
            return counts, False
    return counts, True
