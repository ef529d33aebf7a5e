"""zspace explore: what the server adds to a decode, how fast a slider follows, a 170k-point map in Chromium.

For each model (the seeds' 96x96x3 z256 VAE and a 28x28 z16 VAE, each trained one short epoch on the
procedural shapes: the timings need weights, not a good model), against the baseline of the same run:
one forward pass of the decoder for one point, ``session.decode`` in this process.

* round trip: POST /api/decode of one point over real HTTP (JSON in, PNG out), p50 and p95 of --n calls;
* slider: decoded frames per second sustained, the page's way (GET the direction once, then one
  POST /api/decode per position, one request in flight);
* 32 concurrent clients x 50 decodes: errors, p95, and the server's RSS before and after; then the same
  against a server started with --batch-decodes (concurrent requests share forward passes);
* a 170k-point map (synthetic codes in the 28x28 model's run): time to first draw in headless Chromium
  (navigation to the drawn map) and one zoom re-render (Plotly.relayout to a smaller square).

    python benchmarks/bench_explore.py [--n 200] [--map-points 170000] [--json out.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tables import emit  # noqa: E402

from zspace.explore.runs import ExploreRun  # noqa: E402
from zspace.explore.server import Server, open_explorer  # noqa: E402
from zspace.explore.space import LatentSpace  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.train import TrainConfig, train  # noqa: E402

MODELS = {"96x96x3 z256 (seeds')": dict(data="shapes:96", kind="vae", z_dim=256, filters=None),
          "28x28 z16": dict(data="shapes", kind="vae", z_dim=16, filters=(32, 64, 128))}


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


def rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def train_run(out: Path, spec: dict) -> Path:
    config = TrainConfig(data=spec["data"], epochs=1, batch_size=64, n_train=256, n_val=64, seed=0, device="cpu")
    model = ModelConfig(kind=spec["kind"], z_dim=spec["z_dim"], **({"filters": spec["filters"]}
                                                                      if spec["filters"] else {}))
    train(config, model, out)
    return out


def bench_model(label: str, run_dir: Path, n: int) -> dict:
    explorer = open_explorer([run_dir], n=256, device="cpu")
    run = next(iter(explorer.runs.values()))
    server = Server(explorer).start()
    base = f"http://127.0.0.1:{server.port}"
    token = f"token={explorer.token}"
    z = np.random.default_rng(0).normal(size=(1, run.space.z_dim)).astype(np.float32)
    try:
        for _ in range(5):  # warm both paths
            run.decode(z)
            post(f"{base}/api/decode?{token}", {"run": run.name, "z": z.tolist()})
        forward, trip = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            run.decode(z)
            forward.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            post(f"{base}/api/decode?{token}", {"run": run.name, "z": z.tolist()})
            trip.append((time.perf_counter() - t0) * 1e3)
        # the slider: one direction, then positions one after another for 3 s
        direction = np.asarray(get(f"{base}/api/direction?run={run.name}&direction=pca:1&{token}")["vector"])
        frames, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 3.0:
            point = z[0] + (frames % 60 - 30) / 10 * direction
            post(f"{base}/api/decode?{token}", {"run": run.name, "z": [point.tolist()]})
            frames += 1
        fps = frames / (time.perf_counter() - t0)
        before = rss_mib()
        loaded, errors = clients(base, token, run.name, run.space.z_dim)
        after = rss_mib()
    finally:
        server.stop()
    batched = open_explorer([run_dir], n=256, device="cpu", batch_decodes=True)  # --batch-decodes
    server = Server(batched).start()
    try:
        merged, merged_errors = clients(f"http://127.0.0.1:{server.port}", f"token={batched.token}", run.name,
                                        run.space.z_dim)
        passes = next(iter(batched.runs.values())).batcher.passes
    finally:
        server.stop()
    return {"model": label, "forward_p50_ms": percentile(forward, 50), "forward_p95_ms": percentile(forward, 95),
            "trip_p50_ms": percentile(trip, 50), "trip_p95_ms": percentile(trip, 95), "slider_fps": fps,
            "concurrent_p95_ms": percentile(loaded, 95), "concurrent_errors": errors, "concurrent_calls": len(loaded),
            "rss_before_mib": before, "rss_after_mib": after, "batched_p95_ms": percentile(merged, 95),
            "batched_errors": merged_errors, "batched_calls": len(merged), "batched_passes": passes}


def clients(base: str, token: str, name: str, z_dim: int, n_clients: int = 32, calls: int = 50) -> tuple[list, int]:
    """``n_clients`` threads, each ``calls`` one-point decodes one after another: (latencies in ms, errors)."""
    def client(seed: int) -> list[float]:
        rng, times = np.random.default_rng(seed), []
        for _ in range(calls):
            point = rng.normal(size=(1, z_dim)).tolist()
            t = time.perf_counter()
            answer = post(f"{base}/api/decode?{token}", {"run": name, "z": point})
            assert len(answer["images"]) == 1
            times.append((time.perf_counter() - t) * 1e3)
        return times

    errors, loaded = 0, []
    with concurrent.futures.ThreadPoolExecutor(n_clients) as pool:
        for future in [pool.submit(client, s) for s in range(n_clients)]:
            try:
                loaded += future.result()
            except Exception:
                errors += 1
    return loaded, errors


def bench_map(run_dir: Path, points: int) -> dict:
    """Time to first draw of ``points`` codes in headless Chromium, and one zoom re-render."""
    from playwright.sync_api import sync_playwright

    explorer = open_explorer([run_dir], n=256, device="cpu")
    small = next(iter(explorer.runs.values()))
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(points, small.space.z_dim)).astype(np.float32)
    t0 = time.perf_counter()
    space = LatentSpace.build(codes, codes[:20000])
    build_s = time.perf_counter() - t0
    big = ExploreRun(name=small.name, session=small.session, split="synthetic", images=np.zeros(
        (points, *small.images.shape[1:]), dtype=np.uint8), labels=rng.integers(0, 10, points), class_names=[],
        space=space, radius=np.linalg.norm(codes, axis=1), void=space.void_distance(codes))
    explorer.runs = {big.name: big}
    server = Server(explorer).start()
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, headless=True,
                                                 args=["--no-sandbox", "--use-gl=swiftshader"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(server.url)
            page.wait_for_function("() => { const s = document.body.dataset.zspaceStatus;"
                                   " return s && JSON.parse(s).drawn === 1; }", timeout=300000)
            first_draw = time.perf_counter() - t0
            zooms = page.evaluate("""async (name) => {
                const div = document.getElementById('map-' + name), times = [];
                for (const half of [1.0, 0.25, 0.05]) {
                  const t = performance.now();
                  await Plotly.relayout(div, {'xaxis.range': [-half, half], 'yaxis.range': [-half, half]});
                  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                  times.push(performance.now() - t);
                }
                return times; }""", big.name)
            browser.close()
    finally:
        server.stop()
    return {"points": points, "space_build_s": build_s, "first_draw_s": first_draw, "zoom_ms": zooms}


def markdown(results: dict) -> str:
    lines = ["| model | decoder forward, 1 point p50 / p95 (ms) | HTTP round trip p50 / p95 (ms) | server adds (p50) "
             "| slider (frames/s) | 32 clients x 50: p95 (ms), errors | server RSS before -> after (MiB) "
             "| the same, --batch-decodes: p95 (ms), errors, forward passes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["models"]:
        lines.append(f"| {r['model']} | {r['forward_p50_ms']:.1f} / {r['forward_p95_ms']:.1f} | "
                     f"{r['trip_p50_ms']:.1f} / {r['trip_p95_ms']:.1f} | {r['trip_p50_ms'] - r['forward_p50_ms']:+.1f} ms "
                     f"| {r['slider_fps']:.0f} | {r['concurrent_p95_ms']:.0f}, {r['concurrent_errors']} of "
                     f"{r['concurrent_calls'] + r['concurrent_errors'] * 50} | "
                     f"{r['rss_before_mib']:.0f} -> {r['rss_after_mib']:.0f} | {r['batched_p95_ms']:.0f}, "
                     f"{r['batched_errors']}, {r['batched_passes']} for {r['batched_calls']} decodes |")
    m = results.get("map")
    if m:
        lines += ["", "| map | codes' PCA + void reference (s) | first draw in headless Chromium (s) | "
                  "zoom re-render to [-1,1]^2, [-0.25,0.25]^2, [-0.05,0.05]^2 (ms) |", "|---|---|---|---|",
                  f"| {m['points']:,} points | {m['space_build_s']:.1f} | {m['first_draw_s']:.2f} | "
                  + ", ".join(f"{t:.0f}" for t in m["zoom_ms"]) + " |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="single-point decodes per path")
    parser.add_argument("--map-points", type=int, default=170000)
    parser.add_argument("--models", default=",".join(MODELS), help="which models (comma-separated labels)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.environ.setdefault("ZSPACE_PROGRESS", "0")
    root = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    results: dict = {"models": []}
    runs = {}
    for label in args.models.split(","):
        runs[label] = train_run(root / f"run{len(runs)}", MODELS[label])
        results["models"].append(bench_model(label, runs[label], args.n))
    small = runs.get("28x28 z16") or next(iter(runs.values()))
    if args.map_points:
        results["map"] = bench_map(small, args.map_points)
    emit(results, markdown, args.json)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
