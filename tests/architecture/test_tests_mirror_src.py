"""tests/ mirrors src/zspace/: one test folder per unit, so the tests of a module are found where the module is.

A unit is a package of src/zspace (``pipeline``, ``science``, ...) or a top-level
module (``demo``, ``notebook``); ``cli.py`` is tested with the commands it runs
(tests/commands). Three folders test the whole package rather than one unit and
are named for what they prove: ``architecture`` (the import layers and the
owners of each rule), ``reliability`` (kills, full disks, fuzzed files) and
``packaging`` (the wheel).
"""

from __future__ import annotations

from pathlib import Path

import zspace

PACKAGE = Path(zspace.__file__).parent
TESTS = Path(__file__).resolve().parents[1]
#: folders that test the whole package, not one unit
CROSS_CUTTING = {"architecture", "reliability", "packaging"}
#: top-level modules tested in another unit's folder
TESTED_ELSEWHERE = {"cli": "commands", "__init__": "notebook", "__main__": "commands"}


def units() -> set[str]:
    """The units of src/zspace: its packages and its top-level modules."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    return packages | modules


def folders_with_tests() -> set[str]:
    return {p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}


def test_every_test_folder_is_a_unit_of_the_package_or_a_named_cross_cutting_one():
    strays = folders_with_tests() - units() - CROSS_CUTTING
    assert not strays, f"tests/{sorted(strays)} match no unit of src/zspace; move their tests to the unit they test"


def test_every_unit_has_its_test_folder():
    missing = {u for u in units() - set(TESTED_ELSEWHERE) if not (TESTS / u).is_dir()}
    assert not missing, f"units without a tests/ folder: {sorted(missing)}"
    assert all((TESTS / folder).is_dir() for folder in TESTED_ELSEWHERE.values())
