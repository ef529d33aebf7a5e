"""The report with hostile run, class, factor, sampler, title and file names stays one valid page that
runs no injected script and shows every name as text, checked in the file and in headless Chromium.

Where the names enter:

- run A is trained (folder data) into a directory with a hostile name; its class names are the
  hostile names of the data set's sub-folders (they reach the report through ``config.json["data"]``
  and ``z_test.npz``'s meta, as for any folder data set);
- run B is a copy of the prepared VAE in a directory whose name is hostile and not even UTF-8; its
  ``z_test.npz`` and ``config.json`` carry hostile class and factor names with ``/`` in them (what a
  CelebA attribute header or another data set could hold; no file name can), and its
  ``question.json`` a hostile sampler name and sentence;
- the report gets a hostile title, a hostile extra sampler (a grid that does not exist) and a
  hostile output file name.

Every injected script or handler would run ``PWN``, which marks ``<html data-pwned>``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tiny_runs import tiny_configs
from zspace.pipeline.train import train
from zspace.pipeline.zstore import load_zstore
from zspace.report import build_report, prepare_run
from zspace.report.html import isolate, text_of

PWN = "window.__pwned=document.documentElement.dataset.pwned=1"  # no "/": it fits in a file name

# hostile pieces without "/" (they can be file and folder names) ...
IMG_DQ = f'"><img src=x onerror="{PWN}">'
IMG_SQ = f"'><img src=x onerror='{PWN}'>"
COMMENT = f"<!--<script>{PWN}"  # unescaped in inline JSON this swallows the next </script>
CDATA = "<![CDATA[ x ]]>"
BACKSLASH = 'back\\slash \\" \\u003c \\n'
SEPARATORS = "line\u2028sep\u2029para"  # JavaScript line terminators inside a JSON string
UNICODE = "😀 שלום مرحبا"
RLO = "\u202eevil"  # RIGHT-TO-LEFT OVERRIDE, never closed
TEMPLATE = "%{x} %{customdata[0]} &amp; &quot; &#37;"  # plotly hover substitution; entities to show as typed
SPACES = "  two  spaces  "
# ... and with "/"
SCRIPT = f"</script><script>{PWN}</script>"

RUN_A = f"{IMG_DQ} {SEPARATORS} {UNICODE} {RLO}"
RUN_B = os.fsdecode(f"{IMG_SQ} ".encode() + b"\xff\xfe " + f"{COMMENT} {CDATA} {BACKSLASH} {TEMPLATE}{SPACES}".encode())
CLASSES_A = [IMG_SQ, f"{COMMENT} {CDATA}", f"{BACKSLASH} {SEPARATORS}", f"{UNICODE} {RLO} {TEMPLATE}{SPACES}"]
CLASSES_B = [SCRIPT, f"{IMG_DQ} {TEMPLATE}", f"{UNICODE} {RLO} {BACKSLASH}{SEPARATORS}"]
FACTORS_B = [SCRIPT, IMG_SQ, COMMENT, TEMPLATE, f"{BACKSLASH} {SEPARATORS}", f"{UNICODE} {RLO}"]
TITLE = f"{SCRIPT} {IMG_DQ} {COMMENT} {UNICODE} {RLO}"
SAMPLER = f"{SCRIPT} {IMG_SQ} {TEMPLATE}"
QUESTION_SAMPLER = f"{IMG_DQ} {SCRIPT}"
SENTENCE = f"{SCRIPT} {CDATA} {SEPARATORS} {RLO}"
OUTPUT = f"{IMG_SQ} {COMMENT} #?%20 {UNICODE}.html"
SAMPLERS = ("normal", SAMPLER)

#: the <script> elements the report embeds: plotly.js, the error hook, the figures and their drawing
N_SCRIPTS = 3


def _class_folders(root: Path, names: list[str], per_class: int = 40) -> Path:
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            pixels = (rng.random((28, 28)) * 64 + 48 * i).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{j}.png")
    return root


@pytest.fixture(scope="module")
def hostile(prepared_runs, tmp_path_factory, fast_report_config):
    """(report path, run A dir, run B dir)."""
    base = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZSPACE_CACHE", str(base / "cache"))
        data = _class_folders(base / "data", CLASSES_A)
        run_a = base / RUN_A
        train(*tiny_configs("vae", data=f"folder:{data}", epochs=1, n_train=128, n_val=32, image_size=28), run_a)
        prepare_run(run_a, fast_report_config)

    run_b = base / RUN_B
    shutil.copytree(prepared_runs[1], run_b)
    store = load_zstore(run_b / "z_test.npz")
    assert len(store.factor_names) == len(FACTORS_B) and int(store.labels.max()) < len(CLASSES_B)
    store.meta["class_names"], store.factor_names = CLASSES_B, FACTORS_B
    store.save(run_b / "z_test.npz")
    config = json.loads((run_b / "config.json").read_text())
    config["data"].update(class_names=CLASSES_B, factor_names=FACTORS_B)
    (run_b / "config.json").write_text(json.dumps(config))
    quality = {"fd": 4.0, "precision": 0.7, "recall": 0.6}
    rows = [{"sampler": QUESTION_SAMPLER, "fd": 5.5, "fd_over_floor": 1.375, "precision": 0.5, "recall": 0.4,
             "void_share": 0.05}]
    (run_b / "question.json").write_text(json.dumps(
        {"floor": quality, "ceiling": quality, "rows": rows, "intrinsic_dim": {"twonn": 3.0, "mle": 3.1},
         "active_units": 2, "void_threshold": 0.8, "sentence": SENTENCE}))

    out = build_report([run_a, run_b], base / OUTPUT, SAMPLERS, title=TITLE)
    assert out.name == OUTPUT
    return out, run_a, run_b


# --------------------------------------------------------------------------- what the file says

def test_the_file_is_one_document_with_only_its_own_markup(hostile):
    text = hostile[0].read_text(encoding="utf-8")
    lower = text.lower()
    assert lower.count("<html") == 1 and lower.count("</html>") == 1 and text.rstrip().endswith("</html>")
    assert lower.count("<body") == 1 and lower.count("</body>") == 1
    assert lower.count("<script") == N_SCRIPTS and lower.count("</script") == N_SCRIPTS
    assert "<!--" not in text and "<![CDATA[" not in text
    assert "\u2028" not in _scripts(text) and "\u2029" not in _scripts(text)
    images = re.findall(r"<img\b[^>]*>", text)
    assert images and all(re.fullmatch(r'<img alt="[^"<>]*"( width="\d+")? src="data:image/png;base64,[^"]*">', i)
                          for i in images)
    elements = _Tree.parse(text).all()
    assert len(elements) > 100 and not [(n.tag, n.attrs) for n in elements if any(a.startswith("on") for a in n.attrs)]


def test_plotly_draws_every_name_as_typed(hostile):
    """The figures' JSON, read back, holds every user string so that plotly draws exactly it:
    no tag plotly would interpret, no %{...} it would substitute, entities that decode to the name."""
    text = hostile[0].read_text(encoding="utf-8")
    figures = json.loads(re.search(r"const figures = (\[.*?\n\]);\n", text, re.DOTALL).group(1))
    legends, titles, hovers = set(), set(), []
    for _, fig, _ in figures:
        titles.add(_plotly_shows(fig["layout"]["title"]["text"]))
        for trace in fig["data"]:
            legends.add(_plotly_shows(trace.get("name", "")))
            if "hovertemplate" in trace:
                template = trace["hovertemplate"]
                assert template.count("%{") == template.count("<br>")  # index, then one per factor: ours only
                hovers.append(_plotly_shows(template))
    assert {isolate(n) for n in CLASSES_A + CLASSES_B} <= legends
    assert {isolate(text_of(n)) for n in (RUN_A, RUN_B)} <= legends  # radius and inertia curves of both runs
    assert {f"{isolate(text_of(n))}: losses" for n in (RUN_A, RUN_B)} <= titles
    assert any(all(f"<br>{isolate(f)} " in h for f in FACTORS_B) for h in hovers)


# --------------------------------------------------------------------------- what the browser does

@pytest.fixture(scope="module")
def dom(hostile, chromium):
    """The DOM after the page's scripts ran, as a tree (the window as tall as the page: every plot is drawn)."""
    page = chromium("--dump-dom", hostile[0].as_uri(), window="1400,30000").stdout
    assert "data-zspace-status" in page, "the page's scripts did not finish"
    return _Tree.parse(page)


