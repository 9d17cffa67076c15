"""The thresholds of grouping, and why each has its value.

They come from how phones probe (scans, MAC rotation, the 802.11 sequence counter) and from the
spread of the signal of a device that does not move, each with a margin; none is fitted to the
labelled captures to the decimal (`python -m bench.eval_groups --sweep` shows the figures do not
hinge on them). Precision comes first: every rule errs towards leaving a MAC alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupingParams:
    """Thresholds of the grouper (seconds, dB, sequence steps, sizes)."""

    #: A MAC is decided once its shard's clock (the newest capture time it saw) is this far past
    #: the MAC's last probe: by then its burst is over, so its strongest signal is known (the
    #: first frames of a burst are often heard off-channel, 30-50 dB weaker), and frames that
    #: several sniffers merged out of order (up to ~0.25 s apart) have come in.
    settle_s: float = 1.0
    #: A MAC still probing this long after its first probe is placed anyway: a scan takes a
    #: second or two, and no MAC waits for its group for ever.
    longest_burst_s: float = 10.0
    #: A MAC that begins this soon after the last MAC of a scan continues the scan: a scan
    #: visits the channels in turn, tens of ms on each, so its MACs follow one another closely
    #: (here 9 in 10 within 0.1 s); a pause of half a second ends it.
    scan_gap_s: float = 0.5
    #: A scan that begins this soon after a group's last probe may continue it without a signal
    #: to compare (a scan paused; one sweep of all channels takes well under 2 s).
    burst_gap_s: float = 2.0
    #: The longest silence a group may have and still be continued by timing or sequence: phones
    #: scan at least every few minutes while awake (seen here: every 10-13 s for the Android
    #: devices, up to 4.5 min between scans of an idle iPhone). Longer, and it has likely left.
    max_gap_s: float = 300.0
    #: A newcomer may begin this much before the last probe of what it continues. No two MACs of
    #: one device overlap in time (in none of the eight labelled devices): a radio sends with
    #: one address at a time. But a scan the rules split in two interleaves with its other part
    #: by a few hundred ms; more overlap than that is two devices on air at once.
    overlap_s: float = 0.5
    #: A new MAC's first sequence number this many steps (mod 4096) after a group's last one
    #: continues its counter: a scan sends a few to a few dozen frames (14 per 10 s cycle for
    #: the Huawei tablet, at most 15 between the iPhone 7's MACs); 64 leaves a fourfold margin,
    #: while an unrelated MAC falls in it by chance 64/4096 = 1.6 % of the time.
    seq_step_max: int = 64
    #: A device either keeps its counter across MAC changes (some Android, older iOS) or starts
    #: it afresh (recent iOS, most Android): once a group has shown one habit at least this many
    #: times, and at least as often as the other, it is taken as that device's habit. A device
    #: that keeps it must continue it; for one that starts afresh, a step that happens to fall
    #: in the window is chance and says nothing.
    seq_habit_changes: int = 2
    #: A newcomer whose signal is this far from what it would continue contradicts the link
    #: (`evidence.rssi_distance`: per radio, a scan is the median of its MACs, a group the median
    #: of its last scans). Scans of a device that stays put vary by a few dB (fading, how it is
    #: held; here 9 in 10 within 6 dB for seven of the eight devices); 12 dB is twice that, and
    #: lets a device that is carried about keep its group (the eighth reached 14).
    rssi_tolerance_db: float = 12.0
    #: Radios of one sensor differ in gain (antenna, amplifier, channel): ProbingPatternsDataset's
    #: three sniffers hear each device they share with medians 4 to 10 dB apart. Where a
    #: newcomer was heard on a radio its target was not, the target's other radios stand in
    #: (`evidence.rssi_distance`), and only what their distance exceeds this by can contradict
    #: the link: one spread, as `rssi_margin_db`. Candidates are still ranked by the distance
    #: as heard. Without it, one MAC of a scan heard 13 dB weaker on a radio its scan had not
    #: used yet ended the scan, and an iPhone's scan became two devices.
    radio_spread_db: float = 6.0
    #: Between candidates that rank alike, the nearer in signal wins only when it is nearer by
    #: this much (one spread); otherwise the newcomer is left alone, in doubt.
    rssi_margin_db: float = 6.0
    #: A group's signal is the median of its last scans (each the median of its MACs): one odd
    #: scan (the phone picked up, someone in the way) does not move it, while a device that
    #: moved for good moves it within three scans.
    rssi_history: int = 5
    #: SSIDs kept per MAC and per group (the evidence of a shared remembered network).
    max_ssids: int = 32
    #: A decided MAC is remembered this long after its last probe, so its late or repeated
    #: probes still find its group; then it is forgotten (randomized MACs do not come back).
    forget_mac_s: float = 900.0
    #: How often (shard clock) MACs past `forget_mac_s` are forgotten and groups that can no
    #: longer be continued are closed: neither changes a decision (a group silent longer than
    #: `max_gap_s` is no candidate anyway), so this only bounds the work of a busy shard.
    sweep_s: float = 10.0
    #: At most this many MACs (decided or not) and open groups per shard: a crowd of one model
    #: cannot grow the state without bound. The oldest are dropped first (decided MACs before
    #: waiting ones), down to a tenth below the cap. In the cluster a shard's state is one
    #: changelog record, and Kafka's default limit for one is 1 MiB: a MAC takes ~250 bytes of
    #: it, a group ~300, so these keep a full shard near 650 KB.
    max_macs: int = 2048
    max_groups: int = 512
    #: MACs a scan may hold: a scan is a second or two of one device (a few dozen MACs at most);
    #: more means several devices alike keep the channel busy, and chaining them on helps nobody.
    max_scan_macs: int = 64
    #: Open groups examined for a scan, the most recently heard first. In a crowd of more than
    #: this many devices alike, timing and signal cannot tell them apart anyway.
    max_candidates: int = 64


DEFAULT_PARAMS = GroupingParams()
