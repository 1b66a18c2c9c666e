"""Language choice: accuracy, and the latency of the whole chat path per message.

Why: every chat message is answered in a language chosen from its text; a wrong choice is
a reply the user cannot read, and the choice runs on the event loop for every message.

Messages: lang_samples.tsv (written with the word lists in view), the frozen language set
(locales/data/eval_lang: general chat and single words nobody tuned on) and the frozen
question sets (support chat). Ours, per message, is what the bot does with a chat
message: ``choose_language(text)`` then ``understand(text, lang)``. Baseline: bare
langdetect (``langdetect.detect``, all 55 profiles, seeded) on the same message. Each
message is timed for both, one right after the other (the order alternating), after a
warm-up that loads profiles and lexicons. A message's cost is its fastest of the runs;
p50 and p99 are over the messages. Each run's own p50 and p99 (median of the runs) are
shown beside them.

Accuracy comes from ``locales.measure.measure`` (what the tests assert on): per
language, per category, and fa/ar/ur confusion against bare langdetect, for
lang_samples.tsv and for the frozen language set. The question model's accuracy is
bench/bench_questions.py's.

    python bench/bench_lang.py [--runs 5] [--quick]
"""

from __future__ import annotations

import gc
import time

import langdetect
from common import arguments, emit, fmt_pct, fmt_ratio, md_table, median, percentile, summary_row
from langdetect.lang_detect_exception import LangDetectException

from locales import choose_language, understand
from locales.evaluate import EVAL_SETS, load_set
from locales.measure import DATA_DIR, load_lang_samples, measure

TARGET_P99_MS = 2.0


def ours(text: str) -> str:
    return understand(text, choose_language(text)).label


def frozen_lang_samples():
    return [s for path in sorted((DATA_DIR / "eval_lang").glob("*.tsv")) for s in load_lang_samples(path)]


def bare(text: str) -> str | None:
    try:
        return langdetect.detect(text)
    except LangDetectException:
        return None


def accuracy_table(samples, report: dict) -> str:
    langs = sorted(report["per_language"])
    bare_per_lang = {
        lang: sum(bare(s.text) == lang for s in samples if s.lang == lang) / sum(s.lang == lang for s in samples)
        for lang in langs
    }
    cats = sorted(report["per_category"])
    rows = [[lang, sum(s.lang == lang for s in samples), fmt_pct(report["per_language"][lang]),
             fmt_pct(bare_per_lang[lang])]
            + [fmt_pct(report["per_category_language"].get(f"{c}/{lang}")) for c in cats] for lang in langs]
    rows.append(["all", len(samples), fmt_pct(report["accuracy"]), fmt_pct(report["bare_langdetect_accuracy"])]
                + [fmt_pct(report["per_category"][c]) for c in cats])
    return md_table(["language", "messages", "ours", "bare langdetect"] + [f"ours, {c}" for c in cats], rows)


def timing_run(texts: list[str], flip: bool) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"ours": [], "bare": []}
    pairs = (("bare", bare), ("ours", ours)) if flip else (("ours", ours), ("bare", bare))
    clock = time.perf_counter_ns
    gc.disable()  # a collection lands on whichever call triggers it; not the call's own cost
    try:
        for text in texts:
            for name, fn in pairs:
                start = clock()
                fn(text)
                out[name].append((clock() - start) / 1e6)
    finally:
        gc.enable()
    return out


