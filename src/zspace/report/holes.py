"""The report's block for one run's ``holes.json`` (``zspace holes``): HTML from the numbers, nothing computed."""

from __future__ import annotations

from typing import Any

from zspace.report.html import dict_table, esc, table
from zspace.science.hole_study import PlantedHole


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def holes_block(summary: dict[str, Any]) -> str:
    """The prior mismatch, each sampler's hole rates and, when the data plants a hole, each measure's AUC."""
    h = summary["holes"]
    prior = h["prior"]
    facts = {"prior MMD^2 (unbiased)": prior["mmd2"], "kernel": f"{prior['kernel']} (scale {prior['kernel_scale']:g})",
             "compared with N(0, I)": prior["posterior"], "draws per sampler": summary["n"],
             "void rim neighbours": h["rim_k"]}
    rows = [[s["name"], _rate(s["void_rate"]), _rate(s["hole_rate"]), _rate(s["rim_rate"]), _rate(s["cycle_rate"]),
             s["void_median"]] for s in h["sets"]]
    html = (dict_table(facts)
            + table(rows, ["sampler", "in voids", "hole rate", "at a rim", "fail the cycle", "median void distance"])
            + '<p class="note">In voids: farther from every training code than 99 % of training codes are from '
              "their nearest; at a rim: the nearest training codes lie to one side, as for fewer than 1 % of "
              "training codes; hole rate: past the training codes' 99th percentile of the two combined; fail the "
              "cycle: decoding and re-encoding moves the point more than it moves 99 % of training codes.</p>")
    planted = summary.get("planted")
    if planted:
        rows = [[m["measure"], f"{m['auc']:.3f}", _rate(m["rate_hole"]), _rate(m["rate_rest"])]
                for m in planted["measures"]]
        html += (f"<h4>The planted hole of {esc(planted['data'])}</h4>"
                 + table(rows, ["measure", "AUC (hole vs other test codes)", "flagged in the hole",
                                "flagged elsewhere"])
                 + f"<p>{esc(PlantedHole(**planted).sentence())}</p>")
    return html
