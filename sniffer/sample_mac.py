"""`python -m sniffer.sample_mac CAPTURE`: print the MAC that sent the most probe requests.

`make run` uses it to print a ready-to-try `GET /devices/{mac}` for the sample it replayed. With
PROBEWATCH_PSEUDONYMIZE=hmac it prints that MAC's pseudonym, as the sniffer sent it.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence

from sniffer.capture import CaptureError, read_capture
from sniffer.parse import MalformedFrame, parse_frame
from sniffer.settings import SnifferSettings


def busiest_mac(path: str) -> str | None:
    """The source address with the most probe requests in the capture, None if it has none."""
    counts: Counter[str] = Counter()
    for linktype, data, ts in read_capture(path):
        try:
            event = parse_frame(linktype, data, ts, "")
        except MalformedFrame:
            continue
        if event is not None:
            counts[event.mac] += 1
    return counts.most_common(1)[0][0] if counts else None


def main(argv: Sequence[str] | None = None) -> int:
    """Print the MAC; exit 2 on a bad file, 1 when the capture holds no probe request."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m sniffer.sample_mac CAPTURE", file=sys.stderr)
        return 2
    try:
        pseudonyms = SnifferSettings.from_env().pseudonymizer()
        mac = busiest_mac(args[0])
    except (CaptureError, ValueError) as exc:
        print(f"sample_mac: error: {exc}", file=sys.stderr)
        return 2
    if mac is None:
        return 1
    print(mac if pseudonyms is None else pseudonyms.mac(mac))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
