"""The keyword lexicon (the baseline the question model is measured against, and one of its
candidate features): accuracy on the sets it was written with, quiet on chat, the key facts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locales import SUPPORTED, recognise_intent
from locales.intents import INTENTS
from locales.measure import DATA_DIR, load_intent_samples, measure

# Each set was first measured before the rules had seen it; data/README.md
# records those first-run figures (the honest estimate for new phrasings).
SETS = {
    "lexicon_samples.tsv": 0.90,  # written first; the lexicon was built on it
    "lexicon_holdout.tsv": 0.90,  # first run: 65.5%
    "lexicon_unseen.tsv": 0.90,  # first run: 66.9%
    "lexicon_fresh.tsv": 0.90,  # first run: 77.0%
}


@pytest.fixture(scope="module", params=sorted(SETS))
def named_report(request) -> tuple[str, dict]:
    return request.param, measure(load_intent_samples(DATA_DIR / "train" / request.param))["intent"]


def test_accuracy_and_quiet_on_chat(named_report: tuple[str, dict]) -> None:
    name, report = named_report
    assert report["accuracy"] >= SETS[name], (report["accuracy"], report["errors"][:20])
    assert report["none_precision"] >= 0.95
    # The bot answers unprompted: it must stay quiet on ordinary chat.
    assert report["none_recall"] >= 0.95


def test_persian_on_an_arabic_keyboard_asks_about_missing_credits() -> None:
    assert recognise_intent("ميخوام بدونم چرا اكانت من شارژ رايگان نميشه؟") == "credits_missing"
    assert (
        recognise_intent("ميخوام بدونم چرا اكانت من شارژ رايگان نميشه؟", "fa") == "credits_missing"
    )


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I was charged before I cancelled, I want my money back", "refund"),
        ("I cancelled by mistake, how do I turn renewal back on?", "resume"),
        ("what happens to my credits if I cancel?", "after_cancel"),
        ("can I make a second account on my phone?", "device_limit"),
        ("do bought credits expire?", "topup_expiry"),
        ("quero passar do pro pro plus", "downgrade"),  # Brazilian "pro" = "para o"
        ("como faço pra mudar pro plano pro", "upgrade"),
        ("хочу с pro на plus", "downgrade"),
        ("how do i cancel, i dont want to be charged next month", "cancel"),
        ("CANCELLLL my subbb plssss", "cancel"),  # stretched letters
        ("créditos gratis por dia?", "free_credits"),
        ("creditos gratis por dia?", "free_credits"),  # without accents
    ],
)
def test_overlaps_resolve_the_way_a_person_would(text: str, intent: str) -> None:
    assert recognise_intent(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "lol nice image",
        "anyone playing tonight?",
        "thanks!",
        "hello",
        "سلام",
        "مرسی",
        "the pro model is insane for landscapes",
        "does anyone know a good upscaler",
        "just bought a new gpu lol",
        "",
        "   ",
        "🎉🎉",
        "<@123456789> gg",
    ],
)
def test_ordinary_chat_is_none(text: str) -> None:
    assert recognise_intent(text) == "none"


def test_the_language_hint_does_not_lose_a_question_in_another_language() -> None:
    assert recognise_intent("wie kündige ich mein abo?", "fr") == "cancel"


def test_every_rule_concept_speaks_every_language() -> None:
    data = tomllib.loads(
        (Path(__file__).resolve().parents[1] / "locales/data/intents.toml").read_text("utf-8")
    )
    used = {c for rule in data["rules"] for c in rule["all"]}
    for concept in used:
        langs = set(data["concepts"][concept])
        assert langs == set(SUPPORTED) or langs == {"all"}, (concept, set(SUPPORTED) - langs)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.sampled_from([None, *SUPPORTED]))
def test_any_text_gets_a_known_intent(text: str, lang: str | None) -> None:
    assert recognise_intent(text, lang) in INTENTS


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"), ("Hello there!", "greeting"), ("hi, how are you?", "greeting"),
        ("thanks", "thanks"), ("ok thanks!", "thanks"), ("thank you 🙏", "thanks"), ("hi, thanks", "thanks"),
        ("سلام", "greeting"), ("سلام خوبی؟", "greeting"), ("مرسی", "thanks"), ("خیلی ممنون", "thanks"),
        ("salam", "greeting"), ("mamnoon", "thanks"),
        ("مرحبا", "greeting"), ("السلام عليكم", "greeting"), ("شكرا جزيلا", "thanks"),
        ("¡Hola!", "greeting"), ("muchas gracias", "thanks"), ("Merhaba", "greeting"), ("teşekkürler", "thanks"),
        ("Привет", "greeting"), ("Спасибо большое!", "thanks"), ("Guten Morgen", "greeting"), ("Danke schön", "thanks"),
        ("Bonjour", "greeting"), ("merci beaucoup", "thanks"), ("Olá", "greeting"), ("obrigada!", "thanks"),
        # Not small talk: left to the question model (an answer, or the menu).
        ("hi, I was charged twice", None), ("thanks but it still doesn't work", None), ("ok", None),
        ("-1", None), ("", None), ("how do I cancel?", None), ("🙏", None),
    ],
)
def test_small_talk_is_greetings_and_thanks_only(text: str, kind: str | None) -> None:
    from locales import small_talk

    assert small_talk(text) == kind
