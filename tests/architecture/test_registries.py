"""Every "name -> entry" table is a :class:`zspace.core.registry.Registry`, and the CLI's choices are registries.

The rule for ``choices=``, checked two ways:

1. At run time, on the parser ``zspace.cli.build_parser()`` builds: every
   option that has ``choices`` holds a ``Registry`` itself or a
   ``Registry.choices(...)`` view (names of a registry plus fixed words such as
   ``auto``), never a copy. argparse tests a value with ``in`` and lists the
   choices by iterating, so what the CLI accepts is whatever is registered at
   the time it parses. The subcommands are the names of ``COMMANDS``.
2. In the source (``ast``), so that an option the runtime check cannot see
   (a command that fails to build) is caught too: no ``choices=`` keyword in
   ``commands/`` or ``cli.py`` is a literal (list, tuple, set, dict, string,
   comprehension) or a call of ``list``/``tuple``/``sorted``/``set`` (a copy
   of a registry's names taken when the parser is built).
"""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

import pytest

import zspace
from zspace.core.registry import Choices, Registry

PACKAGE_ROOT = Path(zspace.__file__).parent

#: (module, name) of every registry of zspace
REGISTRIES = [
    ("zspace.data", "SOURCES"),
    ("zspace.data.imageset", "SPLITS"),
    ("zspace.models.registry", "MODELS"),
    ("zspace.pipeline.losses", "RECONSTRUCTION_LOSSES"),
    ("zspace.pipeline.precision", "PRECISIONS"),
    ("zspace.science.samplers.base", "SAMPLERS"),
    ("zspace.science.holes", "KERNELS"),
    ("zspace.science.question", "PROTOCOLS"),
    ("zspace.analysis.battery", "ANALYSES"),
    ("zspace.analysis.factors.importance", "IMPORTANCE_MODELS"),
    ("zspace.plots.analysis_figures", "FIGURES"),
    ("zspace.cli", "COMMANDS"),
]

_LITERALS = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Constant, ast.ListComp, ast.SetComp, ast.DictComp,
             ast.GeneratorExp, ast.JoinedStr)
_COPIES = {"list", "tuple", "sorted", "set", "frozenset", "dict"}


@pytest.mark.parametrize("module, name", REGISTRIES, ids=[name for _, name in REGISTRIES])
def test_each_registry_is_a_registry(module, name):
    registry = getattr(importlib.import_module(module), name)
    assert isinstance(registry, Registry), f"{module}.{name} is a {type(registry).__name__}, not a Registry"
    assert len(registry) >= 2 and all(isinstance(key, str) for key in registry)


def _choice_sources() -> list[Path]:
    return sorted((PACKAGE_ROOT / "commands").glob("*.py")) + [PACKAGE_ROOT / "cli.py"]


def literal_choices(path: Path, root: Path = PACKAGE_ROOT.parent) -> list[str]:
    """``module:line`` of every ``choices=`` in ``path`` whose value is a literal or a copy of names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.keyword) and node.arg == "choices"):
            continue
        value = node.value
        copied = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _COPIES
        if isinstance(value, _LITERALS) or copied:
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_choices_are_written_out_in_the_commands():
    offending = [place for path in _choice_sources() for place in literal_choices(path)]
    assert not offending, f"choices= must be a registry (or REG.choices(...)), not a list of names: {offending}"


def test_the_rule_catches_a_literal_and_a_copy(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text('p.add_argument("--a", choices=["gbt", "lasso"])\np.add_argument("--b", choices=list(X))\n'
                      'p.add_argument("--c", choices=X)\np.add_argument("--d", choices=X.choices("auto"))\n')
    assert literal_choices(source, tmp_path) == ["bad.py:1", "bad.py:2"]


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for _, sub_action in _actions(sub):
                    yield name, sub_action
        else:
            yield parser.prog, action


def test_every_option_with_choices_reads_a_registry():
    from zspace.cli import COMMANDS, build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subcommands.choices) == COMMANDS.names()
    checked, offending = 0, []
    for command, action in _actions(parser):
        if action.choices is None:
            continue
        checked += 1
        if not isinstance(action.choices, (Registry, Choices)):
            offending.append(f"zspace {command} {'/'.join(action.option_strings)}: {type(action.choices).__name__}")
    assert not offending, f"choices that are not a registry: {offending}"
    assert checked >= 8   # --model, --loss, --precision (several commands), --split
