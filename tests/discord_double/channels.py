"""REST routes for users, the application, DMs, channels/messages and guilds/members."""

from __future__ import annotations

from aiohttp import web

from . import messages, payloads
from .gateway import GUILD_MEMBERS, Gateway
from .httputil import BODY, FILES, discord_error, invalid_form, json_response, unknown
from .state import DM, World


class ChannelRoutes:
    def __init__(self, world: World, gateway: Gateway, shard_count: int) -> None:
        self.world = world
        self.gateway = gateway
        self.shard_count = shard_count

    def add_to(self, app: web.Application, prefix: str) -> None:
        r = app.router
        r.add_get(prefix + "/gateway", self.get_gateway)
        r.add_get(prefix + "/gateway/bot", self.get_gateway_bot)
        r.add_get(prefix + "/users/@me", self.get_me)
        r.add_get(prefix + "/oauth2/applications/@me", self.get_application)
        r.add_post(prefix + "/users/@me/channels", self.open_dm)
        r.add_get(prefix + "/users/{user}", self.get_user)
        r.add_get(prefix + "/channels/{channel}", self.get_channel)
        r.add_post(prefix + "/channels/{channel}/messages", self.send_message)
        r.add_get(prefix + "/channels/{channel}/messages/{message}", self.get_message)
        r.add_patch(prefix + "/channels/{channel}/messages/{message}", self.edit_message)
        r.add_delete(prefix + "/channels/{channel}/messages/{message}", self.delete_message)
        r.add_post(prefix + "/channels/{channel}/typing", self.no_content)
        r.add_put(
            prefix + "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self.no_content
        )
        r.add_get(prefix + "/guilds/{guild}", self.get_guild)
        r.add_get(prefix + "/guilds/{guild}/channels", self.get_guild_channels)
        r.add_get(prefix + "/guilds/{guild}/roles", self.get_roles)
        r.add_get(prefix + "/guilds/{guild}/members", self.list_members)
        r.add_get(prefix + "/guilds/{guild}/members/{user}", self.get_member)
        r.add_put(prefix + "/guilds/{guild}/members/{user}/roles/{role}", self.add_role)
        r.add_delete(prefix + "/guilds/{guild}/members/{user}/roles/{role}", self.remove_role)

    # -- gateway / identity ------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway.base_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway.base_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(payloads.client_user(self.world.bot))

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(payloads.application(self.world))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(int(request.match_info["user"]))
        return json_response(payloads.user(user)) if user else unknown("User", 10013)

    async def open_dm(self, request: web.Request) -> web.Response:
        # Opening a DM works even when the user blocks DMs; sending is what fails.
        recipient = int((request[BODY] or {}).get("recipient_id", 0))
        if recipient not in self.world.users or recipient == self.world.bot.id:
            return discord_error(400, 50033, "Invalid Recipient(s)")
        channel = self.world.dm_channel(recipient)
        return json_response(payloads.channel(self.world, channel))

    async def no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    # -- channels and messages ---------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.world.channels.get(int(request.match_info["channel"]))
        return (
            json_response(payloads.channel(self.world, channel))
            if channel
            else unknown("Channel", 10003)
        )

    def _visible_message(self, request: web.Request):
        """The stored message, unless deleted, elsewhere, or ephemeral (not reachable here)."""
        message = self.world.messages.get(int(request.match_info["message"]))
        channel_id = int(request.match_info["channel"])
        if (
            message is None
            or message.deleted
            or message.channel_id != channel_id
            or message.ephemeral
        ):
            return None
        return message

    async def send_message(self, request: web.Request) -> web.Response:
        channel = self.world.channels.get(int(request.match_info["channel"]))
        if channel is None:
            return unknown("Channel", 10003)
        if channel.type == DM and not self.world.users[channel.recipient_id].dms_open:
            return discord_error(403, 50007, "Cannot send messages to this user")
        payload, files = request[BODY] or {}, request[FILES]
        code, problems = messages.payload_errors(payload, files, creating=True)
        if problems:
            return invalid_form(problems, code)
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            # Discord: a message with the same nonce from the same author in this channel, sent
            # a moment ago, is answered as is; no second message is created.
            for earlier in self.world.messages.values():
                if (earlier.channel_id == channel.id and earlier.author_id == self.world.bot.id
                        and earlier.nonce == str(nonce) and not earlier.deleted):
                    return json_response(payloads.message(self.world, earlier))
        message = messages.create(
            self.world,
            payload,
            files,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            source="channel",
        )
        message.nonce = None if nonce is None else str(nonce)
        self.world.store(message)
        await self.gateway.dispatch_message("MESSAGE_CREATE", message)
        return json_response(payloads.message(self.world, message))

    async def get_message(self, request: web.Request) -> web.Response:
        message = self._visible_message(request)
        return (
            json_response(payloads.message(self.world, message))
            if message
            else unknown("Message", 10008)
        )

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self._visible_message(request)
        if message is None:
            return unknown("Message", 10008)
        if message.author_id != self.world.bot.id:
            return discord_error(403, 50005, "Cannot edit a message authored by another user")
        payload, files = request[BODY] or {}, request[FILES]
        code, problems = messages.payload_errors(payload, files, creating=False)
        if problems:
            return invalid_form(problems, code)
        messages.edit(self.world, message, payload, files)
        self.world.notify()
        await self.gateway.dispatch_message("MESSAGE_UPDATE", message)
        return json_response(payloads.message(self.world, message))

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._visible_message(request)
        if message is None:
            return unknown("Message", 10008)
        message.deleted = True
        self.world.notify()
        await self.gateway.dispatch_message_delete(message)
        return web.Response(status=204)

    # -- guilds and members ------------------------------------------------------

    def _guild(self, request: web.Request):
        return self.world.guilds.get(int(request.match_info["guild"]))

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        data = payloads.guild_base(guild)
        if request.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        return json_response(
            [payloads.channel(self.world, self.world.channels[c]) for c in guild.channel_ids]
        )

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        return json_response([payloads.role(r) for r in guild.roles.values()])

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        limit = int(request.query.get("limit", 1))
        after = int(request.query.get("after", 0))
        members = sorted(
            (m for m in guild.members.values() if m.user_id > after), key=lambda m: m.user_id
        )
        return json_response([payloads.member(self.world, guild, m) for m in members[:limit]])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        member = guild.members.get(int(request.match_info["user"]))
        return (
            json_response(payloads.member(self.world, guild, member))
            if member
            else unknown("Member", 10007)
        )

    async def add_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=True)

    async def remove_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=False)

    async def _change_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return unknown("Guild", 10004)
        member = guild.members.get(int(request.match_info["user"]))
        if member is None:
            return unknown("Member", 10007)
        role_id = int(request.match_info["role"])
        if role_id not in guild.roles or role_id == guild.id:
            return unknown("Role", 10011)
        if add and role_id not in member.role_ids:
            member.role_ids.append(role_id)
        elif not add and role_id in member.role_ids:
            member.role_ids.remove(role_id)
        self.world.notify()
        data = {**payloads.member(self.world, guild, member), "guild_id": str(guild.id)}
        await self.gateway.dispatch(
            "GUILD_MEMBER_UPDATE", data, guild_id=guild.id, intent=GUILD_MEMBERS, required=False
        )
        return web.Response(status=204)
