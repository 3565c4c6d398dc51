"""A local rtpengine child in embedded mode, started, watched and restarted by Koe.

rtpengine runs in userspace (``--table=-1``) with no system config (``--config-file=none``)
and logs to stderr. When it exits unexpectedly it is started again with back-off, and
``on_restart`` lets call control re-anchor or fail the calls it held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from koe.core.errors import KoeError
from koe.media.ng import MediaUnavailable, NgClient

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # seconds until the first pong; measured first pong is about 60 ms


@dataclass(frozen=True, slots=True)
class MediaInterface:
    """An rtpengine interface: a name, the local address, and the address advertised in SDP."""

    name: str
    address: str
    advertised: str | None = None

    def argument(self) -> str:
        """The ``--interface`` value (``name/ip!advertised``)."""
        value = f"{self.name}/{self.address}"
        return value + (f"!{self.advertised}" if self.advertised else "")


@dataclass
class RtpEngineConfig:
    """How to run the embedded rtpengine."""

    ng_host: str = "127.0.0.1"
    ng_port: int = 2223
    interfaces: list[MediaInterface] = field(
        default_factory=lambda: [MediaInterface("default", "127.0.0.1")]
    )
    port_min: int = 30000
    port_max: int = 40000
    rtp_timeout: int = 60
    dtmf_log_dest: tuple[str, int] | None = None
    recording_dir: Path | None = None
    binary: str = "rtpengine"
    extra_args: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        """The command line of the child."""
        path = shutil.which(self.binary)
        if path is None:
            raise KoeError(
                "rtpengine_missing",
                "rtpengine がインストールされていません(rtpengine-daemon)。",
                "rtpengine is not installed (Debian package rtpengine-daemon).",
            )
        args = [
            path,
            "--config-file=none",
            "--table=-1",
            "--foreground",
            "--log-stderr",
            f"--listen-ng={self.ng_host}:{self.ng_port}",
            f"--port-min={self.port_min}",
            f"--port-max={self.port_max}",
            f"--timeout={self.rtp_timeout}",
            "--log-level=5",
        ]
        args += [f"--interface={i.argument()}" for i in self.interfaces]
        if self.dtmf_log_dest is not None:
            args.append(f"--dtmf-log-dest={self.dtmf_log_dest[0]}:{self.dtmf_log_dest[1]}")
        if self.recording_dir is not None:
            args += [
                f"--recording-dir={self.recording_dir}",
                "--recording-method=pcap",
                "--recording-format=eth",
            ]
        return args + self.extra_args


class RtpEngineProcess:
    """Owns the rtpengine child: ``start()`` waits for its first pong, ``stop()`` ends it."""

    def __init__(
        self,
        config: RtpEngineConfig,
        *,
        on_restart: Callable[[], Awaitable[None]] | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        self.config = config
        self.client = NgClient(config.ng_host, config.ng_port, timeout=1.0)
        self.on_restart = on_restart
        self.max_backoff = max_backoff
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.log_tail: list[str] = []

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def start(self) -> None:
        """Start the child and wait until it answers ping."""
        self._stopping = False
        if self.config.recording_dir is not None:
            self.config.recording_dir.mkdir(parents=True, exist_ok=True)
        await self.client.start()
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="rtpengine-watch")

    async def _spawn(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.config.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        self._stderr_task = asyncio.create_task(
            self._read_stderr(self._proc), name="rtpengine-stderr"
        )
        await self._wait_ready()

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log_tail = [*self.log_tail[-49:], text]
            log.debug("rtpengine: %s", text)

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while loop.time() < deadline:
            if self._proc is not None and self._proc.returncode is not None:
                break
            try:
                if await self.client.request("ping"):
                    return
            except MediaUnavailable:
                await asyncio.sleep(0.05)
        tail = " | ".join(self.log_tail[-5:])
        raise MediaUnavailable(
            "media_start_failed",
            f"rtpengine が起動しませんでした: {tail}",
            f"rtpengine did not start: {tail}",
        )

    async def _watch(self) -> None:
        backoff = 0.2
        while not self._stopping:
            assert self._proc is not None
            code = await self._proc.wait()
            if self._stopping:
                return
            log.warning("rtpengine exited with %s; restarting in %.1fs", code, backoff)
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
            except (MediaUnavailable, OSError):
                log.exception("rtpengine restart failed")
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.restarts += 1
            backoff = 0.2
            if self.on_restart is not None:
                await self.on_restart()

    async def stop(self) -> None:
        """Terminate the child and the watcher."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
            self._stderr_task = None
        await self.client.stop()
