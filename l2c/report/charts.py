"""Small inline-SVG charts (horizontal bars, histogram, line), written with ElementTree: the
report needs four simple chart kinds, not a plotting library."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "font-family: Helvetica, Arial, sans-serif; font-size: 11px"
BAR = "#3182bd"
ACCENT = "#e6550d"


def _svg(width: int, height: int, label: str) -> ET.Element:
    return ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {width} {height}",
            "class": "chart",
            "role": "img",
            "aria-label": label,
            "style": FONT,
        },
    )


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", **attrs})
    element.text = text
    return element


def _rect(parent: ET.Element, x: float, y: float, w: float, h: float, fill: str) -> ET.Element:
    return ET.SubElement(
        parent,
        "rect",
        {
            "x": f"{x:.1f}",
            "y": f"{y:.1f}",
            "width": f"{max(w, 0):.1f}",
            "height": f"{h:.1f}",
            "fill": fill,
        },
    )


def hbars(items: Sequence[tuple[str, float, str]], label: str, width: int = 760) -> str:
    """One bar per item: (name, value, text shown at the bar's end)."""
    row, left, right = 22, min(360, width // 2), 150
    svg = _svg(width, row * len(items) + 10, label)
    top = max((v for _, v, _ in items), default=0) or 1
    for i, (name, value, text) in enumerate(items):
        y = 5 + i * row
        shown = name if len(name) <= 60 else name[:57] + "..."
        title = _text(svg, left - 6, y + 14, shown, **{"text-anchor": "end"})
        ET.SubElement(title, "title").text = name
        bar = (width - left - right) * value / top
        _rect(svg, left, y + 3, bar, row - 6, BAR)
        _text(svg, left + bar + 4, y + 14, text)
    return ET.tostring(svg, encoding="unicode")


def histogram(values: Sequence[float], label: str, unit: str = "days", bins: int = 20) -> str:
    """Counts of values in equal-width bins from 0 to the 99th percentile (the rest in the
    last bin), with the median marked."""
    width, height, left, bottom = 760, 200, 40, 30
    svg = _svg(width, height, label)
    if not values:
        _text(svg, left, height / 2, "no completed cases")
        return ET.tostring(svg, encoding="unicode")
    ordered = sorted(values)
    high = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] or 1.0
    step = high / bins
    counts = [0] * bins
    for v in ordered:
        counts[min(int(max(v, 0) / step), bins - 1)] += 1
    top = max(counts) or 1
    plot_w, plot_h = width - left - 10, height - bottom - 10
    bar_w = plot_w / bins
    for i, n in enumerate(counts):
        h = plot_h * n / top
        bar = _rect(svg, left + i * bar_w + 1, 10 + plot_h - h, bar_w - 2, h, BAR)
        ET.SubElement(bar, "title").text = f"{i * step:.1f}-{(i + 1) * step:.1f} {unit}: {n} cases"
    for i in range(0, bins + 1, 5):
        _text(svg, left + i * bar_w, height - 12, f"{i * step:.0f}", **{"text-anchor": "middle"})
    _text(svg, left - 4, 18, str(top), **{"text-anchor": "end"})
    _text(svg, left - 4, 10 + plot_h, "0", **{"text-anchor": "end"})
    median = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else ((ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2)
    )
    x = left + plot_w * min(median / high, 1.0)
    ET.SubElement(
        svg,
        "line",
        {
            "x1": f"{x:.1f}",
            "x2": f"{x:.1f}",
            "y1": "10",
            "y2": f"{10 + plot_h:.1f}",
            "stroke": ACCENT,
            "stroke-width": "2",
            "stroke-dasharray": "4 3",
        },
    )
    _text(svg, x + 4, 22, f"median {median:.1f} {unit}", fill=ACCENT)
    _text(svg, width - 10, height - 0.5, unit, **{"text-anchor": "end"})
    return ET.tostring(svg, encoding="unicode")


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    label: str,
    unit: str = "days",
) -> str:
    """Line chart over labelled points; series = (name, values, colour)."""
    width, height, left, bottom = 760, 220, 45, 40
    svg = _svg(width, height, label)
    values = [v for _, vs, _ in series for v in vs if v is not None]
    if not labels or not values:
        _text(svg, left, height / 2, "no data")
        return ET.tostring(svg, encoding="unicode")
    top = max(values) * 1.1 or 1.0
    plot_w, plot_h = width - left - 10, height - bottom - 20
    step = plot_w / max(len(labels) - 1, 1)

    def y_of(v: float) -> float:
        return 10 + plot_h * (1 - v / top)

    for tick in range(0, 5):
        v = top * tick / 4
        ET.SubElement(
            svg,
            "line",
            {
                "x1": str(left),
                "x2": str(width - 10),
                "y1": f"{y_of(v):.1f}",
                "y2": f"{y_of(v):.1f}",
                "stroke": "#e0e0e0",
            },
        )
        _text(svg, left - 4, y_of(v) + 4, f"{v:.0f}", **{"text-anchor": "end"})
    every = max(1, len(labels) // 8)
    for i, text in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            _text(svg, left + i * step, height - bottom + 14, text, **{"text-anchor": "middle"})
    for n, (name, vs, colour) in enumerate(series):
        points = [f"{left + i * step:.1f},{y_of(v):.1f}" for i, v in enumerate(vs) if v is not None]
        ET.SubElement(
            svg,
            "polyline",
            {"points": " ".join(points), "fill": "none", "stroke": colour, "stroke-width": "2"},
        )
        _rect(svg, left + 10 + n * 200, height - 14, 12, 4, colour)
        _text(svg, left + 26 + n * 200, height - 9, name)
    _text(svg, 4, 10, unit)
    return ET.tostring(svg, encoding="unicode")
