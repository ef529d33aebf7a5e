"""The explorer's page in a real browser for tests/explore: Playwright driving Debian's headless Chromium.

On CI a missing browser or Playwright is a failure, elsewhere a skip (``skip_or_fail_on_ci``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil

import numpy as np
from PIL import Image


@contextlib.contextmanager
def browser_tab(url: str, skip_or_fail_on_ci, maps: int):
    """A headless Chromium tab on ``url``, once the page is ready and has drawn ``maps`` maps."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail_on_ci("playwright is not installed (pip install 'zspace[dev]')")
    browser_path = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                         if shutil.which(b)), None)
    if browser_path is None:
        skip_or_fail_on_ci("no Chromium to drive (make test installs Debian's chromium on CI)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--use-gl=swiftshader"])
        tab = browser.new_page(viewport={"width": 1600, "height": 1000})
        tab.goto(url)
        tab.wait_for_function("() => { const s = document.body.dataset.zspaceStatus;"
                              f" return s && JSON.parse(s).ready && JSON.parse(s).drawn === {maps}; }}",
                              timeout=60000)
        tab.set_default_timeout(30000)
        try:
            yield tab
        finally:
            browser.close()


def status(tab) -> dict:
    return json.loads(tab.evaluate("document.body.dataset.zspaceStatus"))


def done(tab, action: str) -> int:
    """How many times the page finished ``action`` (click, walk, interpolate, overlay, hover)."""
    return status(tab)["done"].get(action, 0)


def wait_done(tab, action: str, before: int) -> None:
    """Wait until the page finished ``action`` once more than ``before`` and has no request in flight."""
    try:
        tab.wait_for_function(f"() => {{ const s = JSON.parse(document.body.dataset.zspaceStatus);"
                              f" return (s.done['{action}'] || 0) > {before} && s.busy === 0; }}")
    except Exception:
        raise AssertionError(f"the page did not finish {action}: {status(tab)}") from None


def shown(tab, selector: str) -> np.ndarray:
    src = tab.get_attribute(selector, "src")
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    return image[..., None] if image.ndim == 2 else image


def click_in_map(tab, run: str, fx: float, fy: float) -> tuple[float, float, float]:
    """Click the map of ``run`` at the fractions (fx, fy) of its axes' ranges; return the data point (x, y)
    aimed at and the size of one pixel in data units (the larger of the two axes')."""
    x, y, pixel = tab.evaluate("""([run, fx, fy]) => {
        const l = document.getElementById('map-' + run)._fullLayout, xr = l.xaxis.range, yr = l.yaxis.range;
        return [xr[0] + fx * (xr[1] - xr[0]), yr[0] + fy * (yr[1] - yr[0]),
                Math.max((xr[1] - xr[0]) / l.xaxis._length, (yr[1] - yr[0]) / l.yaxis._length)]; }""", [run, fx, fy])
    px, py = tab.evaluate("""([run, x, y]) => {
        const div = document.getElementById('map-' + run), l = div._fullLayout;
        const area = div.querySelector('.nsewdrag').getBoundingClientRect();
        return [area.left + l.xaxis.d2p(x), area.top + l.yaxis.d2p(y)]; }""", [run, x, y])
    tab.mouse.click(px, py)
    return x, y, pixel
