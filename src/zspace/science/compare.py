"""``zspace compare A B``: two latent spaces of the same images, each a run or a Z file, compared row by row.

Each input becomes the (N, d) codes of its rows (:attr:`ZStore.codes
<zspace.pipeline.zstore.ZStore.codes>`: a VAE's ``mu``, an AE's ``z``):

* a run directory (or an open :class:`~zspace.pipeline.run.Run`): its ``split``
  (default ``test``) encoded in memory by the checkpoint of its epoch
  (default: latest); for ``split="train"`` the images it was trained on, the
  cached codes of :func:`zspace.science.latents.training_store`;
* a Z file or Z directory (``zspace encode``): :func:`~zspace.pipeline.zstore.load_zstore`;
* an ``.npy`` array, a directory of ``.npy`` shards, an ``.npz`` without ``z``:
  :func:`~zspace.analysis.inputs.load_latents` (its ``mu`` when it holds one);
* in Python also a :class:`~zspace.pipeline.zstore.ZStore`, a
  :class:`~zspace.analysis.inputs.LatentInput` or an (N, d) array.

Before anything is encoded, what is known of where the rows came from is
compared, and a difference is a one-line :class:`ZspaceError` naming both
inputs, the field and the fix: the data spec, the split and the image size of
two runs (and of a Z store's ``meta``, where it records them); for two runs
with different seeds, whether their splits hold the same images (a seeded
90/10 split or the generated ``shapes`` differ; an official split does not);
for the training split, ``n_train``. Then the row counts must agree. The
measures are :func:`zspace.analysis.compare.compare_spaces`'.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from zspace.analysis.compare import CompareConfig, CompareResult, compare_spaces
from zspace.analysis.inputs import LatentInput, load_latents
from zspace.core import io, npyfiles
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import InputKind, input_kind
from zspace.data import ImageSet
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.pipeline.zstore import ZStore, load_zstore
from zspace.science.latents import training_store

#: the file zspace compare writes into its --out directory
COMPARE_FILE = "compare.json"
#: the provenance fields compared between two inputs, in the order they are checked
FIELDS = ("data", "split", "image_size", "n_train")


@dataclasses.dataclass
class Space:
    """One input of :func:`compare`, opened but (for a run) not yet encoded.

    Attributes
    ----------
    name : str
        How messages name it: ``"A (runs/ae)"``.
    source : str
        The path, or what the object was.
    kind : str
        ``run directory``, ``Z file``, ``Z directory``, ``.npy array``, ... or ``array``.
    provenance : dict
        What is known of where its rows came from: ``data``, ``split``,
        ``image_size``, ``seed``, ``n_train`` (absent when unknown).
    codes : numpy.ndarray or RowStore, (N, d), or None
        The codes; None for a run until :func:`_encode_runs`.
    codes_name : str
        ``mu`` or ``z``.
    session : InferenceSession or None
        A run's model, loaded once (other splits than train).
    run : Run or None
    epoch : int or None
    """

    name: str
    source: str
    kind: str
    provenance: dict[str, Any]
    codes: Any = None
    codes_name: str = "z"
    session: InferenceSession | None = None
    run: Run | None = None
    epoch: int | None = None

    def summary(self) -> dict[str, Any]:
        """What compare.json says of this input."""
        out: dict[str, Any] = {"source": self.source, "kind": self.kind, "codes": self.codes_name,
                               "rows": int(self.codes.shape[0]), "dim": int(self.codes.shape[1])}
        if self.run is not None:
            out["epoch"] = self.epoch
        out.update({k: v for k, v in self.provenance.items() if v is not None})
        return out


def compare(a: Any, b: Any, *, split: str = "test", n: int | None = None, epoch_a: int | None = None,
            epoch_b: int | None = None, device: str = "auto", precision: str | None = None, batch_size: int = 512,
            seed: int = 0, out: str | Path | None = None, force: bool = False, config: CompareConfig | None = None,
            **options: Any) -> CompareResult:
    """Compare the latent spaces of ``a`` and ``b`` (same images, same order): linear and RBF CKA, Procrustes
    error, k-NN overlap (definitions: :mod:`zspace.analysis.compare`).

    Parameters
    ----------
    a, b : path, Run, ZStore, LatentInput or array (N, d)
        See the module docstring.
    split : str
        The data split a run is encoded on (``train``: its cached training codes).
    n : int, optional
        Compare only the first ``n`` rows of each input (a run encodes only the first ``n`` images of its split,
        as ``zspace encode --n``).
    epoch_a, epoch_b : int, optional
        Checkpoint of a run input (default: latest).
    device, precision, batch_size
        How a run's split is encoded (precision: default the run's training precision).
    seed : int
        Seed of the subsamples.
    out : path, optional
        A directory: also write ``out/compare.json`` (refused when it exists, unless ``force``).
    config : CompareConfig, optional
    **options
        Fields of :class:`~zspace.analysis.compare.CompareConfig` (``k``, ``max_rows``, ``bandwidth``, ...),
        over ``config``.

    Returns
    -------
    CompareResult
    """
    config = config or CompareConfig()
    if n is not None and n < 1:
        raise ZspaceError(f"--n {n} must be >= 1")
    if options:
        config = CompareConfig.from_dict({**config.to_dict(), **options}, where="zspace.compare option")
    target = None if out is None else Path(out) / COMPARE_FILE
    if target is not None and not force:
        io.refuse_overwrite(target, "compare result")
    spaces = [_open(a, "A", split, epoch_a, device, precision), _open(b, "B", split, epoch_b, device, precision)]
    for space, epoch, option in zip(spaces, (epoch_a, epoch_b), ("--epoch-a", "--epoch-b")):
        if epoch is not None and space.run is None:
            raise ZspaceError(f"{option} {epoch} chooses a checkpoint of a run, but {space.name} is a {space.kind}; "
                              f"drop {option}")
    _check_provenance(*spaces, split, n)
    _encode_runs(spaces, split, device, batch_size, n)
    for space in spaces:
        if n is not None and space.codes.shape[0] > n:
            space.codes = _first_rows(space.codes, n)
    first, second = spaces
    if first.codes.shape[0] != second.codes.shape[0]:
        raise ZspaceError(f"{first.name} has {first.codes.shape[0]} rows but {second.name} has "
                          f"{second.codes.shape[0]}; compare needs the same images in the same order in both: encode "
                          f"both on one data split (zspace encode RUN --split SPLIT --out z.npz), or compare the first "
                          f"rows of both with --n {min(first.codes.shape[0], second.codes.shape[0])} if they are "
                          f"the same images")
    result = compare_spaces(first.codes, second.codes, config, seed, names=(first.name, second.name))
    result.inputs = {"a": first.summary(), "b": second.summary()}
    if target is not None:
        io.write_json(target, result.to_json())  # atomic; makes the directory
    return result


def compare_encoded(run_a: Run, store_a: ZStore, run_b: Run, store_b: ZStore, *, split: str = "test",
                    names: tuple[str, str] = ("A", "B"), config: CompareConfig | None = None,
                    seed: int = 0) -> CompareResult:
    """:func:`compare` of two runs whose ``split`` is already encoded (``store_a``, ``store_b``: e.g. the report's
    ``z_test.npz``), with the same checks that the rows are the same images (the runs' data, split, image size, and
    for different seeds the images themselves), and the stores' row indices into the split equal; nothing is
    encoded. A difference is a :class:`ZspaceError` naming both."""
    spaces = [Space(name=f"{label} ({run.root})", source=str(run.root), kind=InputKind.RUN.value,
                    provenance=_run_provenance(run, split), codes=store.codes,
                    codes_name="mu" if store.mu is not None else "z", run=run, epoch=(store.meta or {}).get("epoch"))
              for label, run, store in zip(names, (run_a, run_b), (store_a, store_b))]
    _check_provenance(*spaces, split, max(len(store_a.index), len(store_b.index)))
    if not np.array_equal(store_a.index, store_b.index):
        raise ZspaceError(f"{spaces[0].name} and {spaces[1].name} encoded different rows of the {split} split "
                          f"({len(store_a.index)} and {len(store_b.index)} rows); encode both on the same images "
                          f"(the same ReportConfig.n_encode for both)")
    result = compare_spaces(store_a.codes, store_b.codes, config or CompareConfig(), seed,
                            names=(spaces[0].name, spaces[1].name))
    result.inputs = {"a": spaces[0].summary(), "b": spaces[1].summary()}
    return result


# ----------------------------------------------------------------------------- opening the inputs


def _open(source: Any, label: str, split: str, epoch: int | None, device: str, precision: str | None) -> Space:
    """The :class:`Space` of one input; a run's model is loaded (its checkpoint checked), nothing encoded yet."""
    if isinstance(source, Run):
        return _open_run(source, f"{label} ({source.root})", str(source.root), split, epoch, device, precision)
    if isinstance(source, ZStore):
        return _from_store(source, f"{label} (a ZStore)", "ZStore", "ZStore")
    if isinstance(source, LatentInput):
        return _from_latents(source, f"{label} ({source.source})", source.source, "LatentInput")
    if isinstance(source, (str, Path)):
        path = Path(source)
        kind = input_kind(path)  # one line for a path that is missing or of no known kind
        name = f"{label} ({path})"
        if kind is InputKind.RUN:
            return _open_run(open_run(path), name, str(path), split, epoch, device, precision)
        if kind is InputKind.Z_DIR or (kind is InputKind.Z_FILE and _holds_z(path)):
            return _from_store(load_zstore(path), name, str(path), kind.value)
        return _from_latents(load_latents(path), name, str(path), kind.value)
    array = np.asarray(source)
    return Space(name=f"{label} (an array)", source="array", kind="array", provenance={}, codes=array)


