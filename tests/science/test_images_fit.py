"""Every entry that decodes ``n`` images refuses an ``n`` beyond this machine's memory, before loading the model.

The Python functions name the count ``n``; the commands keep naming it ``--n``.
"""

from __future__ import annotations

import pytest

from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.pipeline.run import Run, open_run
from zspace.science.generation import generate
from zspace.science.quality.score import score
from zspace.science.question import answer_run

#: 10**12 float32 images of 28x28x1 are 3.1 PB: more than any machine this runs on
HUGE = 10**12


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test when a model is loaded."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the memory check")

    monkeypatch.setattr(Run, "load_model", refuse)


@pytest.mark.parametrize("call", [
    lambda run: generate(run, "normal", n=HUGE, device="cpu"),
    lambda run: score(run, "normal", n=HUGE, device="cpu", save=False),
    lambda run: answer_run(run, ("normal",), n=HUGE, device="cpu"),
], ids=["generate", "score", "question"])
def test_the_python_entries_check_n_before_the_model_loads(ae_run, no_model, call):
    with pytest.raises(ZspaceError) as error:
        call(open_run(ae_run))
    message = str(error.value)
    assert message.startswith(f"n {HUGE}: {HUGE} float32 images of 28x28x1 need ") and message.endswith("; lower n")


@pytest.mark.parametrize("command", [["generate", "--out", "x.npy"], ["score"], ["question"]],
                         ids=lambda c: c[0])
def test_the_commands_still_name_the_option(ae_run, no_model, command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([command[0], str(ae_run), *command[1:], "--n", str(HUGE), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"zspace: error: --n {HUGE}: {HUGE} float32 images of 28x28x1 need " in err and "; lower --n" in err
