"""`probewatch-sniffer`: replay captures, capture live, write a synthetic capture, make a
pseudonym key and look pseudonyms up.

Exit codes: 0 success, 1 Kafka failure (unreachable, or messages not acknowledged after all
retries), 2 bad arguments, settings, files or interface, 3 input damaged (some bytes of a capture
could not be read and were skipped; the probe requests that could be read were still produced and
flushed), 130 replay interrupted. When several apply: 1, then 130, then 3.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import Any

from tqdm import tqdm

from sniffer.capture import CaptureError, CaptureReader, live_frames, read_capture
from sniffer.parse import TS_LIMIT, linktype_name
from sniffer.pipeline import Counts, pump, replay
from sniffer.producer import KAFKA_LOG, DeliveryReport, KafkaUnavailable, ProbeProducer
from sniffer.pseudonym import NEW_KEY_BYTES, new_key_text, normalize_mac
from sniffer.settings import BATCH_RANGE, SnifferSettings
from sniffer.ssid import ssid_octets
from sniffer.synth import DEFAULT_START, write_synthetic_pcap

PROG = "probewatch-sniffer"
EXIT_KAFKA = 1
EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_INTERRUPTED = 130
CONNECT_TIMEOUT_S = 15.0
_SHOWN_SKIPS = 3  # places of one file named in its warning


class _Progress:
    """tqdm bar of frames with probes and malformed counts alongside (stderr).

    Also keeps the latest counts, which the summary prints.
    """

    def __init__(self, enabled: bool, desc: str) -> None:
        self._bar = tqdm(
            desc=desc, unit=" frames", disable=not enabled, mininterval=0.5, dynamic_ncols=True
        )
        self.counts = Counts()

    def __call__(self, counts: Counts) -> None:
        self._bar.update(counts.frames - self.counts.frames)
        self.counts = replace(counts)
        self._bar.set_postfix_str(
            f"probes={counts.probes} malformed={counts.malformed}", refresh=False
        )

    def close(self) -> None:
        self._bar.close()

    def warn(self, text: str) -> None:
        """A warning line on stderr that does not tear the bar."""
        self._bar.write(f"{PROG}: warning: {text}", file=sys.stderr)


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return code


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C or SIGTERM asks the loop to stop and flush; a second Ctrl-C aborts."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _settings(args: argparse.Namespace) -> SnifferSettings:
    settings = SnifferSettings.from_env()
    return replace(
        settings,
        kafka_bootstrap_servers=args.bootstrap_servers or settings.kafka_bootstrap_servers,
        topic_prefix=settings.topic_prefix if args.topic_prefix is None else args.topic_prefix,
        sensor=args.sensor or settings.sensor,
        batch=settings.batch if args.batch is None else args.batch,
    )


def _producer(settings: SnifferSettings) -> ProbeProducer:
    """Connect and make sure the probes topic exists (KafkaUnavailable otherwise)."""
    producer = ProbeProducer(
        settings.kafka_bootstrap_servers,
        settings.probes_topic,
        client_id=f"probewatch-sniffer-{settings.sensor}",
        delivery_timeout_s=settings.delivery_timeout_s,
        batch_size=settings.batch,
    )
    partitions = producer.ensure_topic(settings.partitions, timeout=CONNECT_TIMEOUT_S)
    if partitions != settings.partitions:
        print(
            f"{PROG}: warning: topic {settings.probes_topic!r} has {partitions} partitions, "
            f"PROBEWATCH_PARTITIONS says {settings.partitions}",
            file=sys.stderr,
        )
    return producer


def _summary(
    counts: Counts, report: DeliveryReport, elapsed: float, settings: SnifferSettings
) -> None:
    rate = counts.frames / elapsed if elapsed > 0 else 0.0
    topic = settings.probes_topic
    if settings.pseudonymizer() is not None:
        ssids = ", SSIDs" if settings.pseudonym_ssids else ""
        oui = " (OUIs kept)" if settings.pseudonym_keep_oui else ""
        print(f"pseudonyms:         hmac: MACs{oui}, ie_fingerprints{ssids}")
    print(
        f"frames read:        {counts.frames}\n"
        f"probe requests:     {counts.probes} produced to {topic!r}, "
        f"{report.delivered} acknowledged by Kafka, {report.failed} failed\n"
        f"not-probe frames:   {counts.not_probe}\n"
        f"malformed skipped:  {counts.malformed}\n"
        f"not 802.11 skipped: {counts.other_linktype} frames\n"
        f"unreadable skipped: {_bytes(counts.skipped_bytes)} in {_places(counts.skip_places)}"
        f" of {_files(counts.damaged_files)}\n"
        f"rate:               {rate:,.0f} frames/s over {elapsed:.2f} s",
        flush=True,
    )


def _bytes(count: int) -> str:
    return f"{count} byte" if count == 1 else f"{count} bytes"


def _places(count: int) -> str:
    return f"{count} place" if count == 1 else f"{count} places"


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _report_file(progress: _Progress, reader: CaptureReader) -> None:
    """Per-file warnings: bytes that could not be read, and frames of non-802.11 interfaces."""
    if reader.skip_places:
        shown = [f"at byte {skip.offset}: {skip.reason}" for skip in reader.skips[:_SHOWN_SKIPS]]
        if reader.skip_places > len(shown):
            shown.append(f"and {_places(reader.skip_places - len(shown))} more")
        progress.warn(
            f"{reader.path}: skipped {_bytes(reader.skipped_bytes)} that could not be read, "
            f"in {_places(reader.skip_places)} ({'; '.join(shown)})"
        )
    if reader.other_linktype_frames:
        names = ", ".join(linktype_name(lt) for lt in sorted(reader.other_linktypes))
        progress.warn(
            f"{reader.path}: {reader.other_linktype_frames} frames of interfaces with link type "
            f"{names} were skipped: not 802.11"
        )


def _finish(
    producer: ProbeProducer, counts: Counts, started: float, settings: SnifferSettings
) -> int:
    """Flush, print the summary, and turn undelivered messages into exit code 1."""
    try:
        report = producer.flush()
    except KeyboardInterrupt:
        report = producer.flush(0)
        producer.close()
        _summary(counts, report, time.monotonic() - started, settings)
        return _fail(
            f"interrupted while waiting for Kafka: {report.pending} probe requests unconfirmed",
            EXIT_KAFKA,
        )
    producer.close()
    _summary(counts, report, time.monotonic() - started, settings)
    if not report.ok:
        lost = report.queued - report.delivered
        return _fail(
            f"{lost} of {report.queued} probe requests were not acknowledged by Kafka at "
            f"{settings.kafka_bootstrap_servers} after all retries"
            + (f" (first error: {report.first_error})" if report.first_error else ""),
            EXIT_KAFKA,
        )
    return 0


def _damaged(counts: Counts) -> int:
    """Exit 3 with one line when bytes of a capture were skipped, else 0."""
    if not counts.skip_places:
        return 0
    return _fail(
        f"input damaged: skipped {_bytes(counts.skipped_bytes)} that could not be read, in "
        f"{_places(counts.skip_places)} of {_files(counts.damaged_files)} (see the warnings "
        "above); the probe requests that could be read were produced",
        EXIT_DAMAGED,
    )


def _produce(
    settings: SnifferSettings,
    progress: _Progress,
    stop: threading.Event,
    loop: Callable[[ProbeProducer], bool],
) -> int:
    """Run `loop` against a connected producer, then flush and summarise.

    Signals are caught for the whole run, flush included: the first Ctrl-C/SIGTERM ends the
    loop, a second Ctrl-C abandons waiting for Kafka.
    """
    try:
        producer = _producer(settings)
    except KafkaUnavailable as exc:
        progress.close()
        return _fail(str(exc), EXIT_KAFKA)
    started = time.monotonic()
    with _stop_on_signals(stop):
        try:
            complete = loop(producer)
        except KafkaUnavailable as exc:
            progress.close()
            return _fail(str(exc), EXIT_KAFKA)
        progress.close()
        code = _finish(producer, progress.counts, started, settings)
    if code == 0 and not complete:
        return _fail("interrupted: stopped before the end of the input", EXIT_INTERRUPTED)
    if code == 0:
        return _damaged(progress.counts)
    return code


def _cmd_replay(args: argparse.Namespace, settings: SnifferSettings) -> int:
    for path in args.paths:
        try:
            read_capture(path).close()
        except CaptureError as exc:
            return _fail(str(exc), EXIT_USAGE)
    speed: float | None = args.speed
    if speed is None and args.rate == "original":
        speed = 1.0
    stop = threading.Event()
    progress = _Progress(not args.no_progress, "replay")

    def loop(producer: ProbeProducer) -> bool:
        _counts, complete = replay(
            args.paths,
            producer,
            settings.sensor,
            speed=speed,
            progress=progress,
            stop=stop,
            on_file=lambda reader: _report_file(progress, reader),
            transform=settings.pseudonymizer(),
        )
        return complete

    return _produce(settings, progress, stop, loop)


def _cmd_live(args: argparse.Namespace, settings: SnifferSettings) -> int:
    stop = threading.Event()
    try:
        frames = live_frames(args.iface, count=args.count, timeout=args.timeout, stop=stop)
    except CaptureError as exc:
        return _fail(str(exc), EXIT_USAGE)
    progress = _Progress(not args.no_progress, f"live {args.iface}")

    def loop(producer: ProbeProducer) -> bool:
        counts = Counts()
        pump(
            frames,
            producer,
            settings.sensor,
            counts,
            progress=progress,
            stop=stop,
            every=1,
            transform=settings.pseudonymizer(),
        )
        return True  # ending live capture by signal, count or timeout is the normal way

    try:
        return _produce(settings, progress, stop, loop)
    finally:
        frames.close()


def _cmd_synth(args: argparse.Namespace) -> int:
    try:
        stats = write_synthetic_pcap(
            args.out,
            probes=args.probes,
            devices=args.devices,
            seed=args.seed,
            start=args.start,
            rate=args.rate,
        )
    except OSError as exc:
        return _fail(f"{args.out}: cannot write ({exc.strerror or exc})", EXIT_USAGE)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(
        f"wrote {args.out}: {stats.probes} probe requests from {stats.devices} devices "
        f"({stats.randomized_devices} randomized), {stats.wildcard_probes} wildcard, "
        f"{stats.distinct_ssids} distinct SSIDs, {stats.first_ts:.6f}..{stats.last_ts:.6f}"
    )
    return 0


def _cmd_pseudonym_key(args: argparse.Namespace) -> int:
    """Write a new random key to a file that did not exist, readable by its owner only."""
    path: str = args.file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _fail(
            f"{path} exists: not replaced (another key gives every device a new pseudonym); "
            "to change keys, write the new one to another file (see README, Privacy)",
            EXIT_USAGE,
        )
    except OSError as exc:
        return _fail(f"{path}: cannot create ({exc.strerror or exc})", EXIT_USAGE)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as stream:
            stream.write(new_key_text() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        return _fail(f"{path}: cannot write ({exc.strerror or exc})", EXIT_USAGE)
    print(
        f"wrote a new {NEW_KEY_BYTES * 8}-bit pseudonym key to {path} (mode 0600); it never "
        f"leaves this host. Use it with:\n"
        f"  PROBEWATCH_PSEUDONYMIZE=hmac PROBEWATCH_PSEUDONYM_KEY_FILE={os.path.abspath(path)}"
    )
    return 0


def _cmd_pseudonym(args: argparse.Namespace) -> int:
    """Print `VALUE<TAB>PSEUDONYM` per value under the configured key."""
    if not (args.macs or args.ssids or args.fingerprints):
        return _fail("pseudonym: give at least one MAC, --ssid or --fingerprint", EXIT_USAGE)
    try:
        settings = SnifferSettings.from_env()
        pseudonyms = settings.key_pseudonymizer()
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    lines: list[str] = []
    try:
        for text in args.macs:
            mac = normalize_mac(text)
            lines.append(f"{mac}\t{pseudonyms.mac(mac)}")
        for text in args.ssids:
            octets = ssid_octets(text)
            if not octets:
                raise ValueError("--ssid: the empty SSID is the wildcard; it is sent as it is")
            lines.append(f"{text}\t{pseudonyms.ssid(text, octets.hex())}")
        for text in args.fingerprints:
            fingerprint = text.strip().lower()
            lines.append(f"{fingerprint}\t{pseudonyms.fingerprint(fingerprint)}")
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if settings.pseudonymize != "hmac":
        print(
            f"{PROG}: warning: PROBEWATCH_PSEUDONYMIZE is off: the sniffer sends the real "
            "values, not these pseudonyms",
            file=sys.stderr,
        )
    elif args.ssids and not settings.pseudonym_ssids:
        print(
            f"{PROG}: warning: PROBEWATCH_PSEUDONYM_SSIDS is off: the sniffer sends SSIDs as "
            "they are, not these pseudonyms",
            file=sys.stderr,
        )
    print("\n".join(lines), flush=True)
    return 0


# Bounds of the numeric options: wide enough for any real use, narrow enough that no value can
# overflow a timer or a timestamp, or make a run that never ends or fills the disk.
SPEED_RANGE = (0.001, 1_000_000.0)  # replay --speed FACTOR
TIMEOUT_RANGE = (0.001, 31_622_400.0)  # live --timeout S: up to 366 days
COUNT_RANGE = (1, 10**12)  # live --count N
PROBES_RANGE = (0, 10_000_000)  # synth --probes
DEVICES_RANGE = (1, 1_000_000)  # synth --devices
SEED_RANGE = (0, 2**64 - 1)  # synth --seed
RATE_RANGE = (0.001, 1_000_000.0)  # synth --rate, probes per second
START_RANGE = (0.0, TS_LIMIT - 1)  # synth --start, epoch seconds before 2100-01-01


def _number(kind: type[float] | type[int], low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a finite number of `kind` within [low, high], else a clear error."""
    noun = "a whole number" if kind is int else "a number"

    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(
                f"must be between {_show(low)} and {_show(high)}: {text!r}"
            )
        return value

    return convert