def test_no_injected_script_ran_and_the_pages_own_did(dom):
    html = dom.find("html")
    assert "data-pwned" not in html.attrs
    assert [n.text() for n in dom.find("head").all("title")] == [TITLE]
    status = json.loads(dom.find("body").attrs["data-zspace-status"])
    assert status["errors"] == []
    assert status["plots"] >= 10 and status["drawn"] == status["plots"]


def test_the_browser_sees_one_document_with_only_its_own_elements(dom):
    assert [len(dom.all(t)) for t in ("html", "head", "body", "h1")] == [1, 1, 1, 1]
    assert len(dom.find("head").all("title")) == 1
    assert len(dom.all("script")) == N_SCRIPTS
    for node in dom.all():
        assert not any(a.startswith("on") for a in node.attrs), (node.tag, node.attrs)
    images = dom.all("img")
    assert images and all(i.attrs["src"].startswith("data:image/png;base64,") for i in images)
    assert not dom.all("iframe") and not dom.all("object") and not dom.all("embed")


def test_every_hostile_name_is_shown_as_text(dom, hostile):
    run_a = hostile[1]
    a, b = text_of(RUN_A), text_of(RUN_B)
    assert "\\xff\\xfe" in b  # the bytes that are not UTF-8, shown escaped
    assert dom.find("h1").text() == TITLE
    # run names: headings, links (isolated: the open U+202E does not reorder " · "), cards, tables
    assert [h.text() for h in dom.all("h2") if h.attrs.get("id", "").startswith("run")] == [f"Run {a}", f"Run {b}"]
    links = [n for n in dom.all("a") if n.attrs.get("href", "").startswith("#run")]
    assert [[c.tag for c in n.elements()] for n in links] == [["bdi"], ["bdi"]]
    assert [n.text() for n in links] == [a, b]
    assert {a, b} <= {h.text() for h in dom.all("h3")} and {a, b} <= {h.text() for h in dom.all("th")}
    assert str(run_a / "z_test.npz") in {n.text() for n in dom.all("bdi")}  # the analysis input note
    # class and factor names in the configuration tables
    cells = [n.text() for n in dom.all("td")]
    shown = {cells[i + 1] for i, c in enumerate(cells[:-1]) if c in ("class_names", "factor_names")}
    assert {json.dumps(CLASSES_A, ensure_ascii=False), json.dumps(CLASSES_B, ensure_ascii=False),
            json.dumps(FACTORS_B, ensure_ascii=False)} <= shown
    # sampler names and the question's sentence
    paragraphs = {n.text() for n in dom.all("p")}
    assert {SAMPLER, SENTENCE} <= paragraphs
    assert QUESTION_SAMPLER in cells
    # what plotly drew: legends (class names, run names) and titles
    legends = {n.text() for n in dom.all("text") if "legendtext" in n.attrs.get("class", "")}
    assert {isolate(n) for n in CLASSES_A + CLASSES_B} <= legends
    titles = {n.text() for n in dom.all("text") if "gtitle" in n.attrs.get("class", "")}
    assert {f"{isolate(n)}: losses" for n in (a, b)} <= titles


