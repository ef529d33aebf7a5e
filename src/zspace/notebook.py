"""The notebook API: the analysis battery and a trained run's commands as Python objects shown inline.

::

    import zspace

    a = zspace.analyze("z.npz")                  # Analysis: a.radius, a.plot("radius"), a.to_dict(), inline tables
    run = zspace.open_run("runs/vae")            # LabRun, a pipeline Run with the commands as methods
    store = run.encode()                         # zspace encode RUN_DIR --split test
    z, images = run.generate("gmm:10", n=16)     # zspace generate RUN_DIR --sampler gmm:10 --n 16
    run.question(samplers=["normal", "gmm:10"])  # zspace question RUN_DIR ...; the answer table inline

Every method calls the function its command calls, with that function's
defaults (which are the command line's; tests/notebook/test_api.py checks),
so a notebook and a shell give the same numbers for the same seed.
docs/api.md lists the mapping.

Layer 6 (docs/architecture.md): it builds on ``pipeline`` (the run),
``analysis`` (the battery), ``science`` (samplers, scores, the question),
``factors`` (zspace factors), ``plots`` (figures) and ``report.html`` (escaped HTML pieces).
"""

from __future__ import annotations

import inspect
import io as bytes_io
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from zspace.analysis.battery import ANALYSES, BatteryConfig, run_battery
from zspace.analysis.inputs import LatentInput, from_arrays, load_latents
from zspace.core.errors import ZspaceError
from zspace.core.io import to_jsonable
from zspace.core.results import Result
from zspace.factors import FactorsConfig, FactorsOutcome, write_factors
from zspace.pipeline.encode import encode as encode_run
from zspace.pipeline.generate import reconstruct as reconstruct_run
from zspace.pipeline.run import Run
from zspace.pipeline.run import open_run as open_pipeline_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.pipeline.zstore import ZStore
from zspace.plots.analysis_figures import draw
from zspace.plots.factor_figures import save_factor_figures
from zspace.report.answer import sampler_table
from zspace.report.html import dict_table, esc, png, table
from zspace.science.generation import generate as generate_run
from zspace.science.quality.score import ScoreResult
from zspace.science.quality.score import score as score_run
from zspace.science.question import QuestionResult, answer_json, answer_run, finding, question


def defaults_of(function: Callable) -> dict[str, Any]:
    """Parameter name -> default of ``function``: the one place each default of this module comes from."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


#: the defaults of the functions the methods call (the command line's defaults; tests/notebook/test_api.py checks)
BATTERY = defaults_of(run_battery)
ENCODE = defaults_of(encode_run)
GENERATE = defaults_of(generate_run)
RECONSTRUCT = defaults_of(reconstruct_run)
SCORE = defaults_of(score_run)
QUESTION = defaults_of(answer_run)
FACTORS = defaults_of(write_factors)


# --------------------------------------------------------------------------------------------- analyze


def latent_input(z_or_path: Any, key: str | None = None) -> LatentInput:
    """Checked z-points from a path, a ZStore, a LatentInput, a numpy array or a torch tensor (N, d).

    A path (``.npy``, ``.npz``, a Z or shard directory) is read by
    :func:`~zspace.analysis.inputs.load_latents` (``key``: the array of an
    ``.npz``), a ZStore brings its mu, logvar and labels, anything else is
    checked by :func:`~zspace.analysis.inputs.from_arrays`.
    """
    if isinstance(z_or_path, LatentInput):
        return z_or_path
    if isinstance(z_or_path, (str, Path)):
        return load_latents(z_or_path, key=key)
    if isinstance(z_or_path, ZStore):
        meta = z_or_path.meta
        return from_arrays(z_or_path.z, z_or_path.mu, z_or_path.logvar, z_or_path.labels,
                           source=f"ZStore of {meta.get('run', 'a run')} ({meta.get('split', '?')} split)")
    return from_arrays(_numpy(z_or_path))


def _numpy(z: Any) -> Any:
    """A torch tensor as a float32 numpy array (detached, on the CPU); anything else unchanged."""
    if type(z).__module__.partition(".")[0] == "torch" and hasattr(z, "detach"):
        return z.detach().cpu().float().numpy()
    return z


class _KeptDrawing:
    """The battery's ``draw`` that keeps what it drew: ``out=`` saves the figures, the notebook shows the same."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Figure]] = {}

    def __call__(self, name: str, result: Result, labels: np.ndarray | None) -> dict[str, Figure]:
        self.figures[name] = draw(name, result, labels)
        return self.figures[name]


