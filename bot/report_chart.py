"""Drawing the weekly report's chart: four panels of bars, one bar group per week, as PNG bytes.

matplotlib is imported inside ``render_png`` only, with its Agg canvas and no pyplot (no
global figure state, nothing kept between calls): a bot that never draws a report never
loads it, so its memory at rest does not grow. Callers run ``render_png`` in a worker thread
(``asyncio.to_thread``): drawing takes about a second. One drawing at a time, because
matplotlib's caches are not made for threads.

Everything shown is already text here (titles, legends, week labels, notes): this module
knows nothing of languages or of the report's meaning.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

WIDTH, HEIGHT, DPI = 1400, 900, 100  # pixels of the PNG
_DRAWING = threading.Lock()
# Distinct, colour-blind-friendlier colours (matplotlib's tab10), then grey for "the rest".
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
           "#17becf", "#7f7f7f")
REST = "#c7c7c7"
MAX_LABELS = 9  # week labels on one axis; past it, every few weeks, and no notes above bars


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]
    rest: bool = False  # drawn grey and hatched: "not placed", "other topics"


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    series: tuple[Series, ...]
    stacked: bool  # stacked: parts of one total; else side by side
    notes: tuple[str, ...] = ()  # per week, written above its first series' bar (e.g. the amount refunded)


@dataclass(frozen=True)
class ChartData:
    title: str
    subtitle: str
    xlabel: str
    weeks: tuple[str, ...]  # one tick label per week
    panels: tuple[Panel, ...]  # four, drawn left to right, top to bottom


def render_png(chart: ChartData) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _DRAWING:
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        figure.suptitle(f"{chart.title}\n{chart.subtitle}", fontsize=14)
        for axes, panel in zip(figure.subplots(2, 2).flat, chart.panels, strict=True):
            _draw_panel(axes, panel, chart)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
        return out.getvalue()


def _draw_panel(axes, panel: Panel, chart: ChartData) -> None:
    from matplotlib.ticker import MaxNLocator

    n = len(chart.weeks)
    positions = list(range(n))
    colours = iter(PALETTE)
    if panel.stacked:
        bottoms = [0] * n
        for series in panel.series:
            axes.bar(positions, series.values, 0.7, bottom=bottoms, label=series.label, **_look(series, colours))
            bottoms = [b + v for b, v in zip(bottoms, series.values, strict=True)]
        highest, first = max(bottoms, default=0), (positions, bottoms)
    else:
        width = 0.8 / max(1, len(panel.series))
        for i, series in enumerate(panel.series):
            shifted = [p + (i - (len(panel.series) - 1) / 2) * width for p in positions]
            axes.bar(shifted, series.values, width, label=series.label, **_look(series, colours))
            if i == 0:
                first = (shifted, series.values)
        highest = max((max(s.values, default=0) for s in panel.series), default=0)
    notes = panel.notes if n <= MAX_LABELS else ()  # too many to read side by side
    axes.set_ylim(0, max(1, highest) * (1.15 if notes else 1.05))
    for x, y, note in zip(*first, notes, strict=False):
        if note:
            axes.annotate(note, (x, y), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    axes.set_title(panel.title, fontsize=12, loc="left")
    axes.set_ylabel(panel.ylabel)
    axes.set_xlabel(chart.xlabel)
    step = -(-n // MAX_LABELS)  # a long range labels every few weeks, so that labels never overlap
    axes.set_xticks(positions[::step], chart.weeks[::step], fontsize=8)
    axes.set_xlim(-0.6, n - 0.4)  # every week in place, bars or none
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    handles, labels = axes.get_legend_handles_labels()
    if panel.stacked:  # listed as stacked: the top part first
        handles, labels = handles[::-1], labels[::-1]
    axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _look(series: Series, colours) -> dict:
    if series.rest:
        return {"color": REST, "hatch": "//", "edgecolor": "white"}
    return {"color": next(colours, REST)}
