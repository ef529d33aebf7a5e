"""What checking a Z file's bytes on read costs: CRC-32 of a 3M x 256 float32 store against one plain pass over it.

Issue 25 ("every promise proved"): every reader of a Z file checks the CRC-32 of each member it uses before an
analysis sees a byte, memory-mapped members included. This script builds an N x d float32 store (default
3,000,000 x 256, 3.1 GB) in both forms that ``zspace encode`` writes,

* a Z file: ``z.npz`` with ``z`` stored uncompressed (np.savez; the zip holds its CRC-32), and
* a Z directory: ``z.npy``, ``index.npy`` and a meta.json that lists their CRC-32 (``writing_zdir``),

then times, for each form, with the page cache cold-ish and warm:

* **baseline**: one plain sequential pass over the memory map of z, the column means in row blocks of 65,536
  rows (``z[a:b].sum(axis=0, dtype=float64)``), the cheapest thing an analysis does with every row;
* **verify**: what a reader now does first: ``npyfiles.open_npz_member(z.npz, "z")`` (its zip CRC-32) or
  ``npyfiles.open_npy(z.npy, crc32)`` (the CRC-32 listed in meta.json), which reads the bytes once, in order,
  32 MiB mapped at a time;
* **verify, then the pass**: the two in a row, as ``zspace analyze`` does them: the verification leaves the
  pages cached, so the pass that follows reads from memory;
* **verify again in the same process**: the verdict is remembered per (device, inode, size, mtime, ctime).

Cold-ish: before each cold measurement the file's pages are dropped from the page cache with
``posix_fadvise(POSIX_FADV_DONTNEED)`` (only this file's; nothing system-wide is dropped, and a disk or
hypervisor cache below the kernel may still hold the bytes). Warm: the same measurement right after a pass.
Each figure is the best of ``--repeats``. Peak memory during a verification: the sampled peak of the process's
resident memory (VmRSS, file pages of the maps included) above its level before.

The files go in a temporary directory under ``--workdir`` (default: the system's temporary directory) and are
deleted at the end. When the disk has less free space than the two forms need (plus 10%), N is scaled down
and a note says so.

    python benchmarks/bench_zverify.py [--n 3000000] [--d 256] [--repeats 2] [--workdir /work] [--json out.json]
    python benchmarks/bench_zverify.py --n 20000 --d 16                     # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import timed  # noqa: E402
from tables import emit  # benchmarks/tables.py  # noqa: E402

from zspace.core import checksums, io, npyfiles  # noqa: E402
from zspace.pipeline.zstore import writing_zdir  # noqa: E402

#: rows per block of the baseline pass and of the fill
ROWS = 65536


def build(workdir: Path, n: int, d: int, seed: int) -> tuple[Path, Path, dict]:
    """Write the Z directory (filled through its memory map) and the Z file of the same z; their paths and the
    seconds each write took."""
    zdir, zfile = workdir / "zdir", workdir / "z.npz"
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with writing_zdir(zdir, n, meta={"bench": "zverify"}) as allocate:
        z = allocate("z", (n, d))
        for a in range(0, n, ROWS):
            z[a:a + ROWS] = rng.standard_normal((min(ROWS, n - a), d), dtype=np.float32)
    seconds = {"write Z directory (fill + CRC-32 + fsync)": time.perf_counter() - start}
    start = time.perf_counter()
    io.save_npz(zfile, z=npyfiles.open_npy(zdir / "z.npy"), index=np.arange(n),
                meta=np.array(json.dumps({"bench": "zverify"})))
    seconds["write Z file (np.savez from the map, zip CRC-32)"] = time.perf_counter() - start
    return zdir, zfile, seconds


def drop_cache(path: Path) -> None:
    """Drop the clean pages of ``path`` from the page cache (this file only)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def column_means(z: np.ndarray) -> np.ndarray:
    """The baseline: one sequential pass over z, the float64 column means, ROWS rows at a time."""
    total = np.zeros(z.shape[1], dtype=np.float64)
    for a in range(0, len(z), ROWS):
        total += z[a:a + ROWS].sum(axis=0, dtype=np.float64)
    return total / len(z)