def analyze(z_or_path: Any, *, out: str | Path | None = None, seed: int = BATTERY["seed"],
            only: str | Sequence[str] | None = None, key: str | None = None, **options: Any) -> "Analysis":
    """Run the latent-space analysis battery (``zspace analyze``) and return its results.

    Parameters
    ----------
    z_or_path : path, numpy array, torch tensor, ZStore or LatentInput
        The z-points, (N, d) with N >= 2 and d >= 2: an ``.npy``/``.npz``
        file or Z directory (read in row blocks, never whole), an array or
        tensor, or a ZStore from :meth:`LabRun.encode` (its mu/logvar enable
        the VAE statistics, its labels colour the maps).
    out : path, optional
        Also write ``analysis.json`` and one PNG per figure there, the files
        of ``zspace analyze INPUT --out DIR`` (through the same code path).
    seed : int
        Seeds the subsamples, k-means and t-SNE (the CLI's ``--seed``).
    only : str or list of str, optional
        Analyses to run (names of :data:`~zspace.analysis.battery.ANALYSES`,
        a list or a comma-separated string); default all that apply.
    key : str, optional
        The array of an ``.npz`` (``--key``).
    **options
        Fields of :class:`~zspace.analysis.battery.BatteryConfig`: ``axes``,
        ``radius``, ``inertia``, ``pca``, ``planes``, ``tsne``, ``vae``,
        ``scatter2d`` (a dict of that analysis' config fields, or the config
        object), ``figures`` (False: no PNGs written and none shown inline),
        ``figure_dpi``. Example: ``tsne={"sample_size": 2000}`` is ``--tsne-n 2000``.

    Raises
    ------
    ZspaceError
        One line: an unknown option (with the accepted ones), a bad input, an unknown analysis in ``only``.
    """
    config = BatteryConfig.from_dict(options, where="zspace.analyze option")
    latents = latent_input(z_or_path, key)
    names = [n.strip() for n in only.split(",") if n.strip()] if isinstance(only, str) else only
    drawing = _KeptDrawing()
    battery = run_battery(latents, out, config, only=list(names) if names else None, draw=drawing, seed=seed)
    return Analysis(battery, latents, config, drawing.figures)