def _holds_z(path: Path) -> bool:
    """Whether the .npz at ``path`` has an array ``z`` (a Z file's shape; any other .npz goes to load_latents)."""
    try:
        return "z" in npyfiles.npz_names(path)
    except ValueError:
        return True  # load_zstore names what is wrong with it


def _run_provenance(run: Run, split: str) -> dict[str, Any]:
    """What a run's training config says of the images of its ``split``."""
    config = run.train_config
    provenance = {"data": config.data, "split": split, "image_size": config.image_size, "seed": config.seed}
    if split == "train":
        provenance["n_train"] = config.n_train
    return provenance


def _open_run(run: Run, name: str, source: str, split: str, epoch: int | None, device: str,
              precision: str | None) -> Space:
    provenance = _run_provenance(run, split)
    session = open_session(run, epoch, device, precision)  # checks the checkpoint before anything is encoded
    codes_name = "mu" if run.model_config.kind == "vae" else "z"
    return Space(name=name, source=source, kind=InputKind.RUN.value, provenance=provenance, codes_name=codes_name,
                 session=session, run=run, epoch=session.epoch)


def _from_store(store: ZStore, name: str, source: str, kind: str) -> Space:
    meta = store.meta or {}
    provenance = {key: meta[key] for key in ("data", "split") if meta.get(key) is not None}
    return Space(name=name, source=source, kind=kind, provenance=provenance, codes=store.codes,
                 codes_name="mu" if store.mu is not None else "z")


