"""Plotly figures of the report. Every string from the database is escaped with `esc` (plotly
renders a subset of HTML in labels and hover text; escaped, it shows the text literally)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from corpus_scan.analyze.text import esc

HEIGHT = 420
TOPIC_COLORS = (
    "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #17becf #bcbd22 #7f7f7f".split()
)


def to_div(fig: go.Figure) -> str:
    """An HTML fragment; the plotly library itself is inlined once, in the page head."""
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        config={"displaylogo": False, "responsive": True},
    )


def _layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    fig.update_layout(
        title=esc(title),
        height=kw.pop("height", HEIGHT),
        margin=kw.pop("margin", {"l": 60, "r": 20, "t": 50, "b": 60}),
        template="plotly_white",
        **kw,
    )
    return fig


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def _short(labels: Sequence[Any], width: int = 60) -> list[str]:
    """Path-like labels relative to their common folder, long ones cut from the left
    (display only; tables and CSVs keep the full value)."""
    texts = [str(x) for x in labels]
    if len(texts) > 1 and all(t.startswith("/") for t in texts):
        root = os.path.commonpath(texts)
        if root not in ("", "/"):
            texts = [os.path.relpath(t, root) if t != root else t for t in texts]
    return [esc(t if len(t) <= width else "…" + t[-(width - 1) :]) for t in texts]


def rate_bars(rows: list[dict], key: str, title: str, *, top: int = 30) -> go.Figure:
    """Flagged documents per million documents, with 95% interval whiskers."""
    rows = rows[:top]
    y = [_num(r["per_million_docs"]) for r in rows]
    hi = [_num(r["per_million_docs_high"]) - v for r, v in zip(rows, y, strict=True)]
    lo = [v - _num(r["per_million_docs_low"]) for r, v in zip(rows, y, strict=True)]
    labels = _short([r[key] for r in rows])
    hover = [
        f"{lab}<br>{r['n_flagged']} flagged of {r['n_docs']} documents" for lab, r in
        zip(labels, rows, strict=True)
    ]  # fmt: skip
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=y,
            error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
            hovertext=hover,
            hoverinfo="text+y",
            marker_color="#4c78a8",
        )
    )
    return _layout(fig, title, yaxis_title="flagged docs per million docs")


def threshold_curve(rows: list[dict], threshold: float | None) -> go.Figure:
    x = [_num(r["threshold"]) for r in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=[_num(r["per_million_docs_high"]) for r in rows]
            + [_num(r["per_million_docs_low"]) for r in rows][::-1],
            fill="toself",
            line={"width": 0},
            fillcolor="rgba(76,120,168,0.2)",
            hoverinfo="skip",
            name="95% interval",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[_num(r["per_million_docs"]) for r in rows],
            mode="lines+markers",
            name="flagged per million docs",
            hovertext=[f"{r['n_flagged']} flagged at score ≥ {r['threshold']}" for r in rows],
        )
    )
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"run threshold {threshold}")
    return _layout(
        fig,
        "Prevalence as a function of the score threshold",
        xaxis_title="score threshold",
        yaxis_title="flagged docs per million docs",
        yaxis_type="log" if any(_num(r["per_million_docs"]) > 0 for r in rows) else "linear",
    )


def score_histogram(rows: list[dict], threshold: float | None) -> go.Figure:
    x = [(_num(r["bin_low"]) + _num(r["bin_high"])) / 2 for r in rows]
    fig = go.Figure()
    for name, col, color in (
        ("not flagged", None, "#9ecae9"),
        ("flagged", "n_flagged", "#e45756"),
    ):
        y = [
            (r["n_candidates"] - r["n_flagged"]) if col is None else r[col] for r in rows
        ]  # fmt: skip
        fig.add_trace(go.Bar(x=x, y=y, width=0.05, name=name, marker_color=color))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text="threshold")
    return _layout(
        fig,
        "Scores of all prefilter candidates",
        barmode="stack",
        xaxis_title="score",
        yaxis_title="candidates",
    )


def topic_bars(rows: list[dict]) -> go.Figure:
    rows = sorted(rows, key=lambda r: -r["n_majority_docs"])[:40]
    labels = [f"{r['topic']}: {esc(r['label'], 50)}" for r in rows]
    colors = [
        {"exclude": "#bbbbbb", "include": "#54a24b"}.get(r["decision"], "#4c78a8") for r in rows
    ]
    fig = go.Figure(
        go.Bar(
            y=labels[::-1],
            x=[r["n_majority_docs"] for r in rows][::-1],
            orientation="h",
            marker_color=colors[::-1],
            hovertext=[
                f"{lab}<br>{r['n_passages']} passages, decision: {esc(r['decision'] or 'none')}"
                for lab, r in zip(labels, rows, strict=True)
            ][::-1],
        )
    )
    return _layout(
        fig,
        "Topics: flagged documents by majority topic (grey: excluded, green: included)",
        xaxis_title="documents",
        height=max(HEIGHT, 28 * len(rows) + 120),
        margin={"l": 320, "r": 20, "t": 50, "b": 60},
    )


def topic_map(points: list[tuple], labels: dict[int, str]) -> go.Figure:
    """Passages on the 2-D projection, coloured by topic; hover shows escaped text."""
    fig = go.Figure()
    by_topic: dict[int, list[tuple]] = {}
    for p in points:
        by_topic.setdefault(int(p[2]), []).append(p)
    for i, (topic, pts) in enumerate(sorted(by_topic.items())):
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                mode="markers",
                marker={
                    "size": 5,
                    "color": "#cccccc" if topic < 0 else TOPIC_COLORS[i % len(TOPIC_COLORS)],
                },
                name=f"{topic}: {esc(labels.get(topic, ''), 30)}",
                hovertext=[f"{esc(p[3], 60)}<br>{esc(p[4], 160)}" for p in pts],
                hoverinfo="text",
            )
        )
    return _layout(fig, "Topic map (2-D projection of the stored vectors)", height=560)


def topics_by_source(rows: list[dict], labels: dict[int, str]) -> go.Figure:
    sources = sorted({r["source"] for r in rows})
    topics = sorted({int(r["topic"]) for r in rows})
    grid = {(r["source"], int(r["topic"])): r["n_docs"] for r in rows}
    short = _short(sources)
    fig = go.Figure()
    for i, t in enumerate(topics):
        fig.add_trace(
            go.Bar(
                x=short,
                y=[grid.get((s, t), 0) for s in sources],
                name=f"{t}: {esc(labels.get(t, ''), 30)}",
                marker_color="#cccccc" if t < 0 else TOPIC_COLORS[i % len(TOPIC_COLORS)],
            )
        )
    return _layout(fig, "Topics over sources (documents by majority topic)", barmode="stack")