class Analysis:
    """The battery's results on one input: ``a.radius`` is the radius analysis' result dataclass.

    Attributes
    ----------
    results : dict of str -> Result
        Every analysis that ran, in battery order (also reachable as attributes).
    report : dict
        The content of ``analysis.json`` (schema in docs/analysis.md).
    latents : LatentInput
        The checked input (its ``labels`` colour the maps).
    config : BatteryConfig
    """

    def __init__(self, battery: dict[str, Any], latents: LatentInput, config: BatteryConfig,
                 figures: dict[str, dict[str, Figure]] | None = None) -> None:
        self.results: dict[str, Result] = battery["results"]
        self.report: dict[str, Any] = battery["report"]
        self.latents = latents
        self.config = config
        self._figures = dict(figures or {})
        self._pngs: dict[str, bytes] = {}

    def __getattr__(self, name: str) -> Result:
        results = self.__dict__.get("results", {})
        if name in results:
            return results[name]
        raise AttributeError(self._why_missing(name))

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__.get("results", {})})

    def _why_missing(self, name: str) -> str:
        skipped = self.__dict__.get("report", {}).get("skipped", {})
        if name in skipped:
            return f"analysis {name!r} was skipped: {skipped[name]}"
        if name in ANALYSES:
            return f"analysis {name!r} was not run; include it in only=[...]"
        return f"'Analysis' object has no attribute {name!r} (analyses: {', '.join(ANALYSES)})"

    @property
    def names(self) -> list[str]:
        """The analyses that ran, in battery order."""
        return list(self.results)

    @property
    def headlines(self) -> dict[str, dict[str, Any]]:
        """Analysis name -> its few summary numbers (``Result.headline()``)."""
        return self.report["headlines"]

    @property
    def skipped(self) -> dict[str, str]:
        """Analysis name -> why it did not apply to this input."""
        return self.report["skipped"]

    def figures(self, name: str | None = None) -> dict[str, Figure]:
        """Figure stem -> Figure of analysis ``name`` (default: of all), drawn from the results once and kept."""
        if name is not None:
            self._require_ran(name)
            if name not in self._figures:
                self._figures[name] = draw(name, self.results[name], self.latents.labels)
            return self._figures[name]
        return {stem: fig for analysis in self.results for stem, fig in self.figures(analysis).items()}

    def plot(self, name: str) -> Figure:
        """The figure of analysis ``name`` (``"radius"``), or the figure with stem ``name`` (``"tsne_ee12_perp30"``).

        Drawn from the stored results; nothing is computed again.
        """
        if name in self.results:
            figures = self.figures(name)
            if len(figures) != 1:
                raise ZspaceError(f"analysis {name!r} draws {len(figures)} figures; plot one of: {', '.join(figures)}")
            return next(iter(figures.values()))
        figures = self.figures()
        if name not in figures:
            raise ZspaceError(f"no figure {name!r}; plot an analysis ({', '.join(self.results)}) "
                              f"or a figure ({', '.join(figures)})")
        return figures[name]

    def _require_ran(self, name: str) -> None:
        if name not in self.results:
            raise ZspaceError(self._why_missing(name))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready content of ``analysis.json`` (numbers of every analysis, headlines, input, config, seed)."""
        return to_jsonable(self.report)

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def __repr__(self) -> str:
        return (f"<zspace Analysis of {self.latents.source}: {self.latents.n_points} points in "
                f"{self.latents.dim} dimensions; {', '.join(self.results) or 'no analyses'}>")

    def _png(self, stem: str, figure: Figure) -> bytes:
        if stem not in self._pngs:
            buffer = bytes_io.BytesIO()
            figure.savefig(buffer, format="png", dpi=self.config.figure_dpi)
            self._pngs[stem] = buffer.getvalue()
        return self._pngs[stem]

    def _repr_html_(self) -> str:
        """Jupyter's view: the input, then per analysis its headline table and its figures (inline PNGs)."""
        n_dropped = self.latents.n_rows_dropped_nonfinite
        parts = [f"<h3>zspace analysis of {esc(self.latents.source)}</h3>",
                 f"<p>{self.latents.n_points} points in {self.latents.dim} dimensions"
                 + (f" ({n_dropped} rows with NaN/inf dropped)" if n_dropped else "") + "</p>"]
        for name in self.results:
            headline = self.headlines[name]
            parts.append(f"<h4>{esc(name)}: {esc(ANALYSES[name].title)}</h4>")
            parts.append(dict_table(headline) if headline else "")
            if self.config.figures:
                parts += [png(self._png(stem, fig), stem) for stem, fig in self.figures(name).items()]
        if self.skipped:
            parts.append("<h4>skipped</h4>" + table(self.skipped.items(), ["analysis", "why"]))
        return "<div class=\"zspace-analysis\">" + "".join(parts) + "</div>"


# --------------------------------------------------------------------------------------------- a run


class Question(QuestionResult):
    """What ``zspace question`` measured (a :class:`~zspace.science.question.QuestionResult`), shown as tables."""

    def to_dict(self) -> list[dict[str, Any]]:
        """One question.json content per run (what ``zspace question --json`` writes)."""
        return [answer_json(a) for a in self.answers]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.format())

    def _repr_html_(self) -> str:
        """Per run: its answer in one sentence, the sampler table (floor, samplers by FD, ceiling), the reading."""
        return "".join(_answer_html(answer) for answer in self.to_dict())