def measure_form(name: str, data: Path, open_z: Callable[[], np.ndarray], verify: Callable[[], np.ndarray],
                 repeats: int) -> list[dict]:
    """The rows of one form: best of ``repeats`` for each case."""
    def fresh_verify():
        checksums._VERIFIED.clear()  # forget earlier verdicts: every verification reads the file
        return verify()

    def verify_then_pass():
        column_means(fresh_verify())

    def warm_pass():
        column_means(open_z())

    # (label, cache state, what runs untimed before, what is timed)
    cases: list[tuple[str, str, Callable[[], object], Callable[[], object]]] = [
        ("baseline: one pass (column means)", "cold-ish", lambda: drop_cache(data), warm_pass),
        ("verify (CRC-32)", "cold-ish", lambda: drop_cache(data), fresh_verify),
        ("verify, then the pass", "cold-ish", lambda: drop_cache(data), verify_then_pass),
        ("baseline: one pass (column means)", "warm", warm_pass, warm_pass),
        ("verify (CRC-32)", "warm", warm_pass, fresh_verify),
        ("verify, then the pass", "warm", warm_pass, verify_then_pass),
        ("verify again, same process (remembered)", "warm", fresh_verify, verify),
    ]
    expected = column_means(open_z())  # also warms the cache before the first warm case
    assert np.allclose(column_means(verify()), expected)
    rows = []
    for label, cache, before, call in cases:
        best, peak = float("inf"), 0
        for _ in range(repeats):
            before()
            _, seconds, grown = timed(call)
            best, peak = min(best, seconds), max(peak, grown)
        rows.append({"form": name, "case": label, "cache": cache, "seconds": best, "peak_rss_growth": peak})
    assert checksums._VERIFIED, "the verdict was not remembered (a file younger than checksums.SETTLED_NS)"
    for row in rows:
        same = next(r for r in rows if r["case"].startswith("baseline") and r["cache"] == row["cache"])
        row["vs_baseline"] = row["seconds"] / same["seconds"]
    return rows


def measure(args: argparse.Namespace) -> dict:
    n, d, notes = args.n, args.d, []
    workroot = Path(args.workdir or tempfile.gettempdir())
    need = int(2 * n * d * 4 * 1.1) + (64 << 20)
    free = shutil.disk_usage(workroot).free
    if free < need:
        scaled = max(int((free - (64 << 20)) / 1.1 / (2 * d * 4)) // ROWS * ROWS, ROWS)
        notes.append(f"Only {free / 1e9:.1f} GB free under {workroot}, {need / 1e9:.1f} GB needed for "
                     f"{n:,} x {d}: scaled down to {scaled:,} rows.")
        n = scaled
    with tempfile.TemporaryDirectory(prefix="bench_zverify-", dir=workroot) as tmp:
        zdir, zfile, writes = build(Path(tmp), n, d, args.seed)
        listing = checksums.listed_crc32(json.loads((zdir / "meta.json").read_text()), str(zdir), "")
        crc = listing["z.npy"]
        # a verdict is remembered only for files older than SETTLED_NS (timestamps tick coarsely): wait for that
        time.sleep(max(0.0, checksums.SETTLED_NS / 1e9 - (time.time() - zfile.stat().st_mtime)) + 0.1)
        rows = measure_form("Z file (z.npz, stored member)", zfile, lambda: _unverified_member(zfile),
                            lambda: npyfiles.open_npz_member(zfile, "z"), args.repeats)
        rows += measure_form("Z directory (z.npy)", zdir / "z.npy", lambda: npyfiles.open_npy(zdir / "z.npy"),
                             lambda: npyfiles.open_npy(zdir / "z.npy", crc), args.repeats)
    return {"n": n, "d": d, "bytes": n * d * 4, "repeats": args.repeats, "notes": notes, "writes": writes,
            "rows": rows}


def _unverified_member(zfile: Path) -> np.memmap:
    """The map of member z, its header read but its CRC-32 not checked (what the readers did before): the
    baseline's input."""
    with zipfile.ZipFile(zfile) as archive:
        info = archive.getinfo("z.npy")
    with open(zfile, "rb") as fh:
        fh.seek(info.header_offset)
        name_len, extra_len = struct.unpack("<HH", fh.read(30)[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        shape, dtype = npyfiles.check_header(fh, info.header_offset + 30 + name_len + extra_len + info.file_size)
        return np.memmap(fh, dtype=dtype, mode="r", offset=fh.tell(), shape=shape)


def markdown(results: dict) -> str:
    gb = results["bytes"] / 1e9
    lines = [f"z: {results['n']:,} x {results['d']} float32 ({gb:.2f} GB); best of {results['repeats']}. "
             "Shared 2-core machine with other jobs running: timings are noisy."]
    lines += [f"Note: {note}" for note in results["notes"]]
    lines += ["", "| form | case | page cache | seconds | GB/s | vs baseline pass, same cache | peak RSS growth |",
              "|---|---|---|---:|---:|---:|---:|"]
    for row in results["rows"]:
        lines.append(f"| {row['form']} | {row['case']} | {row['cache']} | {row['seconds']:.2f} | "
                     f"{gb / row['seconds']:.2f} | {row['vs_baseline']:.2f}x | "
                     f"{row['peak_rss_growth'] / 2 ** 20:.0f} MiB |")
    lines += ["", "| write | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in results["writes"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3_000_000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the temporary directory goes (default: the system's)")
    parser.add_argument("--json", help="also write every measurement here")
    args = parser.parse_args(argv)
    emit(measure(args), markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
