"""Interactive plotly figures (as JSON-ready dicts) built from numbers, never from models.

Every user string (titles, run, class and factor names) goes through
:func:`~zspace.report.html.plotly_text`: plotly renders a small HTML subset
in text and substitutes ``%{...}`` in hover templates, and the entities that
function writes come out as the characters. Class and factor names are also
bidi-isolated (:func:`~zspace.report.html.isolate`); callers isolate a name they
put inside a longer title themselves.
Bulk arrays go through ``plotly.io.to_json``, which writes numpy arrays as
base64 typed arrays (``{"dtype": "f4", "bdata": ...}``): a 20,000-point
scatter costs ~0.3 MB instead of ~1 MB of decimal text.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from zspace.report.html import isolate, plotly_text

#: the toolbar stands upright in the right margin, so it never covers a title (titles sit in the top margin)
#: nor a legend (legends go below the plot)
_LAYOUT = dict(template="simple_white", margin=dict(l=50, r=45, t=60, b=40), modebar=dict(orientation="v"),
               title=dict(x=0.02, xanchor="left", y=0.97, yanchor="top", font=dict(size=14)),
               legend=dict(orientation="h", x=0, y=-0.2, yanchor="top"))


def _as_dict(fig: go.Figure) -> dict[str, Any]:
    return json.loads(pio.to_json(fig, validate=False))


def loss_curves(metrics: list[dict[str, Any]], title: str = "losses") -> dict[str, Any]:
    """Train and validation total/reco/kl per epoch (KL on the right axis; left out when it is 0 throughout,
    as for an AE); divergence events as dashed red lines."""
    epochs = [r for r in metrics if "event" not in r and "epoch" in r]
    fig = go.Figure()
    x = [r["epoch"] for r in epochs]
    for split, dash in (("train", "solid"), ("val", "dot")):
        for term in ("total", "reco", "kl"):
            y = [r[split][term] for r in epochs]
            if term == "kl" and not any(y):
                continue  # an AE has no KL term
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{split} {term}",
                                     line=dict(dash=dash), yaxis="y2" if term == "kl" else "y"))
    title = plotly_text(title)
    for event in (r for r in metrics if r.get("event") == "divergence"):
        fig.add_vline(x=event["epoch"], line=dict(color="red", dash="dash"),
                      annotation_text=f"divergence, lr→{event['new_lr']:.2g}")
    fig.update_layout(**_LAYOUT)
    fig.update_layout(title_text=title, yaxis_title="nats / image (total, reco)",
                      yaxis2=dict(title="KL (nats / image)", overlaying="y", side="right"),
                      margin=dict(r=100), legend=dict(y=-0.32))  # the KL axis and its title left of the toolbar
    # epochs are whole numbers: ticks on them only (never "1.5")
    fig.update_xaxes(title_text="epoch", tickmode="linear", tick0=1, dtick=max(1, -(-len(x) // 10)))
    return _as_dict(fig)


def curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, x_title: str,
           y_title: str, log_y: bool = False) -> dict[str, Any]:
    """Several named (x, y) line series in one plot (e.g. radius densities of several runs)."""
    fig = go.Figure()
    for name, (x, y) in series.items():
        fig.add_trace(go.Scatter(x=np.asarray(x, dtype=np.float32), y=np.asarray(y, dtype=np.float32),
                                 mode="lines", name=plotly_text(name)))
    fig.update_layout(**_LAYOUT)
    fig.update_layout(title_text=plotly_text(title), xaxis_title=plotly_text(x_title),
                      yaxis_title=plotly_text(y_title))
    if log_y:
        fig.update_yaxes(type="log")
    return _as_dict(fig)


def scatter(points: np.ndarray, title: str, labels: np.ndarray | None = None,
            class_names: Sequence[str] | None = None, index: np.ndarray | None = None,
            factors: np.ndarray | None = None, factor_names: Sequence[str] = (), marker_size: float = 2.5,
            x_title: str = "", y_title: str = "") -> dict[str, Any]:
    """WebGL scatter of (N, 2) points, one trace per label (legend toggles classes).

    Hover shows the label, the point's index and its generating factors.
    """
    points = np.asarray(points, dtype=np.float32)
    n = len(points)
    index = np.arange(n) if index is None else np.asarray(index)
    extra = np.asarray(factors, dtype=np.float32) if factors is not None else np.zeros((n, 0), np.float32)
    custom = np.concatenate([index[:, None].astype(np.float32), extra], axis=1)
    hover = "index %{customdata[0]:.0f}" + "".join(
        f"<br>{plotly_text(isolate(name))} %{{customdata[{i + 1}]:.3g}}" for i, name in enumerate(factor_names))
    groups = [(None, np.ones(n, bool))] if labels is None else [(v, labels == v) for v in np.unique(labels)]
    fig = go.Figure()
    for value, mask in groups:
        if value is None:
            name = "points"
        elif class_names is not None and 0 <= int(value) < len(class_names):
            name = plotly_text(isolate(class_names[int(value)]))
        else:
            name = f"label {int(value)}"
        fig.add_trace(go.Scattergl(x=points[mask, 0], y=points[mask, 1], mode="markers", name=name,
                                   marker=dict(size=marker_size, opacity=0.7), customdata=custom[mask],
                                   hovertemplate=f"<b>{name}</b><br>{hover}<extra></extra>"))
    fig.update_layout(**_LAYOUT)
    fig.update_layout(title_text=plotly_text(title), xaxis_title=plotly_text(x_title),
                      yaxis_title=plotly_text(y_title), legend=dict(itemsizing="constant"))
    return _as_dict(fig)
