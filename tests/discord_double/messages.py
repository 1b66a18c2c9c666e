"""Turning the JSON (and files) the bot sends into stored messages, with Discord's checks."""

from __future__ import annotations

import re
from typing import Any

from .components import COMPONENTS_V2_FLAG, component_errors
from .state import EPHEMERAL, LOADING, Message, World, iso_now

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
# Flags a bot may set when sending: suppress embeds, ephemeral, suppress notifications, v2.
SETTABLE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | COMPONENTS_V2_FLAG


def payload_errors(payload: dict, files: list[dict], *, creating: bool) -> tuple[int, list[str]]:
    """(Discord error code, problems) for a create/edit payload; (0, []) when fine."""
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    components = payload.get("components") or []
    flags = int(payload.get("flags") or 0)
    if creating and not (
        content
        or embeds
        or components
        or files
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        return 50006, ["Cannot send an empty message"]
    errors: list[str] = []
    if len(content) > 2000:
        errors.append(f"content: must be 2000 or fewer in length (got {len(content)})")
    if len(embeds) > 10:
        errors.append("embeds: must be 10 or fewer in length")
    if flags & COMPONENTS_V2_FLAG and (content or embeds):
        errors.append("content/embeds cannot be used with IS_COMPONENTS_V2")
    errors += component_errors(components, flags=flags)
    return (50035 if errors else 0), errors


def _attachments(
    world: World, payload: dict, files: list[dict], existing: list[dict]
) -> list[dict]:
    """Kept attachments (by id) plus uploaded files, shaped like Discord's attachment objects."""
    keep_ids = {str(a.get("id")) for a in payload.get("attachments", [])}
    result = [a for a in existing if a["id"] in keep_ids]
    for upload in files:
        attachment_id = str(world.ids.next())
        world.uploads[attachment_id] = upload["data"]
        result.append(
            {
                "id": attachment_id,
                "filename": upload["filename"],
                "size": len(upload["data"]),
                "url": f"https://cdn.invalid/attachments/{attachment_id}/{upload['filename']}",
                "proxy_url": f"https://media.invalid/attachments/{attachment_id}/{upload['filename']}",
                "content_type": upload.get("content_type"),
            }
        )
    return result


def resolve_mentions(world: World, message: Message) -> None:
    """Which mentions actually ping, following allowed_mentions like Discord does."""
    allowed = message.allowed_mentions
    parse = ["users", "roles", "everyone"] if allowed is None else allowed.get("parse", [])
    content = message.content
    message.mention_everyone = "everyone" in parse and (
        "@everyone" in content or "@here" in content
    )
    user_ids = [int(x) for x in USER_MENTION.findall(content)]
    role_ids = [int(x) for x in ROLE_MENTION.findall(content)]
    if "users" not in parse:
        explicit = {int(x) for x in (allowed or {}).get("users", [])}
        user_ids = [uid for uid in user_ids if uid in explicit]
    if "roles" not in parse:
        explicit = {int(x) for x in (allowed or {}).get("roles", [])}
        role_ids = [rid for rid in role_ids if rid in explicit]
    message.mention_ids = list(dict.fromkeys(user_ids))
    message.mention_role_ids = list(dict.fromkeys(role_ids))


def apply(world: World, message: Message, payload: dict, files: list[dict]) -> Message:
    """Apply a create or edit payload: only the keys present change (Discord's PATCH rules)."""
    if "content" in payload:
        message.content = payload["content"] or ""
    if "embeds" in payload:
        message.embeds = payload["embeds"] or []
    if "components" in payload:
        message.components = payload["components"] or []
    if "flags" in payload and payload["flags"] is not None:
        # Ephemeral-ness is fixed at creation; other settable flags follow the payload.
        keep = message.flags & (EPHEMERAL | LOADING)
        message.flags = keep | (int(payload["flags"]) & SETTABLE_FLAGS & ~EPHEMERAL)
    if "allowed_mentions" in payload:
        message.allowed_mentions = payload["allowed_mentions"]
    if "attachments" in payload or files:
        message.attachments = _attachments(world, payload, files, message.attachments)
    if payload.get("message_reference"):
        message.message_reference = payload["message_reference"]
        message.type = 19  # REPLY
    resolve_mentions(world, message)
    return message


def create(world: World, payload: dict, files: list[dict], **fields: Any) -> Message:
    """A new message from a create payload; ``fields`` fill the rest (channel, source...)."""
    flags = int(payload.get("flags") or 0) & SETTABLE_FLAGS
    message = Message(id=world.ids.next(), author_id=world.bot.id, **fields)
    message.flags |= flags
    return apply(world, message, payload, files)


def edit(world: World, message: Message, payload: dict, files: list[dict]) -> Message:
    was_loading = message.loading
    apply(world, message, payload, files)
    message.flags &= ~LOADING
    if not was_loading:
        message.edited_timestamp = iso_now()
    return message
