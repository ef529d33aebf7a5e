"""A tiny self-contained HTML builder: every user string escaped, every asset inline.

Why by hand: the report is one static file that must open with no network;
templating engines add a dependency without removing the things that matter
here. Every user string (run, class, factor, sampler and file names, titles)
goes through one of these helpers, chosen by where it lands:

:func:`esc`          HTML text and attribute values (``html.escape``)
:func:`bidi`         a name inside running HTML text: escaped, in ``<bdi>`` so
                     right-to-left text or a stray U+202E cannot reorder the text after it
:func:`script_json`  JSON inside ``<script>``: ``<``, ``>``, ``&``, U+2028 and U+2029
                     written as ``\\u003c`` etc., so a run named
                     ``</script><script>alert(1)`` or ``<!--<script>`` stays a string
:func:`plotly_text`  text that plotly draws (titles, legends, hover templates): plotly
                     parses a small HTML subset and decodes only a few named entities
                     (not ``&quot;``), and substitutes ``%{...}`` in hover templates, so
                     ``<``, ``>``, ``&``, quotes and ``%`` become entities it decodes back
:func:`isolate`      a name inside a longer plotly text (FSI ... PDI, the plain-text ``<bdi>``)
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any, Iterable, Sequence

from zspace.core.io import to_jsonable


def text_of(value: Any) -> str:
    """``str(value)`` that can be written as UTF-8: the lone surrogates by which Python keeps the
    bytes of a file name that is not UTF-8 (``os.fsdecode``) are shown as ``\\xNN``."""
    text = str(value)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that is not an escaped byte
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


def esc(value: Any) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(text_of(value), quote=True)


def bidi(value: Any) -> str:
    """A user string inside running HTML text: escaped and bidi-isolated (``<bdi>``)."""
    return f"<bdi>{esc(value)}</bdi>"


_SCRIPT_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                        0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json(obj: Any) -> str:
    """JSON safe to place inside a ``<script>`` element (and to read as a JavaScript expression).

    ``<`` and ``>`` escaped means no ``</script>``, ``<!--`` or ``<script`` can reach the
    HTML parser; U+2028/U+2029 escaped keeps older JavaScript engines from ending the line.
    """
    text = json.dumps(to_jsonable(obj), separators=(",", ":"))
    return text.translate(_SCRIPT_JSON_ESCAPES)


# plotly.js decodes &amp; &lt; &gt; and numeric entities in the text it draws, but not &quot;
_PLOTLY_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&#34;", ord("'"): "&#39;",
                   ord("%"): "&#37;"}


def plotly_text(value: Any) -> str:
    """A string for plotly to draw as it is: no tags, no entities, no ``%{...}`` hover substitution."""
    return text_of(value).translate(_PLOTLY_ESCAPES)


def isolate(value: Any) -> str:
    """``value`` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: a name inside a longer
    plain (plotly) text whose right-to-left characters or unclosed U+202E stay inside it."""
    return f"\u2068{value}\u2069"


def fmt(value: Any) -> str:
    """Numbers with 4 significant digits, other values as text (escaped by the caller)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: Iterable[Sequence[Any]], header: Sequence[Any] | None = None, cls: str = "") -> str:
    """An HTML table of escaped cells."""
    parts = [f'<table class="{esc(cls)}">']
    if header:
        parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{esc(fmt(c))}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def dict_table(d: dict[str, Any], cls: str = "kv") -> str:
    """Two-column key/value table; nested dicts and lists are shown as compact JSON."""
    rows = [(k, json.dumps(to_jsonable(v), ensure_ascii=False) if isinstance(v, (dict, list, tuple)) else v)
            for k, v in d.items()]
    return table(rows, cls=cls)


def png(data: bytes, alt: str, width: int | None = None) -> str:
    """An inline PNG image."""
    w = f' width="{int(width)}"' if width else ""
    return f'<img alt="{esc(alt)}"{w} src="data:image/png;base64,{base64.b64encode(data).decode()}">'


