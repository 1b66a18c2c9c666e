"""Language choice and question recognition: latency per message and accuracy.

Messages: every labelled line in locales/data (lang_samples.tsv and the four intent
sets), a fixed multilingual set. Ours, per message, is what the bot does with a chat
message: ``choose_language(text)`` then ``recognise_intent(text, lang)``. Baseline: bare
langdetect (``langdetect.detect``, all 55 profiles, seeded) on the same message. Each
message is timed for both, one right after the other (the order alternating), after a
warm-up that loads profiles and lexicons. A message's cost is its fastest of the runs;
p50 and p99 are over the messages. Each run's own p50 and p99 (median of the runs) are
shown beside them.

Accuracy comes from ``locales.measure.measure`` (what the tests assert on): per
language, per category, fa/ar/ur confusion against bare langdetect, and per intent
and language for each intent set.

    python bench/bench_lang.py [--runs 5] [--quick]
"""

from __future__ import annotations

import gc
import time

import langdetect
from common import arguments, emit, fmt_pct, fmt_ratio, md_table, median, percentile, summary_row
from langdetect.lang_detect_exception import LangDetectException

from locales import choose_language, recognise_intent
from locales.measure import DATA_DIR, load_intent_samples, load_lang_samples, measure

TARGET_P99_MS = 2.0
INTENT_SETS = ("intent_samples", "intent_holdout", "intent_unseen", "intent_fresh")


def ours(text: str) -> str:
    return recognise_intent(text, choose_language(text))


def bare(text: str) -> str | None:
    try:
        return langdetect.detect(text)
    except LangDetectException:
        return None


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
    intent_sets = {name: load_intent_samples(DATA_DIR / f"{name}.tsv") for name in INTENT_SETS}
    texts = [s.text for s in lang_samples] + [s.text for samples in intent_sets.values() for s in samples]

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

    lang_report = measure(lang_samples)["language"]
    intent_reports = {name: measure(samples)["intent"] for name, samples in intent_sets.items()}

    met = cost["ours"]["p99"] < TARGET_P99_MS
    latency_table = md_table(
        ["per message", "p50 ms", "p99 ms", "max ms", "as measured: p50 / p99 ms (median of runs)"],
        [["ours: choose_language + recognise_intent", f"{cost['ours']['p50']:.3f}", f"{cost['ours']['p99']:.3f}",
          f"{cost['ours']['max']:.2f}", f"{lat['ours']['p50']:.3f} / {lat['ours']['p99']:.3f}"],
         ["baseline: bare langdetect (55 profiles, seeded)", f"{cost['bare']['p50']:.3f}",
          f"{cost['bare']['p99']:.3f}", f"{cost['bare']['max']:.2f}",
          f"{lat['bare']['p50']:.3f} / {lat['bare']['p99']:.3f}"],
         ["ratio ours ÷ baseline", fmt_ratio(cost["ours"]["p50"] / cost["bare"]["p50"]),
          fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), "",
          f"{fmt_ratio(lat['ours']['p50'] / lat['bare']['p50'])} / {fmt_ratio(lat['ours']['p99'] / lat['bare']['p99'])}"]],
    )
    langs = sorted(lang_report["per_language"])
    # bare langdetect per language, from the same samples
    bare_per_lang = {}
    for lang in langs:
        picked = [s for s in lang_samples if s.lang == lang]
        hits = sum(bare(s.text) == lang for s in picked)
        bare_per_lang[lang] = hits / len(picked)
    cats = sorted(lang_report["per_category"])
    acc_rows = [[lang, sum(s.lang == lang for s in lang_samples), fmt_pct(lang_report["per_language"][lang]),
                 fmt_pct(bare_per_lang[lang])]
                + [fmt_pct(lang_report["per_category_language"].get(f"{c}/{lang}")) for c in cats] for lang in langs]
    acc_rows.append(["all", len(lang_samples), fmt_pct(lang_report["accuracy"]),
                     fmt_pct(lang_report["bare_langdetect_accuracy"])]
                    + [fmt_pct(lang_report["per_category"][c]) for c in cats])
    acc_table = md_table(["language", "messages", "ours", "bare langdetect"] + [f"ours, {c}" for c in cats], acc_rows)

    confusion = lang_report["fa_ar_ur_confusion"]
    bare_confusion = lang_report["bare_fa_ar_ur_confusion"]
    keys = sorted(set(confusion) | set(bare_confusion))
    conf_table = md_table(["true → chosen", "ours", "bare langdetect"],
                          [[k.replace("->", " → "), confusion.get(k, 0), bare_confusion.get(k, 0)] for k in keys])

    intents = sorted({i for r in intent_reports.values() for i in r["per_intent"]})
    intent_langs = sorted({lang for r in intent_reports.values() for lang in r["per_language"]})
    intent_table = md_table(
        ["intent"] + list(INTENT_SETS),
        [[i] + [fmt_pct(intent_reports[s]["per_intent"].get(i)) for s in INTENT_SETS] for i in intents]
        + [["**all**"] + [f"**{fmt_pct(intent_reports[s]['accuracy'])}** of {intent_reports[s]['messages']}"
                          for s in INTENT_SETS]]
        + [["none precision / recall"] + [f"{fmt_pct(intent_reports[s]['none_precision'])} / "
                                          f"{fmt_pct(intent_reports[s]['none_recall'])}" for s in INTENT_SETS]],
    )
    intent_lang_table = md_table(
        ["language"] + list(INTENT_SETS),
        [[lang] + [fmt_pct(intent_reports[s]["per_language"].get(lang)) for s in INTENT_SETS] for lang in intent_langs],
    )
    markdown = (
        f"{len(texts):,} messages ({len(lang_samples)} from lang_samples.tsv, the rest from the four intent sets), "
        f"{runs} runs. The first three columns: each message's cost as its fastest of the {runs} runs, then "
        f"percentiles over the messages (the target is judged on these); the last: each run's own percentiles, "
        f"median of the runs, which also carry whatever other processes took from the CPU.\n\n{latency_table}\n\n"
        f"**Language choice** (lang_samples.tsv; categories count messages of 2+ words except single_word):\n\n"
        f"{acc_table}\n\n**Persian / Arabic / Urdu confusion** (fa and ar samples):\n\n{conf_table}\n\n"
        f"**Question recognition**, accuracy per intent (language chosen by ours first). The rules were written with "
        f"intent_samples.tsv in view; see locales/data/README.md for the first-run scores of the later sets:\n\n"
        f"{intent_table}\n\nPer language:\n\n{intent_lang_table}\n\n"
        "Reproduce: `python bench/bench_lang.py`."
    )
    summary = [
        summary_row("language + question, p99 per message", f"{cost['ours']['p99']:.3f} ms "
                    f"(as measured {lat['ours']['p99']:.3f})", f"{cost['bare']['p99']:.3f} ms (bare langdetect)",
                    fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), f"< {TARGET_P99_MS:g} ms", met),
        summary_row("language choice accuracy (lang_samples)", fmt_pct(lang_report["accuracy"]),
                    fmt_pct(lang_report["bare_langdetect_accuracy"]), "–", "–", None),
    ]
    emit(args, "lang", "Language choice and question recognition", markdown, summary,
         {"latency_ms": cost, "as_measured_ms": lat, "runs": per_run, "language": lang_report,
          "intent": {k: {kk: vv for kk, vv in v.items() if kk != "errors"} for k, v in intent_reports.items()}})


if __name__ == "__main__":
    main()
