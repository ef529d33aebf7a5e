"""The cost of the standard scores: Inception-v3 features per second against zspace's feature net, same images.

Part 1, always: the same ``--n`` grey 28x28 images (the built-in shapes, the size of MNIST and Fashion-MNIST)
through

* zspace's feature net (``FeatureNet``: three stride-2 convolutions and a Dense layer, 128 features; the
  weights do not change its cost, so an untrained one is timed);
* torch-fidelity's Inception-v3 (2048 features, every image resized to 299 x 299) as zspace runs it
  (``InceptionFeatures``: torch-fidelity's own forward, contiguous layout), and in the channels-last layout,
  the faster alternative zspace does not use (it moves KID by ~2e-4 relative, see its docstring),

then the metrics on ``--metric-n`` feature rows of each side (synthetic Gaussian features of the right width;
their values do not change the cost): zspace's FD and k-NN precision/recall in 128 dimensions against
torch-fidelity's FID, KID (100 subsets of 1,000), precision/recall and zspace's density/coverage in 2048.

The Inception weights: the file named by ``$ZSPACE_INCEPTION_WEIGHTS`` (checked against the published
SHA-256) when set; otherwise a random-init file of the same architecture and format (tests/inception_stub.py),
which costs the same per image but gives no meaningful numbers.

Part 2, only with the real weights file: the demo's samplers on a quick AE (or ``--runs RUN_DIR,...``, e.g. the
demo's own runs), scored as ``zspace question`` does, with the standard FID beside zspace's FD.

    python benchmarks/bench_fidelity.py [--n 16] [--metric-n 5000] [--runs demo-out/ae,demo-out/vae]

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tables import emit  # noqa: E402
from zspace.data import load_images  # noqa: E402
from zspace.science.quality.features import FeatureNet  # noqa: E402
from zspace.science.quality.frechet import frechet_distance  # noqa: E402
from zspace.science.quality.precision_recall import precision_recall  # noqa: E402
from zspace.science.quality.standard import (INCEPTION_SHA256, WEIGHTS_ENV, InceptionFeatures,  # noqa: E402
                                             StandardConfig, density_coverage, inception_input)

ROOT = Path(__file__).resolve().parent.parent


def weights(tmp: Path) -> tuple[Path, str, bool]:
    """(file, its expected SHA-256, whether it is the real file): $ZSPACE_INCEPTION_WEIGHTS, else a random-init one."""
    given = os.environ.get(WEIGHTS_ENV)
    sys.path.insert(0, str(ROOT / "tests"))
    from inception_stub import import_torch_fidelity, random_inception_weights

    import_torch_fidelity()  # this machine's torchvision cannot load its C++ ops beside the CPU-only torch
    if given:
        return Path(given), INCEPTION_SHA256, True
    path = tmp / "random-inception.pth"
    return path, random_inception_weights(path), False


def rate(fn, images: np.ndarray, repeats: int) -> float:
    """Images per second of ``fn(images)``: the best of ``repeats`` timed calls after one warm-up on 2 images."""
    fn(images[:2])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(images)
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def feature_rates(path: Path, digest: str, n: int, repeats: int) -> list[dict]:
    images = load_images("shapes", "test", seed=0, n=n).images
    own = FeatureNet(images.shape[-1], 3).eval()

    @torch.no_grad()
    def zspace_net(x: np.ndarray) -> np.ndarray:
        return own.features(torch.from_numpy(x).float().div_(255).permute(0, 3, 1, 2)).numpy()

    inception = InceptionFeatures(path, digest, device="cpu")
    # the small net takes milliseconds for n images: timed on the same images repeated to 1,024
    zspace_rate = rate(zspace_net, np.resize(images, (max(1024, n), *images.shape[1:])), 3)
    rows = [{"net": "zspace feature net (128 features)", "layout": "contiguous", "images_per_s": zspace_rate}]
    rows.append({"net": "Inception-v3, torch-fidelity (2048 features)",
                 "layout": "contiguous (zspace = torch-fidelity)",
                 "images_per_s": rate(inception, images, repeats)})
    inception.net.to(memory_format=torch.channels_last)

    def channels_last(x: np.ndarray) -> np.ndarray:  # the alternative: same net, channels-last layout
        with torch.no_grad():
            return inception.net(inception_input(x).contiguous(memory_format=torch.channels_last))[0].numpy()

    rows.append({"net": "Inception-v3, torch-fidelity (2048 features)", "layout": "channels-last (not used)",
                 "images_per_s": rate(channels_last, images, repeats)})
    for row in rows:
        row["seconds_per_10000"] = 10000 / row["images_per_s"]
        row["x_zspace"] = zspace_rate / row["images_per_s"]
    return rows


def metric_costs(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    own_real, own_fake = rng.standard_normal((n, 128)), rng.standard_normal((n, 128)) + 0.1
    start = time.perf_counter()
    frechet_distance(own_fake, own_real)
    fd = time.perf_counter() - start
    start = time.perf_counter()
    precision_recall(own_real, own_fake, k=3)
    pr = time.perf_counter() - start
    out.append({"side": "zspace (128-d)", "fd_s": fd, "kid_s": None, "pr_s": pr, "dc_s": None})
    real = rng.standard_normal((n, 2048)).astype(np.float32)
    fake = (rng.standard_normal((n, 2048)) + 0.1).astype(np.float32)
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    timings = {}
    start = time.perf_counter()
    fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(fake)),
                             fid_features_to_statistics(torch.from_numpy(real)), verbose=False)
    timings["fd_s"] = time.perf_counter() - start
    start = time.perf_counter()
    kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), kid_subset_size=min(1000, n),
                           verbose=False)
    timings["kid_s"] = time.perf_counter() - start
    start = time.perf_counter()
    prc_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), save_cpu_ram=True, verbose=False)
    timings["pr_s"] = time.perf_counter() - start
    start = time.perf_counter()
    density_coverage(real, fake, 5)
    timings["dc_s"] = time.perf_counter() - start
    out.append({"side": "standard (2048-d Inception)", **timings})
    return out


def standard_beside_own(path: Path, runs: list[Path], samplers: tuple[str, ...], n: int, n_reference: int) -> list:
    from zspace.science.question import question

    result = question(runs, samplers=samplers, n=n, n_reference=n_reference, n_paths=0, device="cpu",
                      standard=StandardConfig(weights=str(path)))
    rows = []
    for answer in result.answers:
        floor_fid = answer.floor.standard.fid
        for r in [answer.floor, *answer.rows, answer.ceiling]:
            name = getattr(r, "sampler", None) or r.name
            fd_floor = r.fd / answer.floor.fd
            rows.append({"model": answer.label, "sampler": name, "n": r.n, "fd": r.fd, "fd_x_floor": fd_floor,
                         "fid": r.standard.fid, "fid_x_floor": r.standard.fid / floor_fid, "kid": r.standard.kid,
                         "precision": r.standard.precision, "recall": r.standard.recall})
    return rows


def markdown(results: dict) -> str:
    lines = [f"Inception weights: {results['weights']}.", "",
             f"Features of the same {results['n']} grey 28x28 images (zspace's net: repeated to 1,024), "
             f"{results['threads']} torch threads, best of {results['repeats']} Inception pass(es) and of 3 of "
             "zspace's net; the machine's load average when it ran: "
             f"{results['load']}:", "",
             "| feature net | layout | images/s | s per 10,000 images | x zspace's net |", "|---|---|---:|---:|---:|"]
    for r in results["features"]:
        lines.append(f"| {r['net']} | {r['layout']} | {r['images_per_s']:.1f} | {r['seconds_per_10000']:.0f} | "
                     f"{r['x_zspace']:.0f} |")
    lines += ["", f"Metrics on {results['metric_n']:,} generated against {results['metric_n']:,} real feature rows "
                  "(seconds):", "", "| side | FD / FID | KID | precision/recall | density/coverage |",
              "|---|---:|---:|---:|---:|"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for r in results["metrics"]:
        lines.append(f"| {r['side']} | {fmt(r['fd_s'])} | {fmt(r['kid_s'])} | {fmt(r['pr_s'])} | {fmt(r['dc_s'])} |")
    lines.append("")
    if results["question"] is None:
        lines.append(f"Standard FID beside zspace's FD: not measured, no real weights file here (${WEIGHTS_ENV} "
                     "unset); the rows above used a random-init file of the same architecture, which costs the same "
                     "per image.")
    else:
        lines += ["Standard FID beside zspace's FD (the demo's samplers):", "",
                  "| model | sampler | n | FD (zspace feature net) | x floor | FID (Inception-v3, torch-fidelity) | "
                  "x floor | KID | precision | recall |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["question"]:
            lines.append(f"| {r['model']} | {r['sampler']} | {r['n']} | {r['fd']:.3f} | {r['fd_x_floor']:.2f} | "
                         f"{r['fid']:.2f} | {r['fid_x_floor']:.2f} | {r['kid']:.4f} | {r['precision']:.3f} | "
                         f"{r['recall']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="images timed through Inception")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes through Inception (the best counts)")
    parser.add_argument("--metric-n", type=int, default=5000, help="feature rows per side for the metric timings")
    parser.add_argument("--runs", default=None, help="run directories for part 2 (default: train a quick AE)")
    parser.add_argument("--question-n", type=int, default=2000, help="part 2: points per sampler (the demo's)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, digest, real = weights(Path(tmp))
        results = {"weights": f"{path} (checked)" if real else "none given; a random-init file of the same "
                   "architecture and format", "n": args.n, "repeats": args.repeats, "metric_n": args.metric_n,
                   "threads": torch.get_num_threads(), "load": " ".join(f"{v:.1f}" for v in os.getloadavg())}
        results["features"] = feature_rates(path, digest, args.n, args.repeats)
        results["metrics"] = metric_costs(args.metric_n)
        results["question"] = None
        if real:
            from zspace.demo import DemoConfig

            runs = [Path(r) for r in args.runs.split(",")] if args.runs else [quick_ae(Path(tmp))]
            results["question"] = standard_beside_own(path, runs, DemoConfig().question_samplers, args.question_n,
                                                      args.question_n)
    emit(results, markdown, args.json)


def quick_ae(tmp: Path) -> Path:
    """An AE like the demo's (z 64, filters 32, 64, 128) on 10,000 Fashion-MNIST images x 2 epochs."""
    from zspace.models import ModelConfig
    from zspace.pipeline.train import TrainConfig, train

    out = tmp / "ae"
    train(TrainConfig(data="fashion-mnist", epochs=2, n_train=10000, seed=0, device="cpu"),
          ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=64, filters=(32, 64, 128)), out)
    return out


if __name__ == "__main__":
    main()