class Page:
    """An HTML document assembled from escaped pieces, with plotly.js embedded once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.body: list[str] = []
        self._plots: list[tuple[str, Any, bool]] = []

    def add(self, fragment: str) -> None:
        """Append trusted HTML (built with :func:`esc`/:func:`table`, never raw user text)."""
        self.body.append(fragment)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        ident = f' id="{esc(anchor)}"' if anchor else ""
        self.body.append(f"<h{level}{ident}>{esc(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        self.body.append(f"<p>{esc(text)}</p>")

    def plot(self, figure: dict[str, Any], height: int = 420) -> str:
        """Register a plotly figure (a dict with data/layout); return its placeholder div."""
        div_id = f"plot{len(self._plots)}"
        webgl = any(str(trace.get("type", "")).endswith("gl") for trace in figure.get("data", []))
        self._plots.append((div_id, figure, webgl))
        return f'<div class="plot" id="{div_id}" style="height:{int(height)}px"></div>'

    def render(self) -> str:
        """The complete HTML document.

        Once the plots in view are drawn, ``<body data-zspace-status>`` holds
        ``{"plots": n, "drawn": m, "errors": [...], "images": i, "images_drawn": j,
        "answer_rows": r, "answer_images_drawn": k}`` (m counts plots drawn so
        far; WebGL plots are drawn as they scroll into view; errors are script
        errors caught on the page; j and k count decoded pictures, k those of
        the Answer section; r is the rows of its table): what the browser test reads.
        """
        from plotly.offline import get_plotlyjs

        figures = ",\n".join(f"[{script_json(div)}, {script_json(fig)}, {script_json(gl)}]"
                              for div, fig, gl in self._plots)
        plotly_js = f"<script>{get_plotlyjs()}</script>" if self._plots else ""
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(self.title)}</title>
<style>{_CSS}</style>
{plotly_js}
</head><body>
<script>
window.zspaceErrors = [];
window.addEventListener("error", e => window.zspaceErrors.push(String(e.message)));
</script>
<h1>{esc(self.title)}</h1>
{"".join(self.body)}
<script>
const figures = [
{figures}
];
{_DRAW_JS}
</script>
</body></html>
"""


# Browsers allow ~16 live WebGL contexts per page and plotly needs one or more
# per WebGL plot, so WebGL scatters are drawn when they scroll into view and
# purged (context released) when more than MAX_GL are alive and they are out
# of view. Other plots are drawn at once.
_DRAW_JS = """
const MAX_GL = 6;
const liveGl = [];
function status() {
  const plots = document.querySelectorAll("div.plot");
  const drawn = [...plots].filter(d => d.querySelector(".main-svg")).length;
  const shown = sel => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-zspace-status",
    JSON.stringify({plots: plots.length, drawn: drawn, errors: window.zspaceErrors,
                    images: document.querySelectorAll("img").length, images_drawn: shown("img"),
                    answer_rows: document.querySelectorAll("table.answer tr").length - 1,
                    answer_images_drawn: shown(".answer-pictures img")}));
}
function draw(entry) {
  const [id, fig] = entry;
  return Plotly.newPlot(id, fig.data, fig.layout, {responsive: true}).catch(e => window.zspaceErrors.push(String(e)));
}
const eager = figures.filter(f => !f[2]).map(draw);
const byId = Object.fromEntries(figures.map(f => [f[0], f]));
const observer = new IntersectionObserver(entries => {
  for (const e of entries) {
    const id = e.target.id;
    if (!e.isIntersecting || liveGl.includes(id)) continue;
    liveGl.push(id);
    while (liveGl.length > MAX_GL) {
      const old = document.getElementById(liveGl.shift());
      const box = old.getBoundingClientRect();
      if (box.bottom > -200 && box.top < window.innerHeight + 200) { liveGl.push(old.id); break; }
      Plotly.purge(old);
    }
    draw(byId[id]).then(status);
  }
}, {rootMargin: "200px"});
figures.filter(f => f[2]).forEach(f => observer.observe(document.getElementById(f[0])));
Promise.all(eager).finally(status);
"""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1500px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{margin-top:1.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.88em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f4f4f4}table.kv td:first-child{text-align:left;font-weight:600}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:1em;align-items:start}
.card{border:1px solid #e4e4e4;border-radius:6px;padding:.6em;overflow-x:auto}
img{max-width:100%;image-rendering:pixelated}.plot{width:100%}.note{color:#666;font-size:.9em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}
"""
