"""SIP benchmark: sipp's uac scenario ramping against a Koe UAS, plus a parser benchmark.

Run ``bench/sip_cps`` (no arguments). It starts a Koe UAS (answer + BYE) in a child
process on loopback UDP, runs sipp's built-in ``uac`` at increasing rates for a few
seconds each, and keeps the highest rate that completed every call at that pace (a rate
gets a second try when the first fails: the machine is shared with other work).
The last two lines are ``sip_cps: N calls/s`` and ``sip_parse: N msgs/s``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from koe.sip.message import SipMessage  # noqa: E402

RATES = [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000]
STEP_SECONDS = 5
SDP = (
    b"v=0\r\no=koe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
INVITE = (
    b"INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-2345-1-0\r\n"
    b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=2345SIPpTag001\r\n"
    b"To: service <sip:service@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-2345@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
    b"Contact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\n"
    b"Subject: Performance Test\r\nContent-Type: application/sdp\r\n"
    b"Content-Length:   129\r\n\r\n"
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
    b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# -- the Koe UAS (child process) -------------------------------------------------------------


async def serve(port: int, seconds: float = 0.0) -> None:
    """Answer every INVITE with 200 + SDP; BYE and ACK are handled by the dialog layer."""
    import gc

    from koe.sip.ua import IncomingRequest, SipConfig, SipStack

    def handle(inreq: IncomingRequest) -> None:
        if inreq.method == "INVITE":
            inreq.respond(200, body=SDP)
        else:
            inreq.stack.default_handler(inreq)

    gc.freeze()
    stack = SipStack(SipConfig(listen=[("UDP", "127.0.0.1", port)], user_agent=""), handle)
    await stack.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    if seconds:
        loop.call_later(
            seconds, stop.set
        )  # for profiling: py-spy record -- … --serve P --seconds N
    await stop.wait()
    await stack.stop()


# -- the driver ------------------------------------------------------------------------------


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_step(sipp: str, port: int, rate: int, workdir: Path) -> tuple[bool, float, list[float]]:
    """One sipp run at ``rate``; returns (all calls ok at pace, achieved rate, INVITE→200 ms)."""
    calls = rate * STEP_SECONDS
    for old in workdir.glob("*"):
        old.unlink()
    args = [
        sipp, f"127.0.0.1:{port}", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-r", str(rate), "-m", str(calls), "-l", str(rate * 4), "-d", "0", "-nostdin",
        "-timeout", f"{STEP_SECONDS * 4}s", "-timeout_error", "-trace_rtt", "-rtt_freq", "1",
        "-max_socket", "64", "-trace_err",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(args, cwd=workdir, capture_output=True, timeout=STEP_SECONDS * 6)
    elapsed = time.monotonic() - started
    latencies: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        with path.open() as fh:
            for row in csv.reader(fh, delimiter=";"):
                if len(row) >= 3 and row[0] != "Date_ms":
                    try:
                        latencies.append(float(row[1]))
                    except ValueError:
                        continue
    achieved = calls / elapsed
    ok = proc.returncode == 0 and achieved >= rate * 0.9
    if not ok:
        for path in workdir.glob("*_errors.log"):
            first = path.read_text(errors="replace").strip().splitlines()[1:2]
            print(f"  sipp: {first[0][:160] if first else 'no error log'}", flush=True)
    return ok, achieved, latencies


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def parse_bench(rounds: int = 7, per_round: int = 20000) -> tuple[float, float]:
    """Messages/s for ``SipMessage.parse`` alone, and with every mandatory header checked.

    The best of ``rounds`` rounds counts: on a shared machine the slower rounds measure the
    neighbours, not the parser.
    """
    results = []
    for full in (False, True):
        best = 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(per_round):
                msg = SipMessage.parse(INVITE)
                if full:
                    msg.validate()
            best = max(best, per_round / (time.perf_counter() - start))
        results.append(best)
    return results[0], results[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--rates", type=str, default=",".join(map(str, RATES)))
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.seconds))
        return 0
    sipp = shutil.which("sipp")
    if sipp is None:
        print("sipp not installed (apt-get install sip-tester)", file=sys.stderr)
        return 2
    port = free_udp_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    best = 0
    best_lat: list[float] = []
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            print("Koe UAS did not start", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            for rate in [int(r) for r in args.rates.split(",")]:
                ok, achieved, lat = run_step(sipp, port, rate, Path(tmp))
                if not ok:  # the machine is shared: one more try before calling it a limit
                    ok, achieved, lat = run_step(sipp, port, rate, Path(tmp))
                p50, p99 = percentile(lat, 50), percentile(lat, 99)
                verdict = "ok" if ok else "FAILED"
                print(
                    f"rate {rate:5d}/s: {verdict:6s} achieved {achieved:7.1f} calls/s, "
                    f"INVITE->200 p50 {p50:.0f} ms p99 {p99:.0f} ms",
                    flush=True,
                )
                if not ok:
                    break
                best, best_lat = rate, lat
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    plain, validated = parse_bench()
    p50, p99 = percentile(best_lat, 50), percentile(best_lat, 99)
    print(
        f"highest sustained rate with zero failed calls: {best} calls/s "
        f"(INVITE->200 p50 {p50:.0f} ms, p99 {p99:.0f} ms; sipp measures whole milliseconds)"
    )
    print(f"parse + validate all mandatory headers: {validated:,.0f} msgs/s")
    print(f"mean of {len(best_lat)} latency samples: {statistics.fmean(best_lat or [0]):.2f} ms")
    print(f"sip_cps: {best} calls/s")
    print(f"sip_parse: {plain:.0f} msgs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
