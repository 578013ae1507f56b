"""Small bar charts as server-rendered SVG: numbers in, markup out (no JavaScript, no CDN).

A chart is one or more panels over the same categories (cycles, hours), each panel with its own y scale and
one or more stacked series. The SVG is built with ElementTree, so every text is escaped and the markup is
well-formed. Colours are CSS classes (`chart-<name>` in static/css/pages.css), so the page's palette
applies. Every chart carries <title> and <desc> for screen readers, and every column a <title> tooltip.
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 720
LEFT, RIGHT, TOP = 52, 10, 6
PANEL_TITLE = 16
PANEL_GAP = 12
X_LABELS = 20
LEGEND = 18
MAX_X_LABELS = 8
CHAR_WIDTH = 6.5  # an 11px label's average character, in viewBox units
_ids = itertools.count(1)


def plain_number(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h".replace(".0 h", " h")
    if value >= 60:
        return f"{value / 60:.1f} min".replace(".0 min", " min")
    return f"{value:.0f} s"


@dataclass(frozen=True)
class Series:
    name: str  # "Successes": the legend's words
    css: str  # "success": the bar's class is chart-success
    values: Sequence[float]


@dataclass(frozen=True)
class Panel:
    title: str  # "Duration"
    series: Sequence[Series]
    format: Callable[[float], str] = plain_number
    height: int = 56
    ceiling: Callable[[float], float] | None = None  # the y axis' top for the largest value (default nice_ceiling)


@dataclass(frozen=True)
class Chart:
    title: str
    desc: str
    categories: Sequence[str]  # one per column, shown in tooltips
    panels: Sequence[Panel]
    tick_labels: Sequence[str] | None = None  # short x labels (default: the categories)
    empty_text: str = "No data yet"
    legend: bool = False
    css_class: str = ""
    slots: int = 0  # at least this many column widths, so three cycles are three thin bars, not three slabs


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above value (so the axis says 50, not 47)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10 ** exponent
        if candidate >= value - 1e-9:
            return candidate
    return 10 ** (exponent + 1)


# Axis tops a clock reader expects: 30 s, 2 min, 15 min, 1 h, …
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def nice_seconds(value: float) -> float:
    if value > 3600:
        return nice_ceiling(value / 3600) * 3600
    return next((step for step in _TIME_STEPS if step >= value), 3600)


def label_indexes(n: int, most: int = MAX_X_LABELS, column: float = WIDTH, longest: int = 0) -> list[int]:
    """Which columns get an x label: every k-th from the first, at most `most` of them, and never so close that
    two labels of `longest` characters overlap in columns `column` wide."""
    if n <= 0:
        return []
    step = max(1, math.ceil(n / most), math.ceil((longest * CHAR_WIDTH + 8) / column))
    return list(range(0, n, step))


def render(chart: Chart) -> SafeString:
    uid = f"chart-{next(_ids)}"
    n = len(chart.categories)
    panels_height = sum(p.height + PANEL_TITLE for p in chart.panels) + PANEL_GAP * max(0, len(chart.panels) - 1)
    height = TOP + (panels_height if n else 40) + X_LABELS + (LEGEND if chart.legend and n else 0)
    svg = ET.Element("svg", {
        "xmlns": SVG_NS, "viewBox": f"0 0 {WIDTH} {height}", "width": "100%", "role": "img",
        "class": f"chart {chart.css_class}".strip(), "aria-labelledby": f"{uid}-title {uid}-desc",
        "preserveAspectRatio": "xMinYMin meet",
    })
    ET.SubElement(svg, "title", {"id": f"{uid}-title"}).text = chart.title
    ET.SubElement(svg, "desc", {"id": f"{uid}-desc"}).text = chart.desc if n else chart.empty_text
    if not n:
        empty = ET.SubElement(svg, "text", {"x": str(WIDTH // 2), "y": str(TOP + 30), "class": "chart-empty",
                                            "text-anchor": "middle"})
        empty.text = chart.empty_text
        return mark_safe(ET.tostring(svg, encoding="unicode"))

    plot_width = WIDTH - LEFT - RIGHT
    column = plot_width / max(n, chart.slots)
    bar = max(1.0, column * 0.72) if column >= 3 else column
    y = TOP
    for panel in chart.panels:
        _panel(svg, panel, chart.categories, y, column, bar)
        y += PANEL_TITLE + panel.height + PANEL_GAP
    baseline = y - PANEL_GAP

    ticks = chart.tick_labels or chart.categories
    for i in label_indexes(n, column=column, longest=max(len(t) for t in ticks)):
        x = LEFT + column * (i + 0.5)
        label = ET.SubElement(svg, "text", {"x": f"{x:.1f}", "y": str(baseline + 14), "class": "chart-x-label",
                                            "text-anchor": "middle"})
        label.text = ticks[i]
    if chart.legend:
        x = LEFT
        names = dict.fromkeys((s.name, s.css) for p in chart.panels for s in p.series)
        for name, css in names:
            legend = ET.SubElement(svg, "g", {"class": "chart-legend"})
            ET.SubElement(legend, "rect", {"x": str(x), "y": str(baseline + X_LABELS + 3), "width": "10", "height": "10",
                                           "class": f"chart-bar chart-{css}"})
            text = ET.SubElement(legend, "text", {"x": str(x + 14), "y": str(baseline + X_LABELS + 12), "class": "chart-legend-label"})
            text.text = name
            x += 24 + 7 * len(name)
    return mark_safe(ET.tostring(svg, encoding="unicode"))


def _panel(svg, panel: Panel, categories, top, column, bar):
    group = ET.SubElement(svg, "g", {"class": "chart-panel"})
    title = ET.SubElement(group, "text", {"x": str(LEFT), "y": str(top + 11), "class": "chart-panel-title"})
    title.text = panel.title
    plot_top = top + PANEL_TITLE
    plot_bottom = plot_top + panel.height
    totals = [sum(s.values[i] or 0 for s in panel.series) for i in range(len(categories))]
    ceiling = (panel.ceiling or nice_ceiling)(max(totals, default=0))
    for value, y in ((ceiling, plot_top), (0, plot_bottom)):
        ET.SubElement(group, "line", {"x1": str(LEFT), "x2": str(WIDTH - RIGHT), "y1": str(y), "y2": str(y),
                                      "class": "chart-grid" if value else "chart-axis"})
        label = ET.SubElement(group, "text", {"x": str(LEFT - 6), "y": str(y + 4), "class": "chart-y-label", "text-anchor": "end"})
        label.text = panel.format(value)
    scale = panel.height / ceiling
    for i, category in enumerate(categories):
        col = ET.SubElement(group, "g", {"class": "chart-column"})
        words = ", ".join(f"{s.name} {panel.format(s.values[i] or 0)}" for s in panel.series) if len(panel.series) > 1 \
            else panel.format(panel.series[0].values[i] or 0)
        ET.SubElement(col, "title").text = f"{category}: {words}"
        x = LEFT + column * i + (column - bar) / 2
        # An invisible full-height target, so a column with a tiny (or no) bar still shows its tooltip.
        ET.SubElement(col, "rect", {"x": f"{x:.1f}", "y": str(plot_top), "width": f"{bar:.1f}", "height": str(panel.height),
                                    "class": "chart-hit"})
        bottom = plot_bottom
        for series in panel.series:
            value = series.values[i] or 0
            if value <= 0:
                continue
            h = max(1.0, value * scale)
            bottom -= h
            ET.SubElement(col, "rect", {"x": f"{x:.1f}", "y": f"{bottom:.1f}", "width": f"{bar:.1f}", "height": f"{h:.1f}",
                                        "class": f"chart-bar chart-{series.css}", "data-value": plain_number(value)})


# ------------------------------------------------------------------------------------------ the portal's charts


def _when(moment, fmt):
    return timezone.localtime(moment).strftime(fmt) if moment else ""


HISTORY_SLOTS = 30  # engine.status.HISTORY_CYCLES: the chart keeps its scale as cycles accumulate


def cycle_history(points) -> SafeString:
    """The Overview's last cycles (engine.status.CyclePoint, oldest first): duration, objects changed, failures."""
    n = len(points)
    failed = sum(1 for p in points if p.failures)
    desc = (f"The last {n} cycle{'s' if n != 1 else ''}, oldest first: duration from "
            f"{seconds(min(p.duration_seconds for p in points))} to {seconds(max(p.duration_seconds for p in points))}, "
            f"{sum(p.changed for p in points)} objects changed in all, {failed} cycle{'s' if failed != 1 else ''} with failures."
            if points else "")
    return render(Chart(
        title="History of the last cycles",
        desc=desc,
        categories=[f"{_when(p.started_at, '%-m/%-d/%Y %-I:%M %p')} ({p.state})" for p in points],
        tick_labels=[_when(p.started_at, "%-m/%-d %H:%M") for p in points],
        panels=[
            Panel("Duration", [Series("Duration", "duration", [p.duration_seconds for p in points])], format=seconds, ceiling=nice_seconds),
            Panel("Objects changed", [Series("Changed", "changed", [p.changed for p in points])]),
            Panel("Failures", [Series("Failures", "failure", [p.failures for p in points])]),
        ],
        empty_text="No cycles yet",
        css_class="chart-cycles",
        slots=HISTORY_SLOTS,
    ))


def outcomes_over_time(buckets, *, per="hour", window="") -> SafeString:
    """The logs page's bars: successes and failures per hour (or day): buckets are (start, successes, failures)."""
    fmt, tick = ("%-m/%-d/%Y %-I %p", "%H:%M") if per == "hour" else ("%-m/%-d/%Y", "%-m/%-d")
    if per == "hour" and buckets and buckets[0][0].date() != buckets[-1][0].date():
        tick = "%-m/%-d %H:%M"
    successes, failures = sum(b[1] for b in buckets), sum(b[2] for b in buckets)
    return render(Chart(
        title=f"Successes and failures per {per}{', ' + window if window else ''}",
        desc=f"{successes} successes and {failures} failures in {len(buckets)} {per}s{', ' + window if window else ''}.",
        categories=[_when(start, fmt) for start, _, _ in buckets],
        tick_labels=[_when(start, tick) for start, _, _ in buckets],
        panels=[Panel(f"Entries per {per}", [Series("Success", "success", [b[1] for b in buckets]),
                                             Series("Failure", "failure", [b[2] for b in buckets])], height=70)],
        empty_text="No log entries in this time range",
        legend=True,
        css_class="chart-outcomes",
    ))
