"""Replay rate, end-to-end ingest and query latency of one worker on the local Kafka."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from app.worker.malloc import TRIM_EVERY_S
from bench.latency import fixed_rate_gets
from bench.scale import _rss_mb
from sniffer.pseudonym import new_key_text
from tests.harness import REPO_ROOT, VENV_BIN, Deployment, Worker, kafka_reachable, wait_for

BENCH_DIR = REPO_ROOT / "var" / "bench"


def synth_capture(probes: int, devices: int, seed: int = 42) -> Path:
    """The synthetic capture, made once per size and kept under var/bench."""
    suffix = "" if seed == 42 else f"-seed{seed}"
    path = BENCH_DIR / f"synth-{probes}-{devices}{suffix}.pcap"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(VENV_BIN / "probewatch-sniffer"),
                "synth",
                str(path),
                "--probes",
                str(probes),
                "--devices",
                str(devices),
                "--seed",
                str(seed),
            ],
            check=True,
            capture_output=True,
        )
    return path


def device_macs(capture: Path) -> list[str]:
    """The distinct source MACs of a capture, read with our own parser."""
    from sniffer.capture import read_capture
    from sniffer.parse import MalformedFrame, parse_frame

    macs: set[str] = set()
    with read_capture(capture) as records:
        for linktype, data, ts in records:
            try:
                probe = parse_frame(linktype, data, ts, "bench")
            except MalformedFrame:
                continue
            if probe is not None:
                macs.add(probe.mac)
    return sorted(macs)


def replay_rate(
    deployment: Deployment, capture: Path, batch: int | None = None
) -> tuple[float, float, str]:
    """(frames/s the sniffer reported, wall seconds, its summary); `batch` probes per record."""
    packing = [] if batch is None else ["--batch", str(batch)]
    started = time.perf_counter()
    result = deployment.sniffer("replay", "--no-progress", *packing, str(capture), timeout=900)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"replay failed: {result.stderr}")
    match = re.search(r"rate:\s+([\d,]+) frames/s", result.stdout)
    return float(match.group(1).replace(",", "")) if match else float("nan"), elapsed, result.stdout


def run_pipeline_bench(probes: int, devices: int, rps: int, seconds: float) -> dict[str, float]:
    """Print the pipeline's figures; returns them by name for the comparison with the peer."""
    if not kafka_reachable():
        raise SystemExit("no Kafka at localhost:9092: run `make kafka` first")
    capture = synth_capture(probes, devices)
    macs = device_macs(capture)
    print(f"capture: {capture.name}: {probes} probes from {len(macs)} devices")

    scratch = Path(tempfile.mkdtemp(prefix="probewatch-bench-"))
    figures: dict[str, float] = {}
    try:
        figures["replay"] = _replay_only(scratch, capture)
        figures["ingest_1"] = _ingest_and_latency(scratch, capture, probes, macs, 1, rps, seconds)
        figures["ingest_1_no_history"] = _ingest_and_latency(
            scratch, capture, probes, macs, 1, 0, seconds, history=False
        )
        figures["ingest_1_no_lake"] = _ingest_and_latency(
            scratch, capture, probes, macs, 1, 0, seconds, lake=False
        )
        figures["ingest_1_no_grouping"] = _ingest_and_latency(
            scratch, capture, probes, macs, 1, 0, seconds, grouping=False
        )
        figures["ingest_1_single"] = _ingest_and_latency(
            scratch, capture, probes, macs, 1, 0, seconds, batch=1
        )
        figures["ingest_2"] = _ingest_and_latency(
            scratch,
            capture,
            probes,
            macs,
            2,
            rps,
            seconds,
            busy=(synth_capture(3 * probes, devices, 43), synth_capture(3 * probes, devices, 44)),
            backlog=(
                synth_capture(3 * probes, devices, 45),
                synth_capture(3 * probes, devices, 46),
            ),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with_history, without = figures["ingest_1"], figures["ingest_1_no_history"]
    print(
        f"history tables on ingest, 1 worker: {with_history:,.0f} probes/s with them, "
        f"{without:,.0f} without ({100 * (1 - with_history / without):+.0f} % cost)"
    )
    with_lake, without = figures["ingest_1"], figures["ingest_1_no_lake"]
    print(
        f"lake archiver on ingest, 1 worker: {with_lake:,.0f} probes/s with it, "
        f"{without:,.0f} without ({100 * (1 - with_lake / without):+.0f} % cost)"
    )
    print_grouping_cost(figures["ingest_1"], figures["ingest_1_no_grouping"])
    return figures


def print_grouping_cost(with_grouping: float, without: float) -> None:
    print(
        f"grouping on ingest, 1 worker: {with_grouping:,.0f} probes/s with it, "
        f"{without:,.0f} without ({100 * (1 - with_grouping / without):+.0f} % cost)"
    )


def _replay_only(scratch: Path, capture: Path) -> float:
    """Parse + produce only: no worker is consuming. Then the same with pseudonyms (hmac on
    MACs, fingerprints and SSIDs, under a fresh key), printed beside it."""
    rate, elapsed = _replay_alone(scratch / "replay", capture)
    print(
        f"replay (parse+produce, acks=all, idempotent): {rate:,.0f} frames/s ({elapsed:.1f} s wall)"
    )
    pseudonyms = {
        "PROBEWATCH_PSEUDONYMIZE": "hmac",
        "PROBEWATCH_PSEUDONYM_KEY": new_key_text(),
        "PROBEWATCH_PSEUDONYM_SSIDS": "true",
    }
    hashed, elapsed = _replay_alone(scratch / "replay-pseudonyms", capture, pseudonyms)
    print(
        f"replay with pseudonyms (hmac: MACs, fingerprints, SSIDs): {hashed:,.0f} frames/s "
        f"({elapsed:.1f} s wall; {100 * (1 - hashed / rate):+.0f} % cost)"
    )
    return rate


def _replay_alone(
    data_dir: Path, capture: Path, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """(frames/s, wall seconds) of one replay into a deployment of its own, deleted after."""
    deployment = Deployment(data_dir=data_dir, extra_env=env or {})
    try:
        rate, elapsed, _ = replay_rate(deployment, capture)
    finally:
        deployment.delete_topics()
    return rate, elapsed


def _accepted(workers: list[Worker]) -> int:
    return sum(w.counters().get("probes.accepted", 0) for w in workers)


def _ingest_and_latency(
    scratch: Path,
    capture: Path,
    probes: int,
    macs: list[str],
    count: int,
    rps: int,
    seconds: float,
    batch: int | None = None,
    busy: tuple[Path, Path] | None = None,
    backlog: tuple[Path, Path] | None = None,
    history: bool = True,
    lake: bool = True,
    grouping: bool = True,
) -> float:
    """Time a replay until the table reflects the last probe; then query at a fixed rate (unless
    `rps` is 0), again while the `busy` captures are being replayed and ingested, and again
    while the workers fold the `backlog` captures, replayed before (the second of each with any
    replica allowed, when there are two workers). Probes/s end to end.
    With grouping, also how long until every probe was heard by its shard."""
    shape = ("" if batch is None else f"-batch{batch}") + ("" if history else "-no-history")
    shape += ("" if lake else "-no-lake") + ("" if grouping else "-no-grouping")
    env = {} if history else {"PROBEWATCH_HISTORY": "false"}
    env |= {} if grouping else {"PROBEWATCH_GROUPING": "false"}
    # The archiver writes every 2 s here (30 s by default), so the time the lake takes to hold
    # every probe measures it, not its interval.
    env |= {"PROBEWATCH_LAKE_FLUSH_S": "2"} if lake else {"PROBEWATCH_LAKE": ""}
    deployment = Deployment(data_dir=scratch / f"ingest-{count}{shape}", extra_env=env)
    workers = [Worker(deployment).start() for _ in range(count)]
    try:
        for worker in workers:
            worker.wait_ready()
        wait_for(lambda: _all_own_probes(workers), 120, "every worker owns probe partitions")
        main_shape = batch is None and count == 1 and history and lake and grouping
        memory = _PeakRss(workers[0].process.pid) if main_shape else None
        started = time.perf_counter()
        replay_rate(deployment, capture, batch)
        wait_for(
            lambda: _accepted(workers) >= probes,
            900,
            "the table to reflect every probe",
            interval=0.05,
        )
        elapsed = time.perf_counter() - started
        records = "one record per probe" if batch == 1 else "probes packed per partition"
        if not history:
            records += ", history off (PROBEWATCH_HISTORY=false)"
        if not lake:
            records += ", lake off (PROBEWATCH_LAKE=)"
        if not grouping:
            records += ", grouping off (PROBEWATCH_GROUPING=false)"
        print(
            f"end-to-end ingest, {count} worker{'s' if count > 1 else ''}, {records}: "
            f"{probes / elapsed:,.0f} probes/s "
            f"({probes} probes in {elapsed:.1f} s, first produce → last probe in the table)"
        )
        if grouping and batch is None and count == 1 and history and lake:
            wait_for(
                lambda: (
                    sum(w.counters().get("group-probes.accepted", 0) for w in workers) >= probes
                ),
                900,
                "every probe to be heard by its shard",
                interval=0.1,
            )
            heard = time.perf_counter() - started
            counts = workers[0].counters()
            print(
                f"grouping: every probe heard by its shard {heard:.1f} s after the first produce "
                f"({probes / heard:,.0f} probes/s); {counts.get('groups.decided', 0):,} MACs "
                f"decided so far, shards trimmed to fit a record "
                f"{counts.get('groups.shards_trimmed', 0):,} times"
            )
        if lake and batch is None and count == 1 and history:
            wait_for(
                lambda: sum(w.counters().get("lake.probes.rows", 0) for w in workers) >= probes,
                900,
                "the lake to hold every probe",
                interval=0.1,
            )
            archived = time.perf_counter() - started
            print(
                f"lake: every probe in the enriched zone {archived:.1f} s after the first produce "
                f"({probes / archived:,.0f} probes/s, archiver writing every 2 s)"
            )
        if memory is not None:
            peak = memory.stop()
            # Every flush so far is followed by a trim within this (app.worker.heap_trim).
            time.sleep(TRIM_EVERY_S + 1)
            print(
                f"memory: worker RSS at most {peak:,.0f} MB while it ingested, "
                f"{_rss_mb(workers[0].process.pid):,.0f} MB once the heap was trimmed after it"
            )
        if not rps:
            return probes / elapsed
        _wait_idle(workers)
        paths = [f"/devices/{mac}" for mac in macs]
        cpu = _CpuUse(workers)
        report = asyncio.run(fixed_rate_gets(workers[0].url, paths, rps, seconds))
        routed = " (about half routed to the other worker)" if count > 1 else ""
        print(f"GET /devices/<mac> at {rps} req/s for {seconds:.0f} s{routed}: {report}")
        print(f"  CPU per request: {cpu.per_request(round(rps * seconds))}")
        standby_paths = [f"{path}?replica=any" for path in paths] if count > 1 else []
        if standby_paths:
            answered = _standby_answers(workers)
            cpu = _CpuUse(workers)
            report = asyncio.run(fixed_rate_gets(workers[0].url, standby_paths, rps, seconds))
            share = (_standby_answers(workers) - answered) / (rps * seconds)
            print(
                f"GET /devices/<mac>?replica=any at {rps} req/s for {seconds:.0f} s "
                f"({100 * share:.0f} % answered by a standby copy): {report}"
            )
            print(f"  CPU per request: {cpu.per_request(round(rps * seconds))}")
        if busy is not None:
            _latency_while_ingesting(deployment, workers, busy[0], paths, rps, seconds / 2)
            if standby_paths:
                _latency_while_ingesting(
                    deployment, workers, busy[1], standby_paths, rps, seconds / 2
                )
        if backlog is not None:
            _latency_from_backlog(deployment, workers, backlog[0], paths, rps, seconds / 2)
            if standby_paths:
                _latency_from_backlog(
                    deployment, workers, backlog[1], standby_paths, rps, seconds / 2
                )
        return probes / elapsed
    finally:
        for worker in workers:
            worker.stop()
        deployment.delete_topics()


class _CpuUse:
    """The CPU the workers' processes (not their lake writers) and the whole machine used since
    it was made (Linux /proc): what a request costs each worker, and how busy the cores were."""

    def __init__(self, workers: list[Worker]) -> None:
        self.pids = [w.process.pid for w in workers]
        self.started = time.perf_counter()
        self.before = [_cpu_s(pid) for pid in self.pids]
        self.machine = _machine_ticks()

    def _used(self) -> list[float]:
        """CPU seconds each worker used since."""
        return [_cpu_s(pid) - was for pid, was in zip(self.pids, self.before, strict=True)]

    def per_request(self, requests: int) -> str:
        used = self._used()
        names = ["the worker asked", "the other worker"][: len(used)]
        return ", ".join(
            f"{name} {1000 * seconds / requests:.3f} ms"
            for name, seconds in zip(names, used, strict=True)
        )

    def cores(self) -> str:
        elapsed = time.perf_counter() - self.started
        used = self._used()
        busy, idle = (now - was for now, was in zip(_machine_ticks(), self.machine, strict=True))
        share = " and ".join(f"{seconds / elapsed:.2f}" for seconds in used)
        return (
            f"the workers used {share} of a core each; the machine's cores were idle "
            f"{100 * idle / (busy + idle):.0f} % of the time"
        )


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, idle) clock ticks of all cores so far (Linux /proc/stat; idle includes I/O wait)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return sum(ticks[:8]) - idle, idle


class _PeakRss:
    """A process's resident memory sampled every 0.2 s in a thread until `stop`: the peak (MB)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = _rss_mb(pid)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, _rss_mb(self.pid))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return max(self.peak, _rss_mb(self.pid))


def _latency_while_ingesting(
    deployment: Deployment,
    workers: list[Worker],
    capture: Path,
    paths: list[str],
    rps: int,
    seconds: float,
) -> None:
    """The same GETs while another capture is replayed and folded at full speed."""
    query = paths[0].partition("?")[2]
    before = _accepted(workers)
    replay = threading.Thread(target=replay_rate, args=(deployment, capture), daemon=True)
    replay.start()
    wait_for(lambda: _accepted(workers) > before, 60, "ingest to begin", interval=0.02)
    cpu = _CpuUse(workers)
    report = asyncio.run(fixed_rate_gets(workers[0].url, paths, rps, seconds))
    during = _accepted(workers) - before
    print(
        f"GET /devices/<mac>{'?' + query if query else ''} at {rps} req/s for {seconds:.0f} s "
        f"while {len(workers)} workers "
        f"ingest at full speed ({during:,} probes folded meanwhile): {report}"
    )
    print(f"  meanwhile: {cpu.cores()}")
    replay.join()


def _latency_from_backlog(
    deployment: Deployment,
    workers: list[Worker],
    capture: Path,
    paths: list[str],
    rps: int,
    seconds: float,
) -> None:
    """The same GETs while the workers fold a backlog at full speed with the sniffer done: the
    capture is replayed while they are stopped, they start again (`workers` is given the new
    processes), and the GETs begin once both serve and a tenth is folded. On a deployment the
    sniffer runs on a sensor host of its own; replayed during the reads
    (`_latency_while_ingesting`), it takes one of the two cores the workers have here."""
    query = paths[0].partition("?")[2]
    for worker in workers:
        worker.stop()
    _, _, summary = replay_rate(deployment, capture)
    produced = re.search(r"probe requests:\s+(\d+) produced", summary)
    if produced is None:
        raise RuntimeError(f"the sniffer's summary names no probes produced: {summary}")
    backlog = int(produced.group(1))
    workers[:] = [Worker(deployment, port=worker.port).start() for worker in workers]
    for worker in workers:
        worker.wait_ready()
    # Past the start (the first records, the lake writer's first file): folding at full speed.
    wait_for(
        lambda: _accepted(workers) >= backlog // 10,
        120,
        "a tenth of the backlog to be folded",
        interval=0.02,
    )
    before = _accepted(workers)
    cpu = _CpuUse(workers)
    report = asyncio.run(fixed_rate_gets(workers[0].url, paths, rps, seconds))
    folded = _accepted(workers)
    print(
        f"GET /devices/<mac>{'?' + query if query else ''} at {rps} req/s for {seconds:.0f} s "
        f"while {len(workers)} restarted workers fold a backlog of {backlog:,} probes, the "
        f"sniffer done ({folded - before:,} folded meanwhile, {backlog - folded:,} still to "
        f"fold at the end): {report}"
    )
    print(f"  meanwhile: {cpu.cores()}")


def _standby_answers(workers: list[Worker]) -> int:
    return sum(w.counters().get("reads.standby", 0) for w in workers)


def _wait_idle(workers: list[Worker]) -> None:
    """Until the workers' counters stop moving: the SSID re-key and other agents caught up."""
    last: list[dict[str, int]] = []
    for _ in range(300):
        now = [w.counters() for w in workers]
        if now == last:
            return
        last = now
        time.sleep(1.0)


def _all_own_probes(workers: list[Worker]) -> bool:
    prefix = workers[0].deployment.prefix
    return all(
        any(tp.startswith(f"{prefix}probes:") for tp in w.get("/health")[1]["assigned"])
        for w in workers
    )
