"""The run directory's layout has one owner: no module but ``zspace.core.layout`` spells a run file's name.

Every module under src/zspace is parsed with ``ast``; the names come from the
layout module itself (:data:`~zspace.core.layout.RUN_NAMES`,
:data:`~zspace.core.layout.RUN_TEMPLATES`), so the test cannot drift from it.

The rule, made precise so that a word that is also a folder name ("factors"
as an array key of a Z file, "analysis" as a progress unit) is no offence:

* a string literal that **is** one of the layout's file names -- a name with a
  suffix: ``"config.json"``, ``"z_test.npz"``, ... -- wherever it appears;
* a string literal that is one of the layout's folder names (``"samplers"``,
  ``"factors"``, ...) only where it is used as a path: an operand of ``/``,
  an argument of ``Path(...)`` / ``.joinpath(...)``, or the whole value
  assigned to a name (``BOARD_DIR = "tensorboard"``: a second home for the name);
* a literal or f-string shaped like one of the layout's name rules with a fixed
  start (``f"train-e{epoch}.npz"``, ``f"generated_{stem}.png"``, the glob
  ``"generated_*.png"``); a rule that starts with its variable part
  (``"{stem}.json"``) is left to the folder it sits in, which the rule above
  catches.

Docstrings and other bare string statements are documentation, never a
finding; a longer message that mentions a name (``"no config.json"``) is
not the name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import zspace
from zspace.core import layout

PACKAGE_ROOT = Path(zspace.__file__).parent
OWNER = PACKAGE_ROOT / "core" / "layout.py"

FILE_NAMES = frozenset(name for name in layout.RUN_NAMES if "." in name)
FOLDER_NAMES = frozenset(name for name in layout.RUN_NAMES if "." not in name)
#: the name rules with a fixed start, as regular expressions over a literal ("{}" stands for an f-string's value)
RULES = [re.compile(re.escape(start) + r".+" + re.escape(template.rsplit("}", 1)[1]))
         for template in layout.RUN_TEMPLATES for start in [template.split("{", 1)[0]] if start]
PATH_CALLS = {"Path", "PurePath", "joinpath"}


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string constants that are statements of their own (docstrings and the like)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _as_path(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """Whether the literal ``node`` is used as a path: an operand of ``/``, a Path()/joinpath() argument, or the
    whole value of an assignment."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) in PATH_CALLS
    return isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is node


def _shape(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


def findings(source: str, where: str) -> list[str]:
    """``where:line: literal`` for every run-file name ``source`` spells outside the layout module."""
    tree = ast.parse(source)
    skipped = _documentation(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    inside_fstring = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = _shape(node)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
              and id(node) not in inside_fstring):
            text = node.value
            if not (text in FILE_NAMES or (text in FOLDER_NAMES and _as_path(node, parents))
                    or any(rule.fullmatch(text) for rule in RULES)):
                continue
            found.append(f"{where}:{node.lineno}: {text!r}")
            continue
        else:
            continue
        if any(rule.fullmatch(text) for rule in RULES):
            found.append(f"{where}:{node.lineno}: f{text!r}")
    return found


def test_the_rule_finds_what_it_should_and_nothing_else():
    source = '''"""config.json in a docstring is documentation."""
A = root / "question.json"
B = run.root / "samplers" / name
BOARD_DIR = "tensorboard"
C = Path("latents")
D = f"train-e{epoch}.npz"
E = root.glob("generated_*.png")
KEYS = ("z", "factors", "index")
F = progress(names, unit="analysis")
G = {"factors": "factors"}
H = "no config.json here"
'''
    lines = [int(f.split(":")[1]) for f in findings(source, "m.py")]
    assert lines and sorted(lines) == [2, 3, 4, 5, 6, 7], lines


def test_no_module_but_the_layout_spells_a_run_file_name():
    offences = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if path == OWNER:
            continue
        offences += findings(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE_ROOT.parent)))
    assert not offences, ("name these run files through zspace.core.layout (RunLayout, its constants):\n"
                          + "\n".join(offences))


def test_the_layout_documents_every_name_it_owns():
    documented = layout.__doc__
    missing = [name for name in (*layout.RUN_NAMES, *(t.split("{")[0] for t in layout.RUN_TEMPLATES if t[0] != "{"))
               if name not in documented]
    assert not missing, f"zspace.core.layout's docstring does not show {missing}"
