"""Which file to play: the tenant's recordings first, then the shipped defaults.

Flow and IVR documents name prompts two ways: a prompt id (``"welcome"``, or an id the tenant
uploaded), or texts (``{"ja": ..., "en": ...}``) that a person records. Koe does not speak
texts at call time; a text prompt plays the tenant's recording under its own id (the
document's ``"id"`` field, or one derived from the node: ``flow-<flow id>-<node id>``,
``ivr-<ivr id>``), else the default prompt its fallback names, else nothing (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from koe.core.errors import ValidationFailed
from koe.media.prompts import CATALOG, LANGUAGES, MUSIC_ON_HOLD, PromptLibrary, default_path

log = logging.getLogger(__name__)


class Prompts:
    """Resolves prompt references of a tenant to files."""

    def __init__(self, library: PromptLibrary) -> None:
        self.library = library

    def find(self, tenant_id: str, prompt_id: str, language: str) -> Path | None:
        """The tenant's recording of ``prompt_id`` or the default one; None if neither."""
        if language not in LANGUAGES:
            language = "ja"
        try:
            path = self.library.path(tenant_id, prompt_id, language)
        except (KeyError, ValidationFailed):
            return None
        return path if path.exists() else None

    def system(self, tenant_id: str, prompt_id: str, language: str) -> Path:
        """A catalogue prompt (welcome, comfort, goodbye, ...): the tenant's or the default."""
        assert prompt_id in CATALOG, prompt_id
        found = self.find(tenant_id, prompt_id, language)
        return found if found is not None else default_path(prompt_id, language)

    def music(self, tenant_id: str) -> Path:
        """Music on hold: the tenant's upload (``music_on_hold``) or the shipped music."""
        own = self.find(tenant_id, MUSIC_ON_HOLD, "ja")
        return own if own is not None else default_path(MUSIC_ON_HOLD, "ja")

    def resolve(
        self,
        tenant_id: str,
        spec: Any,
        language: str,
        *,
        own_id: str,
        fallback: str | None = None,
    ) -> Path | None:
        """The file for a document's prompt ``spec`` (an id or texts); None: nothing to play."""
        if isinstance(spec, str) and spec:
            found = self.find(tenant_id, spec, language)
            if found is None:
                log.warning("prompt %r not found tenant=%s", spec, tenant_id)
            return found
        if isinstance(spec, Mapping):
            named = spec.get("id")
            for candidate in (named if isinstance(named, str) else None, own_id, fallback):
                if candidate:
                    found = self.find(tenant_id, candidate, language)
                    if found is not None:
                        return found
            log.warning(
                "text prompt %s has no recording and no default tenant=%s", own_id, tenant_id
            )
        return None
