"""sipp against Koe, over UDP and TCP: built-in uac/uas scenarios and Koe's own scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from koe.sip.dialog import DialogState
from koe.sip.transaction import Timers
from tests.sip.helpers import SDP, free_port, running, until
from tests.sip.peers import SCENARIOS, TestServer, need, run_peer

pytestmark = pytest.mark.peers
SIPP_T = {"UDP": "u1", "TCP": "t1"}
REAL = Timers()  # sipp retransmits on RFC timers; Koe uses the same here


def sipp_args(transport: str, target: str, *extra: str) -> list[str]:
    """Common sipp arguments: loopback, no stdin, bounded run time."""
    return [
        need("sipp"),
        target,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-t",
        SIPP_T[transport],
        "-nostdin",
        "-timeout",
        "40s",
        "-timeout_error",
        "-max_socket",
        "64",
        "-trace_err",
        *extra,
    ]


def errors(folder: Path) -> str:
    """sipp's error trace (unexpected messages, timeouts), shortened."""
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*_errors.log"))


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_builtin_uac_against_koe(transport: str, tmp_path: Path) -> None:
    server = TestServer()
    async with running(server.handle, transports=(transport,), timers=REAL) as stack:
        host, port = stack.local_address(transport)
        args = sipp_args(transport, f"{host}:{port}", "-sn", "uac", "-m", "20", "-r", "20")
        rc, out = await run_peer(args, tmp_path)
        assert rc == 0, out[-3000:]
        assert server.calls == 20
        await until(lambda: not stack.dialogs)


@pytest.mark.parametrize(
    "scenario",
    [
        "invite_2xx_retransmit",
        "cancel_before_answer",
        "reinvite_hold",
        "options",
        "register_digest",
        "invite_407",
        "via_no_port",
        "invite_100rel",
        "session_timer_refresh",
    ],
)
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_koe_scenarios(scenario: str, transport: str, tmp_path: Path) -> None:
    server = TestServer()
    async with running(server.handle, transports=(transport,), timers=REAL, min_se=1) as stack:
        host, port = stack.local_address(transport)
        scenario_file = str(SCENARIOS / f"{scenario}.xml")
        args = sipp_args(transport, f"{host}:{port}", "-sf", scenario_file, "-m", "2", "-r", "5")
        rc, out = await run_peer(args, tmp_path)
        assert rc == 0, errors(tmp_path) or out[-3000:]
        if scenario == "reinvite_hold":
            assert server.directions == ["sendonly", "sendrecv"] * 2
        if scenario == "register_digest":
            assert server.registrar.lookup("tenant-1", "sip:sipp@koe.test")
        if scenario == "invite_2xx_retransmit" and transport == "UDP":
            assert stack.counters.retransmissions >= 2


async def test_lossy_run_completes_every_call(tmp_path: Path) -> None:
    """10 % of sipp's packets lost both ways: retransmissions still complete all calls."""
    server = TestServer()
    async with running(server.handle, timers=REAL) as stack:
        host, port = stack.local_address("UDP")
        args = sipp_args(
            "UDP", f"{host}:{port}", "-sn", "uac", "-m", "30", "-r", "15", "-lost", "10"
        )
        rc, out = await run_peer(args, tmp_path, limit=90)
        assert rc == 0, out[-3000:]
        assert stack.counters.retransmissions > 0


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_koe_uac_against_builtin_uas(transport: str, tmp_path: Path) -> None:
    import asyncio

    sipp_port = free_port(host="127.0.0.1")
    args = sipp_args(transport, "", "-sn", "uas", "-m", "3")
    args.remove("")
    args[args.index("-p") + 1] = str(sipp_port)
    proc = asyncio.create_task(run_peer(args, tmp_path))
    try:
        await asyncio.sleep(0.5)
        async with running(transports=(transport,), timers=REAL) as stack:
            suffix = "" if transport == "UDP" else ";transport=tcp"
            for _ in range(3):
                call = stack.invite(
                    f"sip:service@127.0.0.1:{sipp_port}{suffix}",
                    from_="<sip:koe@127.0.0.1>",
                    body=SDP,
                )
                response = await call.send()
                assert response.status == 200
                assert call.dialog is not None
                assert call.dialog.state is DialogState.CONFIRMED
                bye = await call.dialog.bye()
                assert bye is not None
                assert bye.status == 200
            rc, out = await proc
            assert rc == 0, errors(tmp_path) or out[-3000:]
    finally:
        if not proc.done():
            proc.cancel()
