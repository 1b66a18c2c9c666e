"""The parts a handler needs, wired once per client and reached by type.

``SupportBot`` (bot/client.py) builds one ``Services`` and keeps it as ``services``; a
command, a component or a modal reaches it through ``services(interaction)``, so the
handlers name their parts with their types instead of guessing at client attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.bootstrap import App
    from bot.cases import CaseBoard
    from bot.flow_ui import FlowUI
    from bot.language import LanguagePicker
    from bot.refunds import RefundDesk


@dataclass(frozen=True)
class Services:
    app: App
    picker: LanguagePicker  # the one per client: every reply's language is chosen by it
    flow_ui: FlowUI  # flows: commands, their buttons, selects and forms
    refunds: RefundDesk  # /refund, refund questions and the Retry button
    case_board: CaseBoard  # the moderators' case buttons and reason forms


def services(source: discord.Interaction | discord.Client) -> Services:
    """The services of the client an interaction came to (or of that client itself)."""
    client = source.client if isinstance(source, discord.Interaction) else source
    found = getattr(client, "services", None)
    if not isinstance(found, Services):
        raise TypeError(f"{type(client).__name__} carries no bot services")
    return found