def _from_latents(latents: LatentInput, name: str, source: str, kind: str) -> Space:
    if latents.n_rows_dropped_nonfinite:
        raise ZspaceError(f"{name}: {latents.n_rows_dropped_nonfinite} of {latents.n_rows_read} rows hold NaN or "
                          "infinity; compare pairs rows one to one, so drop those rows from both inputs first")
    store = ZStore(z=latents.z, index=np.arange(latents.n_points), mu=latents.mu)
    return Space(name=name, source=source, kind=kind, provenance={}, codes=store.codes,
                 codes_name="mu" if latents.mu is not None else "z")


# ----------------------------------------------------------------------------- the same rows?


def _check_provenance(a: Space, b: Space, split: str, n: int | None) -> None:
    """A ZspaceError naming both inputs and the first field known to both that differs; for two runs of different
    seeds, their split's images are compared (an official split does not depend on the seed)."""
    for field in FIELDS:
        if field in a.provenance and field in b.provenance and a.provenance[field] != b.provenance[field]:
            raise ZspaceError(f"{a.name} and {b.name} were encoded on different {field}: {a.provenance[field]!r} and "
                              f"{b.provenance[field]!r}; the rows must be the same images in the same order: "
                              f"{_fix(field, split)}")
    if a.run is not None and b.run is not None and a.provenance["seed"] != b.provenance["seed"]:
        if not _same_images(_images(a, split, n), _images(b, split, n)):
            data, seed = a.provenance["data"], a.provenance["seed"]
            raise ZspaceError(f"{a.name} and {b.name} were encoded on different seed: {seed} and "
                              f"{b.provenance['seed']}, and the {split} split of {data!r} depends on it (a seeded "
                              f"split, or generated images); encode both on one: zspace encode RUN --data "
                              f"'{data},seed={seed}' --split {split} --out z.npz for each run, then compare the "
                              f"Z files")


