"""The explorer's page in a real browser: Playwright driving Debian's headless Chromium against a real server.

A click on a known spot of a PCA plane must show the decode of the z the page reports (compared pixel for pixel
with ``open_run(d).decode``); a slider drag changes the image; two picks give the interpolation strip; a sampler's
points are overlaid. On CI a missing browser or Playwright is a failure, elsewhere a skip.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

import zspace
from zspace.core.images import to_uint8

from explore_page import browser_tab, click_in_map, done, shown, status, wait_done


@pytest.fixture(scope="module")
def page(served, skip_or_fail_on_ci):
    server, _ = served
    with browser_tab(server.url, skip_or_fail_on_ci, maps=2) as tab:
        yield tab


def test_the_page_draws_both_runs_without_errors(page):
    assert status(page)["errors"] == []
    counts = page.evaluate("['ae', 'vae'].map(r => document.getElementById('map-' + r).data[0].x.length)")
    assert counts == [200, 200]


def test_a_click_on_a_plane_shows_the_decode_of_the_point_the_page_reports(page, served):
    _, runs = served
    before = done(page, "click")
    x, y, pixel = click_in_map(page, "vae", 0.8, 0.3)
    wait_done(page, "click", before)
    z = np.asarray(json.loads(page.text_content("#decoded-z")), dtype=np.float32)
    clicked = page.evaluate("window.zspaceExplore.log.filter(e => e.event === 'click').at(-1)")
    assert clicked["run"] == "vae" and clicked["view"] == "pca:1,2"
    assert abs(clicked["x"] - x) <= 2 * pixel and abs(clicked["y"] - y) <= 2 * pixel  # where the mouse was
    expected = to_uint8(zspace.open_run(runs["vae"]).decode(z[None]))[0]
    assert np.array_equal(shown(page, "#decoded"), expected)
    assert float(page.text_content("#void-distance")) >= 0


def test_dragging_the_slider_changes_the_image(page, served):
    _, runs = served
    before = done(page, "click")
    click_in_map(page, "ae", 0.5, 0.5)
    wait_done(page, "click", before)
    images = []
    for t in (-2.0, 2.0):
        before = done(page, "walk")
        page.eval_on_selector("#slider", "(el, t) => { el.value = t; el.dispatchEvent(new Event('input')); }", t)
        wait_done(page, "walk", before)
        images.append(shown(page, "#walked"))
        z = np.asarray(json.loads(page.get_attribute("#walked", "data-z")), dtype=np.float32)
        assert np.array_equal(images[-1], to_uint8(zspace.open_run(runs["ae"]).decode(z[None]))[0])
    assert not np.array_equal(images[0], images[1])


def test_two_picks_give_the_interpolation_strip(page):
    for (fx, fy), button in (((0.2, 0.7), "#pick-a"), ((0.8, 0.3), "#pick-b")):
        before = done(page, "click")
        click_in_map(page, "ae", fx, fy)
        wait_done(page, "click", before)
        page.click(button)
    before = done(page, "interpolate")
    page.click("#interpolate")
    wait_done(page, "interpolate", before)
    assert page.evaluate("document.querySelectorAll('#strip img').length") == 9
    profile = page.evaluate("document.getElementById('profile').data[0].y")
    assert len(profile) == 9 and all(v >= 0 for v in profile)


def test_a_sampler_is_overlaid_on_every_map(page):
    page.fill("#sample-n", "300")
    before = done(page, "overlay")
    page.click("#overlay")
    wait_done(page, "overlay", before)
    counts = page.evaluate("['ae', 'vae'].map(r => document.getElementById('map-' + r).data[3].x.length)")
    assert counts == [300, 300]
    assert status(page)["errors"] == []



def test_the_map_colours_by_a_known_factor(page):
    option = page.evaluate("Array.from(document.querySelectorAll('#colour option')).map(o => o.textContent)"
                           ".find(t => t.startsWith('factor:'))")
    assert option is not None
    page.select_option("#colour", option)
    page.wait_for_function("() => { const d = document.getElementById('map-ae').data;"
                           " return d && d[0].marker.showscale === true; }")
    colours = page.evaluate("Array.from(document.getElementById('map-ae').data[0].marker.color)")
    assert len(colours) == 200 and len(set(colours)) > 1 and status(page)["errors"] == []


def test_hovering_a_code_shows_its_image_and_its_reconstruction(page, served):
    _, runs = served
    before = done(page, "hover")
    px, py = page.evaluate("""() => {
        const div = document.getElementById('map-ae'), l = div._fullLayout, d = div.data[0];
        const area = div.querySelector('.nsewdrag').getBoundingClientRect();
        return [area.left + l.xaxis.d2p(d.x[7]), area.top + l.yaxis.d2p(d.y[7])]; }""")
    page.mouse.move(px, py)
    wait_done(page, "hover", before)
    # one snapshot: the row of the last hover and the two images it showed (set together by the page)
    row, real, reco = page.evaluate("""() => [window.zspaceExplore.log.filter(e => e.event === 'hover').at(-1).row,
        document.getElementById('hover-real').src, document.getElementById('hover-reco').src]""")

    def pixels(src: str) -> np.ndarray:
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
        return image[..., None] if image.ndim == 2 else image

    run = zspace.open_run(runs["ae"])
    images = run.data_split("test", n=200).images
    assert np.array_equal(pixels(real), images[row])
    codes = run.session(device="cpu").encode(images)["z"]  # the whole split, as the server encodes it
    assert np.array_equal(pixels(reco), to_uint8(run.decode(codes[row:row + 1]))[0])
