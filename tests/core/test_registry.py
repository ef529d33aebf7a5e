"""The one registry type (zspace.core.registry) and the sub-seed rules of zspace.core.rng."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from zspace.core.errors import ZspaceError
from zspace.core.registry import Choices, Registry
from zspace.core.rng import ITEM_SEED_SPREAD, item_seed, sub_seed
from zspace.pipeline.batches import epoch_order


def test_entries_keep_registration_order_and_the_mapping_protocol():
    reg: Registry[int] = Registry("colour", {"red": 1, "green": 2})
    reg.add("blue", 3)

    @reg.register("violet")
    def violet() -> int:
        return 4

    assert reg.names() == ["red", "green", "blue", "violet"] == list(reg)
    assert reg["blue"] == 3 and reg.get("nope") is None and reg.get("nope", 7) == 7 and "red" in reg
    assert len(reg) == 4 and reg["violet"] is violet and violet() == 4   # the decorator returns the function itself
    assert dict(reg.items()) == {"red": 1, "green": 2, "blue": 3, "violet": violet}
    assert ", ".join(reg) == "red, green, blue, violet"


def test_a_name_registered_twice_is_an_error_and_keeps_the_first():
    reg: Registry[int] = Registry("colour", {"red": 1})
    with pytest.raises(ZspaceError, match="colour 'red' is registered twice"):
        reg.add("red", 2)
    with pytest.raises(ZspaceError, match="registered twice"):
        reg.register("red")(lambda: None)
    assert reg["red"] == 1


def test_lookup_names_every_choice_in_one_line():
    reg = Registry("colour", {"red": 1, "green": 2})
    assert reg.lookup("green") == 2
    with pytest.raises(ZspaceError) as info:
        reg.lookup("blue", context="--colour")
    assert str(info.value) == "--colour: unknown colour 'blue'; choose one of red, green"
    with pytest.raises(ZspaceError, match=r"^unknown colour \[1\]; choose one of red, green$"):
        reg.lookup([1])   # an unhashable name is just unknown


def test_assignment_replaces_so_monkeypatch_restores(monkeypatch):
    reg = Registry("colour", {"red": 1})
    with monkeypatch.context() as m:
        m.setitem(reg, "red", 10)
        m.setitem(reg, "blue", 3)
        assert dict(reg) == {"red": 10, "blue": 3}
    assert dict(reg) == {"red": 1}
    del reg["red"]
    assert len(reg) == 0


def test_choices_are_a_live_view_for_argparse():
    reg = Registry("precision", {"fp32": None, "bf16": None})
    choices = reg.choices("auto")
    assert isinstance(choices, Choices) and list(choices) == ["fp32", "bf16", "auto"] and len(choices) == 3
    parser = argparse.ArgumentParser()
    parser.add_argument("--p", choices=choices)
    parser.add_argument("--q", choices=reg)
    reg.add("fp16", None)   # registered after the parser was built: accepted all the same
    assert parser.parse_args(["--p", "fp16", "--q", "fp16"]).p == "fp16"
    assert "auto" in choices and "int8" not in choices and list(choices) == ["fp32", "bf16", "fp16", "auto"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--q", "auto"])
    assert "{fp32,bf16,fp16,auto}" in parser.format_help()


def test_sub_seeds_are_the_old_ad_hoc_values():
    for seed in (0, 7, 2 ** 32 - 1):
        assert sub_seed(seed, 1) == seed + 1 and sub_seed(seed, 2) == seed + 2
        assert item_seed(seed, 1000 * 3 + 10) == seed * 100003 + 3010
    assert ITEM_SEED_SPREAD == 100_003 and isinstance(sub_seed(np.int64(3), 1), int)


def test_epoch_order_is_unchanged_by_the_item_seed_rule():
    old = torch.randperm(50, generator=torch.Generator().manual_seed(11 * 100_003 + 4)).numpy()
    assert np.array_equal(epoch_order(50, 11, 4), old)
    assert not np.array_equal(epoch_order(50, 11, 5), old)
