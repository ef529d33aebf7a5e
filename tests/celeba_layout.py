"""A small folder in CelebA's layout, generated: the CelebA loader is tested without the real data set.

Importable from any test module (pytest puts tests/ on the path, see pyproject.toml)."""

from pathlib import Path

from PIL import Image


# Image i is a flat colour; JPEG keeps flat colours within a few levels.
def colour_of(i: int) -> tuple[int, int, int]:
    return (10 * i % 256, 255 - 7 * i % 256, 128)


BROKEN = {"000003.jpg": b"this is not a jpeg", "000012.jpg": b"", "000027.jpg": None}   # None: truncated


def make_celeba(root: Path, count=30, partition=True, attributes=False) -> Path:
    """A CelebA layout: root/img_align_celeba/NNNNNN.jpg (178x218), split 20/5/5, three broken files."""
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, count + 1)]
    for i, name in enumerate(names, start=1):
        Image.new("RGB", (178, 218), colour_of(i)).save(images / name, quality=95)
    for name, content in BROKEN.items():
        path = images / name
        if not path.exists():
            continue
        path.write_bytes(path.read_bytes()[:300] if content is None else content)
    (images / "README.txt").write_text("not an image")
    if partition:
        lines = [f"{n} {0 if i < 20 else 1 if i < 25 else 2}" for i, n in enumerate(names)]
        (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    if attributes:
        header = f"{count}\nSmiling Young\n"
        rows = [f"{n} {1 if i % 2 else -1} {1 if i % 3 else -1}" for i, n in enumerate(names)]
        (root / "list_attr_celeba.txt").write_text(header + "\n".join(rows) + "\n")
    return images
