"""Factor names that an earlier sanitiser mapped onto one file ("a b", "a/b", "a:b") get one grid each."""

from __future__ import annotations

import numpy as np
from PIL import Image

from zspace.core.names import unique_stems
from zspace.plots.factor_figures import save_traversal_grids

#: distinct factor names that all became "a_b" before, with "A B" (a case twin), then one name given twice
DISTINCT = ["a b", "a/b", "a:b", "a_b", "A B", "../a b", "a|b", "a?b"]
COLLIDING = DISTINCT + ["a b"]


def test_each_traversal_group_gets_its_own_grid_with_its_own_pixels(tmp_path):
    # group g is a flat image of grey level 20 * (g + 1): each file must hold its own level and no other
    levels = 20 * np.arange(1, len(COLLIDING) + 1)
    images = np.broadcast_to((levels / 255.0).astype(np.float32)[:, None, None, None, None, None],
                             (len(COLLIDING), 2, 3, 4, 4, 1))  # (G, P=2 points, S=3 steps, H, W, C)
    written = save_traversal_grids(images, COLLIDING, tmp_path, "direction")
    assert written == [f"direction-{stem}.png" for stem in unique_stems(COLLIDING)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written) and len(set(written)) == len(COLLIDING)
    for level, name in zip(levels, written):
        assert set(np.unique(np.asarray(Image.open(tmp_path / name)))) == {level, 255}, name  # 255: white gutters


def test_zspace_factors_draws_one_grid_per_factor_when_factor_names_collide(tmp_path):
    # the measures and traversal plan of a Z file whose factors have the colliding names; the decoded images,
    # which only a run's decoder makes, are stand-ins: factor k's grid is flat grey level 20 * (k + 1)
    from zspace.analysis.factors import FactorConfig
    from zspace.factors import FactorsConfig, factors
    from zspace.pipeline.zstore import ZStore
    from zspace.plots.factor_figures import save_factor_figures

    rng = np.random.default_rng(7)
    z = rng.normal(size=(400, 3)).astype(np.float32)
    given = DISTINCT[:5]  # four that were one file before, and a case twin
    known = (z[:, [k % 3 for k in range(len(given))]] + rng.normal(size=(400, len(given)))).astype(np.float32)
    ZStore(z=z, index=np.arange(400), factors=known, factor_names=given).save(tmp_path / "z.npz")
    config = FactorsConfig(analysis=FactorConfig(importance="lasso"), graph_points=200)  # lasso: the fast DCI
    outcome = factors(tmp_path / "z.npz", config, decode=False)
    names = outcome.plan.direction_factors
    assert names == given  # read back from the Z file as given, none skipped
    levels = 20 * np.arange(1, len(names) + 1)
    outcome.images["direction"] = np.broadcast_to((levels / 255.0).astype(np.float32)[:, None, None, None, None, None],
                                                  (len(names), 2, 3, 4, 4, 1))
    out = tmp_path / "factors"
    figures = save_factor_figures(outcome, out)
    directions = [f for f in figures if f.startswith("direction-")]
    assert directions == [f"direction-{stem}.png" for stem in unique_stems(names)]
    assert sorted(p.name for p in out.glob("direction-*.png")) == sorted(directions)  # none overwrote another
    for level, name in zip(levels, directions):
        assert set(np.unique(np.asarray(Image.open(out / name)))) == {level, 255}, name
