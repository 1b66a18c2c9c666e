"""Fault injection: answer matching REST requests with an error a set number of times."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from aiohttp import web

from .httputil import json_response


@dataclass
class Fault:
    method: str  # "POST", or "*" for any
    path: str  # glob on the path below /api/v10, e.g. "/channels/*/messages"
    status: int
    times: int  # how many more requests to fail
    retry_after: float = 0.05  # 429 only
    is_global: bool = False  # 429 only
    code: int = 0
    message: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0 and self.method in ("*", method) and fnmatch.fnmatchcase(path, self.path)
        )

    def response(self) -> web.Response:
        if self.status == 429:
            # discord.py only trusts a 429 that came through Discord's proxy (a Via header)
            # and carries retry_after in a JSON body; anything else looks like a Cloudflare ban.
            body = {
                "message": self.message or "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
                "code": self.code,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(self.retry_after))),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            return json_response(body, status=429, headers=headers)
        body = {"message": self.message or f"{self.status}: injected fault", "code": self.code}
        return json_response(body, status=self.status)


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault for this request, used up by one."""
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()