def _answer_html(answer: dict[str, Any]) -> str:
    """One run's question.json content as HTML: heading, finding, sampler table, generated reading."""
    dim = answer["intrinsic_dim"]
    active = "n/a (AE)" if answer["active_units"] is None else f"{answer['active_units']}/{answer['z_dim']}"
    return (f"<h4>{esc(answer['label'])}: {esc(answer['kind'].upper())}, z_dim {answer['z_dim']}, "
            f"epoch {answer['epoch']}</h4><p>{esc(finding(answer)['sentence'])}</p>"
            + sampler_table(answer, cls="zspace-answer")
            + f"<p>intrinsic dimension of the training codes: TwoNN {dim['twonn']:.1f}, MLE {dim['mle']:.1f}; "
              f"active units {esc(active)}</p><p>{esc(answer['sentence'])}</p>")


class LabRun(Run):
    """A run directory (a :class:`~zspace.pipeline.run.Run`, so every function taking a Run takes it) whose
    methods are the commands that use a trained run; ``**options`` go to the function each one calls
    (``epoch``, ``device``, ``precision``, ``data``, ...). Defaults are that function's, which are the CLI's."""

    def session(self, epoch: int | None = None, device: str = "auto", precision: str | None = None) -> InferenceSession:
        """The run's model loaded once (checkpoint ``epoch``, default the latest) to ``decode``, ``encode`` and
        ``reconstruct`` arrays as often as needed: ``run.session().decode(z)`` gives float32 (N, H, W, C) images
        in [0, 1] of points z (N, z_dim). See :class:`~zspace.pipeline.session.InferenceSession`."""
        return open_session(self, epoch, device, precision)

    def decode(self, z: Any, *, epoch: int | None = None, precision: str | None = None,
               device: str = "auto") -> np.ndarray:
        """Float32 images (n, H, W, C) in [0, 1] of the points ``z`` (n, z_dim): the decode ``zspace generate`` and
        ``zspace explore`` do (its PNGs are exactly ``to_uint8`` of these). The model of each (epoch, precision,
        device) is loaded once and kept."""
        key = (epoch, precision, device)
        sessions = self.__dict__.setdefault("_sessions", {})
        if key not in sessions:
            sessions[key] = open_session(self, epoch, device, precision)
        return sessions[key].decode(np.asarray(_numpy(z), dtype=np.float32))

    def explore(self, *others: str | Path | Run, split: str = "test", n: int | None = None, height: int = 760) -> Any:
        """``zspace explore`` in the notebook: this run (and ``others`` beside it) served from a background thread
        on 127.0.0.1; the page shows inline (an IPython IFrame, whose ``server.stop()`` ends it). Needs the
        ``explore`` extra. Outside IPython the :class:`~zspace.explore.server.Server` is returned (``.url``)."""
        try:
            from zspace.explore.server import Server, open_explorer
        except ImportError as exc:
            raise ZspaceError(f"explore needs its web server ({exc.name} is missing): "
                              "pip install 'zspace[explore]'") from None
        server = Server(open_explorer([self, *others], split=split, n=n)).start()
        try:
            from IPython.display import IFrame
        except ImportError:
            return server
        frame = IFrame(server.url, width="100%", height=height)
        frame.server = server
        return frame

    def encode(self, split: str = ENCODE["split"], **options: Any) -> ZStore:
        """``zspace encode``: the z-points of a data split (``"train"``, ``"test"``, ``"all"``) as a ZStore.

        ``store.z`` (N, z_dim) float32; a VAE's ``mu``/``logvar`` too; ``labels`` (N,), ``factors`` (N, F).
        Options: ``n`` (encode at most n images), ``seed``, ``batch_size``, ``out`` (also write a Z file or
        directory), ``data``, ``epoch``, ``device``, ``precision``; see :func:`zspace.pipeline.encode.encode`.
        """
        return encode_run(self, split=split, **options)

    def generate(self, sampler: str = GENERATE["sampler"], n: int = GENERATE["n"], seed: int = GENERATE["seed"],
                 **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """``zspace generate``: draw ``n`` points from ``sampler`` (a spec or a fitted sampler) and decode them.

        Returns (z (n, z_dim) float32, images (n, H, W, C) float32 in [0, 1]).
        """
        return generate_run(self, sampler, n, seed, **options)

    def reconstruct(self, n: int = RECONSTRUCT["n"], seed: int = RECONSTRUCT["seed"],
                    **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """``zspace reconstruct``: ``n`` test images (a seeded choice) and their reconstructions.

        Returns (originals, reconstructions), both float32 (n, H, W, C) in [0, 1].
        """
        return reconstruct_run(self, n=n, seed=seed, **options)

    def score(self, sampler: str = SCORE["sampler"], n: int = SCORE["n"], **options: Any) -> ScoreResult:
        """``zspace score``: FD and k-NN precision/recall of ``n`` decoded points of ``sampler`` against
        held-out images, beside the reconstruction floor and the shuffled-pixel ceiling.

        Also stored in ``RUN_DIR/scores/NAME.json``. Options: ``seed``, ``k``, ``n_reference``, ``data``,
        ``feature_config`` (a :class:`~zspace.science.quality.features.FeatureNetConfig`), ``epoch``, ``device``,
        ``standard`` (a :class:`~zspace.science.quality.standard.StandardConfig`: FID, KID, ... in Inception-v3
        features from a local weights file).
        ``zspace.core.io.to_jsonable(result)`` is its JSON.
        """
        return score_run(self, sampler, n, **options)

    def question(self, samplers: str | Sequence[str] = QUESTION["samplers"], n: int = QUESTION["n"],
                 **options: Any) -> Question:
        """``zspace question``: each sampler's decoded points scored beside the floor and ceiling, with the share
        of its points in voids of the encoded training set; shown inline as the answer table.

        ``n`` points per sampler. Options: ``seed``, ``n_reference``, ``n_paths`` (the CLI's ``--paths``),
        ``feature_config``, ``data``, ``epoch``, ``device``, ``precision``, ``standard`` (as for :meth:`score`).
        Writes ``RUN_DIR/question.json``.
        """
        chosen = (samplers,) if isinstance(samplers, str) else tuple(samplers)
        return Question(answers=question([self], samplers=chosen, n=n, **options).answers)

    def factors(self, out: str | Path | None = FACTORS["out"], config: FactorsConfig | None = FACTORS["config"], *,
                seed: int = FACTORS["seed"], figures: bool = FACTORS["figures"], **options: Any) -> FactorsOutcome:
        """``zspace factors``: MI, MIG, SAP, DCI and linear directions of the codes against the known factors,
        on the axes and the PCA directions, and (``figures``) the decoded traversals and interpolations.

        Writes ``out/factors.json`` and the PNGs (default ``out``: ``RUN_DIR/factors``, which the report shows).
        ``config``: a :class:`~zspace.factors.FactorsConfig` (its ``analysis`` holds the measures' settings,
        e.g. ``FactorConfig(importance="lasso")``). Options: ``epoch``, ``device``, ``precision``. Returns a
        :class:`~zspace.factors.FactorsOutcome`: ``result`` (the measures), ``plan``, ``images``.
        """
        return write_factors(self, out, config, seed=seed, figures=figures, draw=save_factor_figures, **options)

    def analyze(self, split: str = ENCODE["split"], *, n: int | None = ENCODE["n"], epoch: int | None = ENCODE["epoch"],
                device: str = ENCODE["device"], seed: int = BATTERY["seed"], **options: Any) -> Analysis:
        """Encode ``split`` (at most ``n`` images) and run the analysis battery on its points (:func:`analyze`).

        ``seed`` seeds both; ``options`` are :func:`analyze`'s (``out``, ``only``, BatteryConfig fields).
        """
        return analyze(self.encode(split, n=n, epoch=epoch, device=device, seed=seed), seed=seed, **options)


def open_run(path: str | Path | Run) -> LabRun:
    """Open a run directory written by ``zspace train`` (or wrap an open Run) as a :class:`LabRun`."""
    run = path if isinstance(path, Run) else open_pipeline_run(path)
    return run if isinstance(run, LabRun) else LabRun(root=run.root, config=run.config)


__all__ = ["Analysis", "LabRun", "Question", "analyze", "latent_input", "open_run"]
