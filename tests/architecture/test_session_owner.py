"""Loading a model for inference has one owner: only ``zspace.pipeline.session`` calls ``.load_model(``
(and ``.inference_precision(``).

Every module under src/zspace is parsed with ``ast``. ``Run.load_model`` and
``Run.inference_precision`` stay the primitives (defined in ``pipeline/run.py``); everything else that
needs a run's model opens an :class:`~zspace.pipeline.session.InferenceSession`
(:func:`~zspace.pipeline.session.open_session`), which also chooses the device
and the inference precision, so those rules cannot be written a second time.
Any use of an attribute of those names counts (a call, or a bound method
taken to call later); their definitions (``def load_model``) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import zspace

PACKAGE_ROOT = Path(zspace.__file__).parent
OWNER = PACKAGE_ROOT / "pipeline" / "session.py"
#: the attributes only the session may use
PRIMITIVES = ("load_model", "inference_precision")


def uses(source: str) -> list[int]:
    """Line numbers where ``source`` uses an attribute named one of :data:`PRIMITIVES`."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Attribute) and node.attr in PRIMITIVES)


def test_the_rule_finds_a_call_and_a_bound_method_but_not_the_definition():
    source = ("class Run:\n"
              "    def load_model(self):\n"
              "        return 1\n"
              "model = run.load_model(3, device=dev)\n"
              "loader = run.load_model\n"
              "chosen = run.inference_precision(dev, None)\n")
    assert uses(source) == [4, 5, 6]


def test_only_the_inference_session_loads_a_model():
    offences = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if path == OWNER:
            continue
        for line in uses(path.read_text(encoding="utf-8")):
            offences.append(f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}")
    assert not offences, ("only zspace/pipeline/session.py may call .load_model( or .inference_precision(; "
                          "open an InferenceSession "
                          "(zspace.pipeline.session.open_session) instead at: " + ", ".join(offences))


def test_the_owner_is_where_the_model_is_loaded():
    assert len(uses(OWNER.read_text(encoding="utf-8"))) == len(PRIMITIVES), \
        f"{OWNER} no longer calls .load_model( and .inference_precision( once each; update this test"
