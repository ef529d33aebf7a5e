"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel and shows what it promises.

The kernel is this test's own Python (a kernelspec written into a temporary
JUPYTER_PATH, which Jupyter searches first), so it imports this checkout's
zspace; it runs in a temporary directory, so the notebook's run directory and
feature-net cache never land in the repository or the user's cache.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
#: the samplers the notebook's question cell asks about
SAMPLERS = ("normal", "diag-gauss", "gmm:3")


def write_kernelspec(jupyter_dir: Path) -> None:
    """A ``python3`` kernelspec that starts ipykernel in this interpreter."""
    spec = jupyter_dir / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (zspace tests)", "language": "python"}))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook after running every cell, and the directory it ran in."""
    work = tmp_path_factory.mktemp("quickstart")
    write_kernelspec(work / "jupyter")
    (work / "cwd").mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)", metadata={"tags": ["probe"]}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(work / "jupyter"))
        patch.setenv("ZSPACE_CACHE", str(work / "cache"))
        patch.setenv("ZSPACE_PROGRESS", "0")
        NotebookClient(nb, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(work / "cwd")}}).execute()  # raises on a cell error
    return nb, work / "cwd"


def outputs(nb, tag: str) -> list[dict]:
    """The outputs of the cell tagged ``tag``."""
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r} expected"
    return cells[0].outputs


def rich(nb, tag: str, mime: str) -> str:
    """The ``mime`` data the cell tagged ``tag`` displayed."""
    found = [o["data"][mime] for o in outputs(nb, tag) if mime in o.get("data", {})]
    assert found, f"the cell tagged {tag!r} displayed no {mime}"
    return found[-1]


def test_the_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_every_cell_ran_in_this_python_and_wrote_only_into_its_directory(executed):
    nb, cwd = executed
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    probe = "".join(o.get("text", "") for o in outputs(nb, "probe"))
    assert probe.strip() == sys.executable
    assert (cwd / "runs" / "quickstart" / "config.json").exists()
    assert not (NOTEBOOK.parent / "runs").exists()


def test_the_analysis_shows_its_tables_and_figures_inline(executed):
    nb, _ = executed
    html = rich(nb, "analysis", "text/html")
    assert "peak_radius" in html and "elbow_k" in html and "<table" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 5 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)


def test_the_plot_cell_printed_numbers_and_displayed_a_png(executed):
    nb, _ = executed
    printed = "".join(o.get("text", "") for o in outputs(nb, "plot") if o.output_type == "stream")
    assert re.search(r"radius peak \d+\.\d\d .* elbow at k = \d+", printed), printed
    assert base64.b64decode(rich(nb, "plot", "image/png")).startswith(b"\x89PNG")


def test_the_answer_table_names_every_sampler_with_its_numbers(executed):
    nb, _ = executed
    html = rich(nb, "answer", "text/html")
    for sampler in (*SAMPLERS, "reconstruction (floor)", "shuffled pixels (ceiling)"):
        row = re.search(rf"<tr><td>{re.escape(sampler)}</td>(.*?)</tr>", html)
        assert row, f"no row for {sampler}"
        assert re.search(r"<td>\d+(\.\d+)?(e[-+]\d+)?</td>", row.group(1)), row.group(0)
    # the notebook's AE (2 epochs on 512 images) either names its closest sampler or says it is too weak to
    # tell them apart, never both
    named, weak = "closest to the reconstruction floor" in html, "too weak to tell the samplers apart" in html
    assert named != weak, html[-600:]
