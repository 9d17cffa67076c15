"""The Quix Streams peer, run side by side with probewatch over the same probe records.

Quix Streams 3.28 needs confluent-kafka<2.13 and probewatch's venv has a newer one, so the peer
runs as bench/peer_quix.py in a virtualenv of its own, `.venv-peer`, made here on first use.
It gets byte for byte the `probes` topic values the sniffer would produce for the same capture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "var" / "bench"
PEER_VENV = REPO_ROOT / ".venv-peer"
PEER_SCRIPT = Path(__file__).resolve().with_name("peer_quix.py")
QUIX_REQUIREMENT = "quixstreams==3.28.*"
#: The sensor name the benchmark's sniffer runs with (tests/harness.py, PROBEWATCH_SENSOR).
BENCH_SENSOR = "test-sensor"


class PeerError(RuntimeError):
    """The peer's virtualenv could not be made, or its run failed (the message has its stderr)."""


def ensure_peer_venv() -> Path:
    """The python of `.venv-peer`, creating it and installing Quix Streams when not done yet."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".installed"
    if stamp.exists() and python.exists():
        return python
    if not python.exists():
        base = shutil.which("python3") or sys.executable
        _run_or_fail([base, "-m", "venv", str(PEER_VENV)], "creating .venv-peer", timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run_or_fail(
        [*pip, QUIX_REQUIREMENT],
        f"pip install {QUIX_REQUIREMENT} into .venv-peer",
        timeout=900,
    )
    stamp.write_text(QUIX_REQUIREMENT + "\n")
    return python


def capture_probe_records(capture: Path, sensor: str = BENCH_SENSOR) -> list[dict[str, Any]]:
    """The probe records of a capture, as the sniffer's replay puts them on the `probes` topic.

    Same reader, parser and serialisation as the sniffer (read_capture, parse_frame,
    ProbeEvent.to_json); each dict re-serialises with orjson to exactly those bytes.
    """
    from sniffer.capture import read_capture
    from sniffer.parse import MalformedFrame, parse_frame

    records: list[dict[str, Any]] = []
    with read_capture(capture) as frames:
        for linktype, data, ts in frames:
            try:
                probe = parse_frame(linktype, data, ts, sensor)
            except MalformedFrame:
                continue
            if probe is not None:
                records.append(orjson.loads(probe.to_json()))
    return records


def write_probe_lines(probes: list[dict[str, Any]], path: Path) -> Path:
    """Write the records as JSON lines (one `probes` topic value a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = orjson.dumps
    with path.open("wb") as out:
        for probe in probes:
            out.write(dumps(probe))
            out.write(b"\n")
    return path


def run_quix_peer(
    probes: list[dict[str, Any]] | Path,
    *,
    bootstrap: str = "localhost:9092",
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Run the Quix Streams peer over these records (or a JSON lines file of them); its figures.

    The result is the script's JSON line: probes, devices, produce_s, drain_s,
    drain_probes_per_s, end_to_end_probes_per_s, quixstreams (plus where the drain time went).
    """
    python = ensure_peer_venv()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if isinstance(probes, Path):
        lines = probes
    else:
        lines = write_probe_lines(probes, BENCH_DIR / f"peer-probes-{len(probes)}.jsonl")
    state_dir = Path(tempfile.mkdtemp(prefix="peer-quix-state-", dir=BENCH_DIR))
    command = [str(python), str(PEER_SCRIPT), "--input", str(lines), "--bootstrap", bootstrap]
    command += ["--state-dir", str(state_dir)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(
            f"the Quix Streams peer did not finish within {timeout:g} s\n{_tail(exc.stderr)}"
        ) from None
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    figures = _last_json_line(result.stdout)
    if result.returncode != 0 or figures is None:
        raise PeerError(
            f"the Quix Streams peer failed (exit {result.returncode})\n{_tail(result.stderr)}"
        )
    return figures


def run_peer_bench(probes: int, devices: int, bootstrap: str | None = None) -> dict[str, Any]:
    """The peer over the pipeline benchmark's synthetic capture; prints and returns its figures."""
    from bench.pipeline import synth_capture

    if bootstrap is None:
        bootstrap = os.environ.get("PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    capture = synth_capture(probes, devices)
    records = capture_probe_records(capture)
    figures = run_quix_peer(records, bootstrap=bootstrap)
    print(format_peer(figures, capture.name))
    return figures


def format_peer(figures: dict[str, Any], source: str) -> str:
    """One line to print next to probewatch's ingest figures."""
    return (
        f"peer: Quix Streams {figures['quixstreams']} over {source} "
        f"({figures['probes']} probes, {figures['devices']} devices; "
        "RocksDB state + changelog, commit every 5 s): "
        f"backlog drain {figures['drain_probes_per_s']:,.0f} probes/s "
        f"({figures['drain_s']:.1f} s), "
        f"produce + drain {figures['end_to_end_probes_per_s']:,.0f} probes/s "
        f"(produce {figures['produce_s']:.1f} s)"
    )


def _run_or_fail(command: list[str], what: str, timeout: float) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PeerError(f"{what}: did not finish within {timeout:g} s") from None
    if result.returncode != 0:
        raise PeerError(f"{what}: failed (exit {result.returncode})\n{_tail(result.stderr)}")


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _tail(text: str | bytes | None, lines: int = 40) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
