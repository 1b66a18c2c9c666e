"""The question model: built from its data, run without the training library, decided by
the policy, and measured on evaluation sets that stay as they were written."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locales import SUPPORTED, choose_language, understand
from locales.cli import run_intent
from locales.evaluate import EVAL_DIR, EVAL_SETS, figures, judge, load_set
from locales.intents import prepare
from locales.model import model, read_labelled, training_digest, training_files
from locales.policy import LABELS, Thresholds, decide_from_probabilities

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_model_was_trained_on_the_committed_data():
    assert model().meta["training_digest"] == training_digest(), (
        "the training data, the lexicon or the feature code changed: run `make model`"
    )


def test_the_training_data_has_120_messages_per_label_per_language():
    counts = Counter((lang, label) for path in training_files() for _, lang, label in read_labelled(path))
    short = {(lang, label): counts[lang, label] for lang in SUPPORTED for label in LABELS
             if counts[lang, label] < 120}
    assert short == {}


def test_the_bot_runs_the_model_without_the_training_library():
    code = (
        "import sys, locales\n"
        "print(locales.understand('how do I cancel my subscription?', 'en').label)\n"
        "assert locales.choose_language('vc sabe se o plano renova amanhã') == 'pt'\n"
        "assert 'sklearn' not in sys.modules and 'scipy' not in sys.modules, 'training library loaded'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cancel"


@pytest.mark.parametrize("name", EVAL_SETS)
def test_the_evaluation_sets_are_as_frozen(name):
    recorded = dict(
        reversed(line.split("  ", 1))
        for line in (EVAL_DIR / f"{name}.sha256").read_text().splitlines()
        if line.strip()
    )
    actual = {
        f"{name}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((EVAL_DIR / name).glob("*.tsv"))
    }
    assert actual == recorded


# -- the policy -------------------------------------------------------------------------------

T = Thresholds(answer=0.8, ask=0.6, choice=0.1)


def probabilities(**given: float) -> np.ndarray:
    rest = (1 - sum(given.values())) / (len(LABELS) - len(given))
    return np.array([given.get(label, rest) for label in LABELS])


def test_a_clear_question_is_answered():
    decision = decide_from_probabilities(probabilities(cancel=0.9), T)
    assert (decision.kind, decision.label) == ("answer", "cancel")


def test_two_close_questions_are_asked_about_likeliest_first():
    decision = decide_from_probabilities(probabilities(resume=0.45, cancel=0.40), T)
    assert decision.label == "ask:resume,cancel"


def test_a_third_choice_only_when_it_is_likely_enough():
    three = decide_from_probabilities(probabilities(status=0.4, cancel=0.3, after_cancel=0.2), T)
    assert three.label == "ask:status,cancel,after_cancel"
    two = decide_from_probabilities(probabilities(status=0.5, cancel=0.4, after_cancel=0.05), T)
    assert two.label == "ask:status,cancel"


def test_chat_and_a_spread_out_guess_get_nothing():
    assert decide_from_probabilities(probabilities(none=0.9), T).label == "none"
    assert decide_from_probabilities(probabilities(none=0.5, cancel=0.2, status=0.1), T).label == "none"


def test_none_never_appears_among_the_choices():
    decision = decide_from_probabilities(probabilities(none=0.45, topup=0.3, upgrade=0.3), T)
    assert decision.kind == "ask" and "none" not in decision.intents


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from([None, *SUPPORTED]))
def test_any_text_gets_a_decision_the_bot_can_act_on(text, lang):
    decision = understand(text, lang)
    assert decision.kind in ("answer", "ask", "none")
    assert set(decision.intents) <= set(LABELS) - {"none"}
    assert len(decision.intents) == {"answer": 1, "ask": len(decision.intents), "none": 0}[decision.kind]
    assert decision.kind != "ask" or 2 <= len(decision.intents) <= 3
    assert abs(sum(decision.probabilities) - 1) < 1e-4


# -- the CLI ----------------------------------------------------------------------------------


def test_the_cli_prints_a_decision_per_line():
    out = io.StringIO()
    run_intent(io.StringIO("how can I cancel my subscription?\nlol nice image\n"), out)
    assert out.getvalue().splitlines() == ["cancel", "none"]


def test_the_cli_explains_with_the_language_and_the_scores():
    out = io.StringIO()
    run_intent(io.StringIO("چطوری اشتراکمو لغو کنم؟\n"), out, explain=True)
    label, lang, scores = out.getvalue().rstrip("\n").split("\t")
    assert (label, lang) == ("cancel", "fa")
    first = scores.split(" ")[0]
    assert first.startswith("cancel=") and float(first.split("=")[1]) > 0.5


# -- what users ask -----------------------------------------------------------------------------

# Messages quoted by the people who reported the keyword lexicon's misses, and the
# questions the product was specified with; none of them is in the training data.
REPORTED = [
    ("does the 100 per day reset at midnight utc or my time", "free_credits"),
    ("are the credits i bought gone when i switch plans", "topup_expiry"),
    ("meu cancelamento deu certo? ainda diz que vai renovar", "status"),
    ("ينفع أرجع عن الإلغاء؟", "resume"),
    ("وقتی اشتراکم تموم بشه دوباره روزی ۱۰۰ تا کردیت رایگان میگیرم؟", "after_cancel"),
    ("Plus'tan Basic'e inmek iptal sayılır mı?", "downgrade"),
    ("c'est normal que j'aie plus rien depuis 2 jours ?", "credits_missing"),
    ("I want a refund because the amount had already been debited before I cancelled", "refund"),
]
# The product's Persian seed question, on an Arabic keyboard, calls credits «شارژ», which also
# means topping up: the model is unsure, and asks with the right topic first.
SEED_FA = "ميخوام بدونم چرا اكانت من شارژ رايگان نميشه؟"


def _words(text: str) -> set[str]:
    return set(prepare(text).split())


def test_the_reported_questions_are_not_in_the_training_data():
    # Not even close variants: half or more of their words in common.
    reported = [(text, _words(text)) for text in [*(t for t, _ in REPORTED), SEED_FA]]
    close = [
        (text, mine)
        for path in training_files()
        for mine, _, _ in read_labelled(path)
        for text, words in reported
        if len(_words(mine) & words) >= 0.5 * len(_words(mine) | words)
    ]
    assert close == []


@pytest.mark.parametrize(("text", "intent"), REPORTED)
def test_reported_questions_get_the_right_answer(text, intent):
    assert understand(text, choose_language(text)).label == intent


def test_the_persian_seed_question_offers_missing_credits_first():
    decision = understand(SEED_FA, choose_language(SEED_FA))
    assert decision.kind == "ask" and decision.intents[0] == "credits_missing", decision.scores()[:4]


# -- the frozen sets: a floor under the first run's figures (BENCHMARKS.md) -------------------

@pytest.fixture(scope="module", params=EVAL_SETS)
def frozen(request):
    return request.param, figures(judge(load_set(request.param)))


def test_the_frozen_sets_do_not_fall_below_the_first_run(frozen):
    name, f = frozen
    floors = EVAL_FLOORS[name]
    assert f.resolved >= floors["resolved"], f
    assert f.answered_right >= floors["answered_right"], f
    assert f.wrong <= floors["wrong"], f
    assert f.said_to_chat <= floors["said_to_chat"], f


# Set after the first run of each set (BENCHMARKS.md has those figures): a change to the model
# that loses more than a couple of points on a set nobody tuned on fails here.
# First runs (locales/data/eval/FIRST_RUN.md): set_a 90.8% answered right, 98.0% resolved,
# 1.2% wrong, 4.5% of chat spoken to; set_b 89.2%, 98.0%, 1.2%, 2.5%. The shipped model (the
# second run there): set_a 90.8%, 98.2%, 1.0%, 4.0%; set_b 89.1%, 98.2%, 1.2%, 2.0%.
EVAL_FLOORS: dict[str, dict[str, float]] = {
    "set_a": {"answered_right": 0.88, "resolved": 0.96, "wrong": 0.02, "said_to_chat": 0.06},
    "set_b": {"answered_right": 0.87, "resolved": 0.96, "wrong": 0.02, "said_to_chat": 0.04},
}
