"""provisioning/charts.py: well-formed SVG with a column per category, its bars, labels, title and desc."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from provisioning import charts
from provisioning.engine.status import CyclePoint

NS = {"svg": charts.SVG_NS}
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def parse(markup):
    return ET.fromstring(str(markup))  # raises on anything not well-formed


def bars(svg, css=None):
    classes = [(r, r.get("class", "").split()) for r in svg.findall(".//svg:g[@class='chart-column']/svg:rect", NS)]
    return [r for r, names in classes if "chart-bar" in names and (css is None or f"chart-{css}" in names)]


def columns(svg):
    return svg.findall(".//svg:g[@class='chart-column']", NS)


def texts(svg, css):
    return [t.text for t in svg.findall(f".//svg:text[@class='{css}']", NS)]


def point(i, duration, changed, failures, state="completed"):
    return CyclePoint(cycle_id=i, kind="incremental", state=state, started_at=T0 + timedelta(minutes=40 * i),
                      duration_seconds=duration, changed=changed, failures=failures)


def test_cycle_history_has_a_column_per_cycle_in_each_panel_and_bars_only_for_values():
    points = [point(0, 95, 120, 3), point(1, 12, 0, 0), point(2, 30, 7, 0)]
    svg = parse(charts.cycle_history(points))
    assert svg.tag == f"{{{charts.SVG_NS}}}svg" and svg.get("role") == "img"
    title = svg.find("svg:title", NS)
    desc = svg.find("svg:desc", NS)
    assert title.text == "History of the last cycles"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "The last 3 cycles" in desc.text and "127 objects changed" in desc.text and "1 cycle with failures" in desc.text
    assert texts(svg, "chart-panel-title") == ["Duration", "Objects changed", "Failures"]
    assert len(columns(svg)) == 3 * 3  # three panels of three cycles
    assert len(bars(svg, "duration")) == 3
    assert len(bars(svg, "changed")) == 2  # the cycle that changed nothing has no bar
    assert len(bars(svg, "failure")) == 1
    assert texts(svg, "chart-x-label") == ["11/30 08:00"]  # 30 columns' room: the next label would overlap
    # y axes: 0 and a round maximum at or above the largest value
    assert texts(svg, "chart-y-label") == ["2 min", "0 s", "200", "0", "5", "0"]
    tooltips = [c.find("svg:title", NS).text for c in columns(svg)]
    assert tooltips[0] == "11/30/2026 8:00 AM (completed): 1.6 min"


def test_the_tallest_bar_fills_its_panel_and_the_others_scale():
    svg = parse(charts.cycle_history([point(0, 10, 50, 0), point(1, 10, 25, 0)]))
    heights = [float(r.get("height")) for r in bars(svg, "changed")]
    assert heights == [56.0, 28.0]


def test_x_labels_are_thinned_to_at_most_eight():
    points = [point(i, 5 + i, i, i % 4 == 0) for i in range(30)]
    svg = parse(charts.cycle_history(points))
    labels = texts(svg, "chart-x-label")
    assert len(labels) == 8 and labels[0] == "11/30 08:00"  # every 4th of 30
    assert len(bars(svg, "duration")) == 30


def test_no_cycles_says_so():
    svg = parse(charts.cycle_history([]))
    assert texts(svg, "chart-empty") == ["No cycles yet"]
    assert svg.find("svg:desc", NS).text == "No cycles yet"
    assert not columns(svg) and not bars(svg)


def test_outcomes_stack_successes_and_failures_with_a_legend():
    buckets = [(T0, 4, 1), (T0 + timedelta(hours=1), 0, 0), (T0 + timedelta(hours=2), 0, 6)]
    svg = parse(charts.outcomes_over_time(buckets, per="hour", window="the last 3 hours"))
    assert svg.find("svg:title", NS).text == "Successes and failures per hour, the last 3 hours"
    assert svg.find("svg:desc", NS).text == "4 successes and 7 failures in 3 hours, the last 3 hours."
    assert len(columns(svg)) == 3
    assert len(bars(svg, "success")) == 1 and len(bars(svg, "failure")) == 2
    assert texts(svg, "chart-legend-label") == ["Success", "Failure"]
    assert texts(svg, "chart-x-label") == ["08:00", "09:00", "10:00"]
    first = columns(svg)[0]
    success, failure = (r for r in first.findall("svg:rect", NS) if "chart-bar" in r.get("class"))
    # stacked: the failure sits on top of the success
    assert float(failure.get("y")) + float(failure.get("height")) == float(success.get("y"))
    assert first.find("svg:title", NS).text == "11/30/2026 8 AM: Success 4, Failure 1"


def test_text_is_escaped():
    svg = parse(charts.render(charts.Chart(title="<script>&", desc="a < b", categories=["x<y"],
                                           panels=[charts.Panel("P&L", [charts.Series("S", "success", [1])])])))
    assert svg.find("svg:title", NS).text == "<script>&"
    assert texts(svg, "chart-x-label") == ["x<y"]


def test_labels_never_overlap():
    assert charts.label_indexes(30, column=22, longest=11) == [0, 4, 8, 12, 16, 20, 24, 28]
    assert charts.label_indexes(3, column=200, longest=11) == [0, 1, 2]
    assert charts.label_indexes(100, column=6.6, longest=5) == list(range(0, 100, 13))


def test_nice_ceiling():
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 47, 120, 0.3)] == [1, 1, 5, 10, 50, 200, 0.5]
    assert [charts.nice_seconds(v) for v in (0.4, 12, 95, 1000, 5000)] == [1, 15, 120, 1800, 7200]


def test_a_few_cycles_keep_the_width_of_thirty():
    svg = parse(charts.cycle_history([point(0, 10, 5, 0), point(1, 10, 5, 0)]))
    widths = {r.get("width") for r in bars(svg)}
    assert widths == {f"{(charts.WIDTH - charts.LEFT - charts.RIGHT) / 30 * 0.72:.1f}"}
