"""An analysis.json that says ``"complete": false`` (a killed analysis) is never shown as a finished analysis."""

from __future__ import annotations

import json
import shutil

import pytest

from zspace.core.errors import ZspaceError
from zspace.report import build_report, prepare_run

#: a number no real analysis of these runs gives: if the report shows it, it trusted the partial file
PLANTED = 12345.678


@pytest.fixture()
def partial_run(prepared_runs, tmp_path):
    """A copy of the prepared AE run whose analysis.json is what a kill after its first analysis leaves:
    ``complete: false``, one analysis, and (to be seen if used) a planted radius mean; and the clean content."""
    run = tmp_path / "run"
    shutil.copytree(prepared_runs[0], run)
    path = run / "analysis" / "analysis.json"
    clean = json.loads(path.read_text())
    assert clean["complete"] is True and len(clean["analyses"]) > 1
    radius = {**clean["analyses"]["radius"], "mean": PLANTED}
    path.write_text(json.dumps({**clean, "complete": False, "analyses": {"radius": radius}}))
    return run, clean


def test_the_report_refuses_to_draw_a_partial_analysis(partial_run, tmp_path):
    run, _ = partial_run
    out = tmp_path / "report.html"
    with pytest.raises(ZspaceError) as refused:
        build_report([run], out, ("normal",))
    assert str(refused.value) == f"run {run} has no finished analysis; prepare it first (zspace report {run} does)"
    assert not out.exists()


def test_zspace_report_redoes_a_partial_analysis(partial_run, fast_report_config, tmp_path, monkeypatch):
    from zspace.report import assets

    real_battery, asked = assets.run_battery, []

    def cheap_battery(latents, out_dir, config, only, **kwargs):  # the redo, cut to two analyses to stay fast
        asked.append(only)
        return real_battery(latents, out_dir, config, ["axes", "radius"], **kwargs)

    monkeypatch.setattr(assets, "run_battery", cheap_battery)
    run, clean = partial_run
    prepare_run(run, fast_report_config)  # what zspace report does for each run before it draws
    assert asked == [None]  # the battery ran again, all of it (None: every analysis)
    redone = json.loads((run / "analysis" / "analysis.json").read_text())
    assert redone["complete"] is True and sorted(redone["analyses"]) == ["axes", "radius"]
    assert redone["analyses"]["radius"] == clean["analyses"]["radius"]  # the planted mean is gone
    assert redone["analyses"]["axes"] == clean["analyses"]["axes"]
    text = build_report([run], tmp_path / "report.html", ("normal",)).read_text()
    assert f"{PLANTED:.4g}" not in text and f"{clean['analyses']['radius']['mean']:.4g}" in text
