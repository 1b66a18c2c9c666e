"""A flow's Reply as a Discord message: text in the bound language, components that route back.

Every component carries its meaning in its custom_id (see ``bot.custom_ids``), so a
message keeps working after a restart and on any process: nothing about it is kept in
memory. Texts are cut to Discord's limits here, once, so a long translation costs a few
characters instead of a rejected message.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

import locales
from bot.components import FlowItem, FormButton, StartButton, TopicButton
from bot.custom_ids import FlowControl, FormOpener, StartFlow, Target, Topic
from flows.replies import Button, Form, Msg, Reply

# Discord's limits (message content, button label, select texts, modal texts).
CONTENT_MAX = 2000
BUTTON_LABEL_MAX = 80
OPTION_TEXT_MAX = 100
PLACEHOLDER_MAX = 150
MODAL_TITLE_MAX = 45
FIELD_LABEL_MAX = 45
FIELD_PLACEHOLDER_MAX = 100
FIELD_LENGTH_MAX = 4000

START_PREFIX = "start:"
ANSWER_PREFIX = "answer:"
STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}

# Every message the bot sends goes out with this: nothing a user typed, echoed back in a
# plan name, a comment or a support answer, may ping @everyone, @here, a role or a user.
NO_MENTIONS = discord.AllowedMentions.none()


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(msg: Msg) -> str:
    """One Msg in the language bound for this event."""
    return locales.render(msg)


def content_of(reply: Reply) -> str:
    return cut("\n".join(text(line) for line in reply.lines), CONTENT_MAX)


@dataclass(frozen=True)
class Rendered:
    content: str
    view: discord.ui.View | None  # None: the message has no controls (an edit removes old ones)


def render_reply(reply: Reply, flow_id: str | None, step: str) -> Rendered:
    """The message for a flow's screen; ``flow_id`` None for one-shot answers."""
    items: list[discord.ui.Item] = []
    form_shown = False
    for button in reply.buttons:
        is_form = reply.form is not None and button.action == reply.form.action
        form_shown = form_shown or is_form
        items.append(_button(button, flow_id, step, opens_form=is_form))
    if reply.form is not None and not form_shown:
        # No button names the form: offer one labelled with the form's title, first in line.
        items.insert(
            0,
            _button(
                Button(reply.form.title, reply.form.action, "primary"),
                flow_id,
                step,
                opens_form=True,
            ),
        )
    if reply.select is not None:
        if flow_id is None:
            raise ValueError("a select needs a stored flow to route its choice to")
        select = discord.ui.Select(
            custom_id=FlowControl(flow_id, step, reply.select.action).custom_id,
            placeholder=cut(text(reply.select.placeholder), PLACEHOLDER_MAX),
            options=[
                discord.SelectOption(
                    label=cut(text(option.label), OPTION_TEXT_MAX),
                    value=option.value,
                    description=cut(text(option.description), OPTION_TEXT_MAX)
                    if option.description
                    else None,
                )
                for option in reply.select.options
            ],
        )
        items.insert(0, FlowItem(select))  # the choice first, the buttons under it
    if not items:
        return Rendered(content_of(reply), None)
    return Rendered(content_of(reply), carrier_view(items))


def carrier_view(items) -> discord.ui.View:
    """A View that only carries components: every bot message's buttons are built here.

    Clicks arrive through the registered dynamic items, never through this object. It is
    stopped before it is sent, so discord.py does not keep it: an ephemeral reply's view
    would otherwise live 15 minutes (a timer task each), and memory would grow with every
    reply (tests/test_memory_views.py).
    """
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def _button(button: Button, flow_id: str | None, step: str, *, opens_form: bool) -> discord.ui.Item:
    label = cut(text(button.label), BUTTON_LABEL_MAX)
    style = STYLES.get(button.style, discord.ButtonStyle.secondary)
    if button.action.startswith(START_PREFIX):
        start = StartFlow(button.action.removeprefix(START_PREFIX))
        return StartButton(_plain(label, style, start), start)
    if button.action.startswith(ANSWER_PREFIX):
        topic = Topic(button.action.removeprefix(ANSWER_PREFIX), locales.current_language())
        return TopicButton(_plain(label, style, topic), topic)
    if flow_id is None:
        raise ValueError(
            f"button {button.action!r} needs a stored flow; only start: and answer: work without one"
        )
    if opens_form:
        opener = FormOpener(flow_id, step, button.action)
        return FormButton(_plain(label, style, opener), opener)
    control = FlowControl(flow_id, step, button.action)
    return FlowItem(_plain(label, style, control), control)


def _plain(label: str, style: discord.ButtonStyle, target: Target) -> discord.ui.Button:
    return discord.ui.Button(label=label, style=style, custom_id=target.custom_id)


def build_modal(form: Form, flow_id: str, step: str) -> discord.ui.Modal:
    """The Discord modal for a form; its submission comes back as ``f:`` + the form's action."""
    modal = discord.ui.Modal(
        title=cut(text(form.title), MODAL_TITLE_MAX),
        custom_id=FlowControl(flow_id, step, form.action).custom_id,
    )
    for field in form.fields:
        modal.add_item(
            discord.ui.Label(
                text=cut(text(field.label), FIELD_LABEL_MAX),
                component=discord.ui.TextInput(
                    custom_id=field.name,
                    style=discord.TextStyle.paragraph if field.long else discord.TextStyle.short,
                    required=field.required,
                    max_length=min(field.max_length, FIELD_LENGTH_MAX),
                    placeholder=cut(text(field.placeholder), FIELD_PLACEHOLDER_MAX)
                    if field.placeholder
                    else None,
                ),
            )
        )
    # A stopped modal is not kept by discord.py: its submission then reaches
    # SupportBot.on_interaction in whichever process gets it, before or after a restart.
    modal.stop()
    return modal


def submitted_fields(data: dict) -> dict[str, str]:
    """{custom_id: value} from a MODAL_SUBMIT's components (labels or legacy action rows)."""
    found: dict[str, str] = {}

    def walk(components: list[dict]) -> None:
        for component in components:
            if "custom_id" in component and "value" in component:
                found[component["custom_id"]] = component["value"] or ""
            walk(component.get("components") or [])
            if isinstance(component.get("component"), dict):
                walk([component["component"]])

    walk(data.get("components") or [])
    return found
