"""Assemble one self-contained HTML report from prepared runs (see :mod:`zspace.report.assets`).

Sections: first the Answer to the open question, when the runs were asked it
(``RUN_DIR/question.json`` from ``zspace question`` or the demo): a table of
models x samplers (FD as a multiple of each model's reconstruction floor, void
share, precision/recall), one generated sentence per model and a row of
pictures (each model's N(0, I) and best fitted sampler beside real test
images). Then a side-by-side comparison when there are several runs (SPEC 4.10:
losses, radius and inertia curves, t-SNE, variational statistics, generated
images in aligned columns), then one section per run: configuration,
parameter counts, loss curves, reconstructions, generated grids, and every
analysis of the battery with its numbers in tables beside its figures, the
t-SNE maps and plane views as interactive WebGL scatters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zspace.analysis.compare import CompareResult
from zspace.analysis.radius import RadiusResult
from zspace.core import io
from zspace.core.errors import ZspaceError, require
from zspace.core.layout import RunLayout
from zspace.models import build_model, summarize
from zspace.pipeline.run import open_run
from zspace.report import figures
from zspace.report.answer import sampler_table
from zspace.report.assets import REAL_GRID, RunAssets, answer_samplers, grid_name, load_assets
from zspace.report.holes import holes_block
from zspace.report.html import Page, bidi, dict_table, esc, isolate, png, table
from zspace.science.compare import compare_encoded
from zspace.science.quality.standard import HINT as STANDARD_HINT
from zspace.science.quality.standard import LABEL as STANDARD_LABEL
from zspace.science.question import finding

#: lists longer than this are summarised in tables (count, first, last, min, max)
_LONG_LIST = 12


def _run_name(assets: RunAssets) -> str:
    return assets.name


def _anchor(i: int) -> str:
    return f"run{i}"


def _card(title: str, body: str) -> str:
    return f'<div class="card"><h3>{esc(title)}</h3>{body}</div>'


def _image(path: Path, alt: str) -> str:
    return png(path.read_bytes(), alt) if path.exists() else f'<p class="note">{bidi(path.name)} missing</p>'


def _inline(value: Any) -> str:
    """A small dict or list as one line of HTML (``key: value; ...``), every string escaped and isolated."""
    if isinstance(value, dict):
        return "; ".join(f"{esc(k)}: {_inline(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_inline(v) for v in value)
    return bidi(value)


def _summarise_list(values: list) -> str:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) == len(values) and nums:
        return f"{len(values)} values, min {min(nums):.4g}, max {max(nums):.4g}"
    return f"{len(values)} items"


def _json_block(data: dict[str, Any]) -> str:
    """Render an analysis's JSON: scalars in a key/value table, lists of records as tables, nested dicts recursively."""
    scalars: dict[str, Any] = {}
    blocks: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            blocks.append(f"<h4>{esc(key)}</h4>{_json_block(value)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            header = list(dict.fromkeys(k for v in value for k in v))
            rows = [[_cell(v.get(h)) for h in header] for v in value]
            blocks.append(f"<h4>{esc(key)}</h4>{table(rows, header)}")
        elif isinstance(value, list) and len(value) > _LONG_LIST:
            scalars[key] = _summarise_list(value)
        else:
            scalars[key] = value
    return (dict_table(scalars) if scalars else "") + "".join(blocks)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return _summarise_list(value) if len(value) > _LONG_LIST else ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def _radius_series(assets: RunAssets) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The radius analysis's density curve and chi_d's (:meth:`RadiusResult.density_of_json`), None without one."""
    radius = assets.analysis["analyses"].get("radius")
    return RadiusResult.density_of_json(radius) if radius else None


def _scatter_figure(page: Page, assets: RunAssets, key: str, title: str) -> str:
    points = assets.scatters[key]
    index = assets.scatters[f"{key}.index"]
    store = assets.store
    labels = store.labels[index] if store.labels is not None else None
    factors = store.factors[index] if store.factors is not None else None
    fig = figures.scatter(points, title, labels=labels, class_names=store.meta.get("class_names"),
                          index=store.index[index], factors=factors, factor_names=store.factor_names)
    return page.plot(fig, height=520)


def _scatter_keys(assets: RunAssets, analysis: str) -> list[str]:
    """The scatters analysis ``analysis`` offered (analysis.json["scatters"]) that were saved for the report."""
    return [k for k in assets.analysis.get("scatters", {}).get(analysis, []) if k in assets.scatters]


def _first_tsne_key(assets: RunAssets) -> str | None:
    """The map shown side by side: the first t-SNE map of z, else of the leading PCA components."""
    keys = _scatter_keys(assets, "tsne") or _scatter_keys(assets, "pca")
    return keys[0] if keys else None


def space_comparisons(runs: list[RunAssets], seed: int = 0) -> list[tuple[str, str, CompareResult | str]]:
    """Each pair of runs' test codes compared (:func:`zspace.science.compare.compare_encoded`: CKA, Procrustes,
    k-NN overlap): (name A, name B, the result, or why the pair was not compared)."""
    out: list[tuple[str, str, CompareResult | str]] = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            try:
                result: CompareResult | str = compare_encoded(a.run, a.store, b.run, b.store, seed=seed,
                                                              names=(_run_name(a), _run_name(b)))
            except ZspaceError as exc:
                result = str(exc)
            out.append((_run_name(a), _run_name(b), result))
    return out


def _space_table(comparisons: list[tuple[str, str, CompareResult | str]]) -> str:
    """The pairs' measures as one table, with each measure's chance level; pairs not compared say why."""
    done = [(a, b, r) for a, b, r in comparisons if isinstance(r, CompareResult)]
    html = ""
    if done:
        k = done[0][2].k
        rows = [[f"{isolate(a)} vs {isolate(b)}", f"{r.linear_cka:.3f} ({r.chance['linear_cka']:.4f})",
                 f"{r.rbf_cka:.3f} ({r.chance['rbf_cka']:.4f})", f"{r.procrustes_error:.3f}",
                 f"{r.knn_overlap:.3f} ({r.chance['knn_overlap']:.4f})", f"{r.rows:,}"] for a, b, r in done]
        html += table(rows, ["runs", "linear CKA (chance)", "RBF CKA (chance)", "Procrustes error",
                             f"k-NN overlap, k = {k} (chance)", "test images"])
        html += ('<p class="note">The same test images\' codes (a VAE\'s mu) in two spaces. CKA: 1 = the same '
                 "space up to rotation, scale and shift (RBF: Gaussian kernel, sigma = the median distance between "
                 "rows); Procrustes error: 0 = the same up to rotation, scale and shift, 2 = at right angles; k-NN "
                 "overlap: the share of each image's nearest neighbours that are its neighbours in both spaces. "
                 "Chance: rows paired at random. zspace compare A B gives the same numbers for any two runs.</p>")
    for a, b, reason in comparisons:
        if isinstance(reason, str):
            html += f'<p class="note">{bidi(a)} vs {bidi(b)}: not compared: {esc(reason)}</p>'
    return html


def _comparison(page: Page, runs: list[RunAssets], samplers: Sequence[str],
                comparisons: list[tuple[str, str, CompareResult | str]]) -> None:
    page.heading("AE vs VAE side by side", anchor="compare")
    page.add("<h3>Latent spaces compared: CKA, Procrustes, k-NN overlap</h3>" + _space_table(comparisons))
    names = [_run_name(a) for a in runs]
    cols = []
    for a in runs:
        cols.append(_card(_run_name(a), page.plot(figures.loss_curves(a.run.metrics(),
                                                                      f"{isolate(_run_name(a))}: losses"), 360)))
    page.add('<h3>Losses</h3><div class="cols">' + "".join(cols) + "</div>")

    radius = {n: s for n, s in ((n, _radius_series(a)) for n, a in zip(names, runs)) if s is not None}
    series = {isolate(n): (s[0], s[1]) for n, s in radius.items()}
    for n, s in radius.items():
        series[f"chi_d expectation ({isolate(n)})"] = (s[0], s[2])
    inertia = {}
    for n, a in zip(names, runs):
        res = a.analysis["analyses"].get("inertia")
        if res:
            inertia[isolate(n)] = (res["k_values"], np.asarray(res["inertia"]) / max(res["n_points"], 1))
    page.add('<h3>Radius and inertia curves</h3><div class="cols">'
             + _card("number density vs radius R", page.plot(figures.curves(series, "density of R", "R (z units)",
                                                                          "points per unit R (normalised)"), 380))
             + _card("k-means inertia per point", page.plot(figures.curves(inertia, "inertia / N", "k",
                                                                         "mean squared distance (z units^2)"), 380))
             + "</div>")

    cols = []
    for a in runs:
        key = _first_tsne_key(a)
        body = _scatter_figure(page, a, key, f"{isolate(_run_name(a))}: {key}") if key else "<p>no t-SNE</p>"
        cols.append(_card(_run_name(a), body))
    page.add('<h3>t-SNE</h3><div class="cols">' + "".join(cols) + "</div>")

    headlines = [a.analysis.get("headlines", {}).get("vae") for a in runs]
    keys = list(dict.fromkeys(k for h in headlines if h for k in h))
    stats_rows = [[key, *("n/a (AE)" if h is None else h.get(key) for h in headlines)] for key in keys]
    if stats_rows:
        page.add("<h3>Variational statistics</h3>" + table(stats_rows, ["statistic", *names]))

    answers = {n: a.question for n, a in zip(names, runs)}
    if any(answers.values()):
        samplers_seen = list(dict.fromkeys(r["sampler"] for ans in answers.values() if ans for r in ans["rows"]))
        rows = []
        for sampler in samplers_seen:
            row = [sampler]
            for ans in answers.values():
                match = [r for r in (ans or {}).get("rows", []) if r["sampler"] == sampler]
                row.append(f"{match[0]['fd_over_floor']:.3g} / {match[0]['void_share']:.2f}" if match else "-")
            rows.append(row)
        page.add("<h3>Samplers: FD over the reconstruction floor / void share</h3>"
                 + table(rows, ["sampler", *names]))

    factor_summaries = {n: _factors(a.run.root) for n, a in zip(names, runs)}
    if any(factor_summaries.values()):
        measured = {n: _factor_measures(f) for n, f in factor_summaries.items() if f}
        keys = list(dict.fromkeys(k for m in measured.values() for k in m))
        page.add("<h3>Factors: MIG, DCI, SAP</h3>"
                 + table([[k, *(measured.get(n, {}).get(k, "-") for n in names)] for k in keys], ["measure", *names]))

    cols = []
    for a in runs:
        grids = "".join(f"<p>{esc(s)}</p>" + _image(a.run.root / grid_name(s), f"{_run_name(a)} {s}") for s in samplers)
        cols.append(_card(_run_name(a), grids))
    page.add('<h3>Generated from random points</h3><div class="cols">' + "".join(cols) + "</div>")


def _answer(page: Page, runs: list[RunAssets]) -> None:
    """The finding first: models x samplers table, one sentence per model, the picture row."""
    found = [(a, finding(a.question, isolate(_run_name(a)))) for a in runs if a.question]
    if not found:
        return
    page.heading("Answer: do random points decode badly, and why?", anchor="answer")
    counts = sorted({r["n"] for _, f in found for r in f["rows"] if r.get("n")})
    drawn = " or ".join(f"{n:,}" for n in counts) or "the"
    with_fid = any(f.get("standard") for _, f in found)
    page.add(f'<p class="note">FD of images decoded from {drawn} random points of each sampler, as a multiple of '
             "the model's reconstruction floor (FD of its own reconstructions of test images; 1x is as good as this "
             "decoder gets); void share: the part of those points farther from every encoded training point than "
             "nearly all training points are from each other; P / R: k-NN precision and recall against test "
             "images. FD, P and R are measured in zspace's own feature net"
             + (f"; FID: the Frechet Inception Distance ({esc(STANDARD_LABEL)}), the field's number, against "
                "the same test images" if with_fid else "") + ".</p>")
    if not with_fid:
        page.add(f'<p class="note">{esc(STANDARD_HINT)}</p>')
    page.add("".join(f"<p>{esc(f['sentence'])}</p>" for _, f in found))
    samplers = list(dict.fromkeys(r["sampler"] for _, f in found for r in f["rows"]))
    rows = []
    for a, f in found:
        cells = {r["sampler"]: f"{r['x_floor']:.2f}x · void {r['void_share']:.2f} · P {r['precision']:.2f} "
                               f"R {r['recall']:.2f}" + (f" · FID {r['standard']['fid']:.3g}" if r.get("standard")
                                                         else "")
                               + (" (best)" if r is f["best"] else "")
                 for r in f["rows"]}
        floor_fid = (f.get("standard") or {}).get("floor")
        rows.append([_run_name(a), f"{f['floor_fd']:.3g}", *(cells.get(s, "-") for s in samplers)]
                    + ([f"{floor_fid['fid']:.3g}" if floor_fid else "-"] if with_fid else []))
    page.add(table(rows, ["model", "floor FD", *samplers] + (["floor FID"] if with_fid else []), cls="answer"))
    pictures = []
    for a, f in found:
        for sampler in answer_samplers(a.question):
            row = next((r for r in f["rows"] if r["sampler"] == sampler), None)
            what = "N(0, I)" if sampler == "normal" else f"{sampler}, the best fitted sampler"
            score = f" — {row['x_floor']:.2f}x the floor" if row else ""
            pictures.append(_card(f"{isolate(_run_name(a))} + {what}{score}",
                                  _image(a.run.root / grid_name(sampler), f"{_run_name(a)} {sampler}")))
    pictures.append(_card("real test images", _image(runs[0].run.root / REAL_GRID, "real test images")))
    page.add('<div class="cols answer-pictures">' + "".join(pictures) + "</div>")


def _factors(run_root: Path) -> dict[str, Any] | None:
    """``RUN_DIR/factors/factors.json`` written by ``zspace factors RUN_DIR``, when present."""
    path = RunLayout(run_root).factors_summary
    return json.loads(path.read_text()) if path.exists() else None


def _factor_measures(summary: dict[str, Any]) -> dict[str, Any]:
    """The headline measures of a factors.json: MIG, DCI and SAP on the axes and on the PCA directions."""
    out = {}
    for basis in ("axes", "pca"):
        scores = summary["measures"][basis]
        out.update({f"MIG ({basis})": scores["mig"], f"SAP ({basis})": scores["sap"],
                    f"DCI disentanglement ({basis})": scores["dci_disentanglement"],
                    f"DCI completeness ({basis})": scores["dci_completeness"]})
    out["DCI informativeness"] = summary["measures"]["axes"]["dci_informativeness"]
    return out


def _factors_block(run_root: Path, summary: dict[str, Any]) -> str:
    """One run's factor table (best axis, best PCA direction, linear read-out per factor), heat map and traversals."""
    measures = summary["measures"]
    rows = []
    for k, name in enumerate(summary["factor_names"]):
        rows.append([name, measures["axes"]["best_direction"][k], measures["axes"]["best_direction_mi"][k],
                     measures["pca"]["best_direction"][k], measures["pca"]["best_direction_mi"][k],
                     measures["linear_r2"][k]])
    pictures = "".join(_image(RunLayout(run_root).factors / f, f) for f in summary.get("figures", [])
                       if f.startswith(("mi-", "traverse-", "paths-")))
    return ('<div class="cols">'
            + _card("measures", dict_table(_factor_measures(summary))
                    + table(rows, ["factor", "best axis", "MI/H", "best PCA dir.", "MI/H", "linear R² / acc."]))
            + _card("mutual information, traversals (rows: encoded points; columns: steps), paths", pictures)
            + "</div>")


