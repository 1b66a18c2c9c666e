"""Round trips to PostgreSQL, counted on the wire.

``WireCounter`` is a TCP relay between the client and the server. It reads the client's
side of the protocol and counts the messages that end a request the client then waits
on: a simple ``Query`` ('Q'), a ``Sync`` ('S', which closes an extended-protocol
Bind/Execute), and a ``Flush`` ('H', which closes the Parse/Describe of a statement the
driver prepares). So the count is the number of round trips, whatever the driver does
underneath (prepares, BEGIN and COMMIT, the pool's reset on release).

The relay reads plain traffic only: ``url`` turns TLS off between the client and the relay.
"""

from __future__ import annotations

import asyncio
import struct
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
REQUEST_ENDS = (b"Q", b"S", b"H")


class WireCounter:
    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.round_trips = 0

    async def start(self) -> WireCounter:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        """The target URL pointed at the relay, TLS off."""
        port = self._server.sockets[0].getsockname()[1]
        user = self._parts.username or ""
        auth = f"{user}:{self._parts.password}@" if self._parts.password else (f"{user}@" if user else "")
        query = dict(parse_qsl(self._parts.query))
        query["sslmode"] = "disable"
        return urlunsplit(self._parts._replace(netloc=f"{auth}127.0.0.1:{port}", query=urlencode(query)))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        upstream = asyncio.create_task(self._client_to_server(client_reader, server_writer))
        downstream = asyncio.create_task(_pipe(server_reader, client_writer))
        self._tasks |= {upstream, downstream}
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            client_writer.close()
            server_writer.close()
            self._tasks -= {upstream, downstream}

    async def _client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Startup: untyped messages (length, code) until the StartupMessage itself.
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            body = await reader.readexactly(length - 8)
            writer.write(head + body)
            await writer.drain()
            if code not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        # Then typed messages: one type byte, a length that counts itself, the body.
        while True:
            kind = await reader.readexactly(1)
            size = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack("!i", size)[0] - 4)
            if kind in REQUEST_ENDS:
                self.round_trips += 1
            writer.write(kind + size + body)
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
