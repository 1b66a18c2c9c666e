"""Languages: choosing the reply language, recognising questions, rendering replies.

The adapters call ``choose_language`` once per event, ``bind_language`` it, and
render every ``Msg`` with ``render``; ``understand`` decides what to do with a
chat message (answer a support question, ask which one, or nothing), using the
learned question model; ``recognise_intent`` is the keyword lexicon it uses as
one of its features.
"""

from .detect import Detection, choose_language, detect_language
from .intents import INTENTS, recognise_intent
from .languages import (
    RTL,
    SUPPORTED,
    babel_locale,
    catalog_dir,
    from_discord_locale,
    normalise_code,
)
from .model import model as question_model
from .model import understand
from .normalise import normalise
from .policy import Decision
from .render import Catalogs, bind_language, current_language, render
from .smalltalk import small_talk

__all__ = [
    "INTENTS",
    "RTL",
    "SUPPORTED",
    "Catalogs",
    "Decision",
    "Detection",
    "babel_locale",
    "bind_language",
    "catalog_dir",
    "choose_language",
    "current_language",
    "detect_language",
    "from_discord_locale",
    "normalise",
    "normalise_code",
    "question_model",
    "recognise_intent",
    "render",
    "small_talk",
    "understand",
]
