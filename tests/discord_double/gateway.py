"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME,
member chunk requests, and routing dispatches to the session that owns a guild's shard.

Transport compression: discord.py 2.7.1 asks for ``compress=zlib-stream`` unless a zstd
module is importable (then ``zstd-stream``). zlib-stream is implemented (one shared
deflate stream per connection, each message ending in a Z_SYNC_FLUSH, as Discord does).
For any other value the double sends plain text frames, which discord.py accepts too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads
from .state import Message, World

# Gateway intents the double honours when deciding what a session may receive.
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15


class BotNotConnected(RuntimeError):
    """No gateway session exists for the shard that should receive an event."""


class _Connection:
    """One websocket; owns its compressor because a new socket means a new zlib stream.
    The lock keeps frames in sequence order when several tasks dispatch at once."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if compress == "zlib-stream" else None
        self.lock = asyncio.Lock()

    async def send(self, *packets: dict) -> None:
        async with self.lock:
            for packet in packets:
                text = json.dumps(packet, separators=(",", ":"), ensure_ascii=False)
                if self.compressor is None:
                    await self.ws.send_str(text)
                else:
                    data = self.compressor.compress(text.encode())
                    await self.ws.send_bytes(data + self.compressor.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class Session:
    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    sent: list[dict] = field(default_factory=list)  # every dispatch, replayed on RESUME
    conn: _Connection | None = None
    ready: bool = False  # READY and all GUILD_CREATEs were sent
    replayed: int = 0  # dispatches re-sent on RESUME

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.conn.ws.closed

    def wants(self, intent: int) -> bool:
        return bool(self.intents & intent)


class Gateway:
    def __init__(self, world: World, *, heartbeat_interval_ms: int) -> None:
        self.world = world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.base_url = ""  # ws://127.0.0.1:PORT, set once the server has a port
        self.sessions: dict[str, Session] = {}
        # Per socket: path, query, "identify"/"resume", close code; and every (op, d) received.
        self.connections: list[dict[str, Any]] = []
        self.received: list[tuple[int, Any]] = []

    # -- websocket handler -----------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, request.query.get("compress"))
        record = {
            "path": request.path,
            "query": dict(request.query),
            "op": None,
            "close_code": None,
        }
        self.connections.append(record)
        session: Session | None = None
        await conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                packet = json.loads(msg.data)
                op, data = packet.get("op"), packet.get("d")
                self.received.append((op, data))
                if op == 1:
                    await conn.send({"op": 11})
                elif op == 2:
                    record["op"] = "identify"
                    session = await self._identify(conn, data)
                elif op == 6:
                    record["op"] = "resume"
                    session = await self._resume(conn, data)
                elif op == 8 and session is not None:
                    await self._send_member_chunk(session, data)
                # op 3 (presence) and op 4 (voice) are only recorded.
        finally:
            record["close_code"] = ws.close_code
            if session is not None and session.conn is conn:
                session.conn = None
            self.world.notify()
        return ws

    async def _identify(self, conn: _Connection, data: dict) -> Session | None:
        if data.get("token") != self.world.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, shard_count = data.get("shard") or [0, 1]
        if not 0 <= shard_id < shard_count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return None
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        session = Session(
            id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            intents=int(data["intents"]),
            conn=conn,
        )
        self.sessions[session.id] = session
        guilds = [
            g for g in self.world.guilds.values() if self.shard_of(g.id, shard_count) == shard_id
        ]
        await self._dispatch_to(
            session,
            "READY",
            {
                "v": 10,
                "user": payloads.client_user(self.world.bot),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": f"{self.base_url}/resume",
                "shard": [shard_id, shard_count],
                "application": {"id": str(self.world.app_id), "flags": payloads.APPLICATION_FLAGS},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "auth": {},
                "user_settings": {},
            },
        )
        for guild in guilds:
            data = payloads.guild_create(
                self.world, guild, all_members=session.wants(GUILD_MEMBERS)
            )
            await self._dispatch_to(session, "GUILD_CREATE", data)
        session.ready = True
        self.world.notify()
        return session

    async def _resume(self, conn: _Connection, data: dict) -> Session | None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.world.token:
            await conn.send({"op": 9, "d": False})  # not resumable: the client re-identifies
            return None
        if session.live:
            await session.conn.ws.close(code=4000)
        # Snapshot before attaching: events dispatched from now on are sent by their own
        # tasks, queued behind the replay on the connection's lock.
        missed = [p for p in session.sent if p["s"] > (data.get("seq") or 0)]
        session.conn = conn
        session.replayed += len(missed)
        await conn.send(*missed)
        await self._dispatch_to(session, "RESUMED", {})
        self.world.notify()
        return session

    async def _send_member_chunk(self, session: Session, data: dict) -> None:
        guild = self.world.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        wanted = {int(uid) for uid in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        limit = data.get("limit") or len(guild.members)
        found = [
            m
            for m in guild.members.values()
            if (not wanted or m.user_id in wanted)
            and self.world.users[m.user_id].name.lower().startswith(query)
        ][:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": [payloads.member(self.world, guild, m) for m in found],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(uid) for uid in wanted - {m.user_id for m in found}],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- dispatching -------------------------------------------------------------

    @staticmethod
    def shard_of(guild_id: int | None, shard_count: int) -> int:
        # Discord's formula; DMs always go to shard 0.
        return 0 if guild_id is None else (guild_id >> 22) % shard_count

    def session_for(self, guild_id: int | None) -> Session:
        """The newest live session owning this guild's shard, else the newest resumable one."""
        owners = [
            s
            for s in self.sessions.values()
            if s.shard_id == self.shard_of(guild_id, s.shard_count)
        ]
        live = [s for s in owners if s.live]
        if live:
            return live[-1]
        if owners:
            return owners[-1]
        raise BotNotConnected(f"no bot session for guild {guild_id}; did the bot connect?")

    async def _dispatch_to(self, session: Session, event: str, data: dict) -> None:
        session.seq += 1
        packet = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(packet)
        if session.live:
            try:
                await session.conn.send(packet)
            except ConnectionError:
                session.conn = None  # kept in `sent`, delivered if the bot resumes

    async def dispatch(
        self,
        event: str,
        data: dict,
        *,
        guild_id: int | None,
        intent: int | None = None,
        required: bool = True,
    ) -> Session | None:
        """Send an event to the owning session; None if its intents exclude the event.

        With ``required`` a missing session raises BotNotConnected (a test is waiting on
        the bot); otherwise the event is dropped, as Discord drops it for offline bots."""
        try:
            session = self.session_for(guild_id)
        except BotNotConnected:
            if required:
                raise
            return None
        if intent is not None and not session.wants(intent):
            return None
        await self._dispatch_to(session, event, data)
        return session

    async def dispatch_message(
        self, event: str, message: Message, *, required: bool = False
    ) -> None:
        """MESSAGE_CREATE/UPDATE, with content hidden as Discord hides it without the
        MESSAGE_CONTENT intent (except in DMs, for the bot's own messages, or mentions)."""
        if message.ephemeral:
            return  # ephemeral messages never reach the gateway
        intent = DIRECT_MESSAGES if message.guild_id is None else GUILD_MESSAGES
        try:
            session = self.session_for(message.guild_id)
        except BotNotConnected:
            if required:
                raise
            return  # nobody to tell; REST callers still get their answer
        if not session.wants(intent):
            return
        data = payloads.message_event(self.world, message)
        content_visible = (
            session.wants(MESSAGE_CONTENT)
            or message.guild_id is None
            or message.author_id == self.world.bot.id
            or self.world.bot.id in message.mention_ids
        )
        if not content_visible:
            data.update(content="", embeds=[], attachments=[], components=[])
        await self._dispatch_to(session, event, data)

    async def dispatch_message_delete(self, message: Message) -> None:
        if message.ephemeral:
            return
        data = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        intent = DIRECT_MESSAGES if message.guild_id is None else GUILD_MESSAGES
        await self.dispatch(
            "MESSAGE_DELETE", data, guild_id=message.guild_id, intent=intent, required=False
        )

    # -- test controls ------------------------------------------------------------

    def ready_shards(self) -> set[int] | None:
        """Shard ids with a live, ready session, or None if no session ever identified."""
        if not self.sessions:
            return None
        return {s.shard_id for s in self.sessions.values() if s.live and s.ready}

    def expected_shards(self) -> set[int]:
        counts = {s.shard_count for s in self.sessions.values()}
        return set(range(max(counts))) if counts else {0}

    async def drop(self, shard_id: int | None = None, code: int = 4000) -> int:
        """Close live sockets (all, or one shard's) as if the network broke. Returns count."""
        dropped = 0
        for session in list(self.sessions.values()):
            if session.live and shard_id in (None, session.shard_id):
                await session.conn.ws.close(code=code)
                session.conn = None
                dropped += 1
        self.world.notify()
        return dropped

    async def close(self) -> None:
        for session in self.sessions.values():
            if session.live:
                await session.conn.ws.close(code=1001)
