"""Message/modal component helpers: find by custom_id or label, check Discord's limits,
and build the ``components`` a modal submission carries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ACTION_ROW = 1
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
SELECT_TYPES = {3, 5, 6, 7, 8}  # string, user, role, mentionable, channel
LABEL = 18
COMPONENTS_V2_FLAG = 1 << 15


def walk(components: list[dict]) -> Iterator[dict]:
    """Every component, depth first: rows, containers, sections' accessories, labels."""
    for component in components:
        yield component
        yield from walk(component.get("components", []))
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk([component[key]])


def find_component(
    components: list[dict], *, custom_id: str | None = None, label: str | None = None
) -> dict | None:
    if custom_id is None and label is None:
        raise ValueError("give a custom_id or a label")
    for component in walk(components):
        if custom_id is not None and component.get("custom_id") != custom_id:
            continue
        if label is not None and component.get("label") != label:
            continue
        if "custom_id" in component or "url" in component:
            return component
    return None


def component_errors(components: list[dict], *, flags: int = 0) -> list[str]:
    """Problems Discord would reject with 400 Invalid Form Body (the common ones)."""
    errors: list[str] = []
    if not flags & COMPONENTS_V2_FLAG and len(components) > 5:
        errors.append("components: must be 5 or fewer in length")
    seen: set[str] = set()
    for component in walk(components):
        custom_id = component.get("custom_id")
        if custom_id is not None:
            if not 1 <= len(custom_id) <= 100:
                errors.append(f"custom_id {custom_id!r}: length must be 1-100")
            if custom_id in seen:
                errors.append(f"custom_id {custom_id!r}: duplicated")
            seen.add(custom_id)
        if component.get("type") == BUTTON and len(component.get("label") or "") > 80:
            errors.append(f"button label {component['label']!r}: longer than 80")
        if component.get("type") == ACTION_ROW and len(component.get("components", [])) > 5:
            errors.append("action row: more than 5 components")
        if component.get("type") == STRING_SELECT:
            options = component.get("options", [])
            if not 1 <= len(options) <= 25:
                errors.append(f"select {custom_id!r}: needs 1-25 options")
            for option in options:
                if len(option.get("label", "")) > 100:
                    errors.append(f"select option {option['label']!r}: longer than 100")
    return errors


def modal_errors(data: dict) -> list[str]:
    errors = component_errors(data.get("components", []))
    if not 1 <= len(data.get("title", "")) <= 45:
        errors.append(f"modal title {data.get('title')!r}: length must be 1-45")
    if not 1 <= len(data.get("components", [])) <= 5:
        errors.append("modal components: must be 1-5")
    for component in walk(data.get("components", [])):
        if component.get("type") in (TEXT_INPUT, LABEL) and len(component.get("label") or "") > 45:
            errors.append(f"modal label {component['label']!r}: longer than 45")
    return errors


def _submitted(field: dict, values: dict[str, Any], used: set[str]) -> dict:
    """One input as the client submits it, checked like Discord's client would."""
    custom_id = field["custom_id"]
    kind = field["type"]
    given = values.get(custom_id)
    if given is not None:
        used.add(custom_id)
    if kind == TEXT_INPUT:
        text = "" if given is None else str(given)
        if field.get("required", True) and not text:
            raise ValueError(f"modal field {custom_id!r} is required")
        if text and not field.get("min_length", 0) <= len(text) <= field.get("max_length", 4000):
            raise ValueError(f"modal field {custom_id!r}: length {len(text)} outside limits")
        return {"type": TEXT_INPUT, "id": field.get("id", 0), "custom_id": custom_id, "value": text}
    chosen = [] if given is None else ([given] if isinstance(given, str) else list(given))
    if kind == STRING_SELECT:
        allowed = {option["value"] for option in field.get("options", [])}
        unknown = [value for value in chosen if value not in allowed]
        if unknown:
            raise ValueError(f"modal select {custom_id!r}: {unknown} not among {sorted(allowed)}")
    return {"type": kind, "id": field.get("id", 0), "custom_id": custom_id, "values": chosen}


def modal_submission(components: list[dict], values: dict[str, Any]) -> list[dict]:
    """The ``data.components`` of a MODAL_SUBMIT for a shown modal and the user's input."""
    used: set[str] = set()
    submitted: list[dict] = []
    for top in components:
        if top["type"] == ACTION_ROW:
            inner = [_submitted(c, values, used) for c in top["components"] if "custom_id" in c]
            submitted.append({"type": ACTION_ROW, "id": top.get("id", 0), "components": inner})
        elif top["type"] == LABEL:
            inner_field = _submitted(top["component"], values, used)
            submitted.append({"type": LABEL, "id": top.get("id", 0), "component": inner_field})
        # Text displays and other static parts are not submitted.
    unknown = set(values) - used
    if unknown:
        raise ValueError(f"modal has no fields {sorted(unknown)}")
    return submitted
