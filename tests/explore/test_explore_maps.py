"""The explorer's t-SNE view (a click picks the nearest code) and the realism of a clicked point, over real HTTP.

The run gets what ``zspace report`` leaves in it (RUN/z_test.npz and RUN/analysis/scatter.npz with a t-SNE map),
made here by the same functions on a small map, and a feature net cached by the test itself, so the result does
not depend on which tests ran before.
"""

from __future__ import annotations

import base64
import shutil

import numpy as np
import pytest

import zspace
from zspace.analysis import TsneConfig, TsneVariant
from zspace.analysis.tsne import tsne_maps
from zspace.core import io
from zspace.core.images import to_uint8
from zspace.explore.server import Server, open_explorer
from zspace.pipeline.zstore import load_zstore
from zspace.report.assets import scatter_arrays
from zspace.science.quality.features import FeatureNetConfig, feature_extractor
from zspace.science.quality.precision_recall import knn_radii, realism

from explore_client import N_POINTS, call
from explore_page import browser_tab, done, shown, status, wait_done

#: a small feature net, trained by the fixture (cached under ZSPACE_CACHE like zspace score's)
QUICK_FEATURES = FeatureNetConfig(epochs=1, max_train_images=256, batch_size=64)
#: a feature net nobody trains (its seed is never used elsewhere)
ABSENT_FEATURES = FeatureNetConfig(epochs=1, max_train_images=256, batch_size=64, seed=918273)


@pytest.fixture(scope="module")
def reported(ae_run, tmp_path_factory):
    """A copy of the AE run with the report's z_test.npz and a 150-point t-SNE map of it in analysis/scatter.npz."""
    run_dir = tmp_path_factory.mktemp("reported") / "ae"
    shutil.copytree(ae_run, run_dir)
    run = zspace.open_run(run_dir)
    zspace.encode(run_dir, split="test", n=N_POINTS, device="cpu").save(run.layout.z_test)
    codes = load_zstore(run.layout.z_test).z
    config = TsneConfig(sample_size=150, variants=(TsneVariant(12.0, 30.0, 250),))
    result = tsne_maps(np.asarray(codes), config, seed=0, show_progress=False)
    io.save_npz(run.layout.analysis_scatter, **scatter_arrays({"tsne": result}, 10 ** 6, 0))
    return run_dir


@pytest.fixture(scope="module")
def served_maps(reported):
    train = zspace.open_run(reported).train_config
    feature_extractor(FeatureNetConfig(**{**QUICK_FEATURES.to_dict(), "data": train.data,
                                          "image_size": train.image_size}))  # cached (trained if missing)
    explorer = open_explorer([reported], n=N_POINTS, device="cpu", feature_config=QUICK_FEATURES)
    server = Server(explorer).start()
    yield server
    server.stop()


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def test_the_runs_t_sne_map_is_a_view_and_a_click_on_it_picks_the_nearest_code(served_maps, reported):
    status, listing = call(served_maps, "/api/runs")
    view = "tsne:ee12_perp30"
    assert status == 200 and view in listing["runs"][0]["views"]
    status, data = call(served_maps, f"/api/map?run=ae&view={view}")
    assert status == 200 and data["plane"] is False and data["n"] == 150
    rows = floats(data["rows"]).astype(np.int64)
    x, y = floats(data["x"]), floats(data["y"])
    with np.load(zspace.open_run(reported).layout.analysis_scatter) as saved:  # the report's map, as saved
        np.testing.assert_array_equal(rows, saved["tsne_ee12_perp30.index"])
        np.testing.assert_array_equal(np.stack([x, y], 1), saved["tsne_ee12_perp30"])
    codes = load_zstore(zspace.open_run(reported).layout.z_test).z
    gaps = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) + np.eye(len(x)) * 1e9
    k = int(np.argmax(gaps.min(axis=1)))  # the loneliest point: a click a tenth of its gap away picks code rows[k]
    click = {"run": "ae", "view": view, "x": float(x[k]) + 0.1 * float(gaps[k].min()), "y": float(y[k]),
             "fill": "zero"}
    status, picked = call(served_maps, "/api/click", click)
    assert status == 200 and picked["row"] == rows[k]
    assert "no inverse" in picked["note"]
    np.testing.assert_allclose(picked["z"], codes[rows[k]], atol=1e-5)
    status, error = call(served_maps, "/api/sample", {"run": "ae", "sampler": "normal", "n": 10, "view": view})
    assert status == 400 and error["field"] == "view" and "t-SNE" in error["error"]
    status, error = call(served_maps, "/api/map?run=ae&view=tsne:nothing")
    assert status == 400 and error["field"] == "view" and "tsne:ee12_perp30" in error["error"]


