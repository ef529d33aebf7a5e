"""File stems from user strings: safe, readable, deterministic and never shared by two strings."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from zspace.core.names import HASH_DIGITS, MAX_STEM, name_hash, safe_stem, unique_stems

#: strings that an earlier sanitiser (keep [A-Za-z0-9-_.], replace the rest) mapped onto each other or onto
#: unusable names, plus case twins, a Windows device name and what looks like our own suffix
HOSTILE = ["a b", "a/b", "a:b", "a\\b", "a_b", "a\tb", "a\nb", "../x", "..", ".", "", " ", "x" * 300, "x" * 301,
           "Größe", "Grösse", "日本語", "名前", "Smiling", "smiling", "SMILING", "con", "CON", "nul.txt",
           "a_b-c8687a08", "-a", "a.", ".hidden", "uniform:2", "uniform2", "uniform:2.0", "\udcff", "a\x00b"]
#: names that are already plain: kept as they are (figure stems, shapes' factors, sampler directories)
PLAIN = ["axis3", "kind", "x", "rotation", "tsne_ee12_perp30", "plane_axes_0_1", "diag-gauss", "gmm-10", "ee1.5"]


def _well_formed(stem: str) -> bool:
    return (0 < len(stem) <= MAX_STEM and stem.isascii() and re.fullmatch(r"[A-Za-z0-9_.\-]+", stem) is not None
            and not stem.startswith((".", "-")) and not stem.endswith("."))


def test_every_hostile_name_gets_a_distinct_safe_stem_even_ignoring_case():
    stems = [safe_stem(name) for name in HOSTILE]
    assert all(_well_formed(s) for s in stems), stems
    assert len({s.casefold() for s in stems}) == len(HOSTILE), sorted(stems)  # no two share a file, anywhere


def test_a_stem_is_readable_and_the_hash_is_sha256_of_the_name():
    assert safe_stem("a b") == "a_b-" + hashlib.sha256(b"a b").hexdigest()[:HASH_DIGITS]
    assert safe_stem("../x").startswith("x-") and safe_stem("Größe").startswith("Groe-")
    assert safe_stem("").startswith("unnamed-") and safe_stem("日本語").startswith("unnamed-")
    assert safe_stem("uniform:2") == f"uniform_2-{name_hash('uniform:2')}"
    long = safe_stem("x" * 300)
    assert len(long) == MAX_STEM and long == "x" * (MAX_STEM - HASH_DIGITS - 1) + "-" + name_hash("x" * 300)


def test_plain_names_are_their_own_stems_and_stems_do_not_change_between_calls():
    assert [safe_stem(n) for n in PLAIN] == PLAIN
    assert [safe_stem(n) for n in HOSTILE] == [safe_stem(n) for n in list(HOSTILE)]
    assert safe_stem("a_b-c8687a08") != "a_b-c8687a08"  # looks like a suffixed stem: suffixed itself


def test_every_stem_can_be_created_as_a_file_side_by_side(tmp_path):
    stems = [safe_stem(name) for name in HOSTILE + PLAIN]
    for i, stem in enumerate(stems):
        (tmp_path / f"prefix-{stem}.png").write_text(str(i))
    assert sorted(os.listdir(tmp_path)) == sorted(f"prefix-{s}.png" for s in stems)
    assert [(tmp_path / f"prefix-{s}.png").read_text() for s in stems] == [str(i) for i in range(len(stems))]


@pytest.mark.parametrize("names, expected", [
    (["a", "a", "b", "a"], ["a", "a~2", "b", "a~3"]),  # the same name twice: numbered in order
    (["kind", "x"], ["kind", "x"]),
])
def test_unique_stems_numbers_repeats_in_order(names, expected):
    assert unique_stems(names) == expected


def test_unique_stems_separates_even_a_hash_collision(monkeypatch):
    from zspace.core import names

    monkeypatch.setattr(names, "name_hash", lambda name: "0" * HASH_DIGITS)  # every suffix the same
    assert [safe_stem(n) for n in ("a b", "a:b")] == ["a_b-00000000"] * 2
    stems = unique_stems(["a b", "a:b", "A B", "a_b-00000000"])
    assert stems == ["a_b-00000000", "a_b-00000000~2", "A_B-00000000~3", "a_b-00000000-00000000"]
    assert len({s.casefold() for s in stems}) == 4