# --------------------------------------------------------------------------- helpers

_PLOTLY_ENTITIES = {"mu": "\u03bc", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "\xd7",
                    "plusmn": "\xb1", "deg": "\xb0"}
_PLOTLY_TAGS = {"br", "b", "/b", "extra", "/extra"}  # the only tags the report itself writes in plotly text


def _plotly_shows(text: str) -> str:
    """What plotly.js draws for ``text`` (svg_text_utils: tags split off, then convertEntities, which
    decodes numeric entities and only the named ones above); fails on a tag the report did not write."""
    parts = re.split(r"(<[^<>]*>)", text)
    for tag in parts[1::2]:
        assert tag[1:-1] in _PLOTLY_TAGS, f"plotly would interpret the tag {tag!r} in {text!r}"

    def entity(m: re.Match) -> str:
        ref = m.group(1)
        if ref.startswith("#"):
            return chr(int(ref[2:], 16) if ref[1] == "x" else int(ref[1:]))
        return _PLOTLY_ENTITIES.get(ref, m.group(0))

    return "".join(p if i % 2 else re.sub(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);", entity, p) for i, p in enumerate(parts))


def _scripts(text: str) -> str:
    return "".join(re.findall(r"<script>(.*?)</script>", text, re.DOTALL))



class _Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None) -> None:
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else ("" if c.tag in ("script", "style") else c.text())
                       for c in self.children)

    def elements(self) -> list[_Node]:
        return [c for c in self.children if isinstance(c, _Node)]

    def all(self, tag: str | None = None) -> list[_Node]:
        found = [self] if tag in (None, self.tag) and self.tag != "#document" else []
        for child in self.elements():
            found += child.all(tag)
        return found

    def find(self, tag: str) -> _Node:
        (node,) = self.all(tag)
        return node


class _Tree(HTMLParser):
    """A DOM serialised by Chromium (``--dump-dom``) as a tree of :class:`_Node` (text unescaped)."""

    _VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                       "wbr"})

    @classmethod
    def parse(cls, page: str) -> _Node:
        tree = cls()
        tree.feed(page)
        tree.close()
        return tree.root

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = _Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in self._VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(_Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)
