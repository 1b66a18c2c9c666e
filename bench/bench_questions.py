"""Understanding questions: the learned model on the frozen evaluation sets, and what it costs.

Why: the model decides whether the bot answers, asks "Did you mean…?" or stays quiet; its
accuracy on sets nobody tuned on, and its load time, memory and time per message, are what
it adds to the bot.

Accuracy (``locales.evaluate``): each frozen set's messages, judged as first messages
(language chosen from the message alone, then the decision), for the model and for the
keyword lexicon alone, overall, per language and per intent.

Cost:
- model files on disk (the weights, compressed, and the metadata);
- load time: ``QuestionModel()`` in a fresh process, median of 5 processes;
- memory the model adds to a process: VmRSS of a fresh process that imports what the
  bot imports for chat (locales, langdetect) and has chosen a language once (which loads
  numpy and the Latin-script language model), before and after loading the question model
  and deciding once, median of 5 processes (the whole bot at rest: bench_memory.py);
- time per message: ``choose_language`` + ``understand`` against bare langdetect
  (``langdetect.detect``, all 55 profiles, seeded) on the same messages, alternating the
  order; a message's cost is its fastest of the runs, percentiles over the messages.

    python bench/bench_questions.py [--runs 5] [--quick]
"""

from __future__ import annotations

import json
import subprocess

import langdetect
from bench_lang import bare, ours, timing_run
from common import (
    PYTHON,
    ROOT,
    arguments,
    emit,
    fmt_pct,
    fmt_ratio,
    md_table,
    median,
    percentile,
    summary_row,
)

from locales.evaluate import EVAL_SETS, by, figures, judge, lexicon_decision, load_set, table
from locales.model import MODEL_JSON, MODEL_WEIGHTS

TARGETS = {"answered_right": 0.88, "resolved": 0.96, "wrong": 0.02, "said_to_chat": 0.03, "choices": 0.12}
TARGET_P99_MS = 2.0
TARGET_RSS_MB = 40.0

_PROBE = """
import json, time, resource
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
import locales
locales.choose_language('how do I cancel my plan?')
before = rss()
start = time.perf_counter()
from locales.model import model
model()
loaded = time.perf_counter() - start
locales.understand('how do I cancel my plan?', 'en')
print(json.dumps({'before': before, 'after': rss(), 'load_s': loaded}))
"""


def probe() -> dict:
    done = subprocess.run([PYTHON, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def accuracy_section(name: str) -> tuple[str, dict]:
    rows = load_set(name)
    model = judge(rows)
    lexicon = judge(rows, lexicon_decision)
    overall = {"model": figures(model), "lexicon alone": figures(lexicon)}
    markdown = "\n\n".join([
        f"**{name}** ({len(rows)} messages): overall\n\n" + table("", overall),
        f"**{name}**, model, per language\n\n" + table("language", by(model, lambda j: j.lang)),
        f"**{name}**, lexicon alone, per language\n\n" + table("language", by(lexicon, lambda j: j.lang)),
        f"**{name}**, model, per intent (wrong answers: messages of that label answered with another "
        "topic)\n\n" + table("intent", by(model, lambda j: j.label)),
    ])
    return markdown, {"model": vars(overall["model"]), "lexicon": vars(overall["lexicon alone"])}


def main() -> None:
    args = arguments(__doc__.splitlines()[0], runs={"type": int, "default": 5})
    runs = 2 if args.quick else args.runs
    sections, data = [], {}
    for name in EVAL_SETS:
        markdown, figures_of = accuracy_section(name)
        sections.append(markdown)
        data[name] = figures_of

    probes = [probe() for _ in range(2 if args.quick else 5)]
    added = median(p["after"] - p["before"] for p in probes)
    load_ms = median(p["load_s"] for p in probes) * 1000
    size_kb = (MODEL_WEIGHTS.stat().st_size + MODEL_JSON.stat().st_size) / 1024

    texts = [text for name in EVAL_SETS for text, _, _ in load_set(name)]
    langdetect.DetectorFactory.seed = 0
    for text in texts[:50]:
        ours(text), bare(text)
    timings = [timing_run(texts, flip=bool(r % 2)) for r in range(runs)]
    best = {n: [min(t[n][i] for t in timings) for i in range(len(texts))] for n in ("ours", "bare")}
    cost = {n: {"p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)} for n, v in best.items()}

    cost_table = md_table(
        ["per message", "p50 ms", "p99 ms", "max ms"],
        [["ours: choose_language + understand", f"{cost['ours']['p50']:.3f}", f"{cost['ours']['p99']:.3f}",
          f"{cost['ours']['max']:.2f}"],
         ["baseline: bare langdetect (55 profiles, seeded)", f"{cost['bare']['p50']:.3f}",
          f"{cost['bare']['p99']:.3f}", f"{cost['bare']['max']:.2f}"],
         ["ratio ours ÷ baseline", fmt_ratio(cost["ours"]["p50"] / cost["bare"]["p50"]),
          fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), ""]],
    )
    model_table = md_table(
        ["model", "value"],
        [["files on disk (weights + metadata)", f"{size_kb:,.0f} KiB"],
         ["load time (fresh process, median)", f"{load_ms:.0f} ms"],
         ["RSS added by loading it and deciding once, median", f"{added:.1f} MB"]],
    )
    markdown = (
        f"{len(texts):,} messages of the frozen sets, {runs} timing runs.\n\n" + "\n\n".join(sections)
        + f"\n\n**Cost**\n\n{model_table}\n\n{cost_table}\n\nReproduce: `python bench/bench_questions.py`."
    )
    summary = []
    for name in EVAL_SETS:
        m, lex = data[name]["model"], data[name]["lexicon"]
        for key, label, higher in (("answered_right", "answered right", True), ("resolved", "resolved", True),
                                   ("wrong", "wrong answers", False), ("said_to_chat", "said to chat", False),
                                   ("choices", "choices offered", False)):
            target = TARGETS[key]
            met = m[key] >= target if higher else m[key] <= target
            summary.append(summary_row(f"questions, {name}: {label}", fmt_pct(m[key]),
                                       f"{fmt_pct(lex[key])} (lexicon alone)", "–",
                                       f"{'≥' if higher else '≤'} {fmt_pct(target)}", met))
    summary.append(summary_row("language + question, p99 per message", f"{cost['ours']['p99']:.3f} ms",
                               f"{cost['bare']['p99']:.3f} ms (bare langdetect)",
                               fmt_ratio(cost["ours"]["p99"] / cost["bare"]["p99"]), f"< {TARGET_P99_MS:g} ms",
                               cost["ours"]["p99"] < TARGET_P99_MS))
    summary.append(summary_row("RSS added by the question model", f"{added:.1f} MB", "–", "–",
                               f"< {TARGET_RSS_MB:g} MB", added < TARGET_RSS_MB))
    emit(args, "questions", "Understanding questions", markdown, summary,
         {"sets": data, "latency_ms": cost, "rss_added_mb": added, "load_ms": load_ms, "size_kib": size_kb})


if __name__ == "__main__":
    main()
