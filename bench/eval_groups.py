"""How well randomized MACs are grouped into devices: `python -m bench.eval_groups`.

Labelled captures, one physical device each, are read with the project's own reader (the
sniffer's parser, then the worker's record decoder) and made into one crowd:
- the MACs that are the device are kept (see LABELS: two captures also heard bystanders);
- each capture is shifted to a common start, so the devices are present at the same time
  (otherwise timing alone would tell them apart), `--stagger` seconds apart if asked;
- all are heard by one sensor, as one sniffer in the room would hear them;
- frames captured twice (same MAC and sequence number within DUPLICATE_S, e.g. by the three
  sniffers of ProbingPatternsDataset) are kept once;
- the probes are merged in time order and fed to the grouper (`app.logic.grouping`).
The groups are scored against the labels (`app.logic.grouping.score`): B-cubed and pairwise
precision and recall over MACs, and the device count, next to two baselines: every MAC alone,
and one group per IE fingerprint. Per device: into how many groups it was split, and with which
other devices it was merged. `--robustness` repeats it with other start offsets and leaving
each device out; `--sweep` moves each threshold to half and double its value.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.logic.grouping import DEFAULT_PARAMS, Grouper, GroupingParams, shard_key
from app.logic.grouping.records import Assignment
from app.logic.grouping.score import DeviceFigures, Scores, per_device, score
from app.logic.probe import decode_record
from app.models import ProbeEvent
from sniffer.capture import read_capture
from sniffer.event import encode_many
from sniffer.parse import MalformedFrame, parse_frame

REPO = Path(__file__).resolve().parent.parent
PCAPS = REPO.parent / "shared" / "data" / "pcaps"
#: One sensor hears the whole crowd (signal strengths are only comparable per sensor).
SENSOR = "eval"
#: The common start of every capture (2024-01-01T00:00:00Z; any time would do).
START_TS = 1_704_067_200.0
#: The same frame (MAC and sequence number) heard again within this long is a duplicate: the
#: merged sniffers of ProbingPatternsDataset repeat frames with identical capture times.
DUPLICATE_S = 0.05
#: Targets of issue 14.
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.5
TARGET_COUNT_ERROR = 0.3


@dataclass(frozen=True, slots=True)
class Device:
    """A labelled capture: one physical device.

    `near_dbm`: keep only the MACs with a probe stronger than this. The MAC-Randomization
    captures are unfiltered monitor captures with bystanders in them; their author kept the
    device's own MACs by exactly this rule (RSSI > -40 dBm, after Pintor & Atzori; the device
    lay by the sniffer), and tshark finds the same MACs with
    `-Y "wlan.fc.type_subtype==4 && wlan_radio.signal_dbm > -40"`.
    `anonymised`: the capture's MACs were replaced by random bytes, locally administered bit
    included (ProbingPatternsDataset's PCAP_anonymizer.py), so that bit says nothing; the
    phones (iOS 15-16, Android 13) probe with randomized MACs, and no MAC of these captures
    is heard in more than one scan, which a burned-in address would be. They count as
    randomized (`--raw-randomized-bit` keeps the bit as written).
    """

    name: str
    file: str
    near_dbm: int | None = None
    anonymised: bool = False


LABELS: tuple[Device, ...] = (
    Device("iPhone11-B", "ProbingPatternsDataset__PCAP__iPhone11-B_anonymized.pcap", None, True),
    Device("iPhone11-C", "ProbingPatternsDataset__PCAP__iPhone11-C_anonymized.pcap", None, True),
    Device("iPhone12-M", "ProbingPatternsDataset__PCAP__iPhone12-M_anonymized.pcap", None, True),
    Device("iPhone7-F", "ProbingPatternsDataset__PCAP__iPhone7-F_anonymized.pcap", None, True),
    Device("iPhoneXR-A", "ProbingPatternsDataset__PCAP__iPhoneXR-A_anonymized.pcap", None, True),
    Device(
        "OppoFindX3Neo-A",
        "ProbingPatternsDataset__PCAP__OppoFindX3Neo-A_anonymized.pcap",
        None,
        True,
    ),
    # The .pcap and .pcapng of this capture are the same frames: one of them.
    Device(
        "SamsungA53",
        "Wireless-Internet-Project_MAC-Randomization__Samsung__04_SamsungA53_01.pcap",
        -40,
    ),
    Device(
        "HuaweiTablet",
        "Wireless-Internet-Project_MAC-Randomization__Huawei__Filtered__03_HuaweiTablet_01_filtered.pcapng",
        -40,
    ),
)


@dataclass(frozen=True, slots=True)
class Crowd:
    """The merged probes and each MAC's device."""

    probes: list[ProbeEvent]
    labels: dict[str, str]
    duplicates: int


def read_probes(path: Path) -> list[ProbeEvent]:
    """A capture's probe requests as the worker receives them: parsed by the sniffer, packed
    and decoded by the worker's record decoder."""
    events = []
    with read_capture(path) as reader:
        for linktype, data, ts in reader:
            try:
                event = parse_frame(linktype, data, ts, SENSOR)
            except MalformedFrame:
                continue
            if event is not None:
                events.append(event)
    probes: list[ProbeEvent] = []
    for at in range(0, len(events), 500):
        record = decode_record(encode_many(events[at : at + 500]))
        probes.extend(probe for _, probe in record.probes)
    return probes


def device_probes(device: Device, folder: Path, trust_bit: bool) -> list[ProbeEvent]:
    """The probes of the device's own MACs, the randomized bit restored where anonymised."""
    probes = read_probes(folder / device.file)
    if device.near_dbm is not None:
        near = device.near_dbm
        own = {p.mac for p in probes if p.rssi_dbm is not None and p.rssi_dbm > near}
        probes = [p for p in probes if p.mac in own]
    if device.anonymised and not trust_bit:
        probes = [dataclasses_replace(p, randomized=True) for p in probes]
    return probes


def dataclasses_replace(probe: ProbeEvent, **changes: object) -> ProbeEvent:
    """A copy of a (frozen msgspec) probe with some fields changed."""
    import msgspec

    return msgspec.structs.replace(probe, **changes)


def shifted(probes: list[ProbeEvent], start: float) -> list[ProbeEvent]:
    """The probes moved in time so that the first begins at `start`, spacing kept."""
    if not probes:
        return []
    delta = start - min(p.ts for p in probes)
    return [dataclasses_replace(p, ts=p.ts + delta) for p in probes]


def deduplicated(probes: Iterable[ProbeEvent]) -> tuple[list[ProbeEvent], int]:
    """The probes in time order, a frame heard again (same MAC and sequence number within
    DUPLICATE_S) kept once; and how many were dropped."""
    last_heard: dict[tuple[str, int | None], float] = {}
    kept: list[ProbeEvent] = []
    dropped = 0
    for probe in sorted(probes, key=lambda p: p.ts):
        key = (probe.mac, probe.seq)
        before = last_heard.get(key)
        last_heard[key] = probe.ts
        if probe.seq is not None and before is not None and probe.ts - before <= DUPLICATE_S:
            dropped += 1
            continue
        kept.append(probe)
    return kept, dropped


def crowd(
    devices: Sequence[Device],
    folder: Path,
    offsets: Sequence[float],
    *,
    trust_bit: bool = False,
    equal_rssi: bool = False,
    jitter_s: float = 0.0,
    cache: dict[str, list[ProbeEvent]] | None = None,
) -> Crowd:
    """The devices' probes as one crowd: shifted to START_TS + their offset, merged, deduplicated.

    `equal_rssi`: every device's signal moved so its median is the same (-60 dBm), as if all
    stood at one distance from the sensor: what the grouper does without that evidence.
    `jitter_s`: duplicates kept and the arrival order shaken by up to this long (capture times
    unchanged), as merged sniffers deliver them."""
    merged: list[ProbeEvent] = []
    labels: dict[str, str] = {}
    for device, offset in zip(devices, offsets, strict=True):
        key = f"{device.name}:{trust_bit}"
        if cache is not None and key in cache:
            probes = cache[key]
        else:
            probes = device_probes(device, folder, trust_bit)
            if cache is not None:
                cache[key] = probes
        if equal_rssi:
            probes = _equal_rssi(probes)
        for probe in probes:
            owner = labels.setdefault(probe.mac, device.name)
            if owner != device.name:
                raise SystemExit(f"MAC {probe.mac} is in both {owner} and {device.name}")
        merged.extend(shifted(probes, START_TS + offset))
    if jitter_s > 0:
        rng = random.Random(0)
        return Crowd(sorted(merged, key=lambda p: p.ts + rng.uniform(0, jitter_s)), labels, 0)
    kept, dropped = deduplicated(merged)
    return Crowd(kept, labels, dropped)


def _equal_rssi(probes: list[ProbeEvent]) -> list[ProbeEvent]:
    signals = [p.rssi_dbm for p in probes if p.rssi_dbm is not None]
    if not signals:
        return probes
    delta = -60 - round(statistics.median(signals))
    return [
        dataclasses_replace(p, rssi_dbm=p.rssi_dbm + delta) if p.rssi_dbm is not None else p
        for p in probes
    ]


@dataclass(frozen=True, slots=True)
class Grouping:
    """A method's answer: each MAC's group, the groups begun in doubt, the assignments."""

    groups: dict[str, str]
    doubtful: frozenset[str] = frozenset()
    assignments: dict[str, Assignment] = dataclasses.field(default_factory=dict)

    def scores(self, labels: dict[str, str]) -> Scores:
        return score(self.groups, labels, self.doubtful)


def grouped(probes: Iterable[ProbeEvent], params: GroupingParams = DEFAULT_PARAMS) -> Grouping:
    """Each MAC's group by the grouper (its first assignment: a MAC heard under two
    fingerprints is decided in both shards, and the first one stands)."""
    groups: dict[str, str] = {}
    assignments: dict[str, Assignment] = {}
    doubtful: set[str] = set()
    for assignment in Grouper(params).observe_all(probes):
        if assignment.mac not in groups:
            groups[assignment.mac] = assignment.group
            assignments[assignment.mac] = assignment
            if assignment.doubt:
                doubtful.add(assignment.group)
    return Grouping(groups, frozenset(doubtful), assignments)


def every_mac_alone(probes: Iterable[ProbeEvent]) -> Grouping:
    """Baseline: one group per MAC (what counting MACs does)."""
    return Grouping({p.mac: p.mac for p in probes})


def by_fingerprint(probes: Iterable[ProbeEvent]) -> Grouping:
    """Baseline: one group per IE fingerprint (a MAC's first one; none: the MAC alone)."""
    groups: dict[str, str] = {}
    for probe in probes:
        groups.setdefault(probe.mac, shard_key(probe))
    return Grouping(groups)


METHODS: dict[str, Callable[[list[ProbeEvent]], Grouping]] = {
    "grouper": grouped,
    "every MAC alone": every_mac_alone,
    "by fingerprint": by_fingerprint,
}


def meets_targets(scores: Scores) -> bool:
    """The targets of issue 14."""
    return (
        scores.bcubed_precision >= TARGET_PRECISION
        and scores.bcubed_recall >= TARGET_RECALL
        and abs(scores.count_error) <= TARGET_COUNT_ERROR
    )


def _scores_row(name: str, s: Scores) -> str:
    return (
        f"{name:<16} {s.bcubed_precision:>6.3f} {s.bcubed_recall:>6.3f} {s.bcubed_f1:>6.3f} "
        f"{s.pair_precision:>7.3f} {s.pair_recall:>7.3f} {s.groups:>7,} {s.doubtful_groups:>6,} "
        f"{s.estimated_devices:>6,} {s.devices:>4} {s.count_error:>+8.0%}"
    )


SCORES_HEADER = (
    f"{'method':<16} {'B3 P':>6} {'B3 R':>6} {'B3 F1':>6} {'pair P':>7} {'pair R':>7} "
    f"{'groups':>7} {'doubt':>6} {'est.':>6} {'dev':>4} {'count':>8}"
)


def _device_rows(figures: list[DeviceFigures]) -> list[str]:
    rows = [f"  {'device':<16} {'MACs':>5} {'groups':>6} {'largest':>7}  merged with (their MACs)"]
    for f in figures:
        merged = ", ".join(f"{d} ({n})" for d, n in f.merged_with.items()) or "-"
        rows.append(f"  {f.device:<16} {f.macs:>5} {f.groups:>6} {f.largest_share:>7.0%}  {merged}")
    return rows


def _link_rows(assignments: dict[str, Assignment], labels: dict[str, str]) -> list[str]:
    """Per kind of link: how many, and how many joined MACs of different devices."""
    made: dict[str, int] = defaultdict(int)
    wrong: dict[str, int] = defaultdict(int)
    for a in assignments.values():
        if a.link is None or a.mac not in labels:
            continue
        made[a.link.kind] += 1
        if labels.get(a.link.follows) != labels[a.mac]:
            wrong[a.link.kind] += 1
    return [
        f"  {kind:<9} {made[kind]:>5} links, {wrong[kind]:>3} of them between two devices"
        for kind in ("sequence", "burst", "handover")
    ]


def evaluate(
    devices: Sequence[Device],
    folder: Path,
    offsets: Sequence[float],
    *,
    trust_bit: bool = False,
    equal_rssi: bool = False,
    jitter_s: float = 0.0,
    cache: dict[str, list[ProbeEvent]] | None = None,
) -> tuple[Crowd, dict[str, Scores]]:
    """The crowd and every method's scores."""
    made = crowd(
        devices,
        folder,
        offsets,
        trust_bit=trust_bit,
        equal_rssi=equal_rssi,
        jitter_s=jitter_s,
        cache=cache,
    )
    return made, {name: run(made.probes).scores(made.labels) for name, run in METHODS.items()}


def report(
    devices: Sequence[Device],
    folder: Path,
    offsets: Sequence[float],
    *,
    trust_bit: bool,
    equal_rssi: bool,
    out: Callable[[str], None] = print,
) -> dict[str, Scores]:
    """Print the figures of one crowd: methods, per device, links; return the scores."""
    made, results = evaluate(devices, folder, offsets, trust_bit=trust_bit, equal_rssi=equal_rssi)
    out(
        f"{len(devices)} devices, {len(made.labels):,} MACs, {len(made.probes):,} probes "
        f"({made.duplicates:,} duplicate frames dropped); starts offset by "
        f"{', '.join(f'{o:g}' for o in offsets)} s"
        + ("; randomized bit as written" if trust_bit else "")
        + ("; signal equalised" if equal_rssi else "")
    )
    out(SCORES_HEADER)
    for name, scores in results.items():
        out(_scores_row(name, scores))
    mine = grouped(made.probes)
    out("grouper, per device:")
    for row in _device_rows(per_device(mine.groups, made.labels)):
        out(row)
    out("grouper, links:")
    for row in _link_rows(mine.assignments, made.labels):
        out(row)
    verdict = "meets" if meets_targets(results["grouper"]) else "MISSES"
    out(
        f"grouper {verdict} the targets (B-cubed precision >= {TARGET_PRECISION}, recall >= "
        f"{TARGET_RECALL}, device count within {TARGET_COUNT_ERROR:.0%})"
    )
    return results


def pipeline_report(
    devices: Sequence[Device],
    folder: Path,
    offsets: Sequence[float],
    *,
    trust_bit: bool,
    equal_rssi: bool,
    workers: int = 1,
    out: Callable[[str], None] = print,
) -> dict[str, Scores]:
    """The same crowd through the real pipeline (`bench.eval_pipeline`): the groups the workers
    serve, scored beside the offline grouper's and the baselines; how many MACs are grouped
    alike both ways."""
    from bench.eval_pipeline import agreement, through_pipeline

    made = crowd(devices, folder, offsets, trust_bit=trust_bit, equal_rssi=equal_rssi)
    out(
        f"{len(devices)} devices, {len(made.labels):,} MACs, {len(made.probes):,} probes "
        f"({made.duplicates:,} duplicate frames dropped); starts offset by "
        f"{', '.join(f'{o:g}' for o in offsets)} s"
        + ("; randomized bit as written" if trust_bit else "")
        + ("; signal equalised" if equal_rssi else "")
    )
    served = through_pipeline(made.probes, sorted(made.labels), workers=workers, out=out)
    pipeline = Grouping(served.groups, served.doubtful)
    offline = grouped(made.probes)
    results = {"pipeline": pipeline.scores(made.labels), "offline": offline.scores(made.labels)}
    for name in ("every MAC alone", "by fingerprint"):
        results[name] = METHODS[name](made.probes).scores(made.labels)
    out(SCORES_HEADER)
    for name, scores in results.items():
        out(_scores_row(name, scores))
    out("pipeline, per device:")
    for row in _device_rows(per_device(pipeline.groups, made.labels)):
        out(row)
    same, every = agreement(pipeline.groups, offline.groups)
    out(f"pipeline and offline put {same:,} of {every:,} MACs in the same group")
    verdict = "meets" if meets_targets(results["pipeline"]) else "MISSES"
    out(
        f"pipeline {verdict} the targets (B-cubed precision >= {TARGET_PRECISION}, recall >= "
        f"{TARGET_RECALL}, device count within {TARGET_COUNT_ERROR:.0%})"
    )
    return results


def robustness(devices: Sequence[Device], folder: Path, out: Callable[[str], None]) -> None:
    """The grouper's figures under other start offsets and with each device left out."""
    cache: dict[str, list[ProbeEvent]] = {}
    n = len(devices)
    zero = [0.0] * n
    runs: list[tuple[str, Sequence[Device], list[float], float]] = [
        (f"stagger {s:g} s", devices, [i * s for i in range(n)], 0.0) for s in (0, 3, 10, 60, 300)
    ]
    for seed in range(5):
        rng = random.Random(seed)
        offsets = [rng.uniform(0, 600) for _ in devices]
        runs.append((f"random 0-600 s #{seed}", devices, offsets, 0.0))
    runs.append(("duplicates, arrival +0.25 s", devices, zero, 0.25))
    for left in devices:
        rest = [d for d in devices if d is not left]
        runs.append((f"without {left.name}", rest, [0.0] * len(rest), 0.0))
    out(
        f"{'run':<28} {'B3 P':>6} {'B3 R':>6} {'groups':>7} {'est.':>5} {'dev':>4} {'count':>7}"
        "  targets"
    )
    for name, chosen, offsets, jitter in runs:
        _, results = evaluate(chosen, folder, offsets, jitter_s=jitter, cache=cache)
        s = results["grouper"]
        out(
            f"{name:<28} {s.bcubed_precision:>6.3f} {s.bcubed_recall:>6.3f} {s.groups:>7,} "
            f"{s.estimated_devices:>5} {s.devices:>4} {s.count_error:>+7.0%}  "
            f"{'met' if meets_targets(s) else 'MISSED'}"
        )


SWEPT = (
    "settle_s",
    "scan_gap_s",
    "burst_gap_s",
    "max_gap_s",
    "overlap_s",
    "seq_step_max",
    "rssi_tolerance_db",
    "rssi_margin_db",
    "radio_spread_db",
    "rssi_history",
)


def sweep(devices: Sequence[Device], folder: Path, out: Callable[[str], None]) -> None:
    """The grouper's figures with each threshold at half and at double its value."""
    made = crowd(devices, folder, [0.0] * len(devices))
    out(
        f"{'threshold':<28} {'B3 P':>6} {'B3 R':>6} {'groups':>7} {'est.':>5} {'count':>7}  targets"
    )
    for name in SWEPT:
        default = getattr(DEFAULT_PARAMS, name)
        for factor in (0.5, 1.0, 2.0):
            value = type(default)(default * factor)
            params = dataclasses.replace(DEFAULT_PARAMS, **{name: value})
            s = grouped(made.probes, params).scores(made.labels)
            out(
                f"{name + ' = ' + format(value, 'g'):<28} {s.bcubed_precision:>6.3f} "
                f"{s.bcubed_recall:>6.3f} {s.groups:>7,} {s.estimated_devices:>5} "
                f"{s.count_error:>+7.0%}  "
                f"{'met' if meets_targets(s) else 'MISSED'}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval_groups", description=__doc__)
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="labelled captures, one device each (default: the labelled set of LABELS)",
    )
    parser.add_argument(
        "--pcaps", type=Path, default=PCAPS, help=f"folder of the default set ({PCAPS})"
    )
    parser.add_argument(
        "--stagger", type=float, default=0.0, help="seconds between the devices' starts (0)"
    )
    parser.add_argument(
        "--raw-randomized-bit",
        action="store_true",
        help="keep the locally administered bit the anonymiser wrote (random) as it is",
    )
    parser.add_argument(
        "--equal-rssi",
        action="store_true",
        help="give every device the same median signal (no signal evidence)",
    )
    parser.add_argument("--robustness", action="store_true", help="other offsets, leave-one-out")
    parser.add_argument("--sweep", action="store_true", help="each threshold halved and doubled")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="replay the crowd through the real pipeline (local Kafka, workers) and score the "
        "groups the workers serve",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="workers for --pipeline (1; up to 8)"
    )
    args = parser.parse_args(argv)

    if args.files:
        folder = Path("/")
        devices: Sequence[Device] = [
            next(
                (d for d in LABELS if d.file == path.name),
                Device(path.stem, str(path.resolve())),
            )
            for path in args.files
        ]
        devices = [
            dataclasses.replace(d, file=str(path.resolve()))
            for d, path in zip(devices, args.files, strict=True)
        ]
    else:
        folder = args.pcaps
        devices = LABELS
        missing = [d.file for d in devices if not (folder / d.file).is_file()]
        if missing:
            print(f"eval-groups: not in {folder}: {', '.join(missing)}", file=sys.stderr)
            return 2
    offsets = [i * args.stagger for i in range(len(devices))]
    if args.pipeline:
        pipeline_report(
            devices,
            folder,
            offsets,
            trust_bit=args.raw_randomized_bit,
            equal_rssi=args.equal_rssi,
            workers=max(1, min(args.workers, 8)),
        )
        return 0
    if args.json:
        _, results = evaluate(
            devices, folder, offsets, trust_bit=args.raw_randomized_bit, equal_rssi=args.equal_rssi
        )
        print(
            json.dumps(
                {
                    name: dataclasses.asdict(s) | {"count_error": s.count_error}
                    for name, s in results.items()
                },
                indent=2,
            )
        )
        return 0
    report(
        devices,
        folder,
        offsets,
        trust_bit=args.raw_randomized_bit,
        equal_rssi=args.equal_rssi,
    )
    if args.robustness:
        print()
        robustness(devices, folder, print)
    if args.sweep:
        print()
        sweep(devices, folder, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
