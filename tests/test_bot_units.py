"""The adapter's small pieces that need no Discord: rate limit, custom ids, command translations."""

from __future__ import annotations

import discord
import pytest
from discord.app_commands import TranslationContext, TranslationContextLocation, locale_str

import locales
from bot.client import intents_for
from bot.custom_ids import (
    CaseAction,
    FlowControl,
    FormOpener,
    RefundRetry,
    StartFlow,
    Topic,
    parse_modal,
)
from bot.render import build_modal, render_reply, submitted_fields
from bot.settings import Settings
from bot.support_channel import RateLimit
from bot.translator import CatalogTranslator
from flows.replies import Button, Field, Form, M, Option, Reply, Select

FLOW = "0123456789abcdef0123456789abcdef"


def _flow_id(flow_id: str, step: str, action: str) -> str:
    return FlowControl(flow_id, step, action).custom_id


def test_rate_limit_counts_per_user_within_the_window():
    limit = RateLimit(limit=3, window=60)
    assert [limit.allow(1, now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limit.allow(2, now=3)  # another user has their own budget
    assert limit.allow(1, now=60.5)  # the first answer left the window
    assert not limit.allow(1, now=60.6)  # answers at 1, 2 and 60.5 fill it again


def test_custom_ids_fit_the_templates_and_refuse_what_cannot_route():
    assert FlowControl.TEMPLATE.fullmatch(_flow_id(FLOW, "reason", "reason"))
    assert len(_flow_id(FLOW, "s" * 24, "a" * 40)) <= 100
    assert FormOpener(FLOW, "comment", "comment").custom_id == f"m:{FLOW}:comment:comment"
    assert StartFlow("scheduled_change").custom_id == "s:scheduled_change"
    with pytest.raises(ValueError):
        _flow_id(
            FLOW, "step", "start:cancel"
        )  # a start action is an s: button, not a flow event
    with pytest.raises(ValueError):
        _flow_id("not-a-flow-id", "step", "go")


def test_custom_ids_of_messages_already_sent_parse_into_their_targets():
    """The formats are a promise to every message the bot ever sent."""
    sent = {
        f"f:{FLOW}:reason:too_expensive": FlowControl(FLOW, "reason", "too_expensive"),
        f"m:{FLOW}:comment:comment": FormOpener(FLOW, "comment", "comment"),
        "s:cancel": StartFlow("cancel"),
        "q:billing_date:fa": Topic("billing_date", "fa"),
        f"case:{FLOW}:approve": CaseAction(FLOW, "approve"),
        f"refund:{FLOW}:retry": RefundRetry(FLOW),
    }
    for custom_id, target in sent.items():
        assert type(target).parse(custom_id) == target and target.custom_id == custom_id
    assert parse_modal(f"f:{FLOW}:comment:comment") == FlowControl(FLOW, "comment", "comment")
    assert parse_modal(f"case:{FLOW}:deny") == CaseAction(FLOW, "deny")
    assert parse_modal("feedback:text") is None  # not ours


async def test_reply_becomes_components_with_routable_ids():
    reply = Reply(
        (M("Why are you cancelling?"),),
        buttons=(Button(M("Skip"), "skip"), Button(M("Resume"), "start:resume", "primary")),
        select=Select(M("Choose a reason"), "reason", (Option(M("Other"), "other"),)),
        form=Form(M("Add a comment"), "comment", (Field("comment", M("Comment"), 1000),)),
    )
    rendered = render_reply(reply, FLOW, "comment")
    ids = [item.custom_id for item in rendered.view.children]
    assert ids == [  # the choice, then the form's button, then the reply's own buttons
        f"f:{FLOW}:comment:reason",
        f"m:{FLOW}:comment:comment",
        f"f:{FLOW}:comment:skip",
        "s:resume",
    ]
    assert rendered.content == "Why are you cancelling?"
    with pytest.raises(ValueError):  # a flow button without a flow has nowhere to go
        render_reply(Reply((M("x"),), buttons=(Button(M("Skip"), "skip"),)), None, "answer")


def test_modal_fields_are_read_from_labels_and_rows():
    data = {"custom_id": "x", "components": [
        {"type": 18, "component": {"type": 4, "custom_id": "comment", "value": "hi"}},
        {"type": 1, "components": [{"type": 4, "custom_id": "other", "value": ""}]},
    ]}  # fmt: skip
    assert submitted_fields(data) == {"comment": "hi", "other": ""}


def test_message_content_intent_only_with_support_channels():
    quiet = intents_for(Settings())
    assert quiet.guilds and quiet.guild_messages and quiet.dm_messages
    assert not quiet.message_content and not quiet.members and not quiet.presences
    assert intents_for(Settings(support_channel_ids=(1,))).message_content


@pytest.mark.parametrize(
    ("location", "translated", "expected"),
    [
        (TranslationContextLocation.command_name, "Kündigen", "kündigen"),
        (TranslationContextLocation.command_name, "Abo kündigen", None),  # a name is one word
        (
            TranslationContextLocation.command_description,
            "Verlängerung beenden",
            "Verlängerung beenden",
        ),
        (TranslationContextLocation.command_description, "x" * 101, None),  # Discord's limit is 100
    ],
)
async def test_translator_keeps_only_what_discord_accepts(
    monkeypatch, location, translated, expected
):
    monkeypatch.setattr(
        locales, "render", lambda msg, lang: translated if lang == "de" else msg.msgid
    )
    context = TranslationContext(location, None)
    translator = CatalogTranslator()
    assert (
        await translator.translate(locale_str("cancel"), discord.Locale.german, context) == expected
    )
    assert (
        await translator.translate(locale_str("cancel"), discord.Locale.japanese, context) is None
    )
    assert (
        await translator.translate(locale_str("cancel"), discord.Locale.american_english, context)
        is None
    )


async def test_flow_modals_are_not_kept_in_memory():
    """discord.py keeps an unfinished modal until it is submitted, which a user may never do;
    ours are finished when sent, and their submission is routed by custom_id (on_interaction)."""
    form = Form(
        M("Add a comment"), "comment", (Field("comment", M("Comment"), 5000, required=False),)
    )
    modal = build_modal(form, FLOW, "comment")
    assert modal.is_finished() and modal.custom_id == f"f:{FLOW}:comment:comment"
    [label] = modal.to_dict()["components"]
    assert label["component"]["custom_id"] == "comment" and label["component"]["max_length"] == 4000