def test_a_clicked_point_has_the_realism_zspace_score_would_give_its_image(served_maps, reported):
    status, picked = call(served_maps, "/api/click", {"run": "ae", "view": "pca:1,2", "x": 0.3, "y": -0.2})
    assert status == 200 and picked["row"] is None and picked["note"] is None
    run = zspace.open_run(reported)
    train = run.train_config
    extractor = feature_extractor(FeatureNetConfig(**{**QUICK_FEATURES.to_dict(), "data": train.data,
                                                      "image_size": train.image_size}))
    real = extractor(run.data_split("test", n=N_POINTS).images)  # N_POINTS < 5000: every image is a reference
    image = run.decode(np.asarray([picked["z"]], dtype=np.float32))
    expected = realism(extractor(image), real, knn_radii(real, 3))[0]
    assert picked["realism"] == pytest.approx(float(expected), rel=1e-5)


def test_without_a_cached_feature_net_there_is_no_realism_and_nothing_is_trained(reported):
    explorer = open_explorer([reported], n=50, device="cpu", feature_config=ABSENT_FEATURES)
    run = explorer.runs["ae"]
    assert run.realism is None and run.describe()["realism"] is False
    assert run.realism_of(run.decode(run.space.codes[:1])) is None
    # the t-SNE map shows only codes the served split has: 50 rows are served, the map's rows beyond are not
    assert "ee12_perp30" not in run.space.maps


def test_on_the_page_a_click_on_the_t_sne_map_shows_the_nearest_code_decoded_and_its_realism(served_maps, reported,
                                                                                            skip_or_fail_on_ci):
    view = "tsne:ee12_perp30"
    with browser_tab(served_maps.url, skip_or_fail_on_ci, maps=1) as tab:
        tab.eval_on_selector("#view", "(el, v) => { el.value = v; el.dispatchEvent(new Event('change')); }", view)
        tab.wait_for_function(f"() => window.zspaceExplore.maps.ae.view === '{view}' && "
                              "JSON.parse(document.body.dataset.zspaceStatus).busy === 0")
        x, y, rows = tab.evaluate("() => { const m = window.zspaceExplore.maps.ae;"
                                  " return [Array.from(m.x), Array.from(m.y), Array.from(m.rows)]; }")
        x, y = np.asarray(x), np.asarray(y)
        gaps = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) + np.eye(len(x)) * 1e9
        k = int(np.argmax(gaps.min(axis=1)))  # the loneliest point: a click on its pixel picks it
        px, py = tab.evaluate("""([x, y]) => {
            const div = document.getElementById('map-ae'), l = div._fullLayout;
            const area = div.querySelector('.nsewdrag').getBoundingClientRect();
            return [area.left + l.xaxis.d2p(x), area.top + l.yaxis.d2p(y)]; }""", [float(x[k]), float(y[k])])
        before = done(tab, "click")
        tab.mouse.click(px, py)
        wait_done(tab, "click", before)
        clicked = tab.evaluate("window.zspaceExplore.log.filter(e => e.event === 'click').at(-1)")
        assert clicked["row"] == int(rows[k]) and "no inverse" in tab.text_content("#click-note")
        codes = load_zstore(zspace.open_run(reported).layout.z_test).z
        expected = to_uint8(zspace.open_run(reported).decode(np.asarray(codes[int(rows[k])])[None]))[0]
        assert np.array_equal(shown(tab, "#decoded"), expected)
        assert float(tab.text_content("#realism")) > 0 and status(tab)["errors"] == []
