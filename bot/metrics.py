"""This process's Prometheus metrics, in a registry of its own (served by bot/health.py).

Each bot process counts what it handled; a sharded deployment is scraped process by
process and summed in Prometheus. The bot installs a fresh ``BotMetrics`` when it is built
(``install``); the places that count reach it through ``active()``, so no call path has to
carry it. Nothing here ever sees the text of a message: labels are command names, flow
kinds, step names, languages and choices from fixed lists.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# Seconds from an interaction's arrival to its answer: Discord wants the first answer within 3 s
# (the bot defers at 2 s, bot/respond.py), so the buckets are fine around those.
ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0)
# Seconds from a refund request to the moderators' decision: minutes to a week.
DECISION_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400)
PREFIX = "supportbot_"

# A *_created series beside every counter doubles the output for a start time Prometheus
# does not need (it sees resets itself).
disable_created_metrics()


class BotMetrics:
    """The counters and histograms; the gauges read at scrape time are in bot/metrics_scrape.py."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # memory, CPU, open files of this process
        PlatformCollector(registry=r)
        self.interactions = Counter(
            PREFIX + "interactions", "Interactions answered, by command and outcome (ok, refused, error).",
            ["command", "outcome"], registry=r)
        self.answer_seconds = Histogram(
            PREFIX + "interaction_duration_seconds",
            "Seconds from an interaction's arrival to its answer being ready, by command.",
            ["command"], buckets=ANSWER_BUCKETS, registry=r)
        self.flows_started = Counter(PREFIX + "flows_started", "Flows started, by kind.", ["kind"], registry=r)
        self.flows_completed = Counter(
            PREFIX + "flows_completed", "Flows that reached their last screen, by kind and that screen's step.",
            ["kind", "end"], registry=r)
        self.flows_abandoned = Counter(
            PREFIX + "flows_abandoned",
            "Flows left unfinished, by kind and reason: closed (Never mind) or expired (a press after the timeout).",
            ["kind", "reason"], registry=r)
        self.cancellations = Counter(
            PREFIX + "cancellations", "Renewals cancelled through /cancel, by the reason chosen.",
            ["reason"], registry=r)
        self.save_offers_shown = Counter(PREFIX + "save_offers_shown", "Save offers shown in /cancel.", registry=r)
        self.save_offers_accepted = Counter(
            PREFIX + "save_offers_accepted", "Save offers taken (a switch to the cheaper plan).", registry=r)
        self.resumes = Counter(PREFIX + "resumes", "Auto-renewals resumed (or subscriptions restarted).", registry=r)
        self.refund_cases = Counter(
            PREFIX + "refund_cases", "Refund cases by event: opened, approved, denied.", ["event"], registry=r)
        self.refund_decision_seconds = Histogram(
            PREFIX + "refund_decision_seconds", "Seconds from a refund request to the moderators' decision.",
            buckets=DECISION_BUCKETS, registry=r)
        self.questions = Counter(
            PREFIX + "questions",
            "Chat messages addressed to the bot, by reply language and decision (answered, asked, menu, quiet).",
            ["language", "decision"], registry=r)
        self.http_errors = Counter(
            PREFIX + "discord_http_errors",
            "Failed HTTP requests to Discord (each attempt), by status; network for no answer.", ["status"], registry=r)

    # -- the flow engine's observer (flows/telemetry.py) -----------------------------------------

    def flow_event(self, event: str, kind: str, **labels: str) -> None:
        if event == "started":
            self.flows_started.labels(kind).inc()
        elif event == "completed":
            self.flows_completed.labels(kind, labels.get("end", "")).inc()
        elif event == "abandoned":
            self.flows_abandoned.labels(kind, labels.get("reason", "")).inc()
        elif event == "cancellation":
            self.cancellations.labels(labels.get("reason", "unknown")).inc()
        elif event == "save_offer_shown":
            self.save_offers_shown.inc()
        elif event == "save_offer_accepted":
            self.save_offers_accepted.inc()
        elif event == "resume":
            self.resumes.inc()
        elif event == "refund_case_opened":
            self.refund_cases.labels("opened").inc()

    # -- the bot's own events ----------------------------------------------------------------------

    def interaction(self, command: str, outcome: str, seconds: float) -> None:
        self.interactions.labels(command, outcome).inc()
        self.answer_seconds.labels(command).observe(seconds)

    def refund_decided(self, approved: bool, seconds: float) -> None:
        self.refund_cases.labels("approved" if approved else "denied").inc()
        self.refund_decision_seconds.observe(max(seconds, 0.0))

    def question(self, language: str, decision: str) -> None:
        self.questions.labels(language, decision).inc()

    def http_error(self, status: str) -> None:
        self.http_errors.labels(status).inc()


_active = BotMetrics()


def active() -> BotMetrics:
    """The metrics of the bot in this process (a spare one before any bot is built)."""
    return _active


def install(metrics: BotMetrics) -> BotMetrics:
    """Make ``metrics`` the process's: a bot built again (tests) starts counting from zero."""
    global _active
    _active = metrics
    return metrics
