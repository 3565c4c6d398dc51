"""Running real peers (sipp, baresip) as subprocesses against an in-process Koe stack."""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from collections.abc import Iterable
from pathlib import Path

from koe.sip.auth import DigestServer
from koe.sip.dialog import sdp_direction
from koe.sip.registrar import Registrar
from koe.sip.ua import IncomingRequest
from tests.sip.helpers import SDP
from tests.unavailable import unavailable

SCENARIOS = Path(__file__).parent / "scenarios"
USERS = {"sipp": "secret", "1001": "pw1001", "1002": "pw1002"}
REALM = "koe.test"


def need(program: str) -> str:
    """The path of ``program``, or skip the test when it is not installed."""
    path = shutil.which(program)
    if path is None:
        unavailable(f"{program} is not installed (./koe test installs it)")
    return path


async def run_peer(args: Iterable[str], cwd: Path, limit: float = 60.0) -> tuple[int, str]:
    """Run a peer to completion (bounded), returning its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return -9, out.decode(errors="replace")
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


class TestServer:
    """The Koe side of the peer tests: registrar with digest, answering by Request-URI user.

    ``ring`` rings until CANCEL, ``auth`` wants Proxy-Authorization (digest without qop, as
    carriers do), ``prack`` sends a reliable 183 first, anything answers 180 + 200 with SDP.
    """

    __test__ = False

    def __init__(self, *, algorithms: tuple[str, ...] = ("MD5",)) -> None:
        self.registrar = Registrar(
            lambda domain: "tenant-1" if domain in (REALM, "127.0.0.1") else None,
            auth=lambda tenant, domain: self.digest,
            min_expires=1,
        )
        self.digest = DigestServer(
            REALM, lambda realm, user: USERS.get(user), algorithms=algorithms
        )
        self.proxy_digest = DigestServer(
            REALM, lambda realm, user: USERS.get(user), algorithms=("MD5",), qop=False
        )
        self.directions: list[str] = []
        self.calls = 0

    async def handle(self, inreq: IncomingRequest) -> None:
        """The stack's request handler."""
        req = inreq.request
        if req.method == "REGISTER":
            self.registrar.handle(inreq)
            return
        if req.method != "INVITE":
            inreq.stack.default_handler(inreq)
            return
        user = getattr(req.uri, "user", None)
        if user == "ring":
            inreq.respond(180)
            await inreq.wait_cancelled()
            return
        if user == "prack":
            inreq.respond(183, body=SDP, reliable=True)
            assert inreq.dialog is not None
            await inreq.dialog.wait_prack()
        if user == "auth":
            result = self.proxy_digest.check(req.headers.get("proxy-authorization"), "INVITE")
            if not result.ok:
                challenges = self.proxy_digest.challenges(stale=result.stale)
                inreq.respond(407, headers=[("Proxy-Authenticate", c) for c in challenges])
                return
        self.calls += 1
        if user != "prack":
            inreq.respond(180)
        inreq.respond(200, body=SDP)
        if inreq.dialog is not None:
            inreq.dialog.handler = self.in_dialog

    def in_dialog(self, inreq: IncomingRequest) -> None:
        """Record the media direction of re-INVITEs, then answer as the dialog would."""
        if inreq.method == "INVITE":
            self.directions.append(sdp_direction(inreq.request.body))
        assert inreq.dialog is not None
        inreq.dialog.default_request(inreq)


class Baresip:
    """A baresip process driven through its ctrl_tcp module (netstring JSON commands)."""

    def __init__(self, folder: Path, *, sip_port: int, account: str, cafile: Path | None) -> None:
        self.folder = folder
        self.ctrl_port = 0
        self.sip_port = sip_port
        self.account = account
        self.cafile = cafile
        self.proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self.log = folder / "baresip.log"

    async def start(self, ctrl_port: int) -> None:
        """Write the config, start baresip and connect to its control port."""
        self.ctrl_port = ctrl_port
        modules = "/usr/lib/baresip/modules"
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            f"module_path {modules}",
            "module g711.so",
            "module aufile.so",
            "module_app account.so",
            "module_app menu.so",
            "module ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
            f"audio_player aufile,{self.folder / 'played.wav'}",
            f"audio_source aufile,{self.folder / 'tone.wav'}",
            f"audio_alert aufile,{self.folder / 'alert.wav'}",
            "rtp_timeout 0",
        ]
        if self.cafile is not None:
            lines.append(f"sip_cafile {self.cafile}")
        (self.folder / "config").write_text("\n".join(lines) + "\n")
        with wave.open(str(self.folder / "tone.wav"), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(b"\x00\x00" * 8000 * 60)  # longer than any call here
        (self.folder / "accounts").write_text(self.account + "\n")
        self.proc = await asyncio.create_subprocess_exec(
            need("baresip"),
            "-f",
            str(self.folder),
            "-n",
            "127.0.0.1",
            "-s",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", ctrl_port)
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError(f"baresip did not start: {self.log.read_text()[-2000:]}")

    async def command(self, name: str, params: str = "") -> None:
        """Send one menu command (``dial``, ``hangup``, ``hold``, ``resume``, ``transfer``…)."""
        assert self._writer is not None
        data = json.dumps({"command": name, "params": params, "token": name}).encode()
        self._writer.write(str(len(data)).encode() + b":" + data + b",")
        await self._writer.drain()

    async def stop(self) -> None:
        """Quit baresip (bounded), close the control connection."""
        if self._writer is not None:
            self._writer.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
