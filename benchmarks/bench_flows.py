"""Second-stage flows on Fashion-MNIST codes: the hand-written RealNVP against zuko's MAF and NSF, with gmm:10.

Trains (or reuses, in ``--out``) the demo's three models with the demo's own
training stage (``zspace.demo``: AE, VAE with KL weight 1, VAE with KL weight
1e-5; z 16, filters 32, 64, 128), then fits every candidate sampler to each
model's encoded training codes and scores it the way ``zspace question`` does:
``--draws`` seeded draws of ``--n`` points each, decoded and compared with
``--n-reference`` held-out images (FD as a multiple of the model's
reconstruction floor, k-NN precision and recall), the share of the points in
voids of the training codes, the mean log-likelihood of the encoded *test*
images under the fitted density, and the fit time on one thread.

The baseline ``realnvp`` is the hand-written RealNVP that was zspace's ``flow``
sampler before this benchmark, kept below with its fitting and sampling code
unchanged (only the saving code is left out), so the comparison can be re-run
after its removal from src/.

    python benchmarks/bench_flows.py --out /tmp/fm_flows [--epochs 5] [--n 5000]

Prints markdown tables; writes them to OUT/flows.md and the numbers to OUT/flows.json.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from torch import nn  # noqa: E402

from zspace.core import io  # noqa: E402
from zspace.core.device import one_thread  # noqa: E402
from zspace.core.errors import ZspaceError  # noqa: E402
from zspace.core.rows import subsample_rows  # noqa: E402
from zspace.demo import DemoConfig, default_data, train_stage  # noqa: E402
from zspace.pipeline.encode import encode  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402
from zspace.science.latents import training_latents  # noqa: E402
from zspace.science.quality.features import FeatureNetConfig  # noqa: E402
from zspace.science.quality.score import Scorer  # noqa: E402
from zspace.science.samplers import Sampler, make_sampler  # noqa: E402
from zspace.science.samplers.flow import DEFAULT_KIND  # noqa: E402
from zspace.science.voids import VoidReference, void_share  # noqa: E402

BASELINE = "gmm:10"
CANDIDATES = ("realnvp", "maf", "nsf", BASELINE)


# ------------------------------------------------------------------------------------------------
# The baseline: zspace's hand-written RealNVP `flow` sampler before this benchmark (fit and sample unchanged)
# (8 affine coupling layers, hidden 128, PCA-whitened z, 40 epochs on <= 20,000 points, best held-out epoch).

class _Coupling(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.half = dim // 2
        self.net = nn.Sequential(nn.Linear(self.half, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 2 * (dim - self.half)))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = self.net(keep).chunk(2, dim=1)
        return 2.0 * torch.tanh(scale / 2.0), shift   # bounded log-scale keeps training stable

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep, change = x[:, :self.half], x[:, self.half:]
        log_scale, shift = self._scale_shift(keep)
        return torch.cat([keep, change * torch.exp(log_scale) + shift], dim=1), log_scale.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        keep, changed = y[:, :self.half], y[:, self.half:]
        log_scale, shift = self._scale_shift(keep)
        return torch.cat([keep, (changed - shift) * torch.exp(-log_scale)], dim=1)


class _Flow(nn.Module):
    def __init__(self, dim: int, n_layers: int, hidden: int, permutations: np.ndarray) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Coupling(dim, hidden) for _ in range(n_layers))
        self.register_buffer("perms", torch.from_numpy(permutations.astype(np.int64)), persistent=False)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(len(x))
        for layer, perm in zip(self.layers, self.perms):
            x, log_det = layer(x[:, perm])
            total = total + log_det
        return total - 0.5 * (x ** 2).sum(dim=1) - 0.5 * x.shape[1] * math.log(2 * math.pi)

    @torch.no_grad()
    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        x = eps
        for layer, perm in zip(reversed(self.layers), reversed(self.perms)):
            x = layer.inverse(x)[:, torch.argsort(perm)]
        return x


class HandRealNVP(Sampler):
    """The hand-written RealNVP of zspace's former ``flow`` sampler (not registered; a benchmark baseline)."""

    name = "realnvp"
    needs_fit = True

    def __init__(self, z_dim: int, n_layers: int = 8, hidden: int = 128, epochs: int = 40,
                 max_fit_points: int = 20000, lr: float = 2e-3) -> None:
        super().__init__(z_dim)
        self.n_layers, self.hidden, self.epochs = int(n_layers), int(hidden), int(epochs)
        self.max_fit_points, self.lr = int(max_fit_points), float(lr)
        self._flow: _Flow | None = None

    def fit(self, z: np.ndarray, seed: int = 0) -> "HandRealNVP":
        z = subsample_rows(self._check_fit_input(z, min_rows=20), self.max_fit_points, seed)
        self.mean_ = z.mean(axis=0)
        values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(z, rowvar=False)))
        values = np.maximum(values, 1e-8 * max(values.max(), 1e-12))
        self.whiten_ = vectors / np.sqrt(values)            # x = (z - mean) @ whiten
        self.unwhiten_ = (vectors * np.sqrt(values)).T      # z = x @ unwhiten + mean
        rng = np.random.default_rng(seed)
        self.permutations_ = np.stack([rng.permutation(self.z_dim) for _ in range(self.n_layers)])
        x = torch.from_numpy(((z - self.mean_) @ self.whiten_).astype(np.float32))
        order = rng.permutation(len(x))
        n_val = max(len(x) // 10, 1)
        val, train = x[order[:n_val]], x[order[n_val:]]
        with torch.random.fork_rng(), one_thread():
            torch.manual_seed(seed)
            flow = _Flow(self.z_dim, self.n_layers, self.hidden, self.permutations_)
            opt = torch.optim.Adam(flow.parameters(), lr=self.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
            best, best_state = -float("inf"), None
            g = torch.Generator().manual_seed(seed)
            for _ in range(self.epochs):
                flow.train()
                for idx in torch.randperm(len(train), generator=g).split(512):
                    loss = -flow.log_prob(train[idx]).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
                    opt.step()
                sched.step()
                flow.eval()
                with torch.no_grad():
                    val_ll = float(flow.log_prob(val).mean())
                if val_ll > best:
                    best, best_state = val_ll, {k: v.detach().clone() for k, v in flow.state_dict().items()}
        if best_state is None:
            raise ZspaceError("sampler realnvp: the held-out likelihood was never finite")
        flow.load_state_dict(best_state)
        self._flow = flow.eval()
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        eps = torch.from_numpy(rng.standard_normal((n, self.z_dim)).astype(np.float32))
        with one_thread():
            x = self._flow.sample(eps).numpy().astype(np.float64)
        return (x @ self.unwhiten_ + self.mean_).astype(np.float32)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """(N,) log density of points z under the fitted flow (in z units)."""
        self._require_fitted()
        x = torch.from_numpy(((np.asarray(z, dtype=np.float64) - self.mean_) @ self.whiten_).astype(np.float32))
        with torch.no_grad():
            return self._flow.log_prob(x).numpy() + float(np.linalg.slogdet(self.whiten_)[1])


# ------------------------------------------------------------------------------------------------

def gmm_log_prob(sampler: Sampler, z: np.ndarray) -> np.ndarray:
    """(N,) log density of points z (N, d) under a fitted ``gmm`` sampler's mixture (nats)."""
    z = np.asarray(z, dtype=np.float64)
    parts = []
    for weight, mean, cov in zip(sampler.weights_, sampler.means_, sampler.covariances_):
        chol = np.linalg.cholesky(cov)
        solved = np.linalg.solve(chol, (z - mean).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        parts.append(np.log(weight) - 0.5 * ((solved ** 2).sum(0) + log_det + z.shape[1] * math.log(2 * math.pi)))
    return logsumexp(np.stack(parts), axis=0)


def log_density(sampler: Sampler, z: np.ndarray) -> float:
    """Mean log-likelihood (nats per point) of z under the fitted sampler."""
    values = gmm_log_prob(sampler, z) if sampler.name == "gmm" else sampler.log_prob(z)
    return float(np.mean(values))


def build_candidate(name: str, z_dim: int, flow_epochs: int | None) -> Sampler:
    """An unfitted candidate; ``flow_epochs`` overrides the flows' training budget (quick runs)."""
    sampler = HandRealNVP(z_dim) if name == "realnvp" else make_sampler(name, z_dim)
    if flow_epochs is not None and hasattr(sampler, "epochs"):
        sampler.epochs = flow_epochs
    return sampler


@dataclass
class Row:
    """One candidate on one model; FD / floor averaged over the draws."""

    model: str
    sampler: str
    x_floor: float
    x_floor_spread: float
    vs_baseline: float
    void_share: float
    precision: float
    recall: float
    test_ll: float
    fit_s: float
    sample_s: float


def score_candidate(name: str, sampler: Sampler, scorer: Scorer, reference: VoidReference, z_test: np.ndarray,
                    n: int, draws: int) -> dict[str, Any]:
    """Draw ``draws`` x ``n`` seeded points, decode, score; average the numbers over the draws."""
    ratios, voids, precisions, recalls, sample_s = [], [], [], [], 0.0
    for draw in range(draws):
        start = time.perf_counter()
        z = sampler.sample(n, np.random.default_rng(scorer.seed + 1000 * draw))
        sample_s += time.perf_counter() - start
        row = scorer.score_points(z, name)
        ratios.append(row.fd / scorer.floor.fd)
        voids.append(void_share(z, reference, name).share)
        precisions.append(row.precision)
        recalls.append(row.recall)
    return {"x_floor": float(np.mean(ratios)), "x_floor_spread": float(np.ptp(ratios)),
            "void_share": float(np.mean(voids)), "precision": float(np.mean(precisions)),
            "recall": float(np.mean(recalls)), "test_ll": log_density(sampler, z_test), "sample_s": sample_s / draws}


def bench_model(run_dir: Path, args: argparse.Namespace, config: DemoConfig) -> list[Row]:
    """Fit and score every candidate on one trained run."""
    run = open_run(run_dir)
    scorer = Scorer(run, n_reference=args.n_reference, seed=args.seed, device="cpu",
                    feature_config=FeatureNetConfig(max_train_images=config.feature_images))
    z_train = training_latents(run, device="cpu")
    z_test = encode(run, split="test", device="cpu").codes
    reference = VoidReference.build(z_train, 20000, seed=args.seed)
    results = {}
    for name in args.candidates.split(","):
        sampler = build_candidate(name, run.model_config.z_dim, args.flow_epochs)
        start = time.perf_counter()
        sampler.fit(z_train, seed=args.seed)
        fit_s = time.perf_counter() - start
        results[name] = {**score_candidate(name, sampler, scorer, reference, z_test, args.n, args.draws),
                         "fit_s": fit_s}
        print(f"  {run_dir.name} {name}: {results[name]}", file=sys.stderr, flush=True)
    base = results.get(BASELINE, {}).get("x_floor", float("nan"))
    return [Row(model=run_dir.name, sampler=name, vs_baseline=r["x_floor"] / base, **r) for name, r in results.items()]


def markdown(rows: list[Row]) -> str:
    """The per-model table and the summary across models."""
    lines = ["| model | sampler | FD / floor | draw spread | / gmm:10 | void share | precision | recall "
             "| test log-lik | fit s | sample s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.sampler} | {r.x_floor:.2f}x | {r.x_floor_spread:.2f} | {r.vs_baseline:.2f} "
                     f"| {r.void_share:.3f} | {r.precision:.3f} | {r.recall:.3f} | {r.test_ll:.2f} | {r.fit_s:.1f} "
                     f"| {r.sample_s:.2f} |")
    names = list(dict.fromkeys(r.sampler for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    lines += ["", "Across the models (geometric mean of FD / floor; wins: models where the sampler has the lowest "
              "FD / floor of the flows):", "", "| sampler | mean FD / floor | mean / gmm:10 | flow wins | fit s (mean) |",
              "|---|---:|---:|---:|---:|"]
    for name in names:
        mine = [r for r in rows if r.sampler == name]
        wins = sum(1 for m in models if name != BASELINE and
                   min((r for r in rows if r.model == m and r.sampler != BASELINE), key=lambda r: r.x_floor).sampler
                   == name)
        lines.append(f"| {name} | {_gmean([r.x_floor for r in mine]):.2f}x | {_gmean([r.vs_baseline for r in mine]):.2f} "
                     f"| {'-' if name == BASELINE else f'{wins}/{len(models)}'} "
                     f"| {np.mean([r.fit_s for r in mine]):.1f} |")
    return "\n".join(lines)


def _gmean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run directories (reused when trained)")
    parser.add_argument("--data", default=None, help="default: the demo's (fashion-mnist when installed)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's)")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default: the demo's)")
    parser.add_argument("--n", type=int, default=5000, help="points per draw")
    parser.add_argument("--draws", type=int, default=2, help="seeded draws per fitted sampler")
    parser.add_argument("--n-reference", type=int, default=5000, help="held-out real images")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--flow-epochs", type=int, default=None, help="override the flows' epochs (quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the quick demo's models (DemoConfig.quick)")
    parser.add_argument("--core", type=int, default=None, help="pin to this CPU core (default: the last one)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # as bench_question.py: threads cost more than they gain on shared cores
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {args.core if args.core is not None else cores[-1]})
    overrides = {k: v for k, v in {"epochs": args.epochs, "n_train": args.n_train, "data": args.data,
                                   "device": "cpu"}.items() if v is not None}
    config = DemoConfig.quick(**overrides) if args.quick else DemoConfig(**overrides)
    data = config.data or default_data()
    rows = []
    for model in config.models:
        start = time.perf_counter()
        train_stage(model, config, data, args.out / model.name)
        print(f"{model.name}: trained or reused in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows += bench_model(args.out / model.name, args, config)
    head = (f"Runs: the demo's models on {data}, {config.epochs} epochs on {config.n_train} training images, "
            f"z {config.z_dim}. Each fitted sampler: seeded draws ({args.draws}) of {args.n} points against "
            f"{args.n_reference} held-out images (FD / floor averaged over the draws; draw spread = max - min); "
            f"test log-lik = mean log density (nats) of the encoded test images; fit and sample times on one thread"
            f"{'' if args.flow_epochs is None else f'; flows trained {args.flow_epochs} epochs only (quick run)'}. "
            f"realnvp = the hand-written RealNVP that zspace's `flow` was before; `flow` is now zuko's "
            f"{DEFAULT_KIND.upper()} with the `{DEFAULT_KIND}` row's settings.")
    text = head + "\n\n" + markdown(rows)
    io.write_text(args.out / "flows.md", text)
    io.write_json(args.out / "flows.json", [asdict(r) for r in rows])
    print(text)


if __name__ == "__main__":
    main()
