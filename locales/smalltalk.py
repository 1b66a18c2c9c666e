"""Greetings and thanks: small talk, told apart from a question the bot cannot place.

Spoken to in a DM or with a mention, the bot shows its menu for a message it cannot
place; "hi" or "thanks" is no question, and a menu in reply to it reads like a
machine that did not listen. ``small_talk`` recognises a message made only of
greetings, thanks and a few friendly words ("hi there", "ok thanks!", "سلام",
"merci beaucoup") in each of our languages; anything more ("hi, I was charged
twice") is left to the question model. Entries go through ``normalise`` like the
messages they are compared with.
"""

from __future__ import annotations

import re
from functools import cache

from .normalise import normalise

GREETINGS = (
    # en
    "hi", "hello", "hey", "hiya", "heya", "yo", "howdy", "greetings", "good morning", "good afternoon",
    "good evening", "good day", "morning", "evening", "hi hi", "hey hey",
    # fa, and Finglish
    "سلام", "درود", "سلام علیکم", "سلام عليكم", "وقت بخیر", "روز بخیر", "صبح بخیر", "عصر بخیر",
    "شب بخیر", "salam", "dorood", "dorud", "slm",
    # ar
    "مرحبا", "مرحبًا", "اهلا", "أهلا", "أهلاً", "اهلا وسهلا", "أهلا وسهلا", "السلام عليكم",
    "السلام عليكم ورحمة الله", "هلا", "صباح الخير", "مساء الخير", "marhaba", "ahlan",
    # es
    "hola", "buenas", "buenos días", "buenas tardes", "buenas noches", "saludos", "qué tal",
    # tr
    "merhaba", "meraba", "selam", "selamlar", "günaydın", "iyi günler", "iyi akşamlar", "selamün aleyküm",
    # ru
    "привет", "приветствую", "здравствуйте", "здравствуй", "добрый день", "доброе утро", "добрый вечер",
    "хай", "здрасте",
    # de
    "hallo", "hallöchen", "guten tag", "guten morgen", "guten abend", "moin", "moin moin", "servus",
    "grüß gott", "grüezi",
    # fr
    "bonjour", "salut", "bonsoir", "coucou", "bonjour à tous",
    # pt
    "olá", "oi", "oie", "bom dia", "boa tarde", "boa noite", "e aí", "opa",
    # "how are you?", in each language
    "how are you", "how are you doing", "how r u", "what's up", "whats up", "sup", "چطوری", "خوبی",
    "حالت چطوره", "حالتون چطوره", "خوبین", "كيف حالك", "كيفك", "cómo estás", "qué tal estás", "nasılsın",
    "nasılsınız", "как дела", "как ты", "как вы", "wie geht's", "wie gehts", "wie geht es dir",
    "ça va", "comment ça va", "comment allez-vous", "tudo bem", "tudo bom", "como vai", "como você está",
)  # fmt: skip

THANKS = (
    # en
    "thanks", "thank you", "thank u", "thx", "thanx", "ty", "tysm", "tyvm", "cheers", "many thanks",
    "thanks a lot", "thanks so much", "thank you so much", "thank you very much", "much appreciated",
    "appreciate it", "i appreciate it",
    # fa, and Finglish
    "مرسی", "ممنون", "ممنونم", "خیلی ممنون", "خیلی ممنونم", "متشکرم", "متشکر", "مچکرم", "سپاس",
    "سپاسگزارم", "تشکر", "دمت گرم", "مرسی ازت", "مرسی از شما", "merci", "mersi", "mamnoon", "mamnun",
    "mamnoonam", "motshakeram", "sepas", "mrc",
    # ar
    "شكرا", "شكرًا", "شكرا لك", "شكرا جزيلا", "شكرًا جزيلًا", "مشكور", "ألف شكر", "الف شكر",
    "يعطيك العافية", "جزاك الله خيرا", "shukran",
    # es
    "gracias", "muchas gracias", "mil gracias", "muchísimas gracias", "gracias de nuevo",
    # tr
    "teşekkürler", "teşekkür ederim", "çok teşekkürler", "çok teşekkür ederim", "sağ ol", "sağol",
    "sağolun", "sağ olun", "eyvallah", "tşk", "tsk", "tşkler",
    # ru
    "спасибо", "спасибо большое", "большое спасибо", "благодарю", "спс", "пасиб", "пасибо",
    # de
    "danke", "danke schön", "dankeschön", "danke sehr", "vielen dank", "besten dank", "herzlichen dank",
    "tausend dank",
    # fr
    "merci beaucoup", "merci bien", "mille mercis", "merci mille fois", "je vous remercie",
    # pt
    "obrigado", "obrigada", "muito obrigado", "muito obrigada", "valeu", "brigado", "brigada", "vlw",
)  # fmt: skip

# Words that may come with a greeting or thanks without making the message a question.
FRIENDLY = (
    "there", "all", "everyone", "guys", "bot", "again", "a lot", "so much", "very much", "ok", "okay", "great",
    "cool", "nice", "perfect", "awesome", "got it", "that helps", "that helped", "sir", "friend", "mate",
    "that was quick", "that was fast", "very helpful", "you're the best", "you are the best", "for the help",
    "for your help",
    "خیلی", "عزیز", "عزیزم", "اوکی", "باشه", "عالی", "ok ok", "جزيلا", "تمام", "حبيبي", "amigo", "vale",
    "perfecto", "genial", "tamam", "süper", "harika", "ок", "окей", "отлично", "супер", "super", "alles klar",
    "perfekt", "toll", "d'accord", "parfait", "top", "beleza", "perfeito", "ótimo", "legal", "você", "vc",
)  # fmt: skip

MAX_WORDS = 8  # a longer message is more than small talk
_PUNCTUATION = re.compile(r"[^\w\s']+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_PUNCTUATION.sub(" ", normalise(text)).split())


@cache
def _lexicon() -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    for kind, phrases in (("friendly", FRIENDLY), ("greeting", GREETINGS), ("thanks", THANKS)):
        for phrase in phrases:
            words = _words(phrase)
            if words:
                found[words] = kind  # later kinds win: "merci" is thanks, never merely friendly
    return found


def small_talk(text: str) -> str | None:
    """``"thanks"`` or ``"greeting"`` when the whole message is small talk; else None.

    A message with thanks in it is thanks ("hi, thanks!"); friendly words alone
    ("ok", "great") are not small talk: they are left to the caller as before."""
    words = _words(text)
    if not words or len(words) > MAX_WORDS:
        return None
    lexicon = _lexicon()
    longest = max(len(key) for key in lexicon)
    kinds: set[str] = set()
    at = 0
    while at < len(words):
        for size in range(min(longest, len(words) - at), 0, -1):
            kind = lexicon.get(words[at : at + size])
            if kind:
                kinds.add(kind)
                at += size
                break
        else:
            return None
    if "thanks" in kinds:
        return "thanks"
    return "greeting" if "greeting" in kinds else None
