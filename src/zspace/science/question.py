"""SPEC section 5 in numbers: do voids explain why random z-points decode badly?

For each run: every sampler's decoded images are scored against held-out
images (Frechet distance, k-NN precision and recall; :mod:`zspace.science.quality`)
beside the reconstruction floor and the shuffled-pixel ceiling; the share
of its points that land in voids of the encoded training cloud
(:mod:`zspace.science.voids`); the intrinsic dimension of that cloud (TwoNN, MLE)
and, for a VAE, its active units. Path profiles show where quality drops
along straight lines. One generated sentence per run reads the numbers.

Reading: if the samplers with the smallest void share are also the ones
closest to the floor (a high rank correlation), the voids explain the
failures; a sampler with a large void share yet a good FD would point to a
larger coherent region where decoding works.

With a weights file of torch-fidelity's Inception-v3 every row also carries
the field's standard scores (FID, KID, precision/recall, density/coverage;
:mod:`zspace.science.quality.standard`), and :data:`PROTOCOLS` names sets of
options, such as the literature's (``rae``: Ghosh et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from zspace.analysis.vae_stats import vae_statistics
from zspace.core import io
from zspace.core.errors import require
from zspace.core.log import get_logger
from zspace.core.registry import Registry
from zspace.core.results import json_summary
from zspace.core.rng import sub_seed
from zspace.data.imageset import require_images_fit
from zspace.pipeline import checkpoint
from zspace.pipeline.run import Run, open_run
from zspace.science.holes import PriorMismatch, store_prior_mismatch
from zspace.science.intrinsic_dim import IntrinsicDimResult, intrinsic_dimension
from zspace.science.latents import fitted_sampler, training_store
from zspace.science.quality.features import LABEL as FEATURE_NET_LABEL
from zspace.science.quality.features import FeatureNetConfig
from zspace.science.quality.score import STANDARD_HEADER, QualityRow, Scorer, standard_cells
from zspace.science.quality.standard import HINT, LABEL as STANDARD_LABEL, StandardConfig, StandardRow
from zspace.science.samplers import SAMPLERS, make_sampler
from zspace.science.voids import PathProfiles, VoidReference, path_profiles, void_share

log = get_logger(__name__)

#: the samplers of issue 6, naive ones first
DEFAULT_SAMPLERS = ("normal", "uniform:2", "diag-gauss", "full-gauss", "marginal", "shell", "interp:5", "gmm:10",
                    "flow")


@dataclass(frozen=True)
class Protocol:
    """A named set of ``zspace question`` options (``--protocol NAME``); options given on the command line win.

    Attributes
    ----------
    samplers : tuple of str
        Sampler specs.
    n : int
        Points drawn and decoded per sampler.
    n_reference : int
        Held-out test images in the real set (at most half the test split; the other half gives the floor).
    about : str
        Where the protocol comes from, in one line.
    """

    samplers: tuple[str, ...]
    n: int
    n_reference: int
    about: str


#: the protocols of ``zspace question --protocol``; docs/question.md says what each leaves different from its source
PROTOCOLS: Registry[Protocol] = Registry("question protocol", {
    "zspace": Protocol(DEFAULT_SAMPLERS, 5000, 5000, "zspace's own: every sampler of issue 6, 5,000 points each"),
    "rae": Protocol(("normal", "gmm:10"), 10000, 5000,
                    "Ghosh et al. 2020 (RAE): a 10-component full-covariance GMM fitted ex post to the training "
                    "codes beside N(0, I), 10,000 samples each against test images"),
})


@dataclass
class SamplerRow:
    """One sampler of one run: quality beside the floor and how many points land in voids."""

    sampler: str
    n: int
    fd: float
    fd_over_floor: float
    precision: float
    recall: float
    void_share: float
    median_void_ratio: float
    standard: StandardRow | None = None


@dataclass
class RunAnswer:
    """Everything ``zspace question`` measured on one run."""

    run: str
    label: str
    kind: str
    z_dim: int
    fact: float | None
    epoch: int
    rows: list[SamplerRow]
    floor: QualityRow
    ceiling: QualityRow
    intrinsic_dim: IntrinsicDimResult
    active_units: int | None
    void_threshold: float
    void_fd_spearman: float | None
    paths: PathProfiles | None
    feature_net: dict
    sentence: str = ""
    standard_net: dict | None = None
    #: MMD^2 of N(0, I) against the training codes' aggregate posterior (:mod:`zspace.science.holes`)
    prior_mismatch: PriorMismatch | None = None

    def best(self) -> SamplerRow:
        return min(self.rows, key=lambda r: r.fd)

    def table_rows(self) -> list[tuple[str, float, float, float, float, float | None]]:
        """See :func:`table_rows`."""
        return table_rows(answer_json(self))


@dataclass
class QuestionResult:
    answers: list[RunAnswer] = field(default_factory=list)

    def format(self) -> str:
        """The plain-text table of every run (also used by the report)."""
        blocks = []
        for a in self.answers:
            au = "n/a (AE)" if a.active_units is None else f"{a.active_units}/{a.z_dim}"
            lines = [f"== {a.label}: {a.kind.upper()} z_dim {a.z_dim}"
                     + (f", fact {a.fact:g}" if a.kind == "vae" else "") + f", epoch {a.epoch} ({a.run})",
                     f"intrinsic dimension of the training codes: TwoNN {a.intrinsic_dim.twonn:.1f}, "
                     f"MLE {a.intrinsic_dim.mle:.1f} ({a.intrinsic_dim.n_points} points); active units {au}"]
            answer = answer_json(a)
            standard = standard_table_rows(answer)
            own = f"{'FD':>9} {'x floor':>8} {'precision':>9} {'recall':>7} {'void share':>10}"
            if standard is not None:
                lines.append(f"{'':<26} {FEATURE_NET_LABEL:^{len(own)}} | {STANDARD_LABEL}")
            lines.append(f"{'sampler':<26} {own}" + ("" if standard is None else " | " + STANDARD_HEADER))
            for i, (name, fd, ratio, precision, recall, void) in enumerate(table_rows(answer)):
                void_text = "-" if void is None else f"{void:.3f}"
                lines.append(f"{name:<26} {fd:>9.3f} {ratio:>8.2f} {precision:>9.3f} {recall:>7.3f} {void_text:>10}"
                             + ("" if standard is None else " | " + standard_cells(standard[i])))
            if a.paths is not None:
                lines.append("paths: " + a.paths.sentence())
            lines.append(a.sentence)
            blocks.append("\n".join(lines))
        if self.answers and all(a.standard_net is None for a in self.answers):
            blocks.append(HINT)
        return "\n\n".join(blocks)

    def markdown(self) -> str:
        """The same table as markdown (benchmarks/RESULTS.md, the HTML report)."""
        out = []
        for a in self.answers:
            au = "n/a" if a.active_units is None else f"{a.active_units}/{a.z_dim}"
            out.append(f"**{a.label}** ({a.kind.upper()}, z {a.z_dim}" + (f", fact {a.fact:g}" if a.kind == "vae" else "")
                       + f", epoch {a.epoch}): intrinsic dimension TwoNN {a.intrinsic_dim.twonn:.1f}, "
                       f"MLE {a.intrinsic_dim.mle:.1f}; active units {au}; void threshold {a.void_threshold:.3g}\n")
            answer = answer_json(a)
            standard = standard_table_rows(answer)
            extra = "" if standard is None else "".join(f" {c} |" for c in STANDARD_COLUMNS)
            fd_header = "FD" if standard is None else f"FD ({FEATURE_NET_LABEL})"
            out.append(f"| sampler | {fd_header} | x floor | precision | recall | void share |{extra}")
            out.append("|---|---:|---:|---:|---:|---:|" + ("" if standard is None else "---:|" * len(STANDARD_COLUMNS)))
            for i, (name, fd, ratio, precision, recall, void) in enumerate(table_rows(answer)):
                void_text = "-" if void is None else f"{void:.3f}"
                cells = "" if standard is None else "".join(f" {c} |" for c in standard_values(standard[i]))
                out.append(f"| {name} | {fd:.2f} | {ratio:.2f} | {precision:.3f} | {recall:.3f} | {void_text} |{cells}")
            if a.paths is not None:
                out.append(f"\nPaths: {a.paths.sentence()}.")
            out.append(f"\n{a.sentence}\n")
        if self.answers and all(a.standard_net is None for a in self.answers):
            out.append(HINT + "\n")
        return "\n".join(out)


def table_rows(answer: dict) -> list[tuple[str, float, float, float, float, float | None]]:
    """The rows of a run's sampler table, from its question.json content.

    (name, FD, FD / floor, precision, recall, void share or None): the
    reconstruction floor, the samplers by increasing FD, the shuffled-pixel ceiling.
    """
    floor, ceiling = answer["floor"], answer["ceiling"]
    rows = [("reconstruction (floor)", floor["fd"], 1.0, floor["precision"], floor["recall"], None)]
    rows += [(r["sampler"], r["fd"], r["fd_over_floor"], r["precision"], r["recall"], r["void_share"])
             for r in sorted(answer["rows"], key=lambda r: r["fd"])]
    rows.append(("shuffled pixels (ceiling)", ceiling["fd"], ceiling["fd"] / floor["fd"], ceiling["precision"],
                 ceiling["recall"], None))
    return rows


#: the standard columns of the tables (report, markdown), each named with its feature net
STANDARD_COLUMNS = (f"FID ({STANDARD_LABEL})", f"KID ({STANDARD_LABEL})", "precision (Inception)",
                    "recall (Inception)", "density (Inception)", "coverage (Inception)")


def standard_table_rows(answer: dict) -> list[dict | None] | None:
    """The standard scores of each row of :func:`table_rows` (same order), or None when the run has none.

    Each entry is the row's ``standard`` dict (``fid``, ``kid``, ``kid_std``, ``precision``, ``recall``,
    ``density``, ``coverage``), or None for a row measured without them.
    """
    if not answer.get("standard_net"):
        return None
    rows = sorted(answer["rows"], key=lambda r: r["fd"])
    return ([answer["floor"].get("standard")] + [r.get("standard") for r in rows]
            + [answer["ceiling"].get("standard")])


def standard_values(row: dict | None) -> list[str]:
    """The cells of :data:`STANDARD_COLUMNS` for one standard dict ("-" where not measured)."""
    if row is None:
        return ["-"] * len(STANDARD_COLUMNS)
    return [f"{row['fid']:.2f}", f"{row['kid']:.4f}", f"{row['precision']:.3f}", f"{row['recall']:.3f}",
            f"{row['density']:.3f}", f"{row['coverage']:.3f}"]


def reading(answer: RunAnswer) -> str:
    """One sentence generated from the numbers of a run."""
    weak = _weakness(answer.floor.fd, answer.ceiling.fd, [r.fd_over_floor for r in answer.rows])
    if weak is not None:
        return f"{answer.label}: too weak to tell the samplers apart: {weak}."
    best = answer.best()
    parts = [f"{answer.label}: the sampler closest to the reconstruction floor is {best.sampler} "
             f"(FD {best.fd:.3g} = {best.fd_over_floor:.2f}x the floor {answer.floor.fd:.3g}, "
             f"void share {best.void_share:.2f})"]
    normal = next((r for r in answer.rows if r.sampler == "normal"), None)
    if normal is not None and normal is not best:
        parts.append(f"normal draws are {normal.fd_over_floor:.1f}x the floor with void share {normal.void_share:.2f}")
    beyond = [r for r in answer.rows if r.void_share >= 0.9 and r.fd_over_floor <= 3.0]
    if beyond:
        r = min(beyond, key=lambda r: r.fd)
        parts.append(f"{r.sampler} decodes within {r.fd_over_floor:.1f}x of the floor although "
                     f"{r.void_share:.0%} of its points lie in voids: decodable space extends beyond the codes")
    if answer.void_fd_spearman is not None:
        rho = answer.void_fd_spearman
        verdict = ("samplers that avoid the voids decode better" if rho >= 0.5 else
                   "void share does not order the samplers' quality" if rho > -0.5 else
                   "samplers with more points in voids decode better, a sign of a larger coherent region")
        parts.append(f"rank correlation of void share and FD across samplers {rho:+.2f}: {verdict}")
    return "; ".join(parts) + "."


def is_fitted(spec: str) -> bool:
    """Whether sampler ``spec`` learns from the encoded codes (``gmm:10``: yes; ``normal``, ``uniform:2``, a name
    zspace does not know: no)."""
    sampler = SAMPLERS.get(spec.partition(":")[0])
    return sampler is not None and sampler.needs_fit


def finding(answer: dict, label: str | None = None) -> dict:
    """The short answer of one run, from its question.json content: what the report's Answer section shows.

    ``label`` names the run in the sentence (default: the answer's own label).

    Returns a dict with ``label``, ``kind``, ``fact``, ``floor_fd``, ``best`` (the fitted sampler with the lowest
    FD, or the best of all when none is fitted), ``normal`` (N(0, I), when scored), ``rows`` (every sampler:
    ``sampler``, ``n`` points scored, ``x_floor`` = FD / floor FD, ``void_share``, ``precision``, ``recall``, in the order scored)
    and ``sentence``, generated from these numbers. Where the answer has the standard scores (Inception-v3),
    each row also has ``standard`` (its FID, KID, ...) and the result ``standard`` (``feature_net``, ``floor``,
    ``ceiling``).
    """
    rows = [{"sampler": r["sampler"], "n": r.get("n"), "x_floor": r["fd_over_floor"], "void_share": r["void_share"],
             "precision": r["precision"], "recall": r["recall"]} for r in answer["rows"]]
    if answer.get("standard_net"):  # the field's numbers beside zspace's own, each row and the floor
        for row, r in zip(rows, answer["rows"]):
            row["standard"] = r.get("standard")
    fitted = [r for r in rows if is_fitted(r["sampler"])]
    best = min(fitted or rows, key=lambda r: r["x_floor"])
    normal = next((r for r in rows if r["sampler"] == "normal"), None)
    label = label or answer.get("label", "run")
    kind = answer.get("kind", "?").upper() + (f", KL weight {answer['fact']:g}" if answer.get("fact") is not None
                                              else "")
    weak = too_weak_to_tell(answer)
    if weak is not None:
        sentence = f"{label} ({kind}): too weak to tell the samplers apart: {weak}"
    else:
        sentence = (f"{label} ({kind}): {best['sampler']} comes closest to the reconstruction floor, at "
                    f"{best['x_floor']:.2f}x ({best['void_share']:.0%} of its points in voids)")
        if normal is not None and normal is not best:
            verdict = ("about as well" if normal["x_floor"] <= 1.25 * best["x_floor"] else
                       f"{normal['x_floor'] / best['x_floor']:.1f}x worse")
            sentence += (f"; N(0, I) does {verdict}: {normal['x_floor']:.2f}x the floor with "
                         f"{normal['void_share']:.0%} of its points in voids")
    out = {"label": label, "kind": answer.get("kind"), "fact": answer.get("fact"),
           "floor_fd": answer["floor"]["fd"], "best": best, "normal": normal, "rows": rows,
           "too_weak": weak is not None, "sentence": sentence + "."}
    if answer.get("standard_net"):
        out["standard"] = {"feature_net": answer["standard_net"].get("label", STANDARD_LABEL),
                           "floor": answer["floor"].get("standard"), "ceiling": answer["ceiling"].get("standard")}
    return out


#: the floor is "far from the real images" when its FD is at least this share of the shuffled-pixel ceiling's
WEAK_FLOOR_SHARE = 0.5
#: a floor at least this share of the ceiling is "poor" ...
POOR_FLOOR_SHARE = 0.2
#: ... and samplers all within this factor of a poor floor cannot be told apart
TELL_APART_FACTOR = 1.5


def too_weak_to_tell(answer: dict) -> str | None:
    """Why the model of ``answer`` (question.json content) is too weak for its samplers to be told apart, or None.

    Two rules, both read from the answer's own numbers (FDs in the feature
    net's units, so only their ratios are compared):

    - the reconstruction floor is far from the real images: its FD is at least
      ``WEAK_FLOOR_SHARE`` (0.5) of the FD of shuffled pixels (the ceiling), so
      even the model's own reconstructions are half-way to noise;
    - every sampler lands within ``TELL_APART_FACTOR`` (1.5x) of a poor floor
      (at least ``POOR_FLOOR_SHARE``, 0.2, of the ceiling): decoding blurs every
      point alike, whether it lies in a void or not.

    A clear answer (a floor near the real images, or samplers far apart) gives None.
    """
    return _weakness(answer["floor"]["fd"], answer["ceiling"]["fd"], [r["fd_over_floor"] for r in answer["rows"]])


def _weakness(floor: float, ceiling: float, over_floor: list[float]) -> str | None:
    """:func:`too_weak_to_tell` on the floor's and the ceiling's FD and every sampler's FD / floor."""
    if not (ceiling > 0 and over_floor):
        return None
    share = floor / ceiling
    spread = max(over_floor)
    advice = "train longer or on more images (the full demo, or zspace train --epochs) and ask again"
    if share >= WEAK_FLOOR_SHARE:
        return (f"its own reconstructions are {share:.2f}x as far from the real images as shuffled pixels "
                f"(floor FD {floor:.3g}, shuffled pixels {ceiling:.3g}); {advice}")
    if share >= POOR_FLOOR_SHARE and spread <= TELL_APART_FACTOR:
        return (f"every sampler lands within {spread:.2f}x of a poor floor (FD {floor:.3g}, {share:.2f}x that of "
                f"shuffled pixels), so decoding blurs every point alike; {advice}")
    return None


def answer_run(run: Run | str | Path, samplers: tuple[str, ...] = DEFAULT_SAMPLERS, n: int = 5000,
               data: str | None = None, *, seed: int = 0, epoch: int | None = None, device: str = "auto",
               n_reference: int = 5000, n_void_reference: int = 20000, n_paths: int = 32,
               n_id_points: int = 5000, label: str | None = None,
               feature_config: FeatureNetConfig | None = None, precision: str | None = None,
               standard: StandardConfig | None = None) -> RunAnswer:
    """All numbers of ``zspace question`` for one run (samplers are fitted and saved when missing).

    ``standard``: the standard scores' options (its ``weights`` file, else ``$ZSPACE_INCEPTION_WEIGHTS``; none:
    no standard scores).
    """
    run, epoch = check_inputs(run, samplers, epoch)
    require_images_fit(n, run.model_config.input_shape, "n")  # before the costly reference set is built
    scorer = Scorer(run, data, n_reference=n_reference, seed=seed, epoch=epoch, device=device,
                    feature_config=feature_config, precision=precision, standard=standard)
    store = training_store(run, epoch, device)
    z_train = store.codes
    reference = VoidReference.build(z_train, n_void_reference, seed=seed)
    rows = []
    for spec in samplers:
        log.info("%s: scoring sampler %s", run.root, spec)
        sampler = fitted_sampler(run, spec, epoch=epoch, seed=seed, device=device)
        quality, z = scorer.score_sampler(sampler, spec, n)
        voids = void_share(z, reference, spec)
        rows.append(SamplerRow(sampler=spec, n=n, fd=quality.fd, fd_over_floor=quality.fd / scorer.floor.fd
                               if scorer.floor.fd > 0 else float("inf"), precision=quality.precision,
                               recall=quality.recall, void_share=voids.share, median_void_ratio=voids.median_ratio,
                               standard=quality.standard))
    rho = None
    if len(rows) >= 3:
        value = spearmanr([r.void_share for r in rows], [r.fd for r in rows]).statistic
        rho = None if not np.isfinite(value) else float(value)
    paths = None
    if n_paths > 0:
        # encoded ends come from the void reference itself, so the profile starts and ends at distance 0
        rng = np.random.default_rng(sub_seed(seed, 2))
        codes = reference.points
        pick = rng.choice(len(codes), size=(2, min(n_paths, len(codes) // 2)), replace=False)
        random_ends = rng.standard_normal((2, pick.shape[1], codes.shape[1])).astype(np.float32)
        paths = path_profiles({"encoded": (codes[pick[0]], codes[pick[1]]),
                               "random": (random_ends[0], random_ends[1])},
                              reference, scorer.decode, scorer.realism)
    active = None
    if store.mu is not None and store.logvar is not None:
        active = vae_statistics(store.z, store.mu, store.logvar).active_units
    model_cfg = run.model_config
    answer = RunAnswer(run=str(run.root), label=label or run.root.name, kind=model_cfg.kind, z_dim=model_cfg.z_dim,
                       fact=run.train_config.fact if model_cfg.kind == "vae" else None, epoch=int(epoch),
                       rows=rows, floor=scorer.floor, ceiling=scorer.ceiling,
                       intrinsic_dim=intrinsic_dimension(z_train, n_id_points, seed), active_units=active,
                       void_threshold=reference.threshold, void_fd_spearman=rho, paths=paths,
                       feature_net=scorer.features.info(),
                       standard_net=None if scorer.standard is None else scorer.standard.info(),
                       prior_mismatch=store_prior_mismatch(store, seed=seed))
    answer.sentence = reading(answer)
    io.write_json(run.layout.question, answer_json(answer))
    return answer


def answer_json(answer: RunAnswer) -> dict:
    """The JSON of ``RUN_DIR/question.json`` (bulk arrays left out)."""
    return json_summary(answer)


def check_inputs(run: Run | str | Path, samplers: tuple[str, ...] = DEFAULT_SAMPLERS,
                 epoch: int | None = None) -> tuple[Run, int]:
    """Open ``run`` and check its checkpoint and every sampler spec before anything is computed or written.

    Returns the run and the epoch it will be read at.
    """
    run = run if isinstance(run, Run) else open_run(run)
    require(len(samplers) >= 1, "zspace question: give at least one --sampler")
    epoch = run.latest_epoch() if epoch is None else epoch
    require(epoch is not None, f"run {run.root} has no checkpoint yet; train it first")
    checkpoint.verify_checkpoint(run.checkpoints_dir, epoch)
    for spec in samplers:
        make_sampler(spec, run.model_config.z_dim)
    return run, epoch


def question(runs: list[str | Path], **options) -> QuestionResult:
    """:func:`answer_run` for each run directory; every run and sampler spec is checked before the first starts."""
    opened = [check_inputs(r, options.get("samplers", DEFAULT_SAMPLERS), options.get("epoch"))[0] for r in runs]
    return QuestionResult(answers=[answer_run(r, **options) for r in opened])


__all__ = ["DEFAULT_SAMPLERS", "PROTOCOLS", "Protocol", "STANDARD_COLUMNS", "standard_table_rows", "standard_values",
           "finding", "too_weak_to_tell", "is_fitted", "SamplerRow", "RunAnswer", "QuestionResult",
           "answer_run", "answer_json", "question", "reading", "table_rows"]