def _fix(field: str, split: str) -> str:
    if field == "n_train":
        return ("the runs were trained on different numbers of images; compare another split (--split test), or "
                "encode both on one (zspace encode RUN --split train --n N --out z.npz) and compare the Z files")
    if field == "split":
        return f"encode both on one split (zspace encode RUN --split {split} --out z.npz)"
    return (f"encode both on one data spec (zspace encode RUN --data SPEC --split {split} --out z.npz for each run) "
            "and compare the Z files")


def _images(space: Space, split: str, n: int | None = None) -> ImageSet:
    """The images a run's codes come from (for ``train``: the ``n_train`` it was trained on), at most ``n``."""
    if split == "train":
        n_train = space.run.train_config.n_train
        n = n_train if n is None else (n if n_train is None else min(n, n_train))
    return space.run.data_split(split, n=n)


def _first_rows(codes: Any, n: int) -> Any:
    """The first ``n`` rows of an array, or of a RowStore (still read from its files)."""
    return codes.select(np.arange(n)) if isinstance(codes, RowStore) else codes[:n]


def _same_images(first: ImageSet, second: ImageSet) -> bool:
    return first.images.shape == second.images.shape and bool(np.array_equal(first.images, second.images))


# ----------------------------------------------------------------------------- encoding the runs


def _encode_runs(spaces: list[Space], split: str, device: str, batch_size: int, n: int | None) -> None:
    """The codes of each run input: its cached training codes (``train``), else its ``split`` encoded in memory
    (the images read once when both runs read the same)."""
    images: dict[tuple, ImageSet] = {}
    for space in spaces:
        if space.run is None:
            continue
        if split == "train":
            store = training_store(space.run, space.epoch, device)
        else:
            key = tuple(space.provenance.get(f) for f in ("data", "split", "image_size", "seed"))
            if key not in images:
                images[key] = _images(space, split, n)
            data = images[key]
            if len(data.images) == 0:
                raise ZspaceError(f"{space.name}: the {split} split of {space.provenance['data']!r} holds no images; "
                                  "choose another --split")
            arrays = space.session.encode(data.images, batch_size, 0, desc=f"encoding {space.name}")
            store = ZStore(z=arrays["z"], index=np.arange(len(data.images)), mu=arrays.get("mu"))
        space.codes = store.codes
        space.codes_name = "mu" if store.mu is not None else "z"


__all__ = ["COMPARE_FILE", "Space", "compare", "compare_encoded"]
