"""Run every benchmark and print its figures: `python -m bench` (what `make bench` runs)."""

from __future__ import annotations

import argparse
import sys

from bench.dashboard import dashboard
from bench.lake_reports import lake_reports
from bench.listing import listing
from bench.peer import PeerError, run_peer_bench
from bench.pipeline import run_pipeline_bench
from bench.retention import retention
from bench.scale import failover, recovery


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--probes", type=int, default=200_000, help="synthetic probes (200k)")
    parser.add_argument("--devices", type=int, default=20_000, help="distinct MACs (20k)")
    parser.add_argument("--rps", type=int, default=1000, help="fixed request rate for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run length")
    parser.add_argument("--recovery-devices", type=int, default=1_000_000, help="table to rebuild")
    parser.add_argument(
        "--only",
        choices=[
            "pipeline",
            "peer",
            "recovery",
            "failover",
            "listing",
            "lake",
            "dashboard",
            "retention",
            "groups",
        ],
        help="run one benchmark (groups: only with --only, the grouping's scores, no Kafka)",
    )
    parser.add_argument(
        "--listing-devices", type=int, default=1_000_000, help="devices listed (1M, 2 workers)"
    )
    parser.add_argument("--listing-rps", type=int, default=100, help="listing request rate")
    parser.add_argument(
        "--lake-probes", type=int, default=10_000_000, help="probes in the reports' lake (10M)"
    )
    args = parser.parse_args()
    if args.only == "groups":
        from bench.eval_groups import main as eval_groups

        sys.exit(eval_groups([]))
    ours: dict[str, float] = {}
    if args.only in (None, "pipeline"):
        ours = run_pipeline_bench(args.probes, args.devices, args.rps, args.seconds)
    if args.only in (None, "pipeline", "peer"):
        # The Quix Streams peer over the same capture, printed under our ingest figures.
        try:
            peer = run_peer_bench(args.probes, args.devices)
        except PeerError as exc:
            print(f"peer: Quix Streams: failed: {exc}", file=sys.stderr)
        else:
            if "ingest_1" in ours:
                mine, theirs = ours["ingest_1"], peer["end_to_end_probes_per_s"]
                print(
                    f"probewatch / Quix Streams, end to end on one worker: "
                    f"{mine:,.0f} / {theirs:,.0f} = {mine / theirs:.2f} times"
                )
    if args.only in (None, "failover"):
        failover()
    if args.only in (None, "recovery"):
        recovery(args.recovery_devices)
    if args.only in (None, "listing"):
        listing(args.listing_devices, args.listing_rps, args.seconds)
    if args.only in (None, "lake"):
        lake_reports(args.lake_probes)
    if args.only in (None, "dashboard"):
        dashboard()
    if args.only in (None, "retention"):
        retention(args.probes, args.devices)


main()