def main() -> None:
    args = arguments(__doc__.splitlines()[0], runs={"type": int, "default": 5})
    runs = 2 if args.quick else args.runs
    lang_samples = load_lang_samples()
    frozen = frozen_lang_samples()
    question_texts = [text for name in EVAL_SETS for text, _, _ in load_set(name)]
    texts = [s.text for s in lang_samples] + [s.text for s in frozen] + question_texts

    langdetect.DetectorFactory.seed = 0
    for text in texts[:50]:
        ours(text), bare(text)
    per_run, timings = [], []
    for r in range(runs):
        t = timing_run(texts, flip=bool(r % 2))
        timings.append(t)
        per_run.append({name: {"p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)}
                        for name, v in t.items()})
    # As measured: each run's percentiles, median of the runs (includes the machine's noise:
    # a message preempted by another process is slow in that run only).
    lat = {name: {q: median(run[name][q] for run in per_run) for q in ("p50", "p99", "max")}
           for name in ("ours", "bare")}
    # Each message's own cost: its fastest of the runs (as timeit does), then percentiles
    # over the messages. This is what the target is judged on.
    best = {name: [min(t[name][i] for t in timings) for i in range(len(texts))] for name in ("ours", "bare")}
    cost = {name: {"p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)} for name, v in best.items()}

    met = cost["ours"]["p99"] < TARGET_P99_MS
    latency_table = md_table(
        ["per message", "p50 ms", "p99 ms", "max ms", "as measured: p50 / p99 ms (median of runs)"],
        [["ours: choose_language + understand", f"{cost['ours']['p50']:.3f}", f"{cost['ours']['p99']:.3f}",
          f"{cost['ours']['max']:.2f}", f"{lat['ours']['p50']:.3f} / {lat['ours']['p99']:.3f}"],
         ["baseline: bare langdetect (55 profiles, seeded)", f"{cost['bare']['p50']:.3f}",
          f"{cost['bare']['p99']:.3f}", f"{cost['bare']['max']:.2f}",
          f"{lat['bare']['p50']:.3f} / {lat['bare']['p99']:.3f}"],
         ["ratio ours ÷ baseline", fmt_ratio(cost["ours"]["p50"] / cost["bare"]["p50"]),
          fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), "",
          f"{fmt_ratio(lat['ours']['p50'] / lat['bare']['p50'])} / {fmt_ratio(lat['ours']['p99'] / lat['bare']['p99'])}"]],
    )
    lang_report = measure(lang_samples)["language"]
    frozen_report = measure(frozen)["language"]
    acc_table = accuracy_table(lang_samples, lang_report)
    frozen_table = accuracy_table(frozen, frozen_report)
    confusion = lang_report["fa_ar_ur_confusion"]
    bare_confusion = lang_report["bare_fa_ar_ur_confusion"]
    keys = sorted(set(confusion) | set(bare_confusion))
    conf_table = md_table(["true → chosen", "ours", "bare langdetect"],
                          [[k.replace("->", " → "), confusion.get(k, 0), bare_confusion.get(k, 0)] for k in keys])
    markdown = (
        f"{len(texts):,} messages ({len(lang_samples)} from lang_samples.tsv, {len(frozen)} from the frozen "
        f"language set, the rest from the frozen question sets), {runs} runs. The first three columns: each "
        f"message's cost as its fastest of the {runs} runs, then percentiles over the messages (the target is "
        f"judged on these); the last: each run's own percentiles, median of the runs, which also carry whatever "
        f"other processes took from the CPU.\n\n{latency_table}\n\n"
        f"**Language choice on the frozen set** (locales/data/eval_lang: general chat and single words; categories "
        f"count messages of 2+ words except single_word):\n\n{frozen_table}\n\n"
        f"**Language choice on lang_samples.tsv** (written with the word lists in view):\n\n{acc_table}\n\n"
        f"**Persian / Arabic / Urdu confusion** (lang_samples.tsv, fa and ar):\n\n{conf_table}\n\n"
        "Reproduce: `python bench/bench_lang.py`."
    )
    summary = [
        summary_row("language + question, p99 per message", f"{cost['ours']['p99']:.3f} ms "
                    f"(as measured {lat['ours']['p99']:.3f})", f"{cost['bare']['p99']:.3f} ms (bare langdetect)",
                    fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), f"< {TARGET_P99_MS:g} ms", met),
        summary_row("language choice, frozen set: general chat of 2+ words",
                    fmt_pct(frozen_report["per_category"]["general"]), "–", "–", "≥ 98.3%",
                    frozen_report["per_category"]["general"] >= 0.983),
        summary_row("language choice, frozen set: single words",
                    fmt_pct(frozen_report["per_category"]["single_word"]), "–", "–", "≥ 84%",
                    frozen_report["per_category"]["single_word"] >= 0.84),
    ]
    emit(args, "lang", "Language choice and question recognition", markdown, summary,
         {"latency_ms": cost, "as_measured_ms": lat, "runs": per_run, "language": lang_report,
          "frozen_language": frozen_report})


if __name__ == "__main__":
    main()