def _question_block(page: Page, answer: dict[str, Any], name: str) -> str:
    """The sampler table of the open question (SPEC 5) for one run, its floor, ceiling, reading and path profiles."""
    dim = answer["intrinsic_dim"]
    facts = {"intrinsic dimension (TwoNN)": dim["twonn"], "intrinsic dimension (MLE)": dim["mle"],
             "active units": answer["active_units"] if answer["active_units"] is not None else "n/a (AE)",
             "void threshold (z units)": answer["void_threshold"]}
    prior = answer.get("prior_mismatch")
    if prior:  # question.json of zspace >= issue 26
        facts["prior MMD^2, N(0, I) vs the training codes"] = (f"{prior['mmd2']:.4g} ({prior['kernel']} kernel, "
                                                               f"{prior['posterior']})")
    net = answer.get("standard_net")
    if net:  # what the standard columns were measured with
        facts["standard scores"] = (f"{net.get('label')}: torch-fidelity {net.get('torch_fidelity')}, weights "
                                    f"{Path(str(net.get('weights'))).name} (SHA-256 {str(net.get('sha256'))[:12]}...), "
                                    f"{net.get('n_reference')} real images")
    block = (sampler_table(answer) + dict_table(facts)
             + f"<p>{esc(answer.get('sentence', ''))}</p>")
    profiles = (answer.get("paths") or {}).get("profiles") or []
    if profiles:
        realism = {f"{p['kind']} paths": (p["t"], p["realism"]) for p in profiles}
        void = {f"{p['kind']} paths": (p["t"], p["void_distance"]) for p in profiles}
        block += ('<div class="cols">'
                  + _card("median realism of the decoded images along straight paths (>= 1: like real images)",
                          page.plot(figures.curves(realism, f"{isolate(name)}: realism along paths", "t",
                                                   "median realism"), 340))
                  + _card("distance to the nearest training code (x void threshold; > 1: in a void)",
                          page.plot(figures.curves(void, f"{isolate(name)}: void distance along paths", "t",
                                                   "distance / threshold"), 340))
                  + "</div>")
    return block


