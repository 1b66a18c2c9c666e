"""The counting points: each central place calls one function here, which counts in this
process's metrics (bot/metrics.py) and, for interactions and flow endings, logs one line with
structured fields (bot/json_logs.py shows them as JSON keys).

- ``counted`` (``interaction_answered``): bot/respond.in_time, the path every interaction's work takes.
- ``FlowEvents``: the flow engine's observer (flows/telemetry.py).
- ``question_decided``: bot/support_channel.py, once the question model has decided.
- ``case_decided``: bot/cases.CaseBoard.decide, the one place moderators' decisions pass.
- ``discord_http_trace``: every HTTP request discord.py makes (its ``http_trace`` option).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import discord

from bot.deadline import time_left
from bot.metrics import active
from core.errors import CoreError
from flows.engine import Screen

log = logging.getLogger(__name__)
T = TypeVar("T")


def _screen_in(result) -> Screen | None:
    """The flow screen an interaction's work produced: the result itself, or in a (language, screen) pair."""
    if isinstance(result, Screen):
        return result
    if isinstance(result, tuple):
        return next((item for item in result if isinstance(item, Screen)), None)
    return None


def command_label(interaction: discord.Interaction, screen: Screen | None) -> str:
    """``/cancel``, ``/admin decide``; for a press or a submitted form the flow kind it went to
    (``press:cancel``, ``form:refund``) when known. Bounded: names and kinds from the code."""
    command = interaction.command
    if command is not None:
        return "/" + command.qualified_name
    what = "form" if interaction.type is discord.InteractionType.modal_submit else "press"
    return f"{what}:{screen.kind}" if screen is not None else what


def arrival() -> float:
    """When the interaction in hand reached the bot (bot/deadline.py marks it), on the event
    loop's clock; now when it was not marked."""
    return asyncio.get_running_loop().time() + time_left(0.0)  # time_left(0) = arrival - now


def interaction_answered(interaction: discord.Interaction, started: float, result=None,
                         error: BaseException | None = None) -> None:
    """The answer for ``interaction`` is ready (``started``: its ``arrival()``): ok, refused
    (a notice such as "not yours" or "expired", or a core refusal) or error."""
    if isinstance(error, asyncio.CancelledError):
        return  # the bot is stopping: no answer was due from us
    seconds = asyncio.get_running_loop().time() - started
    screen = _screen_in(result)
    if error is not None:
        outcome = "refused" if isinstance(error, CoreError) else "error"
    else:
        outcome = "refused" if screen is not None and screen.notice else "ok"
    command = command_label(interaction, screen)
    active().interaction(command, outcome, seconds)
    ms = round(seconds * 1000)
    log.info("interaction %s %s: %s in %d ms", interaction.id, command, outcome, ms,
             extra={"command": command, "flow": screen.kind if screen else None, "outcome": outcome,
                    "duration_ms": ms})


async def counted(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """``work`` awaited, its outcome and the time since the interaction arrived counted."""
    started = arrival()
    try:
        result = await work
    except BaseException as exc:
        interaction_answered(interaction, started, error=exc)
        raise
    interaction_answered(interaction, started, result)
    return result


class FlowEvents:
    """The flow engine's observer: counts each event; logs how each flow ended."""

    def flow_event(self, event: str, kind: str, **labels: str) -> None:
        active().flow_event(event, kind, **labels)
        if event in ("completed", "abandoned"):
            detail = labels.get("end") or labels.get("reason", "")
            log.info("flow %s %s (%s)", kind, event, detail, extra={"flow": kind, "outcome": event})


def question_decided(language: str, decision_kind: str, spoken_to: bool) -> None:
    """The question model's decision on a message addressed to the bot: answered, asked
    ("Did you mean…?"), menu (nothing recognised, but the bot was spoken to) or quiet."""
    if decision_kind == "answer":
        decision = "answered"
    elif decision_kind == "ask":
        decision = "asked"
    else:
        decision = "menu" if spoken_to else "quiet"
    active().question(language, decision)


def case_decided(case) -> None:
    """A moderator's decision on a case (core.views.Case); refund cases are counted."""
    if case.kind != "refund" or case.status not in ("approved", "denied") or case.decided_at is None:
        return
    active().refund_decided(case.status == "approved", (case.decided_at - case.created_at).total_seconds())


async def _on_request_end(session, context, params: aiohttp.TraceRequestEndParams) -> None:
    if params.response.status >= 400:
        active().http_error(str(params.response.status))


async def _on_request_exception(session, context, params: aiohttp.TraceRequestExceptionParams) -> None:
    if not isinstance(params.exception, asyncio.CancelledError):  # cancelled by a shutdown, not a failure
        active().http_error("network")


def discord_http_trace() -> aiohttp.TraceConfig:
    """Counts discord.py's failed requests by status, each attempt (its own retries of a 429
    or a 5xx included), and those that got no answer at all."""
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    trace.on_request_exception.append(_on_request_exception)
    return trace
