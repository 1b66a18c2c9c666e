"""Check a labelled TSV file: columns, labels, languages, duplicates, counts.

    python locales/data/check_tsv.py FILE.tsv [FILE.tsv ...]
"""

import sys
from collections import Counter

LABELS = {
    "free_credits", "credits_missing", "device_limit", "cancel", "resume", "upgrade",
    "downgrade", "topup", "topup_expiry", "after_cancel", "refund", "status", "none",
}
LANGS = {"en", "fa", "ar", "es", "tr", "ru", "de", "fr", "pt"}


def check(path: str) -> int:
    problems = 0
    counts: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines[0] != "text\tlang\tintent":
        print(f"{path}:1: the header must be: text<TAB>lang<TAB>intent")
        problems += 1
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            print(f"{path}:{number}: {len(parts)} columns, want 3: {line[:60]!r}")
            problems += 1
            continue
        text, lang, label = parts
        if label not in LABELS:
            print(f"{path}:{number}: unknown label {label!r}")
            problems += 1
        if lang not in LANGS:
            print(f"{path}:{number}: unknown language {lang!r}")
            problems += 1
        key = " ".join(text.casefold().split())
        if key in seen:
            print(f"{path}:{number}: duplicate message {text[:60]!r}")
            problems += 1
        seen.add(key)
        counts[lang, label] += 1
    for (lang, label), n in sorted(counts.items()):
        print(f"{lang}\t{label}\t{n}")
    print(f"{path}: {sum(counts.values())} messages, {problems} problems")
    return problems


if __name__ == "__main__":
    sys.exit(1 if sum(check(p) for p in sys.argv[1:]) else 0)