def _run_section(page: Page, i: int, assets: RunAssets, samplers: Sequence[str]) -> None:
    run = assets.run
    name = _run_name(assets)
    page.add(f'<h2 id="{_anchor(i)}">Run {bidi(name)}</h2>')
    page.paragraph(str(run.root))
    summary = summarize(build_model(run.model_config))
    layer_rows = [(r.name, r.kind, "x".join(map(str, r.output_shape)), r.params)
                  for part in summary.rows.values() for r in part]
    page.add('<div class="cols">'
             + _card("configuration", "<h4>model</h4>" + dict_table(run.config["model"])
                     + "<h4>training</h4>" + dict_table(run.config["train"])
                     + "<h4>data</h4>" + dict_table(run.config.get("data", {})))
             + _card("parameters", dict_table(summary.to_dict()) + "<details><summary>layers</summary>"
                     + table(layer_rows, ["layer", "type", "output", "params"]) + "</details>")
             + _card("losses", page.plot(figures.loss_curves(run.metrics(), f"{isolate(name)}: losses"), 380))
             + "</div>")
    grids = "".join(f"<p>{esc(s)}</p>" + _image(run.root / grid_name(s), s) for s in samplers)
    page.add('<div class="cols">'
             + _card("reconstructions (top: unseen test image, below: reconstruction)",
                     _image(run.layout.reconstruction, "reconstructions"))
             + _card("generated from random points", grids) + "</div>")

    answer = assets.question
    if answer is not None:
        page.heading("The open question: samplers, sample quality, voids (zspace question)", level=3)
        page.add(_question_block(page, answer, name))

    if assets.holes is not None:
        page.heading("Holes: prior mismatch, voids, rims, the cycle (zspace holes)", level=3)
        page.add(holes_block(assets.holes))

    factor_summary = _factors(run.root)
    if factor_summary is not None:
        page.heading("Which directions encode which factors (zspace factors)", level=3)
        page.add(_factors_block(run.root, factor_summary))

    analysis = assets.analysis
    page.heading("Latent-space analyses", level=3)
    page.add(f'<p class="note">input: {_inline(analysis["input"])}; '
             f'skipped: {_inline(analysis.get("skipped") or "none")}</p>')
    for key, result in analysis["analyses"].items():
        # a scatter that shows all its static figure does (a t-SNE map) replaces that PNG
        shown = {k for k in _scatter_keys(assets, key) if analysis["scatters"][key][k]["replaces_figure"]}
        pictures = "".join(_image(run.layout.analysis / f, f) for f in analysis.get("figures", {}).get(key, [])
                           if Path(f).stem not in shown)
        interactive = "".join(_scatter_figure(page, assets, k, f"{isolate(name)}: {k}")
                              for k in _scatter_keys(assets, key))
        page.add(f'<h4>{esc(key)}</h4><div class="cols"><div class="card">{_json_block(result)}</div>'
                 f'<div class="card">{pictures}{interactive}</div></div>')


def build_report(run_dirs: Sequence[str | Path], out: str | Path, samplers: Sequence[str],
                 title: str = "zspace report", names: Sequence[str] | None = None) -> Path:
    """Write the report for runs already prepared with :func:`zspace.report.assets.prepare_run`.

    ``names`` label the runs (default: their directory names).
    """
    require(names is None or len(names) == len(run_dirs),
            f"--names gives {len(names or [])} names for {len(run_dirs)} runs; give one name per RUN_DIR")
    runs = [load_assets(open_run(d), name) for d, name in zip(run_dirs, names or [None] * len(run_dirs))]
    page = Page(title)
    links = " · ".join(f'<a href="#{_anchor(i)}">{bidi(_run_name(a))}</a>' for i, a in enumerate(runs))
    answer_link = '<a href="#answer">answer</a> · ' if any(a.question for a in runs) else ""
    page.add(f"<p>{answer_link}runs: {links}"
             + (' · <a href="#compare">side by side</a>' if len(runs) > 1 else "") + "</p>")
    _answer(page, runs)
    if len(runs) > 1:
        _comparison(page, runs, samplers, space_comparisons(runs))
    for i, assets in enumerate(runs):
        _run_section(page, i, assets, samplers)
    return io.write_text(out, page.render())
