"""Fixtures for the SIP stack tests: torture-message location and small helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.unavailable import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
CAPTURES = Path(__file__).parent / "captures"


def rfc4475_dir() -> Path:
    """The RFC 4475 torture messages: ../shared beside the repo (CI) or the shared worktree."""
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = base / "shared" / "conformance" / "rfc4475"
        if candidate.is_dir():
            return candidate
    unavailable("RFC 4475 conformance data (../shared/conformance/rfc4475) not found")
    raise AssertionError  # unreachable


def checked_rfc4475() -> Path:
    """The torture directory after checking every file against SHA256SUMS."""
    folder = rfc4475_dir()
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        data = (folder / name.lstrip("*")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} changed on disk"
    return folder


def expected_rows() -> list[dict[str, str]]:
    """Rows of expected.tsv as dicts."""
    folder = rfc4475_dir()
    lines = (folder / "expected.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
