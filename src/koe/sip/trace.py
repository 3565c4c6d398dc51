"""Optional SIP message trace: every message in and out, with time and peer, to a file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO


class MessageTrace:
    """Append-only text trace in the common ``direction peer time`` + raw message form."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        """Open the trace file for appending."""
        self._file = self.path.open("ab", buffering=64 * 1024)

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, direction: str, peer: str, data: bytes) -> None:
        """Record one message; a no-op while closed."""
        if self._file is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time() % 1:.6f}"[2:]
        arrow = "<<" if direction == "in" else ">>"
        self._file.write(f"{arrow} {peer} {stamp}Z\n".encode() + data + b"\n\n")
