"""Discord-shaped JSON for the records in ``state`` (ids as strings, as the API sends them)."""

from __future__ import annotations

from typing import Any

from .state import (
    ALL_PERMISSIONS,
    DM,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
    World,
)

APPLICATION_FLAGS = (1 << 13) | (1 << 15) | (1 << 19) | (1 << 23)  # gateway intents limited + badge
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def user(u: User) -> dict:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def client_user(u: User) -> dict:
    return {**user(u), "verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"}


def role(r: Role) -> dict:
    return {
        "id": str(r.id),
        "name": r.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member(world: World, guild: Guild, m: Member, *, with_user: bool = True) -> dict:
    data: dict[str, Any] = {
        "roles": [str(role_id) for role_id in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "joined_at": m.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(world.users[m.user_id])
    return data


def interaction_member(world: World, guild: Guild, user_id: int) -> dict:
    """Members inside interactions also carry their computed permissions."""
    data = member(world, guild, guild.members[user_id])
    data["permissions"] = str(world.member_permissions(guild, user_id))
    return data


def channel(world: World, c: Channel) -> dict:
    if c.type == DM:
        return {
            "id": str(c.id),
            "type": DM,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user(world.users[c.recipient_id])],
        }
    return {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def guild_base(g: Guild) -> dict:
    """Fields shared by GET /guilds/{id} and GUILD_CREATE."""
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "preferred_locale": g.locale,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [role(r) for r in g.roles.values()],
        "max_members": 500000,
        "max_video_channel_users": 25,
        "application_id": None,
        "widget_enabled": False,
        "incidents_data": None,
    }


def guild_create(world: World, g: Guild, *, all_members: bool) -> dict:
    """GUILD_CREATE: without the members intent Discord only sends the bot's own member."""
    members = [m for m in g.members.values() if all_members or m.user_id == world.bot.id]
    return {
        **guild_base(g),
        "joined_at": g.members[world.bot.id].joined_at,
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": len(g.members),
        "members": [member(world, g, m) for m in members],
        "channels": [channel(world, world.channels[cid]) for cid in g.channel_ids],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def message(world: World, m: Message) -> dict:
    data: dict[str, Any] = {
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "type": m.type,
        "content": m.content,
        "author": user(world.users[m.author_id]),
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "tts": False,
        "mention_everyone": m.mention_everyone,
        "mentions": [user(world.users[uid]) for uid in m.mention_ids if uid in world.users],
        "mention_roles": [str(rid) for rid in m.mention_role_ids],
        "attachments": m.attachments,
        "embeds": m.embeds,
        "pinned": False,
        "flags": m.flags,
        "components": m.components,
    }
    if m.message_reference is not None:
        data["message_reference"] = m.message_reference
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
        data["application_id"] = str(world.app_id)
    if m.interaction_id is not None and m.interaction_id in world.interactions:
        inter = world.interactions[m.interaction_id]
        data["interaction_metadata"] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user(world.users[inter.user_id]),
            "authorizing_integration_owners": inter.payload["authorizing_integration_owners"],
        }
    return data


def message_event(world: World, m: Message) -> dict:
    """MESSAGE_CREATE/UPDATE carry guild_id and the author's member (without user)."""
    data = message(world, m)
    if m.guild_id is not None:
        guild = world.guilds[m.guild_id]
        data["guild_id"] = str(m.guild_id)
        if m.author_id in guild.members:
            data["member"] = member(world, guild, guild.members[m.author_id], with_user=False)
    return data


def resolved_channel(world: World, c: Channel) -> dict:
    return {"id": str(c.id), "name": c.name, "type": c.type, "permissions": str(ALL_PERMISSIONS)}


def application(world: World) -> dict:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(world.app_id),
        "name": world.bot.name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": APPLICATION_FLAGS,
        "owner": user(world.bot),
        "team": None,
        "bot": user(world.bot),
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
        "approximate_guild_count": len(world.guilds),
        "integration_types_config": {"0": {}},
    }


def callback_response(world: World, inter: Interaction, callback_type: int) -> dict:
    """The body of POST /interactions/.../callback?with_response=true."""
    body: dict[str, Any] = {"interaction": {"id": str(inter.id), "type": inter.type}}
    original = world.messages.get(inter.original_message_id or 0)
    if callback_type in (4, 5, 7) and original is not None:
        body["interaction"].update(
            response_message_id=str(original.id),
            response_message_loading=original.loading,
            response_message_ephemeral=original.ephemeral,
        )
        body["resource"] = {"type": callback_type, "message": message(world, original)}
    return body