def _show(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Capture Wi-Fi probe requests and produce them to Kafka."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kafka = argparse.ArgumentParser(add_help=False)
    kafka.add_argument("--bootstrap-servers", help="Kafka (env PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS)")
    kafka.add_argument("--topic-prefix", help="topic name prefix (env PROBEWATCH_TOPIC_PREFIX)")
    kafka.add_argument("--sensor", help="name of this sensor (env PROBEWATCH_SENSOR; hostname)")
    kafka.add_argument("--no-progress", action="store_true", help="no progress bar")
    kafka.add_argument(
        "--batch",
        type=_number(int, *BATCH_RANGE),
        help="probes packed per Kafka record, 1 = one record per probe keyed by MAC "
        "(env PROBEWATCH_SNIFFER_BATCH; 500)",
    )

    rep = commands.add_parser(
        "replay", parents=[kafka], help="produce the probe requests of pcap/pcapng files"
    )
    rep.add_argument("paths", nargs="+", metavar="PATH", help="capture files, replayed in order")
    pace = rep.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate",
        choices=("original", "max"),
        default="max",
        help="'original' keeps the capture's timing, 'max' goes as fast as possible (default)",
    )
    pace.add_argument(
        "--speed",
        type=_number(float, *SPEED_RANGE),
        metavar="FACTOR",
        help="capture timing sped up FACTOR times (0.001 to 1000000)",
    )
    rep.set_defaults(handler=_cmd_replay)

    live = commands.add_parser(
        "live", parents=[kafka], help="capture on a monitor-mode interface (needs root)"
    )
    live.add_argument("--iface", required=True, help="monitor-mode interface, e.g. wlan0mon")
    live.add_argument(
        "--count", type=_number(int, *COUNT_RANGE), help="stop after N probe requests"
    )
    live.add_argument(
        "--timeout",
        type=_number(float, *TIMEOUT_RANGE),
        metavar="S",
        help="stop after S seconds (at most 366 days)",
    )
    live.set_defaults(handler=_cmd_live)

    syn = commands.add_parser("synth", help="write a realistic synthetic radiotap pcap")
    syn.add_argument("out", metavar="OUT.pcap")
    syn.add_argument("--probes", type=_number(int, *PROBES_RANGE), default=10_000)
    syn.add_argument("--devices", type=_number(int, *DEVICES_RANGE), default=200)
    syn.add_argument("--seed", type=_number(int, *SEED_RANGE), default=0)
    syn.add_argument(
        "--rate", type=_number(float, *RATE_RANGE), default=100.0, help="mean probes/s"
    )
    syn.add_argument(
        "--start",
        type=_number(float, *START_RANGE),
        default=DEFAULT_START,
        help="epoch seconds of the first probe (the capture must end before 2100)",
    )

    key = commands.add_parser(
        "pseudonym-key", help="write a new random pseudonym key to a new file (mode 0600)"
    )
    key.add_argument("file", metavar="FILE", help="the key file to create (never overwritten)")

    pse = commands.add_parser(
        "pseudonym",
        help="print the pseudonyms of real MACs, SSIDs and fingerprints under the configured key",
    )
    pse.add_argument("macs", nargs="*", metavar="MAC", help="real MAC addresses")
    pse.add_argument(
        "--ssid",
        dest="ssids",
        action="append",
        default=[],
        metavar="NAME",
        help="an SSID as probewatch writes it (\\xNN for an octet); repeatable",
    )
    pse.add_argument(
        "--fingerprint",
        dest="fingerprints",
        action="append",
        default=[],
        metavar="HEX",
        help="an ie_fingerprint as the sniffer computes it without pseudonyms; repeatable",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    KAFKA_LOG.setLevel(logging.CRITICAL)  # the error callback already reports what matters
    if args.command == "synth":
        return _cmd_synth(args)
    if args.command == "pseudonym-key":
        return _cmd_pseudonym_key(args)
    if args.command == "pseudonym":
        return _cmd_pseudonym(args)
    try:
        settings = _settings(args)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    handler: Callable[[argparse.Namespace, SnifferSettings], int] = args.handler
    return handler(args, settings)
