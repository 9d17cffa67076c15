"""How groups compare with labels: B-cubed and pairwise precision and recall, device count.

Items are MACs; a label is the physical device a MAC belongs to; a prediction names each MAC's
group. Pure, so the evaluation command and a replay through the real pipeline score alike.

- B-cubed (Bagga & Baldwin 1998), averaged over MACs: precision is the share of a MAC's group
  that is its own device, recall the share of its device that is in its group. Every MAC alone
  has precision 1; one group for everything has recall 1.
- Pairwise: over pairs of MACs, the share of pairs put together that are one device
  (precision; 1 when no pair is put together), and of pairs of one device put together (recall).
- Count: the estimated number of devices against the true one, as (estimate - devices) /
  devices. The estimate is the number of groups, less those begun in doubt (a scan that fitted
  several groups alike is one of them, not one more device: `Assignment.doubt`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scores:
    """The figures of one grouping against the labels."""

    macs: int
    devices: int
    groups: int
    #: Groups begun in doubt (counted in `groups`, not in `estimated_devices`).
    doubtful_groups: int
    bcubed_precision: float
    bcubed_recall: float
    pair_precision: float
    pair_recall: float

    @property
    def bcubed_f1(self) -> float:
        """Harmonic mean of the B-cubed precision and recall."""
        p, r = self.bcubed_precision, self.bcubed_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def estimated_devices(self) -> int:
        """The groups that are devices of their own."""
        return self.groups - self.doubtful_groups

    @property
    def count_error(self) -> float:
        """(estimated - devices) / devices: +0.25 is a quarter too many."""
        if not self.devices:
            return 0.0
        return (self.estimated_devices - self.devices) / self.devices


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    """One device: into how many groups its MACs went, and whom it was put together with."""

    device: str
    macs: int
    groups: int
    #: Share of its MACs in its largest group.
    largest_share: float
    #: Per other device, how many of that device's MACs share a group with this one's.
    merged_with: dict[str, int]


def _cells(
    groups: Mapping[str, str], labels: Mapping[str, str]
) -> tuple[Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """(group, device) counts and the sizes of groups and devices, over the labelled MACs.

    A labelled MAC without a group counts as a group of its own."""
    cells: Counter[tuple[str, str]] = Counter()
    for mac, device in labels.items():
        cells[(groups.get(mac, "\0" + mac), device)] += 1
    group_sizes: Counter[str] = Counter()
    device_sizes: Counter[str] = Counter()
    for (group, device), n in cells.items():
        group_sizes[group] += n
        device_sizes[device] += n
    return cells, group_sizes, device_sizes


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(
    groups: Mapping[str, str], labels: Mapping[str, str], doubtful: Collection[str] = ()
) -> Scores:
    """Score each labelled MAC's group (`groups`: MAC → group) against its device;
    `doubtful`: the groups begun in doubt."""
    cells, group_sizes, device_sizes = _cells(groups, labels)
    total = sum(cells.values())
    if not total:
        return Scores(0, 0, 0, 0, 1.0, 1.0, 1.0, 1.0)
    precision = sum(n * n / group_sizes[g] for (g, _), n in cells.items()) / total
    recall = sum(n * n / device_sizes[d] for (_, d), n in cells.items()) / total
    together = sum(_pairs(n) for n in cells.values())
    grouped = sum(_pairs(n) for n in group_sizes.values())
    same = sum(_pairs(n) for n in device_sizes.values())
    return Scores(
        macs=total,
        devices=len(device_sizes),
        groups=len(group_sizes),
        doubtful_groups=sum(1 for g in group_sizes if g in doubtful),
        bcubed_precision=precision,
        bcubed_recall=recall,
        pair_precision=together / grouped if grouped else 1.0,
        pair_recall=together / same if same else 1.0,
    )


def per_device(groups: Mapping[str, str], labels: Mapping[str, str]) -> list[DeviceFigures]:
    """Each device's split (groups, largest share) and merges (other devices in its groups)."""
    cells, _, device_sizes = _cells(groups, labels)
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    for (group, device), n in cells.items():
        by_group[group][device] = n
    figures = []
    for device, size in sorted(device_sizes.items()):
        mine = {g: n for (g, d), n in cells.items() if d == device}
        merged: Counter[str] = Counter()
        for group in mine:
            for other, n in by_group[group].items():
                if other != device:
                    merged[other] += n
        figures.append(
            DeviceFigures(
                device=device,
                macs=size,
                groups=len(mine),
                largest_share=max(mine.values()) / size,
                merged_with=dict(sorted(merged.items())),
            )
        )
    return figures
