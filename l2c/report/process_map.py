"""The process map drawn as inline SVG: Graphviz's dot layout through pygraphviz (its wheels
bundle Graphviz, so no system package is needed). Frequency view: edge labels are transition
counts; performance view: median waits. Every edge's <g> carries data-source, data-target,
data-count and data-median-wait-s so a reader (or a test) can tie the picture to the marts."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pygraphviz

from l2c.report.data import ProcessMap

SVG_NS = "http://www.w3.org/2000/svg"
START, END = "__start__", "__end__"
FONT = "Helvetica,Arial,sans-serif"

ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def format_wait(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _shade(fraction: float) -> str:
    """White-blue (0) to dark blue (1)."""
    fraction = min(max(fraction, 0.0), 1.0)
    low, high = (222, 235, 247), (8, 48, 107)
    r, g, b = (round(lo + (hi - lo) * fraction) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _heat(fraction: float) -> str:
    """Grey (fast) to red (slow)."""
    fraction = min(max(fraction, 0.0), 1.0)
    low, high = (150, 150, 150), (203, 24, 29)
    r, g, b = (round(lo + (hi - lo) * fraction) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def render(pmap: ProcessMap, view: str) -> str:
    """The map as an <svg> element (string); view is 'frequency' or 'performance'."""
    graph = pygraphviz.AGraph(directed=True, strict=False)
    graph.graph_attr.update(rankdir="TB", nodesep="0.35", ranksep="0.45", bgcolor="transparent")
    graph.node_attr.update(shape="box", style="rounded,filled", fontname=FONT, fontsize="10")
    graph.edge_attr.update(fontname=FONT, fontsize="9", arrowsize="0.6")
    activities = sorted(
        {e.source for e in pmap.edges}
        | {e.target for e in pmap.edges}
        | set(pmap.starts)
        | set(pmap.ends)
    )
    frequency: dict[str, int] = {a: 0 for a in activities}
    for edge in pmap.edges:
        frequency[edge.target] += edge.count
    for activity, n in pmap.starts.items():
        frequency[activity] += n
    top = max(frequency.values(), default=1) or 1
    ids = {activity: f"n{i}" for i, activity in enumerate(activities)}
    for activity in activities:
        share = math.log1p(frequency[activity]) / math.log1p(top)
        graph.add_node(
            ids[activity],
            label=f"{activity}\n{frequency[activity]:,}",
            fillcolor=_shade(share * 0.8),
            fontcolor="white" if share > 0.55 else "black",
            color="#4a6a8a",
        )
    graph.add_node(START, label="start", shape="circle", fillcolor="#2ca25f", fontcolor="white")
    graph.add_node(END, label="end", shape="doublecircle", fillcolor="#636363", fontcolor="white")
    max_count = max((e.count for e in pmap.edges), default=1)
    waits = [e.median_wait_s for e in pmap.edges if e.median_wait_s is not None]
    max_wait = max(waits, default=1.0) or 1.0
    data: dict[str, dict[str, str]] = {}
    for i, edge in enumerate(pmap.edges):
        edge_id = f"e{i}"
        weight = edge.count / max_count
        if view == "performance":
            slow = (edge.median_wait_s or 0.0) / max_wait
            label, color, width = format_wait(edge.median_wait_s), _heat(slow), 1 + 4 * slow
        else:
            label, color, width = f"{edge.count:,}", _shade(0.3 + 0.7 * weight), 1 + 5 * weight
        graph.add_edge(
            ids[edge.source],
            ids[edge.target],
            key=edge_id,
            id=edge_id,
            label=label,
            color=color,
            penwidth=f"{width:.2f}",
        )
        data[edge_id] = {
            "data-kind": "flow",
            "data-source": edge.source,
            "data-target": edge.target,
            "data-count": str(edge.count),
            "data-median-wait-s": "" if edge.median_wait_s is None else f"{edge.median_wait_s:.0f}",
        }
    for kind, endpoints in (("start", pmap.starts), ("end", pmap.ends)):
        for activity, n in endpoints.items():
            edge_id = f"{kind}{ids[activity]}"
            pair = (START, ids[activity]) if kind == "start" else (ids[activity], END)
            graph.add_edge(
                *pair, key=edge_id, id=edge_id, label=f"{n:,}", style="dashed", color="#969696"
            )
            data[edge_id] = {"data-kind": kind, "data-activity": activity, "data-count": str(n)}
    graph.layout(prog="dot")
    svg = ET.fromstring(graph.draw(format="svg"))
    for group in svg.iter(f"{{{SVG_NS}}}g"):
        for key, value in data.get(group.get("id", ""), {}).items():
            group.set(key, value)
    # scale to the page's width, keep the aspect ratio
    svg.attrib.pop("width", None)
    svg.attrib.pop("height", None)
    svg.set("class", "process-map")
    svg.set("role", "img")
    return ET.tostring(svg, encoding="unicode")
