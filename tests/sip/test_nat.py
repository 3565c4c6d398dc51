"""Field behaviour in network namespaces: phones behind a symmetric NAT (issue 3).

Three namespaces: the Koe server (10.77.1.1), a NAT router (MASQUERADE with random
ports, i.e. symmetric, and UDP mappings forgotten after 3 s idle) and a phone network
(192.168.77.0/24) that the server has no route to. The phones register, time passes
("10 minutes" in the field, ``HOLD_SECONDS`` here: many NAT timeouts long), then Koe
calls them. The UDP phone is only reachable because Koe keeps its NAT mapping open
with OPTIONS keep-alives sent to the REGISTER's source address; the TLS phone is
reached over its own connection.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.sip.conftest import REPO_ROOT
from tests.sip.helpers import NAT_SERVER, tls_contexts
from tests.unavailable import unavailable

pytestmark = pytest.mark.peers
HOLD_SECONDS = 8.0  # > 2 x the NAT's 3 s UDP timeout; the code paths of a 10-minute wait
PHONE_NET = "192.168.77"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _in(ns: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True)


@pytest.fixture
def namespaces() -> Iterator[dict[str, str]]:
    """Build server / NAT / phone namespaces; remove them afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None:
        unavailable("network namespace tests need root, iproute2 and iptables")
    tag = secrets.token_hex(3)
    ns = {"srv": f"koe-srv-{tag}", "nat": f"koe-nat-{tag}", "phone": f"koe-ph-{tag}"}
    try:
        for name in ns.values():
            _ip("netns", "add", name)
            _in(name, "ip", "link", "set", "lo", "up")
        _ip("link", "add", f"ks{tag}", "type", "veth", "peer", "name", f"kn{tag}")
        _ip("link", "add", f"kp{tag}", "type", "veth", "peer", "name", f"kq{tag}")
        _ip("link", "set", f"ks{tag}", "netns", ns["srv"])
        _ip("link", "set", f"kn{tag}", "netns", ns["nat"])
        _ip("link", "set", f"kq{tag}", "netns", ns["nat"])
        _ip("link", "set", f"kp{tag}", "netns", ns["phone"])
        _in(ns["srv"], "ip", "addr", "add", f"{NAT_SERVER}/24", "dev", f"ks{tag}")
        _in(ns["srv"], "ip", "link", "set", f"ks{tag}", "up")
        _in(ns["nat"], "ip", "addr", "add", "10.77.1.254/24", "dev", f"kn{tag}")
        _in(ns["nat"], "ip", "addr", "add", f"{PHONE_NET}.1/24", "dev", f"kq{tag}")
        _in(ns["nat"], "ip", "link", "set", f"kn{tag}", "up")
        _in(ns["nat"], "ip", "link", "set", f"kq{tag}", "up")
        _in(ns["nat"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _in(ns["nat"], "sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=3")
        _in(ns["nat"], "sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout_stream=3")
        _in(
            ns["nat"],
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            f"kn{tag}",
            "-j",
            "MASQUERADE",
            "--random",
        )
        _in(ns["phone"], "ip", "addr", "add", f"{PHONE_NET}.2/24", "dev", f"kp{tag}")
        _in(ns["phone"], "ip", "link", "set", f"kp{tag}", "up")
        _in(ns["phone"], "ip", "route", "add", "default", "via", f"{PHONE_NET}.1")
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        unavailable(f"cannot build network namespaces here: {err}")
    yield ns
    for name in ns.values():
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Agent:
    """A nat_agent.py process in a namespace, spoken to line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, ns: str, *args: str) -> Agent:
        env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'src'}"}
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", ns, sys.executable, "-m", "tests.sip.nat_agent", *args,
            cwd=REPO_ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def expect(self, prefix: str, limit: float = 20.0) -> str:
        assert self.proc.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), limit)).decode().strip()
            if not line:
                raise AssertionError(f"agent ended before {prefix!r}")
            if line.startswith(prefix):
                return line

    async def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{text}\n".encode())
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def agents() -> AsyncIterator[list[Agent]]:
    """Agents started by a test; all stopped at the end."""
    started: list[Agent] = []
    yield started
    for agent in reversed(started):
        await agent.stop()


async def test_phones_behind_symmetric_nat_receive_calls(
    namespaces: dict[str, str], agents: list[Agent], tmp_path: Path
) -> None:
    tls_contexts(tmp_path)  # one certificate shared by every agent
    server = await Agent.start(namespaces["srv"], "server", NAT_SERVER, str(tmp_path))
    agents.append(server)
    await server.expect("READY")
    udp_phone = await Agent.start(
        namespaces["phone"], "phone", f"{PHONE_NET}.2", NAT_SERVER, "UDP", str(tmp_path)
    )
    agents.append(udp_phone)
    assert await udp_phone.expect("REGISTERED") == "REGISTERED 200"
    tls_phone = await Agent.start(
        namespaces["phone"], "phone", f"{PHONE_NET}.2", NAT_SERVER, "TLS", str(tmp_path)
    )
    agents.append(tls_phone)
    assert await tls_phone.expect("REGISTERED") == "REGISTERED 200"
    await asyncio.sleep(HOLD_SECONDS)
    await server.say("call 1001")
    assert await server.expect("CALL") == "CALL 200 UDP"
    await server.say("call 1002")
    assert await server.expect("CALL") == "CALL 200 TLS"
    await udp_phone.say("stop")
    assert await udp_phone.expect("CALLS") == "CALLS 1"
    await tls_phone.say("stop")
    assert await tls_phone.expect("CALLS") == "CALLS 1"
