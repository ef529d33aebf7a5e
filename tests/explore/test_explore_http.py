"""The explorer over real HTTP: the token, decode equal to open_run(d).decode pixel for pixel, exact clicks, 400s."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import zspace
from zspace.core.images import to_uint8
from zspace.explore.app import MAX_BODY_BYTES, MAX_POINTS
from zspace.science.samplers import resolve_sampler

from explore_client import N_POINTS, call


def pixels(b64: str) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))
    return image[..., None] if image.ndim == 2 else image


def independent_codes(run_dir) -> np.ndarray:
    """The served split's codes computed apart from the server: the session's mu of the first N_POINTS images."""
    run = zspace.open_run(run_dir)
    return run.session(device="cpu").encode(run.data_split("test", n=N_POINTS).images)["mu" if
                                                                                          run.model_config.kind == "vae" else "z"]


def test_every_request_needs_the_token(served):
    server, _ = served
    for path in ("/", "/api/runs", "/static/explore.js", "/api/map?run=ae"):
        assert call(server, path, token=None)[0] == 403
        assert call(server, path, token="not-the-token")[0] == 403
    assert call(server, "/api/runs")[0] == 200
    assert call(server, "/api/runs", header=False)[0] == 200  # ?token= as well as the header
    status, body = call(server, "/api/runs", token=None)
    assert body["field"] == "token"


def test_runs_are_listed_by_name_and_nothing_else_is_served(served):
    server, runs = served
    status, body = call(server, "/api/runs")
    assert status == 200 and [r["name"] for r in body["runs"]] == list(runs)
    assert all(r["z_dim"] == 4 and r["n_points"] == N_POINTS and r["split"] == "test" for r in body["runs"])
    assert call(server, "/api/map?run=../../etc/passwd")[0] == 404
    assert call(server, "/etc/passwd")[0] == 404
    assert call(server, "/api/decode", {"run": str(runs["vae"]), "z": [[0, 0, 0, 0]]})[0] == 404  # a path is no name


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_decode_over_http_is_open_run_decode_pixel_for_pixel(served, name):
    server, runs = served
    z = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    status, body = call(server, "/api/decode", {"run": name, "z": z.tolist()})
    assert status == 200 and len(body["images"]) == 5
    expected = to_uint8(zspace.open_run(runs[name]).decode(z))
    assert np.array_equal(np.stack([pixels(b) for b in body["images"]]), expected)


def test_a_click_on_a_pca_plane_is_the_point_of_that_plane(served):
    server, runs = served
    codes = independent_codes(runs["vae"]).astype(np.float64)
    mean = codes.mean(axis=0)
    _, _, axes = np.linalg.svd(codes - mean, full_matrices=False)  # principal directions, signs up to +-1
    for x, y in ((0.7, -1.3), (-2.0, 0.25)):
        status, body = call(server, "/api/click", {"run": "vae", "view": "pca:1,2", "x": x, "y": y, "fill": "mean"})
        assert status == 200
        offset = np.asarray(body["z"]) - mean
        along = axes[:2] @ offset
        assert np.allclose(np.abs(along), [abs(x), abs(y)], atol=1e-4)  # the click's two plane coordinates
        assert np.allclose(offset - along @ axes[:2], 0, atol=1e-4)  # and nothing off the plane (fill mean)
        decoded = pixels(body["image"])
        assert np.array_equal(decoded, to_uint8(zspace.open_run(runs["vae"]).decode(np.asarray([body["z"]])))[0])


def test_a_click_on_two_axes_keeps_the_rest_by_the_rule(served):
    server, runs = served
    codes = independent_codes(runs["ae"])
    _, zero = call(server, "/api/click", {"run": "ae", "view": "axes:1,3", "x": 0.5, "y": -0.5, "fill": "zero"})
    assert zero["z"] == pytest.approx([0.0, 0.5, 0.0, -0.5])
    _, mean = call(server, "/api/click", {"run": "ae", "view": "axes:1,3", "x": 0.5, "y": -0.5, "fill": "mean"})
    assert mean["z"] == pytest.approx([codes[:, 0].mean(), 0.5, codes[:, 2].mean(), -0.5], abs=1e-5)
    _, near = call(server, "/api/click", {"run": "ae", "view": "axes:1,3", "x": 0.5, "y": -0.5, "fill": "nearest"})
    row = int(np.argmin((codes[:, 1] - 0.5) ** 2 + (codes[:, 3] + 0.5) ** 2))
    assert near["z"] == pytest.approx([codes[row, 0], 0.5, codes[row, 2], -0.5], abs=1e-5)
    # the neighbours are the codes nearest to the point, nearest first, at their true distances
    distances = np.linalg.norm(codes - np.asarray(near["z"], dtype=np.float32), axis=1)
    assert [n["row"] for n in near["neighbours"]] == list(np.argsort(distances, kind="stable")[:6])
    assert [n["distance"] for n in near["neighbours"]] == pytest.approx(np.sort(distances)[:6], abs=1e-5)


BAD = [
    ("/api/decode", {"run": "ae", "z": [[0.0, 1.0, 2.0]]}, "z"),  # wrong length
    ("/api/decode", {"run": "ae", "z": [[0.0, 1.0, float("nan"), 2.0]]}, "z[0]"),
    ("/api/decode", {"run": "ae", "z": [[0.0, 1.0, float("inf"), 2.0]]}, "z[0]"),
    ("/api/decode", {"run": "ae", "z": [["a", 1.0, 2.0, 3.0]]}, "z[0]"),
    ("/api/decode", {"run": "ae", "z": "0,0,0,0"}, "z"),
    ("/api/decode", {"run": "ae", "z": [[0.0] * 4] * (MAX_POINTS + 1)}, "z"),
    ("/api/decode", {"run": "ae"}, "z"),
    ("/api/click", {"run": "ae", "view": "pca:1,9", "x": 0, "y": 0}, "view"),
    ("/api/map?run=ae&view=umap:1", None, "view"),
    ("/api/click", {"run": "ae", "view": "pca:1,2", "x": "left", "y": 0}, "x"),
    ("/api/click", {"run": "ae", "view": "pca:1,2", "x": 0, "y": 0, "fill": "median"}, "fill"),
    ("/api/sample", {"run": "ae", "sampler": "no-such-sampler", "n": 10}, "sampler"),
    ("/api/sample", {"run": "ae", "sampler": "normal", "n": 10 ** 9}, "n"),
    ("/api/interpolate", {"run": "ae", "a": [0, 0, 0, 0], "b": [1, 1, 1], "steps": 5}, "a, b"),
]


@pytest.mark.parametrize("path, body, field", BAD, ids=[f"{p}-{f}-{i}" for i, (p, _, f) in enumerate(BAD)])
def test_bad_input_is_a_400_naming_the_field(served, path, body, field):
    server, _ = served
    status, answer = call(server, path, body)
    assert status == 400 and answer["field"] == field and answer["error"]
    assert "Traceback" not in answer["error"]


def test_a_body_over_the_limit_is_refused_and_json_garbage_is_a_400(served):
    server, _ = served
    assert call(server, "/api/decode", raw=b" " * (MAX_BODY_BYTES + 1))[0] == 413
    status, answer = call(server, "/api/decode", raw=b"{not json")
    assert status == 400 and answer["field"] == "body"
    assert call(server, "/api/runs")[0] == 200  # the server is still up


def test_sampled_points_land_where_the_view_says(served):
    server, runs = served
    status, body = call(server, "/api/sample", {"run": "ae", "sampler": "normal", "n": 300, "seed": 1,
                                                "view": "axes:0,2"})
    assert status == 200
    z = np.frombuffer(base64.b64decode(body["z"]), dtype="<f4").reshape(300, 4)
    x, y = (np.frombuffer(base64.b64decode(body[k]), dtype="<f4") for k in ("x", "y"))
    assert np.array_equal(x, z[:, 0]) and np.array_equal(y, z[:, 2])
    # the points zspace generate would draw with this sampler and seed
    assert np.array_equal(z, resolve_sampler(runs["ae"], "normal", 4).sample(300, np.random.default_rng(1)))


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=4), max_leaves=20)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/decode", "/api/click", "/api/interpolate", "/api/sample"]),
       body=st.dictionaries(st.sampled_from(["run", "z", "x", "y", "view", "fill", "a", "b", "steps", "sampler", "n"]),
                            json_values, max_size=6))
def test_fuzzed_bodies_get_an_answer_never_a_crash(served, path, body):
    server, _ = served
    body = {"run": "ae", **body}
    status, answer = call(server, path, body)
    assert status in (200, 400, 404), (status, answer)
    if status != 200:
        assert isinstance(answer, dict) and answer.get("error")


def test_open_run_explore_serves_the_run_from_a_notebook(ae_run):
    frame = zspace.open_run(ae_run).explore(n=50)
    server = getattr(frame, "server", frame)  # an IFrame in IPython, else the server itself
    try:
        status, body = call(server, "/api/runs")
        assert status == 200 and [(r["name"], r["n_points"]) for r in body["runs"]] == [(ae_run.name, 50)]
        assert getattr(frame, "src", server.url) == server.url
    finally:
        server.stop()


def test_the_map_carries_every_known_factor_of_the_split(served):
    server, runs = served
    data = zspace.open_run(runs["vae"]).data_split("test", n=N_POINTS)
    status, body = call(server, "/api/map?run=vae&view=pca:1,2")
    assert status == 200 and list(body["factors"]) == list(data.factor_names) and data.factor_names
    for k, name in enumerate(data.factor_names):
        assert np.array_equal(np.frombuffer(base64.b64decode(body["factors"][name]), dtype="<f4"),
                              data.factors[:, k].astype(np.float32))


def test_the_factor_directions_of_zspace_factors_are_slider_directions(ae_run, tmp_path):
    import json
    import shutil

    from zspace import cli
    from zspace.explore.server import Server, open_explorer

    run = tmp_path / "ae"
    shutil.copytree(ae_run, run)
    assert cli.main(["factors", str(run)]) == 0
    measures = json.loads((run / "factors" / "factors.json").read_text())["measures"]
    server = Server(open_explorer([run], n=50, device="cpu")).start()
    try:
        _, listing = call(server, "/api/runs")
        assert listing["runs"][0]["factor_directions"] == measures["factor_names"]
        for name, row in zip(measures["factor_names"], measures["linear_direction"]):
            status, body = call(server, f"/api/direction?run=ae&direction=factor:{name}")
            assert status == 200
            assert np.allclose(body["vector"], np.asarray(row) / np.linalg.norm(row), atol=1e-12)
        status, body = call(server, "/api/direction?run=ae&direction=factor:no-such-factor")
        assert status == 400 and body["field"] == "direction" and measures["factor_names"][0] in body["error"]
    finally:
        server.stop()


def test_the_data_path_runs_through_the_codes_and_the_straight_one_does_not_need_to(served):
    server, runs = served
    codes = independent_codes(runs["ae"])
    a, b = codes[codes[:, 0].argmin()], codes[codes[:, 0].argmax()]  # two far-apart codes
    answers = {}
    for along in ("straight", "data"):
        status, body = call(server, "/api/interpolate", {"run": "ae", "a": a.tolist(), "b": b.tolist(),
                                                          "steps": 12, "along": along})
        assert status == 200 and len(body["images"]) == 12
        answers[along] = np.asarray(body["z"])
        assert np.allclose(answers[along][0], a, atol=1e-6) and np.allclose(answers[along][-1], b, atol=1e-6)
    t = np.linspace(0, 1, 12)[:, None]
    assert np.allclose(answers["straight"], (1 - t) * a + t * b, atol=1e-6)
    # the data path stays near the codes: its points lie no farther from the nearest code than the straight line's
    nearest = [np.linalg.norm(codes[None] - p[:, None], axis=2).min(axis=1).mean() for p in answers.values()]
    assert nearest[1] <= nearest[0]
    assert call(server, "/api/interpolate", {"run": "ae", "a": a.tolist(), "b": b.tolist(),
                                             "along": "wiggly"})[1]["field"] == "along"
