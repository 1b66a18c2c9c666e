"""Every custom_id the bot puts on a component or a modal, and its parsed form.

A component's meaning lives in its custom_id, so a message keeps working on any process
and after any restart; these formats are therefore a promise to every message already
sent, and must not change:

    f:<flow id>:<step>:<action>    a flow's button or select, or its submitted form -> FlowControl
    m:<flow id>:<step>:<action>    a button that opens the step's form              -> FormOpener
    s:<kind>                       start a flow for whoever presses it              -> StartFlow
    q:<intent>:<lang>              a "Did you mean…?" or menu topic, in the
                                   language the question was asked in               -> Topic
    case:<case id>:<action>        approve | deny | close a moderators' case        -> CaseAction
    refund:<flow id>:retry         send the refund intake by DM again               -> RefundRetry
    p:ask | p:no                   /privacy's Forget me and Keep my data            -> PrivacyStep
    p:yes:<user id>:<nonce>        its confirmation (records in bot/privacy.py)     -> ForgetConfirmed

Each record parses its custom_id once (``from_match``: the dynamic items in
bot/components.py hand the result to their handler) and builds it (``custom_id``,
refusing anything its template would not route back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

_FLOW = r"(?P<flow_id>[0-9a-f]{32}):(?P<step>[a-z0-9_]{1,24}):(?P<action>[^:]{1,40})"


class Target:
    """What a custom_id names; subclasses are frozen dataclasses whose fields are the
    template's groups, in order."""

    TEMPLATE: ClassVar[re.Pattern[str]]
    FORMAT: ClassVar[str]

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(**match.groupdict())

    @classmethod
    def parse(cls, custom_id: str) -> Self | None:
        match = cls.TEMPLATE.fullmatch(custom_id)
        return cls.from_match(match) if match else None

    @property
    def custom_id(self) -> str:
        # The fields in order (a dataclass's __match_args__); astuple would deep-copy them,
        # on every component rendered.
        custom_id = self.FORMAT.format(*(getattr(self, name) for name in self.__match_args__))
        if not self.TEMPLATE.fullmatch(custom_id):
            raise ValueError(f"not a routable {type(self).__name__}: {custom_id!r}")
        return custom_id


@dataclass(frozen=True)
class FlowControl(Target):
    TEMPLATE = re.compile(r"f:" + _FLOW)
    FORMAT = "f:{}:{}:{}"
    flow_id: str
    step: str
    action: str


@dataclass(frozen=True)
class FormOpener(Target):
    TEMPLATE = re.compile(r"m:" + _FLOW)
    FORMAT = "m:{}:{}:{}"
    flow_id: str
    step: str
    action: str


@dataclass(frozen=True)
class StartFlow(Target):
    TEMPLATE = re.compile(r"s:(?P<kind>[a-z_]+)")
    FORMAT = "s:{}"
    kind: str


@dataclass(frozen=True)
class Topic(Target):
    TEMPLATE = re.compile(r"q:(?P<intent>[a-z_]{1,30}):(?P<lang>[a-z]{2})")
    FORMAT = "q:{}:{}"
    intent: str
    lang: str


@dataclass(frozen=True)
class CaseAction(Target):
    TEMPLATE = re.compile(r"case:(?P<case_id>[0-9a-f]{32}):(?P<action>approve|deny|close)")
    FORMAT = "case:{}:{}"
    case_id: str
    action: str


@dataclass(frozen=True)
class RefundRetry(Target):
    TEMPLATE = re.compile(r"refund:(?P<flow_id>[0-9a-f]{32}):retry")
    FORMAT = "refund:{}:retry"
    flow_id: str


# What a submitted modal can be: a flow's form, or a case's reason form.
MODAL_TARGETS: tuple[type[Target], ...] = (FlowControl, CaseAction)


def parse_modal(custom_id: str) -> Target | None:
    """The target of a submitted modal; None when the modal is not ours."""
    for record in MODAL_TARGETS:
        if (found := record.parse(custom_id)) is not None:
            return found
    return None
