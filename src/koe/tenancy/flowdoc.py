"""Inbound call flow and IVR documents: validated JSON graphs (the engine is koe.flows).

A flow is ``{"start": id, "nodes": {id: node}}``. Every node has a ``type``; edges are
node ids in the fields named in ``EDGES``. Validation names the node and the problem.
"""

from __future__ import annotations

from typing import Any

from koe.core.errors import FieldError, ValidationFailed

# type -> (required fields, edge fields, reference fields -> resource)
NODE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]] = {
    "business_hours": (("calendar", "open", "closed"), ("open", "closed"), {"calendar": "hours"}),
    "ivr_menu": (("ivr",), ("next",), {"ivr": "ivrs"}),
    "menu_route": (("routes", "default"), ("default",), {}),
    "play": (("prompt",), ("next",), {}),
    "gather": (("variable",), ("next",), {}),
    "set": (("values",), ("next",), {}),
    "queue": (("queue",), ("next",), {"queue": "queues"}),
    "voicemail": ((), ("next",), {}),
    "callback": (("queue",), ("next",), {"queue": "queues"}),
    "transfer": (("number",), ("next",), {}),
    "hangup": ((), (), {}),
}
MAX_NODES = 200
MAX_ID = 64


def _err(node: str, code: str, ja: str, en: str) -> FieldError:
    return FieldError(f"nodes.{node}" if node else "start", code, ja, en)


def validate_flow(document: Any) -> dict[str, list[str]]:
    """Check a flow document; return the references it makes ({resource: [ids]})."""
    errors: list[FieldError] = []
    refs: dict[str, list[str]] = {}
    if not isinstance(document, dict) or not isinstance(document.get("nodes"), dict):
        raise ValidationFailed(
            "invalid_flow",
            "フローには nodes (オブジェクト) と start が必要です。",
            "A flow needs 'nodes' (an object) and 'start'.",
            [FieldError("document", "invalid_flow", "形式が不正です。", "Malformed document.")],
        )
    nodes: dict[str, Any] = document["nodes"]
    if not nodes or len(nodes) > MAX_NODES:
        errors.append(
            _err(
                "",
                "flow_size",
                f"ノード数は1〜{MAX_NODES}にしてください。",
                f"A flow has 1 to {MAX_NODES} nodes.",
            )
        )
    start = document.get("start")
    if start not in nodes:
        errors.append(
            _err(
                "",
                "flow_start_missing",
                f"開始ノード {start!r} がありません。",
                f"Start node {start!r} does not exist.",
            )
        )
    for node_id, node in nodes.items():
        if not isinstance(node_id, str) or not 0 < len(node_id) <= MAX_ID:
            errors.append(
                _err(
                    str(node_id)[:MAX_ID],
                    "flow_node_id",
                    "ノードIDが不正です。",
                    "Invalid node id.",
                )
            )
            continue
        if not isinstance(node, dict) or node.get("type") not in NODE_TYPES:
            kind = node.get("type") if isinstance(node, dict) else None
            errors.append(
                _err(
                    node_id,
                    "flow_node_type",
                    f"ノード {node_id}: 種類 {kind!r} は不明です。",
                    f"Node {node_id}: unknown type {kind!r}.",
                )
            )
            continue
        required, edges, references = NODE_TYPES[node["type"]]
        for field in required:
            if field not in node:
                errors.append(
                    _err(
                        node_id,
                        "flow_node_field",
                        f"ノード {node_id}: {field} がありません。",
                        f"Node {node_id}: '{field}' is missing.",
                    )
                )
        targets = [node[e] for e in edges if e in node]
        if node["type"] == "menu_route":
            routes = node.get("routes")
            if not isinstance(routes, dict) or not all(
                isinstance(k, str) and len(k) == 1 and k in "0123456789*#" for k in routes
            ):
                errors.append(
                    _err(
                        node_id,
                        "flow_routes",
                        f"ノード {node_id}: routes のキーは 0-9 * # です。",
                        f"Node {node_id}: route keys must be 0-9, * or #.",
                    )
                )
            else:
                targets += list(routes.values())
        for target in targets:
            if target not in nodes:
                errors.append(
                    _err(
                        node_id,
                        "flow_dangling_edge",
                        f"ノード {node_id}: 接続先 {target!r} がありません。",
                        f"Node {node_id}: edge to missing node {target!r}.",
                    )
                )
        for field, resource in references.items():
            if isinstance(node.get(field), str):
                refs.setdefault(resource, []).append(node[field])
    if errors:
        raise ValidationFailed(
            "invalid_flow", "フローが正しくありません。", "The flow is invalid.", errors
        )
    return refs


def validate_ivr(document: Any) -> dict[str, list[str]]:
    """Check an IVR menu document; return the queues it references."""
    errors: list[FieldError] = []
    refs: dict[str, list[str]] = {}

    def bad(field: str, ja: str, en: str) -> None:
        errors.append(FieldError(f"document.{field}", "invalid_ivr", ja, en))

    if not isinstance(document, dict):
        raise ValidationFailed("invalid_ivr", "IVRの形式が不正です。", "Malformed IVR document.")
    if not isinstance(document.get("prompt"), dict) or not all(
        isinstance(document["prompt"].get(lang), str) for lang in ("ja", "en")
    ):
        bad(
            "prompt", "prompt には ja と en の文言が必要です。", "prompt needs 'ja' and 'en' texts."
        )
    timeout = document.get("timeout_seconds", 5)
    if not isinstance(timeout, int) or not 1 <= timeout <= 60:
        bad("timeout_seconds", "timeout_seconds は1〜60です。", "timeout_seconds must be 1..60.")
    retries = document.get("retries", 2)
    if not isinstance(retries, int) or not 0 <= retries <= 5:
        bad("retries", "retries は0〜5です。", "retries must be 0..5.")
    choices = document.get("choices")
    if not isinstance(choices, dict) or not choices:
        bad("choices", "choices が必要です。", "choices are required.")
        choices = {}
    actions = {"queue", "play", "voicemail", "callback", "transfer", "hangup", "repeat"}
    for key, choice in [*choices.items(), ("default", document.get("default"))]:
        if key != "default" and (len(key) != 1 or key not in "0123456789*#"):
            bad(f"choices.{key}", "キーは 0-9 * # です。", "Keys must be 0-9, * or #.")
        if not isinstance(choice, dict) or choice.get("action") not in actions:
            bad(
                f"choices.{key}" if key != "default" else "default",
                "action が不正です。",
                f"action must be one of {sorted(actions)}.",
            )
            continue
        if choice["action"] in ("queue", "callback"):
            if not isinstance(choice.get("queue"), str):
                bad(f"choices.{key}.queue", "queue が必要です。", "queue is required.")
            else:
                refs.setdefault("queues", []).append(choice["queue"])
    if errors:
        raise ValidationFailed(
            "invalid_ivr", "IVRが正しくありません。", "The IVR is invalid.", errors
        )
    return refs
